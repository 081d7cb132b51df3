"""The explain screen: ``:explain <id> <model> <version>`` opens it; the report is computed in a
worker and painted at 80×24 (features with their flag words, attribution bars, additivity); an
unknown id says what failed on screen, never a crash."""

from __future__ import annotations

import pytest

from tests.tui_helpers import CAROL, make_app, screen_text, settle

pytest.importorskip("shap", reason="shap is not installed: pip install 'mlops-console[explain]'")


async def test_explain_from_the_jump_prompt(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("colon", *"explain cr-20261104-00001 credit-risk 3", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ExplainScreen"
        text = screen_text(app)
        assert "Explain cr-20261104-00001" in text.splitlines()[1]
        assert "credit-risk v3 · request cr-20261104-00001" in text
        assert "prediction 1 · score 0.5407 · label 1" in text
        assert "debt_ratio" in text and "p98.4" in text and "✓ ok" in text
        rep = app.screen.report
        assert rep["attributions"]["additivity"]["holds"]
        body = str(app.screen.query_one("#explain-body").render())
        assert "attributions (log-odds of the positive class" in body
        assert "debt_ratio         +2.7904  ▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶▶" in body
        assert "✓ additive" in body
        assert all(len(line) <= 80 for line in body.splitlines())
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ != "ExplainScreen"


async def test_explain_of_an_unknown_id_says_it_failed(sample_ws) -> None:
    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("colon", *"explain nope", "enter")
        await settle(app, pilot)
        assert "✗ failed: no prediction with request id 'nope'" in screen_text(app)


async def test_explain_the_highlighted_query_row(sample_ws) -> None:
    from tests.test_tui_query import type_sql

    app = make_app(sample_ws, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        await type_sql(app, pilot, "SELECT request_id, model, version FROM predictions "
                                   "WHERE request_id IN ('cr-20261104-00001', '000001') ORDER BY model, version")
        await pilot.press("ctrl+j")
        await settle(app, pilot)
        table = app.screen.query_one("#query-table")
        assert table.row_count == 3  # credit-risk v2 and v3 (shadow), delivery-eta v2
        table.focus()
        await pilot.press("down")  # the second row: credit-risk v3
        await pilot.press("ctrl+g")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ExplainScreen"
        assert (app.screen.request_id, app.screen.model, app.screen.version) == ("cr-20261104-00001", "credit-risk", "3")
        assert "credit-risk v3 · request cr-20261104-00001" in screen_text(app)
