"""Fleet (home) on the ingested sample workspace: the story is visible at a glance, rows sort
and filter, enter opens the model, esc comes back."""

from __future__ import annotations

import pytest

from tests.tui_helpers import (
    CAROL,
    make_app,
    screen_text,
    settle,
)


async def test_fleet_shows_the_story_sorts_filters_and_opens(ingested_sample) -> None:
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        rows = {r.model: r for r in screen.rows}
        assert set(rows) == {"credit-risk", "delivery-eta", "ticket-router"}
        cr, tr = rows["credit-risk"], rows["ticket-router"]
        assert (cr.production, cr.candidates) == ("2", ["3"])
        assert cr.drift == "drift" and cr.problems == []
        assert cr.requests and cr.p95_ms and len(cr.traffic) == 28  # four weeks, daily
        offline = app.backend.registry.get("credit-risk", "2").metrics["roc_auc"]
        assert cr.metric == "roc_auc" and cr.metric_offline == offline and cr.metric_value is not None
        assert cr.pending == 1  # the promotion waiting for sign-off
        assert tr.budget == 60 and tr.cost_mtd > tr.budget  # over budget
        assert tr.alerts >= 1 and tr.worst_alert == "critical"
        text = screen_text(app)
        assert "✗ drift" in text and "✗ $70/$60" in text and "✗ critical" in text
        # default order: open alerts first
        first = [r.model for r in screen.visible_rows()][0]
        assert rows[first].alerts == max(r.alerts for r in rows.values())
        await pilot.press(*["s"] * 11)  # from alerts round to drift
        assert screen.sort_col == 2
        assert screen.visible_rows()[0].model == "credit-risk"
        await pilot.press("S")
        assert screen.visible_rows()[-1].model == "credit-risk"
        await pilot.press("slash", *"eta")
        assert [r.model for r in screen.visible_rows()] == ["delivery-eta"]
        await pilot.press("enter")  # keep the filter, back to the table
        await pilot.press("enter")  # open the only row
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen" and app.screen.model == "delivery-eta"
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen and screen.filter_text == "eta"


async def test_fleet_fits_80x24_with_the_states_in_words(ingested_sample) -> None:
    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        lines = text.splitlines()
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        assert "credit-risk" in text and "✗ drift" in text
        assert "Help" in lines[-1] and "Filter" in lines[-1]


async def test_fleet_over_all_data_reads_fresh_profiles_and_says_so(sample_ws) -> None:
    """With the daily profiles fresh, the fleet's requests, error rates, traffic and budget are
    the exact path's (from the profiles: O(days)), so are its drift states (the report's own
    tests on the merged sketch) and the live metric of the multiclass and regression models
    (confusion counts), and the note line says where p95 and drift came from;
    without them, the exact queries answer and nothing mentions profiles."""
    from console.profiles import local
    from tests.test_profiles_reader import _open

    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        exact = {r.model: r for r in app.screen.rows}
        assert {r.ops_source for r in exact.values()} == {"exact"}
        assert {r.drift_source for r in exact.values() if r.production} == {"exact"}
        assert "daily profiles" not in screen_text(app)
    db = _open(sample_ws)
    try:
        local.profile_store(db)
    finally:
        db.close()
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        rows = {r.model: r for r in app.screen.rows}
        assert {r.ops_source for r in rows.values()} == {"profiles"}
        for model, r in rows.items():
            e = exact[model]
            assert (r.requests, r.error_rate, r.traffic) == (e.requests, e.error_rate, e.traffic), model
            assert r.budget == e.budget and r.cost_mtd == pytest.approx(e.cost_mtd, rel=1e-12)
            assert r.p95_ms == pytest.approx(e.p95_ms, rel=0.03)  # the sketch's p95
            # drift on the merged sketch: the report's own tests, the same states here
            assert (r.drift, r.drifted_features) == (e.drift, e.drifted_features), model
            assert r.drift_source == ("profiles" if r.production else None), model
            # the live metric from the profiles' confusion counts where they give it exactly
            assert (r.metric_value, r.metric_labelled, r.metric_low) == (e.metric_value, e.metric_labelled,
                                                                         e.metric_low), model
            assert r.metric_source == ("profiles" if r.task in ("multiclass", "regression") else "exact"), model
        assert {r.drift for r in rows.values()} >= {"drift", "ok"}  # (both kinds compared)
        assert "p95 (±1 %) and drift from daily profiles" in screen_text(app)
