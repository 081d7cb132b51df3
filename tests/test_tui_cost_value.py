"""The cost tab's value figures: by version the net value and ROI, and after ``d`` per day the
cost with amortised training, expected value, net value, ROI and cost per correct prediction —
the same numbers as ``value --by day`` (``value_report``) over the tab's window."""

from __future__ import annotations

from console.tui.panels.cost import roi_text, signed_usd, unit_usd
from tests.tui_helpers import CAROL, make_app, screen_text, settle


async def test_cost_tab_per_day_shows_value_and_roi(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("credit-risk")
        await settle(app, pilot)
        await pilot.press("d")  # not the cost tab: it says so, nothing changes
        await pilot.press("5")
        await settle(app, pilot)
        table = app.screen.query_one("#cost-versions")
        assert [str(c.label) for c in table.columns.values()][-2:] == ["net value", "ROI"]
        assert "d: per day" in screen_text(app)
        await pilot.press("d")
        await pilot.pause()
        cols = [str(c.label) for c in table.columns.values()]
        assert cols == ["day", "predictions", "cost", "value", "net value", "ROI", "per correct"]
        assert "d: per version" in screen_text(app)
        be = app.backend
        window = app.screen.window_shown
        rep = be.report("value_report", model="credit-risk", version=None, by="day", **be.span(window))
        days = sorted(rep["rows"], key=lambda r: r["day"], reverse=True)
        assert table.row_count == len(days) > 7
        for i, r in enumerate(days[:8]):
            got = table.get_row_at(i)
            assert got[0] == r["day"]
            assert (got[4], got[5], got[6]) == (signed_usd(r["net_usd"]), roi_text(r["roi"]),
                                                unit_usd(r["usd_per_correct"]))
        valued = next(r for r in days if r["roi"] is not None)
        assert valued["net_usd"] == valued["expected_value_usd"] - valued["cost_usd"]
        assert all(len(line) <= 80 for line in screen_text(app).splitlines())
        await pilot.press("d")
        await pilot.pause()
        assert [str(c.label) for c in table.columns.values()][0] == "version"
