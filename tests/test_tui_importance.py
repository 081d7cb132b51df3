"""A version's feature importance from the versions tab: ``i`` on the highlighted version opens
the importance screen at 80×24, computed in a worker by the same function as
``mlops-console explain --global``; a version the registry gives no artifact says
"? not computed" with the reason, never "✗ failed"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tui_helpers import ALICE, flat_text, make_app, screen_text, settle

pytest.importorskip("shap", reason="shap is not installed: pip install 'mlops-console[explain]'")


async def _open_importance(app, pilot, version: str) -> str:
    await settle(app, pilot)
    app.open_model("credit-risk")
    await settle(app, pilot)
    await pilot.press("i")  # not on the versions tab: it says where it works
    await settle(app, pilot)
    assert type(app.screen).__name__ == "ModelScreen"
    await pilot.press("6")
    await settle(app, pilot)
    table = app.screen.query_one("#versions-table")
    table.move_cursor(row=table.get_row_index(version))
    await pilot.press("i")
    await settle(app, pilot)
    assert type(app.screen).__name__ == "ImportanceScreen"
    return screen_text(app)


async def test_importance_of_v3_is_the_global_explanation(sample_ws: Path) -> None:
    from console.analytics.explain import global_importance

    app = make_app(sample_ws, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        text = await _open_importance(app, pilot, "3")
        rep = app.screen.report
        be = app.backend
        assert rep == global_importance(be.db, be.ws.root, "credit-risk", "3")
        assert rep["method"].startswith("mean |SHAP|") and rep["current_rows"] > 0
        top = rep["features"][0]
        assert f"most important on the reference: {top['feature']}" in text
        change = top["change"]
        word = "▲ more" if change > 0 else "▼ less" if change < 0 else "= same"
        assert f"{top['reference']:.4f}" in text and f"{change:+.4f} {word}" in text
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen"


async def test_a_version_without_an_artifact_is_not_computed(sample_ws: Path) -> None:
    reg = sample_ws / "registry" / "credit-risk" / "1.json"
    doc = json.loads(reg.read_text())
    doc.pop("artifact", None)
    doc["lineage"].pop("artifact", None)
    reg.write_text(json.dumps(doc))
    app = make_app(sample_ws, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_importance(app, pilot, "1")
        text = flat_text(app)  # the line wraps at 80 columns
        assert "? not computed: credit-risk version 1 names no model artifact in its registry entry" in text
        assert "✗ failed" not in text
