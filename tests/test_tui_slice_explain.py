"""Explain from the slices tab: ``e`` on a slice lists that slice's predictions (the wrong ones
first, from ``analytics.slices.slice_predictions`` in a worker) and ``enter`` opens the explain
view of the highlighted one, at 80×24; the list's counts are the slices report's own."""

from __future__ import annotations

import pytest

from tests.tui_helpers import CAROL, make_app, screen_text, settle

pytest.importorskip("shap", reason="shap is not installed: pip install 'mlops-console[explain]'")


async def test_a_slice_of_v3_to_one_explanation(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("credit-risk")
        await settle(app, pilot)
        await pilot.press("e")  # not on the slices tab: it says where it works
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen"
        for _ in range(3):  # v1, v2, v3 (the candidate)
            await pilot.press("v")
        await pilot.press("3")
        await settle(app, pilot)
        panel = app.screen.query_one("#panel-slices")
        assert "e: explain its predictions" in screen_text(app)
        assert panel.version == "3"
        row = panel.order.index(("region", "north"))
        table = app.screen.query_one("#slices-table")
        table.move_cursor(row=row)
        north = next(s for s in panel.data["slices"] if (s["feature"], s["value"]) == ("region", "north"))
        await pilot.press("e")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SlicePredictionsScreen"
        text = screen_text(app)
        wrong = round(north["labelled"] * (1 - north["metrics"]["accuracy"]))
        assert f"credit-risk v3 · region = north · {north['rows']:,} predictions · {wrong:,} wrong" in text
        shown = app.screen.query_one("#slice-table")
        assert shown.row_count == 50
        outcomes = [shown.get_row_at(i)[5].plain for i in range(shown.row_count)]
        assert outcomes == ["✗ wrong"] * 50  # wrong first, and there are more than 50
        first = app.screen.rows[0]["request_id"]
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ExplainScreen"
        assert (app.screen.request_id, app.screen.model, app.screen.version) == (first, "credit-risk", "3")
        text = screen_text(app)
        assert f"credit-risk v3 · request {first}" in text and "region" in text
        assert app.screen.report["attributions"]["additivity"]["holds"]
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SlicePredictionsScreen"
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen"


def test_slice_predictions_are_the_slice_rows(ingested_sample) -> None:
    """Every row the list gives is in the slice (its feature value), worst first, and the
    counts equal the slices report's rows and wrong labelled rows."""
    from console.analytics.slices import slice_predictions, slices_report
    from tests.test_explain import _open

    db = _open(ingested_sample)
    try:
        rep = slices_report(db, "credit-risk", version="3")
        got = slice_predictions(db, "credit-risk", "region", "north", version="3", limit=2000)
        north = next(s for s in rep["slices"] if (s["feature"], s["value"]) == ("region", "north"))
        assert got["rows_in_slice"] == north["rows"] == len(got["rows"])
        assert got["wrong_in_slice"] == round(north["labelled"] * (1 - north["metrics"]["accuracy"]))
        ids = [r["request_id"] for r in got["rows"]]
        regions = dict(db.cursor().execute(
            "SELECT request_id, f_region FROM predictions WHERE model = 'credit-risk' AND version = '3' "
            f"AND request_id IN ({', '.join('?' for _ in ids)})", ids).fetchall())
        assert set(regions.values()) == {"north"}
        kinds = [(r["wrong"] is True, r["label"] is not None) for r in got["rows"]]
        assert kinds == sorted(kinds, reverse=True)  # wrong, then right, then unlabelled
    finally:
        db.close()
