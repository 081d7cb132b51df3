"""Alerts: what ``check`` reports, most severe first; enter opens the model on the right tab;
``r`` opens a pre-filled retrain/rollback request with the alert attached as evidence."""

from __future__ import annotations

from console.governance.engine import list_requests
from console.workspace import load_dir
from tests.tui_helpers import (
    ALICE,
    CAROL,
    flat_text,
    make_app,
    screen_text,
    settle,
)


async def test_alerts_most_severe_first_and_act_on_one(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        screen = app.screen
        sev = [a["severity"] for a in screen.alerts]
        assert sev == sorted(sev, key=lambda s: {"critical": 0, "warning": 1}.get(s, 2))
        assert {"drift", "budget", "slice"} <= {a["kind"] for a in screen.alerts}
        first = screen.current()
        assert first["severity"] == "critical" and first["kind"] == "drift" and first["model"] == "credit-risk"
        assert "✗ critical" in screen_text(app) and "r: request retrain/rollback" in flat_text(app)
        await pilot.press("r")
        await pilot.pause()
        assert "Request retrain credit-risk to v2" in flat_text(app)
        assert "Evidence: drift alert (critical) on credit-risk v2: dataset drift" in flat_text(app)
        await pilot.press(*"features moved, retrain on recent data", "enter")
        await settle(app, pilot)
    req = next(r for r in list_requests(load_dir(sample_ws)) if r.action == "retrain")
    assert req.requested_by == "carol" and req.model == "credit-risk" and req.state == "pending"
    assert req.reason.startswith("features moved") and "Evidence: drift alert (critical)" in req.reason


async def test_enter_opens_the_alerts_model_on_its_tab_and_reviewers_cannot_act(ingested_sample) -> None:
    app = make_app(ingested_sample, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        assert "✗ r/a/z: needs the operator role (alice is reviewer)" in flat_text(app)
        await pilot.press("r")
        await pilot.pause()
        assert type(app.screen).__name__ == "AlertsScreen"
        await pilot.press("slash", *"budget", "enter")
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen"
        assert app.screen.model == "ticket-router" and app.screen.active_tab() == "cost"
