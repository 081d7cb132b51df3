"""Query: SQL with highlighting and history, the views' schema, results through the Arrow-backed
table with a row limit and probe row, cancel with interrupt(), export to CSV and Parquet."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from console.tui.screens import query as query_mod
from console.workspace import load_dir
from tests.tui_helpers import CAROL, flat_text, make_app, settle


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch) -> Path:
    """Each test's OS account has a home of its own: the query history lives there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    return home


async def type_sql(app, pilot, sql: str) -> None:
    editor = app.screen.query_one("#query-editor")
    editor.load_text(sql)
    editor.focus()
    await pilot.pause()


async def test_run_limit_history_export_and_refuse_writes(sample_ws, monkeypatch) -> None:
    monkeypatch.setattr(query_mod, "ROW_LIMIT", 1000)
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        screen = app.screen
        assert screen.query_one("#query-editor").language == "sql"
        tree = screen.query_one("#query-schema")
        assert [n.data for n in tree.root.children][:3] == ["predictions", "predictions_labelled", "labels"]
        assert any(str(c.label).startswith("request_id") for c in tree.root.children[0].children)

        await type_sql(app, pilot, "SELECT model, count(*) AS n FROM predictions GROUP BY 1 ORDER BY 1")
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        table = screen.query_one("#query-table")
        assert table.row_count == 3 and "✓ 3 rows × 2 columns" in flat_text(app)

        await type_sql(app, pilot, "SELECT request_id, model FROM predictions")
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        assert screen.query_one("#query-table").row_count == 1000
        assert "first 1,000 rows × 2 columns" in flat_text(app) and "more not fetched" in flat_text(app)

        await pilot.press("ctrl+e")  # CSV of the whole result, not only the shown rows
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        exports = sample_ws / "exports"
        csv_file = next(exports.glob("*.csv"))
        pq_file = next(exports.glob("*.parquet"))
        with csv_file.open() as f:
            rows = list(csv.DictReader(f))
        total = pq.read_table(pq_file).num_rows
        assert len(rows) == total > 1000
        assert set(rows[0]) == {"request_id", "model"}

        await pilot.press("ctrl+up")  # history: back to the first query
        await pilot.press("ctrl+up")
        assert "count(*)" in screen.query_one("#query-editor").text

        await type_sql(app, pilot, "DROP VIEW predictions")
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        assert "✗" in flat_text(app)
        assert app.backend.db.cursor().execute("SELECT count(*) FROM predictions").fetchone()[0] > 0

    history = query_mod.load_history(app.workspace)
    assert history[0].startswith("SELECT model, count(*)") and history[-1] == "DROP VIEW predictions"


async def test_cancel_interrupts_a_running_query(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        slow = ("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3")
        await type_sql(app, pilot, slow)
        await pilot.press("ctrl+j")
        await pilot.pause()
        assert "running" in flat_text(app)
        for _ in range(100):  # wait until the worker holds its cursor
            if app.screen.stream is not None:
                break
            await pilot.pause(0.02)
        await pilot.press("ctrl+k")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "cancelled" in flat_text(app)
        assert not app.screen.query("#query-table")


async def test_query_screen_is_as_sandboxed_as_the_cli(sample_ws, tmp_path) -> None:
    """The screen runs SQL only through the CLI's read-only function: file reads outside the
    store, COPY, ATTACH and INSTALL are refused (also in --read-only), nothing is exported, and
    the reports' own connection is not the one that ran them."""
    secret = tmp_path / "secret.txt"
    secret.write_text("the-secret-line\n")
    app = make_app(sample_ws, CAROL, read_only=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        screen = app.screen
        for sql in (f"SELECT * FROM read_text('{secret}')", "SELECT * FROM read_text('/etc/shadow')",
                    f"SELECT * FROM read_csv('{secret}')",
                    f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'", f"ATTACH '{tmp_path / 'x.db'}'",
                    "INSTALL httpfs", "LOAD httpfs", "SET enable_external_access = true"):
            await type_sql(app, pilot, sql)
            await pilot.press("ctrl+j")
            await settle(app, pilot)
            text = flat_text(app)
            assert "✗" in text and "the-secret-line" not in text, sql
            assert ("refused" in text or "Permission Error" in text), (sql, text)
            assert not screen.query("#query-table")
            await pilot.press("ctrl+e")  # nothing ran: nothing to export
            await settle(app, pilot)
        assert not (sample_ws / "exports").exists()
        assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.db").exists()
        # the reports' connection can still read its files (it was not the one sandboxed)
        cur = app.backend.db.cursor()
        assert cur.execute("SELECT current_setting('enable_external_access')").fetchall() == [(True,)]


async def test_rows_kept_are_capped_and_the_total_said_when_known(sample_ws, monkeypatch) -> None:
    monkeypatch.setattr(query_mod, "ROW_LIMIT", 1000)
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        await type_sql(app, pilot, "SELECT range AS i FROM range(2500)")  # one batch: M is known
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        assert app.screen.query_one("#query-table").row_count == 1000
        assert "first 1,000 rows × 1 columns" in flat_text(app) and "of 2,500 rows" in flat_text(app)
        await type_sql(app, pilot, "SELECT range AS i FROM range(10000000000)")  # never read to its end
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        assert app.screen.query_one("#query-table").row_count == 1000
        assert "more not fetched" in flat_text(app)


async def open_query(app, pilot) -> None:
    await settle(app, pilot)
    await pilot.press("f5")
    await settle(app, pilot)


async def test_ctrl_a_selects_the_whole_sql(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_query(app, pilot)
        editor = app.screen.query_one("#query-editor")
        await type_sql(app, pilot, "SELECT model\nFROM predictions")
        editor.move_cursor((1, 4))
        await pilot.press("ctrl+a")
        assert editor.selected_text == "SELECT model\nFROM predictions"
        await pilot.press("x")  # typing replaces the selection, as in any editor
        assert editor.text == "x"
        app.screen.query_one("#query-schema").focus()  # from the schema tree too
        await pilot.press("ctrl+a")
        assert app.focused is editor and editor.selected_text == "x"


async def test_a_refused_query_clears_the_old_rows(sample_ws) -> None:
    (sample_ws / "console.toml").write_text((sample_ws / "console.toml").read_text()
                                            + '\n[query]\ntimeout = "1s"\n')
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_query(app, pilot)
        screen = app.screen
        status = screen.query_one("#query-status")
        for bad, said in (("SELEC model FROM predictions", "SQL does not parse"),
                          ("DROP VIEW predictions", "refused"),
                          ("SELECT no_such_column FROM predictions", "query failed"),
                          ("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3",
                           "timed out after 1s (raise [query] timeout")):
            await type_sql(app, pilot, "SELECT * FROM (VALUES ('stale-a'), ('stale-b'), ('stale-c')) t(v)")
            await pilot.press("ctrl+j")
            await settle(app, pilot)
            assert screen.query_one("#query-table").row_count == 3 and "stale-b" in flat_text(app)
            await type_sql(app, pilot, bad)
            await pilot.press("ctrl+j")
            await settle(app, pilot)
            assert not screen.query("#query-table"), bad  # no stale rows under the new SQL
            assert "stale-b" not in flat_text(app)
            assert str(status.render()).startswith("✗") and said in str(status.render()), bad
            assert status.region.height == 1, bad  # the error in one line
            await pilot.press("ctrl+e")  # nothing to export: the old result is gone
            await settle(app, pilot)
            assert not (sample_ws / "exports").exists()


def test_schema_names_are_inserted_with_spacing() -> None:
    spaced = query_mod.spaced
    assert spaced("predictions", "SELECT * FROM", "") == " predictions"
    assert spaced("predictions", "SELECT * FROM ", "") == "predictions"
    assert spaced("model", "SELECT a,", " FROM t") == " model"
    assert spaced("model", "SELECT ", "FROM t") == "model "
    assert spaced("model", "count(", ")") == "model"
    assert spaced("model", "SELECT p.", ", x") == "model"
    assert spaced("model", "", "") == "model"


async def test_enter_on_the_schema_tree_inserts_a_spaced_name(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_query(app, pilot)
        editor = app.screen.query_one("#query-editor")
        tree = app.screen.query_one("#query-schema")
        await type_sql(app, pilot, "SELECT count(*) FROM")
        editor.move_cursor((0, len(editor.text)))
        tree.focus()
        tree.move_cursor(tree.root.children[0])  # predictions
        await pilot.press("enter")
        await pilot.pause()
        assert editor.text == "SELECT count(*) FROM predictions"
        tree.move_cursor(tree.root.children[0].children[0])  # its first column
        editor.move_cursor((0, len("SELECT count(*)")))
        await pilot.press("enter")
        await pilot.pause()
        first = tree.root.children[0].children[0].data
        assert editor.text == f"SELECT count(*) {first} FROM predictions"


async def test_exports_stamp_timestamps_with_their_zone(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_query(app, pilot)
        await type_sql(app, pilot, "SELECT ts, TIMESTAMPTZ '2026-11-12 12:00:00+02' AS tz "
                                   "FROM predictions ORDER BY ts LIMIT 3")
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        await pilot.press("ctrl+e")
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        truth = app.backend.db.cursor().execute(
            "SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S') FROM predictions ORDER BY ts LIMIT 1").fetchone()[0]
    exports = sample_ws / "exports"
    with next(exports.glob("*.csv")).open() as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["ts"].startswith(truth) and rows[0]["ts"].endswith("Z"), rows[0]
    assert rows[0]["tz"] == "2026-11-12T10:00:00Z"
    schema = pq.read_schema(next(exports.glob("*.parquet")))
    assert schema.field("ts").type.tz == "UTC" and schema.field("tz").type.tz == "UTC"


def test_history_is_each_accounts_own(sample_ws, tmp_path, monkeypatch) -> None:
    """Two OS accounts on one shared workspace: each one's history is in its own home (mode
    from its umask), neither sees the other's SQL, and nothing is written in the workspace."""
    ws = load_dir(sample_ws)
    homes = {u: tmp_path / u for u in ("ann", "ben")}
    old = os.umask(0o077)
    try:
        for user, umask in (("ann", 0o077), ("ben", 0o002)):
            homes[user].mkdir()
            monkeypatch.setenv("HOME", str(homes[user]))
            os.umask(umask)
            query_mod.append_history(ws, f"SELECT '{user}'")
            path = query_mod.history_path(ws)
            assert path.is_relative_to(homes[user]) and not path.is_relative_to(sample_ws)
            assert path.stat().st_mode & 0o777 == 0o666 & ~umask
            assert query_mod.load_history(ws) == [f"SELECT '{user}'"]
    finally:
        os.umask(old)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert query_mod.history_path(ws).is_relative_to(tmp_path / "xdg")
    assert not list(sample_ws.rglob("*history*"))
