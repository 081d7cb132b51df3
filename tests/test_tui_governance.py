"""The TUI's governance dialogs at 80x24 on real workspaces: a rollback names where it goes
(the previous production version, or one the user chooses) and keeps the reason when refused;
override is offered only where there are gates; a disabled key says why; no version is ever
written as ``v None``."""

from __future__ import annotations

import json

from console.governance import engine
from console.governance.engine import list_requests
from console.governance.signing import demo_seed
from console.identity import Identity
from console.workspace import load_dir
from tests.test_governance_helpers import DAVE
from tests.tui_helpers import ALICE, CAROL, flat_text, make_app, screen_text, settle


async def open_model(app, pilot, name: str) -> None:
    await pilot.press("colon", *name, "enter")
    await settle(app, pilot)


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_demo_break_glass_goes_to_the_previous_production_version(tmp_path, monkeypatch) -> None:
    """`mlops-console demo`: X on credit-risk (nothing chosen with v) rolls back to v1 — the
    registry's archived version, production before v2 — named in the dialog."""
    from console.cli.app_cmds import fresh_demo_copy

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    demo = fresh_demo_copy(tmp_path / "demo")
    me = load_dir(demo).identity()
    app = make_app(demo, me)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_model(app, pilot, "credit-risk")
        await pilot.press("X")
        await settle(app, pilot)
        dialog = app.screen
        assert type(dialog).__name__ == "ConfirmDialog"
        assert dialog.title_text == "BREAK-GLASS rollback credit-risk to v1"
        assert "production v2 goes back to v1" in dialog.body and "--version" not in dialog.body
        await pilot.press(*"v2 times out", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen"
        assert not [n for n in notes(app) if "--version" in n]
        text = flat_text(app)  # the header follows the rollback; v1 has no traffic: unknown, not ok
        assert "showing v1 (production)" in text and "1 production, 2 " in text, text
        assert "? drift not tested (no current data)" in text and "no dataset drift" not in text
    (req,) = [r for r in list_requests(load_dir(demo)) if r.action == "rollback"]
    assert (req.break_glass, req.version, req.from_version, req.state) == (True, "1", "2", "executed")
    assert json.loads((demo / "serving.json").read_text())["models"]["credit-risk"]["production"] == "1"


async def test_rollback_target_can_be_chosen_and_a_refusal_keeps_the_reason(bare_sample) -> None:
    ws = load_dir(bare_sample)
    engine.create_request(ws, DAVE, "rollback", "credit-risk", "1", "dave asked first")
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_model(app, pilot, "credit-risk")
        await pilot.press("B")
        await settle(app, pilot)
        dialog = app.screen
        assert dialog.title_text == "Request rollback credit-risk to v1"  # the default target
        await pilot.press(*"bureau outage", "enter")
        await settle(app, pilot)
        assert app.screen is dialog  # refused: the dialog stays, with what was typed
        assert dialog.query_one("#confirm-comment").value == "bureau outage"
        assert "already asks for the same" in flat_text(app)
        await pilot.press("tab", "enter")  # the version chooser
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert dialog.choice == "3"
        assert dialog.title_text == "Request rollback credit-risk to v3"
        assert "production v2 goes back to v3 (chosen; the default is v1" in dialog.body
        await pilot.press("shift+tab", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen"
    mine = [r for r in list_requests(ws) if r.requested_by == "carol" and r.action == "rollback"]
    assert [(r.version, r.state, r.reason.splitlines()[0]) for r in mine] == [("3", "pending", "bureau outage")]


async def test_override_only_where_there_are_gates_and_disabled_keys_say_why(bare_sample) -> None:
    ws = load_dir(bare_sample)
    rollback = engine.create_request(ws, CAROL, "rollback", "credit-risk", "1", "bureau outage")
    app = make_app(bare_sample, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        assert app.screen.current().request_id == rollback.request_id
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.check_action("decide", ("override",)) is False  # a rollback has no gates
        assert "Override" not in screen_text(app).splitlines()[-1]
        assert "Approve" in screen_text(app).splitlines()[-1]

    # carol is operator and reviewer here: her own promotion request (REQ-0001) is hers to not decide
    both = Identity("carol", operator=True, reviewer=True, key=demo_seed("carol"))
    app = make_app(bare_sample, both)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        await pilot.press("down")  # newest first: REQ-0002, then REQ-0001
        assert app.screen.current().request_id == "REQ-0001"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.gates  # a promotion: gates shown
        assert app.screen.check_action("decide", ("approve",)) is None  # shown disabled
        await pilot.press("a")
        await pilot.pause()
        assert type(app.screen).__name__ == "SignoffScreen"  # no dialog
        assert "carol raised REQ-0001; a requester never decides their own request" in " ".join(notes(app))


async def test_no_version_is_ever_written_v_none(bare_sample) -> None:
    """A model with nothing in production, and a retrain request (no target version): the
    model screen, the request dialog, the notification and the sign-off never write ``vNone``
    (nor a bare ``v—``)."""
    path = bare_sample / "registry" / "ticket-router" / "1.json"
    path.write_text(path.read_text().replace('"stage": "production"', '"stage": "candidate"'))
    app = make_app(bare_sample, CAROL)
    seen: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_model(app, pilot, "ticket-router")
        seen.append(screen_text(app))
        assert "showing v1 (nothing in production)" in flat_text(app)  # its newest version
        await pilot.press("R")
        await settle(app, pilot)
        seen.append(screen_text(app))
        await pilot.press(*"labels shifted", "enter")
        await settle(app, pilot)
        seen.extend(notes(app))
    alice = make_app(bare_sample, ALICE)
    async with alice.run_test(size=(80, 24)) as pilot:
        await settle(alice, pilot)
        await pilot.press("f3")
        await settle(alice, pilot)
        seen.append(screen_text(alice))
        await pilot.press("enter")
        await settle(alice, pilot)
        assert "retrain ticket-router" in flat_text(alice)
        seen.append(screen_text(alice))
        await pilot.press("a")
        await settle(alice, pilot)
        seen.append(screen_text(alice))
    text = "\n".join(seen)
    for bad in ("vNone", "v None", "v—", "None"):
        assert bad not in text, bad
