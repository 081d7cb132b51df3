"""The performance tab's estimate (Pilot, 80×24, the ingested sample): the estimated primary metric
beside the realized one, its band and whether the band held — in words beside every mark — the
same numbers as ``estimate_report``; a model the estimate cannot serve says why on its line and
keeps the rest of the tab."""

from __future__ import annotations

from tests.tui_helpers import CAROL, make_app, screen_text, settle


async def test_performance_tab_shows_the_estimate_beside_realized(ingested_sample) -> None:
    from console.tui import format as fmt

    app = make_app(ingested_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("credit-risk")
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        panel = app.screen.query_one("#panel-performance")
        data = panel.query_one("#perf-estimate").render().plain
        window = app.screen.window_shown
        est = app.backend.report("estimate.estimate_report", model="credit-risk", version=None, metric="roc_auc",
                                 window=window.step, **app.backend.span(window))
        wins = [w for w in est["windows"] if w["metrics"]["roc_auc"]["estimated"] is not None]
        newest = wins[-1]["metrics"]["roc_auc"]
        assert f"CBPE estimate of roc_auc (newest bucket): {fmt.num(newest['estimated'])}" in data
        assert f"[{fmt.num(newest['lower'])}, {fmt.num(newest['upper'])}]" in data
        assert ("✓ inside band" in data) or ("✗ outside band" in data) or ("no labels yet" in data)
        assert "labelled buckets" in data
        text = screen_text(app)
        assert " estimated " in text and "roc_auc: live" in text  # the plot's legend: a series of its own

        app.open_model("ticket-router")  # multiclass: no estimate, the tab still paints
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        panel = app.screen.query_one("#panel-performance")
        line = panel.query_one("#perf-estimate").render().plain
        assert line.startswith("? estimate not available: no estimate for a multiclass model")
        assert "macro_f1: live" in screen_text(app)
