"""Alerts say when their condition began, and ``check`` keeps a history of what it saw open,
change severity and clear — in one small store file any member of a shared workspace updates."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
from pathlib import Path

from console.analytics import alert_history
from console.analytics.windows import iso, parse_time
from tests.frozen_time import FROZEN
from tests.tui_helpers import CAROL, flat_text, make_app, settle


def check(ws: Path, expect: int = 1) -> dict:
    from console.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", "--workspace", str(ws), "--format", "json"])
    assert code == expect, err.getvalue()
    return json.loads(out.getvalue())


def configure(ws: Path, toml: str) -> None:
    (ws / "console.toml").write_text((ws / "console.toml").read_text() + "\n" + toml + "\n")


def by_kind(rep: dict, model: str, kind: str, subject: str | None = None) -> dict:
    return next(a for a in rep["alerts"] if a["model"] == model and a["kind"] == kind
                and (subject is None or a["subject"] == subject))


def test_since_is_when_the_condition_began(sample_ws: Path) -> None:
    """credit-risk's dataset drift fires in its latest 7-day window and in the one before, not
    in the one before that: ``since`` is the start of the earlier window, not of the latest."""
    from console.analytics.drift import drift_report
    from console.governance.state import fleet_state
    from console.store.db import open_store
    from console.store.registry import load_registry
    from console.workspace import load_dir

    rep = check(sample_ws)
    drift = by_kind(rep, "credit-risk", "drift", "dataset")
    since, window = parse_time(drift["since"]), parse_time(drift["window_since"])
    week = dt.timedelta(days=7)
    assert parse_time(drift["until"]) - window == week  # the evaluated window, unchanged
    assert since < window and (window - since) % week == dt.timedelta(0)
    ws = load_dir(sample_ws)
    state = fleet_state(ws, load_registry(ws.registry, ws.root))
    db = open_store(ws, stages=state.stages, production=state.production)
    try:
        version = drift["version"]
        lo = since
        while lo < window + week:  # every window from since on: dataset drift
            assert drift_report(db, "credit-risk", version, lo, lo + week, multivariate=False)["dataset_drift"]["drifted"]
            lo += week
        before = drift_report(db, "credit-risk", version, since - week, since, multivariate=False)
        assert not before["dataset_drift"]["drifted"]  # the window before: the condition did not hold
    finally:
        db.close()
    budget = by_kind(rep, "ticket-router", "budget")
    assert budget["since"] == budget["window_since"] and budget["since"].endswith("-01T00:00:00Z")


def test_check_records_opened_changed_and_cleared(sample_ws: Path) -> None:
    old = os.umask(0o002)  # a shared workspace: the group may update the history
    try:
        first = check(sample_ws)
    finally:
        os.umask(old)
    now = iso(FROZEN)
    path = sample_ws / ".console" / "alerts" / "history.json"
    assert path.stat().st_mode & 0o777 == 0o664 and path.parent.stat().st_mode & 0o777 == 0o775
    assert all(a["opened"] == now and a["changes"] == [] for a in first["alerts"])
    assert first["cleared"] == []
    budget = by_kind(first, "ticket-router", "budget")
    assert budget["severity"] == "critical"
    for key in ("ok", "alerts", "skipped", "errors", "models", "future_data"):  # unchanged for scripts
        assert key in first

    configure(sample_ws, "[alerts]\nbudget_critical = 10.0")  # the same alert, now a warning
    second = check(sample_ws)
    b2 = by_kind(second, "ticket-router", "budget")
    assert b2["severity"] == "warning" and b2["opened"] == now
    assert b2["changes"] == [{"at": now, "severity": "warning"}]

    configure(sample_ws, "drift = false")  # still under [alerts]: credit-risk's drift clears, and
    third = check(sample_ws)                # its output drift with it (the same rule, one drift report)
    drift_kinds = ("drift", "output_drift")
    assert not [a for a in third["alerts"] if a["kind"] in drift_kinds]
    gone = [c for c in third["cleared"] if c["kind"] in drift_kinds]
    assert {c["kind"] for c in gone} == {a["kind"] for a in first["alerts"] if a["kind"] in drift_kinds}
    assert gone and all(c["cleared"] == now and c["model"] == "credit-risk" and c["opened"] == now for c in gone)
    stored = json.loads(path.read_text())
    assert {c["id"] for c in stored["cleared"]} == {c["id"] for c in gone}
    assert budget["id"] in stored["open"]


def test_unknown_never_clears() -> None:
    history = {"open": {"x": {"id": "x", "model": "m", "severity": "warning", "opened": "t0", "changes": []},
                        "y": {"id": "y", "model": "n", "severity": "warning", "opened": "t0", "changes": []}},
               "cleared": []}
    report = {"alerts": [], "models": ["m", "n"], "errors": [{"model": "m", "kinds": ["drift"], "error": "E"}]}
    after = alert_history.transitions(history, report, "t1")
    assert set(after["open"]) == {"x"}  # m could not be computed: its alert stays open
    assert [c["id"] for c in after["cleared"]] == ["y"] and after["cleared"][0]["cleared"] == "t1"
    only_n = alert_history.transitions(history, {"alerts": [], "models": ["n"], "errors": []}, "t1")
    assert set(only_n["open"]) == {"x"}  # a check of another model never clears m's


async def test_alerts_screen_shows_since_opened_and_recently_cleared(sample_ws: Path) -> None:
    check(sample_ws)
    configure(sample_ws, "[alerts]\nslices = false")
    check(sample_ws)  # credit-risk's slice alert clears
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        text = flat_text(app)
        assert "✓ cleared recently: credit-risk slice/region=north" in text, text
        screen = app.screen
        first = screen.current()
        assert first["opened"] == iso(FROZEN) and first["since"]
        detail = str(screen.query_one("#alerts-detail").render())
        assert detail.startswith(f"since {first['since'][:10]}") and "opened 2026" in detail


def test_a_damaged_history_is_read_as_what_is_left(tmp_path: Path) -> None:
    from types import SimpleNamespace

    ws = SimpleNamespace(store_dir=tmp_path)
    path = alert_history.history_path(ws)
    path.parent.mkdir(parents=True)
    for garbage in ("not json", "[1, 2]", '{"open": 3}', "[" * 100_000):
        path.write_text(garbage)
        assert alert_history.load(ws) == {"open": {}, "cleared": []}
    path.write_text(json.dumps({"open": {"x": {"id": "x", "model": "m", "severity": "warning", "changes": "oops"}},
                                "cleared": [7]}))
    loaded = alert_history.load(ws)
    assert loaded == {"open": {"x": {"id": "x", "model": "m", "severity": "warning", "changes": []}}, "cleared": []}
    report = {"alerts": [{"id": "x", "model": "m", "severity": "critical"}], "models": ["m"], "errors": []}
    after = alert_history.transitions(loaded, report, "t1")
    assert after["open"]["x"]["changes"] == [{"at": "t1", "severity": "critical"}]
