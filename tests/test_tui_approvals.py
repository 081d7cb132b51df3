"""Request → approve as two people: carol (operator) raises a rollback from the model screen,
alice (reviewer) signs it off in another console on the same workspace; roles and read-only
mode decide what is offered."""

from __future__ import annotations

import json

from console.governance.engine import list_requests
from console.workspace import load_dir
from tests.tui_helpers import (
    ALICE,
    BOB,
    CAROL,
    EVE,
    flat_text,
    make_app,
    screen_text,
    settle,
)


async def open_model(app, pilot, name: str) -> None:
    await pilot.press("colon")
    await pilot.press(*name)
    await pilot.press("enter")
    await settle(app, pilot)


async def test_request_then_approve_as_two_users(bare_sample) -> None:
    carol = make_app(bare_sample, CAROL)
    async with carol.run_test(size=(80, 24)) as pilot:
        await settle(carol, pilot)
        await open_model(carol, pilot, "credit-risk")
        assert type(carol.screen).__name__ == "ModelScreen"
        await pilot.press("v")  # production → v1
        await settle(carol, pilot)
        assert carol.screen.version == "1"
        await pilot.press("B")
        await settle(carol, pilot)  # the dialog opens once the rollback's targets are read
        dialog = carol.screen
        assert type(dialog).__name__ == "ConfirmDialog"
        text = screen_text(carol)
        assert "rollback credit-risk to v1" in text
        assert dialog.query_one("#confirm-ok").disabled  # a reason is required
        await pilot.press(*"bureau outage")
        await pilot.press("enter")
        await settle(carol, pilot)
    reqs = [r for r in list_requests(load_dir(bare_sample)) if r.action == "rollback"]
    assert len(reqs) == 1 and reqs[0].requested_by == "carol" and reqs[0].state == "pending"
    rid = reqs[0].request_id

    alice = make_app(bare_sample, ALICE)
    async with alice.run_test(size=(80, 24)) as pilot:
        await settle(alice, pilot)
        await pilot.press("f3")
        await settle(alice, pilot)
        assert rid in screen_text(alice)
        assert alice.screen.current().request_id == rid  # newest first
        await pilot.press("enter")
        await settle(alice, pilot)
        assert type(alice.screen).__name__ == "SignoffScreen"
        text = screen_text(alice)
        assert "champion v2 vs challenger v1" in text and "you may approve" in text
        await pilot.press("a")
        await pilot.pause()
        assert "Approve rollback of credit-risk v1" in screen_text(alice)
        await pilot.press("enter")  # empty comment: refused, dialog stays
        await pilot.pause()
        assert type(alice.screen).__name__ == "ConfirmDialog"
        await pilot.press(*"agreed, bureau is down")
        await pilot.press("enter")
        await settle(alice, pilot)
        assert "executed" in screen_text(alice)
    req = next(r for r in list_requests(load_dir(bare_sample)) if r.request_id == rid)
    assert (req.state, req.decided_by, req.decision_comment) == ("executed", "alice", "agreed, bureau is down")
    serving = json.loads((bare_sample / "serving.json").read_text())
    assert serving["models"]["credit-risk"]["production"] == "1"


async def test_requester_cannot_decide_and_operator_cannot_approve(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert "needs the reviewer role" in screen_text(app)
        assert app.screen.check_action("decide", ("approve",)) is None  # shown disabled
        await pilot.press("a")
        await pilot.pause()
        assert type(app.screen).__name__ == "SignoffScreen"  # no dialog opened


async def test_failed_gates_need_an_override_with_justification(bare_sample) -> None:
    app = make_app(bare_sample, BOB)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        failing = [g["gate"] for g in screen.gates if g["status"] != "passed"]
        if not failing:
            return  # every gate passed on this data: nothing to override
        assert screen.check_action("decide", ("approve",)) is None
        assert screen.check_action("decide", ("override",)) is True
        await pilot.press("o")
        await pilot.pause()
        assert "OVERRIDE failed gates and approve promote of credit-risk v3" in screen_text(app)
        await pilot.press(*"shadow data reviewed by hand")
        await pilot.press("enter")
        await settle(app, pilot)
    req = list_requests(load_dir(bare_sample))[0]
    assert req.decided_by == "bob" and req.override is True


async def test_read_only_mode_removes_every_action(bare_sample) -> None:
    app = make_app(bare_sample, ALICE, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "READ-ONLY" in screen_text(app)
        await pilot.press("f3")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.check_action("decide", ("approve",)) is False  # not offered at all
        footer = screen_text(app).splitlines()[-1]
        assert "Approve" not in footer and "Reject" not in footer
        await pilot.press("a")
        await pilot.pause()
        assert type(app.screen).__name__ == "SignoffScreen"


async def test_nobody_sees_requests_disabled_with_reason(bare_sample) -> None:
    app = make_app(bare_sample, EVE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_model(app, pilot, "credit-risk")
        assert app.screen.check_action("request", ("retrain",)) is None
        await pilot.press("R")
        await pilot.pause()
        assert type(app.screen).__name__ == "ModelScreen"
        await pilot.press("question_mark")
        await pilot.pause()
        assert "needs the operator role (eve is read-only)" in flat_text(app)


async def test_break_glass_rollback_executes_at_once_and_stays_open_for_review(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_model(app, pilot, "credit-risk")
        await pilot.press("v")  # v1
        await settle(app, pilot)
        await pilot.press("X")
        await settle(app, pilot)
        dialog = app.screen
        assert dialog.title_text == "BREAK-GLASS rollback credit-risk to v1"
        assert "executes AT ONCE" in dialog.body
        await pilot.press(*"v2 is timing out everywhere", "enter")
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        assert "⚠ break-glass" in screen_text(app)  # open for review
    req = next(r for r in list_requests(load_dir(bare_sample)) if r.break_glass)
    assert (req.state, req.review, req.version) == ("executed", "pending", "1")
    assert json.loads((bare_sample / "serving.json").read_text())["models"]["credit-risk"]["production"] == "1"


async def test_no_color_keeps_every_state_in_words(bare_sample, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(bare_sample, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.no_color
        await pilot.press("f3")
        await settle(app, pilot)
        assert "… pending" in screen_text(app)
        await pilot.press("enter")
        await settle(app, pilot)
        text = flat_text(app)
        assert "✓ passed" in text and ("✗ failed" in text or "? not evaluated" in text)
