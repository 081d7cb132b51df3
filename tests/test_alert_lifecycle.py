"""Alerts with a lifecycle: ``check`` states each alert (new, ongoing, acked, snoozed) and lists
what it cleared; operators acknowledge and snooze through one headless step (journaled, signed,
role-checked) that the CLI's ``alerts ack/snooze`` and the TUI's ``a``/``z`` both call."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from console import clock
from console.errors import PermissionDenied, UsageError
from console.governance import alert_acks, workflow
from console.governance.engine import journal_of
from console.identity import os_user
from console.workspace import load_dir
from tests.frozen_time import FROZEN
from tests.tui_helpers import ALICE, CAROL, EVE, flat_text, make_app, settle


def cli(ws: Path, *args: str, expect: int = 0) -> tuple[str, str]:
    from console.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--workspace", str(ws)])
    assert code == expect, (code, err.getvalue())
    return out.getvalue(), err.getvalue()


def check(ws: Path, expect: int = 1) -> dict:
    return json.loads(cli(ws, "check", "--format", "json", expect=expect)[0])


def on_call(ws: Path) -> None:
    """This process's OS account becomes an operator with a registered key (as an admin would)."""
    text = (ws / "console.toml").read_text()
    (ws / "console.toml").write_text(text.replace('operators = ["carol"', f'operators = ["{os_user()}", "carol"'))
    line = cli(ws, "keys", "show")[0].strip()
    with (ws / "signers").open("a") as fh:
        fh.write(line + "\n")


def by(rep: dict, kind: str) -> dict:
    return next(a for a in rep["alerts"] if a["kind"] == kind)


def test_ack_and_snooze_from_the_command_line(sample_ws: Path) -> None:
    assert 'operators = ["carol"' in (sample_ws / "console.toml").read_text()
    on_call(sample_ws)
    first = check(sample_ws)
    assert {a["state"] for a in first["alerts"]} == {"new"} and first["states"]["new"] == len(first["alerts"])
    again = check(sample_ws)
    assert {a["state"] for a in again["alerts"]} == {"ongoing"} and again["cleared"] == []
    drift = by(again, "drift")

    # one-line refusals: empty comment, unknown id, bad or past time
    _, err = cli(sample_ws, "alerts", "ack", drift["id"], "--comment", "  ", expect=2)
    assert err.count("\n") == 1 and "--comment is required" in err
    _, err = cli(sample_ws, "alerts", "ack", "ffffffffffff", "--comment", "x", expect=2)
    assert "no alert 'ffffffffffff' is firing now" in err and err.count("\n") == 1
    _, err = cli(sample_ws, "alerts", "snooze", drift["id"], "--until", "tomorrow", expect=2)
    assert "bad --until 'tomorrow'" in err and err.count("\n") == 1
    past = clock.rfc3339(FROZEN - dt.timedelta(hours=1))
    _, err = cli(sample_ws, "alerts", "snooze", drift["id"], "--until", past, expect=2)
    assert "is not in the future" in err

    out, _ = cli(sample_ws, "alerts", "ack", drift["id"][:6], "--comment", "retraining", "--format", "json")
    got = json.loads(out)
    assert (got["alert_id"], got["action"], got["by"], got["comment"]) == (drift["id"], "ack", os_user(), "retraining")
    entry = journal_of(load_dir(sample_ws)).entries()[-1]
    assert entry["action"] == "alert_ack" and entry["actor"] == os_user() and "sig" in entry
    assert entry["severity"] == "critical" and entry["model"] == "credit-risk"

    acked = check(sample_ws)  # acked: still failing the check, the condition holds
    assert by(acked, "drift")["state"] == "acked" and by(acked, "drift")["ack"]["by"] == os_user()

    for a in acked["alerts"]:
        cli(sample_ws, "alerts", "snooze", a["id"], "--until", "2h")
    quiet = check(sample_ws, expect=0)  # every alert snoozed: listed, exit 0
    assert quiet["states"]["snoozed"] == len(quiet["alerts"]) > 0 and not quiet["ok"]
    until = clock.rfc3339(FROZEN + dt.timedelta(hours=2))
    assert all(a["ack"]["until"] == until for a in quiet["alerts"])
    with clock.frozen(FROZEN + dt.timedelta(hours=3)):  # the snoozes ran out; the ack still holds
        later = check(sample_ws)
    assert by(later, "drift")["state"] == "acked" and by(later, "budget")["state"] == "ongoing"

    out, _ = cli(sample_ws, "alerts", "history", "--format", "json", "--model", "credit-risk")
    hist = json.loads(out)
    drift_h = next(e for e in hist["open"] if e["id"] == drift["id"])
    assert [x["action"] for x in drift_h["acks"]] == ["ack", "snooze"]
    assert all(e["model"] == "credit-risk" for e in hist["open"])


def test_an_ack_ends_when_the_alert_escalates_or_clears(sample_ws: Path) -> None:
    ws_file = sample_ws / "console.toml"
    base = ws_file.read_text()
    ws_file.write_text(base + "\n[alerts]\nbudget_critical = 10.0\n")  # the budget alert is a warning
    rep = check(sample_ws)
    budget = by(rep, "budget")
    assert budget["severity"] == "warning"
    ws = load_dir(sample_ws)
    workflow.ack_alert(ws, CAROL, budget["id"], "cost review booked", rep["alerts"])
    assert by(check(sample_ws), "budget")["state"] == "acked"

    ws_file.write_text(base)  # critical again: severity rose above the one acknowledged
    rose = by(check(sample_ws), "budget")
    assert rose["severity"] == "critical" and rose["state"] == "ongoing" and rose["ack"] is None
    workflow.ack_alert(load_dir(sample_ws), CAROL, budget["id"], "now critical, on it", [rose])
    assert by(check(sample_ws), "budget")["state"] == "acked"

    sliced = by(check(sample_ws), "slice")
    workflow.ack_alert(load_dir(sample_ws), CAROL, sliced["id"], "known north issue", [sliced])
    assert by(check(sample_ws), "slice")["state"] == "acked"
    ws_file.write_text(base + "\n[alerts]\nslices = false\n")
    with clock.frozen(FROZEN + dt.timedelta(minutes=1)):
        cleared = check(sample_ws)
    assert [c["id"] for c in cleared["cleared"]] == [sliced["id"]]
    ws_file.write_text(base)
    with clock.frozen(FROZEN + dt.timedelta(minutes=2)):
        back = check(sample_ws)  # a new episode: the old ack no longer holds
    assert by(back, "slice")["state"] == "new" and back["cleared"] == []
    assert by(back, "budget")["state"] == "acked"


def test_only_operators_ack_and_refusals_are_journaled(sample_ws: Path) -> None:
    rep = check(sample_ws)
    ws = load_dir(sample_ws)
    alert = rep["alerts"][0]
    with pytest.raises(PermissionDenied, match="alice is not an operator"):
        workflow.ack_alert(ws, ALICE, alert["id"], "mine", rep["alerts"])
    last = journal_of(ws).entries()[-1]
    assert (last["action"], last["actor"], last["attempt"], last["alert_id"]) == (
        "refused", "alice", "alerts ack", alert["id"])
    with pytest.raises(PermissionDenied, match="could not be journaled"):
        workflow.snooze_alert(ws, EVE, alert["id"], "1h", None, rep["alerts"])
    _, err = cli(sample_ws, "alerts", "ack", alert["id"], "--comment", "x", expect=2)  # root: no role
    assert "is not an operator" in err and err.count("\n") == 1
    with pytest.raises(UsageError, match="not in the future"):
        workflow.snooze_alert(ws, CAROL, alert["id"], "2020-01-01", None, rep["alerts"])


def test_an_ack_appended_by_someone_without_the_role_never_counts(sample_ws: Path) -> None:
    """The history folder and the journal file are group-writable: an entry written by a member
    who is not an operator (signed with her own registered key) silences nothing."""
    from console.governance.journal import Journal
    from console.governance.signing import signer_for

    rep = check(sample_ws)
    ws = load_dir(sample_ws)
    alert = rep["alerts"][0]
    Journal(ws.journal_path, signer=signer_for(ws, ALICE)).append(
        "alice", "alert_snooze", alert_id=alert["id"], severity="critical",
        until=clock.rfc3339(FROZEN + dt.timedelta(days=9)))
    assert alert_acks.acknowledgements(ws) == {}
    assert check(sample_ws)["alerts"][0]["state"] == "ongoing"


def test_parse_until() -> None:
    assert alert_acks.parse_until("1d", FROZEN) == FROZEN + dt.timedelta(days=1)
    later = FROZEN + dt.timedelta(days=2)
    assert alert_acks.parse_until(clock.rfc3339(later), FROZEN) == clock.as_utc(later)
    for bad in ("", "0s", "-1h", "soon"):
        with pytest.raises(UsageError):
            alert_acks.parse_until(bad, FROZEN)


async def test_alerts_screen_states_ack_and_snooze(sample_ws: Path) -> None:
    check(sample_ws)
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        screen = app.screen
        assert screen.current()["state"] == "new"
        assert "new" in flat_text(app) and "a: ack · z: snooze" in flat_text(app)
        first = screen.current()
        await pilot.press("a")
        await pilot.pause()
        assert "Acknowledge drift alert on credit-risk" in flat_text(app)
        await pilot.press(*"looking at it", "enter")
        await settle(app, pilot)
        await settle(app, pilot)
        row = next(a for a in screen.alerts if a.get("id") == first["id"])
        assert row["state"] == "acked" and "acked" in flat_text(app)
        assert "acked by carol" in flat_text(app)
        await pilot.press("down", "z")
        await pilot.pause()
        second = screen.current()
        await pilot.press(*"soon", "enter")  # not a duration: said in the dialog, which stays open
        await settle(app, pilot)
        assert "bad --until 'soon'" in flat_text(app)
        for _ in "soon":
            await pilot.press("backspace")
        await pilot.press(*"2h fix deploying", "enter")
        await settle(app, pilot)
        await settle(app, pilot)
        row = next(a for a in screen.alerts if a.get("id") == second["id"])
        assert row["state"] == "snoozed" and row["ack"]["comment"] == "fix deploying"
    entries = journal_of(load_dir(sample_ws)).entries()
    assert [(e["action"], e["actor"]) for e in entries[-2:]] == [("alert_ack", "carol"), ("alert_snooze", "carol")]


async def test_alerts_screen_refuses_ack_without_the_role(sample_ws: Path) -> None:
    check(sample_ws)
    app = make_app(sample_ws, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        before = len(journal_of(load_dir(sample_ws)).entries())
        await pilot.press("a")
        await pilot.pause()
        assert type(app.screen).__name__ == "AlertsScreen"
        assert "needs the operator role (alice is reviewer)" in flat_text(app)
    assert len(journal_of(load_dir(sample_ws)).entries()) == before


def test_a_hand_edited_history_never_crashes_check_nor_silences_an_alert(sample_ws: Path) -> None:
    first = check(sample_ws)
    drift = by(first, "drift")
    workflow.ack_alert(load_dir(sample_ws), CAROL, drift["id"], "on it", first["alerts"])
    path = sample_ws / ".console" / "alerts" / "history.json"
    doc = json.loads(path.read_text())
    doc["open"][drift["id"]]["opened"] = {"not": "a time"}  # a member's edit
    doc["new"] = [7, None]
    doc["open"]["junk"] = "x"
    path.write_text(json.dumps(doc))
    rep = check(sample_ws)
    assert by(rep, "drift")["state"] == "ongoing"  # the episode start is unknown: the ack does not hold
    path.write_text("{not json")
    with clock.frozen(FROZEN + dt.timedelta(minutes=5)):
        rep = check(sample_ws)  # the log is rebuilt: every alert opens again, after the ack
    assert {a["state"] for a in rep["alerts"]} == {"new"}
