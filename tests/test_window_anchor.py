"""Windows end at the newest data, not at the clock: with the clock (frozen by conftest) twelve
days after the last record, "the last 24 h" is the data's last day and every panel shows it,
and the header says where the window ends and how long before now that was. A custom
start/end (``W``) is read by the command line's own parser; bad input stays in the dialog
with one line of error; esc returns to the default window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from console.analytics import windows as W
from console.analytics.status import data_span
from console.errors import UsageError
from console.store.db import open_store
from console.tui.window import make_window, resolve
from console.workspace import load_dir
from tests.frozen_time import FROZEN
from tests.test_analytics_cli import iso, registry, run, write_jsonl
from tests.tui_helpers import CAROL, flat_text, ingest, make_app, screen_text, settle

from .conftest import write_workspace

LAST = FROZEN - dt.timedelta(days=12)  # the newest record: twelve days before the clock


def old_workspace(root: Path, days: int = 3, every: dt.timedelta = dt.timedelta(minutes=30)) -> Path:
    """A binary model whose traffic stopped twelve days before the clock, ingested."""
    ws = write_workspace(root)
    n = int(dt.timedelta(days=days) / every)
    recs = [{"ts": iso(LAST - i * every), "model": "m", "version": "1", "request_id": f"q{i}",
             "prediction": i % 2, "score": (i % 10) / 10, "latency_ms": 10.0 + i % 7,
             "features": {"x": float(i % 13)}} for i in range(n)]
    write_jsonl(ws / "logs" / "m.jsonl", recs)
    write_jsonl(ws / "labels" / "m.jsonl", [{"request_id": f"q{i}", "label": i % 3 % 2} for i in range(n)])
    registry(ws, {"model": "m", "version": "1", "task": "binary", "stage": "production"})
    ingest(ws)
    return ws


def test_parse_range_is_the_command_lines_grammar_and_names_its_fields() -> None:
    start, end = W.parse_range("2026-11-01", "2026-11-08T12:00:00+02:00")
    assert start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 8, 10, tzinfo=dt.UTC)
    assert W.parse_range(None, "2026-11-08") == (None, dt.datetime(2026, 11, 8, tzinfo=dt.UTC))
    with pytest.raises(UsageError, match=r"^bad start 'yesterday': use RFC 3339"):
        W.parse_range("yesterday", None, names=("start", "end"))
    with pytest.raises(UsageError, match=r"^end must be after start$"):
        W.parse_range("2026-11-08", "2026-11-01", names=("start", "end"))
    with pytest.raises(UsageError, match=r"^--end must be after --start$"):
        W.parse_range("2026-11-08", "2026-11-08")


def test_a_span_ends_at_the_newest_data_not_at_the_clock(tmp_path) -> None:
    ws = old_workspace(tmp_path / "ws")
    db = open_store(load_dir(ws), production={"m": "1"})
    try:
        oldest, newest = data_span(db, "m")
        assert newest == LAST and data_span(db) == (oldest, newest)
        w = resolve(make_window("24h", FROZEN), FROZEN, oldest, newest)
        assert w.anchor == LAST and w.end == LAST + dt.timedelta(microseconds=1)
        assert w.start == LAST - dt.timedelta(hours=24)
        from console import analytics

        ops = analytics.ops_report(db, "m", window="all", start=w.start, end=w.end)
        assert ops["windows"][0]["requests"] == 49  # the data's last day, not the empty last 24 h
        clocked = make_window("24h", FROZEN)  # no data known: the window ends at the clock
        assert clocked.end == FROZEN + dt.timedelta(microseconds=1)
        empty = analytics.ops_report(db, "m", window="all", start=clocked.start, end=clocked.end)
        assert empty["windows"][0]["requests"] == 0  # what the console showed before
    finally:
        db.close()


def test_all_data_and_custom_ranges_size_their_buckets_to_what_they_cover() -> None:
    now = FROZEN
    four_weeks = resolve(make_window("all", now), now, now - dt.timedelta(days=28), now)
    assert four_weeks.step == "1d"  # as before: a day per bucket
    decade = resolve(make_window("all", now), now, now - dt.timedelta(days=3650), now)
    assert decade.step == "7d"  # 3,650 daily buckets would be more than the command line allows
    from console.tui.window import custom_window

    hours = resolve(custom_window(now - dt.timedelta(hours=6), now), now, None, None)
    assert hours.step == "15m" and hours.label == "2026-11-21 17:59Z – 2026-11-21 23:59Z"
    assert resolve(custom_window(now - dt.timedelta(days=60), None), now, None, now).step == "1d"


async def test_panels_on_old_data_show_its_last_day_and_the_header_says_both(tmp_path) -> None:
    ws = old_workspace(tmp_path / "ws")
    app = make_app(ws, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("w", "down", "down", "enter")  # all data → last hour → last 24 h
        await settle(app, pilot)
        assert app.window.choice.key == "24h"
        header = screen_text(app).splitlines()[0]
        assert "window: last 24 h to 2026-11-09 23:59Z, newest data · 12d before now" in header
        row = app.screen.rows[0]
        assert row.requests == 49 and row.traffic  # the fleet's traffic: the data's last day
        await pilot.press("enter", "4")  # the model's ops tab
        await settle(app, pilot)
        text = flat_text(app)
        assert "49 requests" in text and "no traffic" not in text
        assert "last 24 h to 2026-11-09 23:59Z, newest data · 12d before now" in screen_text(app).splitlines()[0]


async def test_custom_range_dialog_uses_the_cli_grammar_keeps_bad_input_and_esc_resets(tmp_path) -> None:
    ws = old_workspace(tmp_path / "ws")
    app = make_app(ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "W Range" in screen_text(app).splitlines()[-1]  # in the footer, with its label
        await pilot.press("W")
        await pilot.pause()
        assert type(app.screen).__name__ == "RangeDialog"
        await pilot.press(*"2026-11-09T00:00:00Z", "enter", *"yesterday", "enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "RangeDialog"  # refused: the dialog stays
        from textual.widgets import Input

        assert app.screen.query_one("#range-end", Input).value == "yesterday"  # what was typed stays
        text = flat_text(app)
        assert "✗ bad end 'yesterday': use RFC 3339 (2026-11-01T12:00:00Z) or a date (2026-11-01)" in text
        end = app.screen.query_one("#range-end", Input)
        end.value = "2026-11-09T12:00:00Z"
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "FleetScreen"
        assert app.window.custom and app.window.start == dt.datetime(2026, 11, 9, tzinfo=dt.UTC)
        assert app.screen.rows[0].requests == 24  # 00:00 to 12:00 of the last day, every 30 min
        assert "11-09 00:00Z – 11-09 12:00Z" in screen_text(app).splitlines()[0]  # 80 columns: no year
        await pilot.press("W")
        await pilot.pause()
        assert app.screen.query_one("#range-start", Input).value == "2026-11-09T00:00:00Z"  # kept
        await pilot.press("escape")  # back to the default window: all data
        await settle(app, pilot)
        assert not app.window.custom and app.window.key == "all"
        assert app.screen.rows[0].requests == 144


def test_cli_range_errors_name_the_flags(tmp_path) -> None:
    ws = old_workspace(tmp_path / "ws")
    err = run(ws, "ops", "--model", "m", "--start", "2026-11-09", "--end", "2026-11-01", expect=2).stderr
    assert err.strip() == "mlops-console: --end must be after --start"
    err = run(ws, "performance", "--model", "m", "--end", "soon", expect=2).stderr
    assert err.strip().startswith("mlops-console: bad --end 'soon': use RFC 3339")
