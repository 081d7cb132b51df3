"""The versions tab shows the highlighted version's model card at 80x24: every field not given
says "— not given" (never blank), completeness in a symbol and words, and registry text that
looks like Rich markup or HTML is shown literally."""

from __future__ import annotations

import json

from console.store.registry import CARD_FIELDS
from tests.tui_helpers import ALICE, make_app, screen_text, settle

HOSTILE = "<script>alert(1)</script> [bold]loud[/bold] [link=https://evil]x[/link]"


def card_text(app) -> str:
    return app.screen.query_one("#versions-lineage").render().plain


async def test_versions_tab_shows_the_card_literally_and_says_what_is_not_given(bare_sample) -> None:
    path = bare_sample / "registry" / "credit-risk" / "3.json"
    doc = json.loads(path.read_text())
    doc = {k: v for k, v in doc.items() if k not in CARD_FIELDS} | {"description": HOSTILE, "risks": ["[red]r1", "r2"]}
    path.write_text(json.dumps(doc))
    app = make_app(bare_sample, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("credit-risk")
        await settle(app, pilot)
        await pilot.press("6")
        await settle(app, pilot)
        text = card_text(app)  # v3, the newest, is highlighted first
        lines = text.splitlines()
        assert lines[0] == "v3 model card · ✗ incomplete: missing owner, intended_use, limitations"
        assert f"description: {HOSTILE}" in lines  # markup shown as text, not applied
        assert ["risks:", "  • [red]r1", "  • r2"] == lines[lines.index("risks:"):lines.index("risks:") + 3]
        for label in ("owner", "intended use", "out of scope", "limitations", "training data",
                      "evaluation data", "fairness considerations", "contact"):
            assert f"{label}: — not given" in lines
        assert "v3 model card" in screen_text(app)  # on screen at 80x24, in its scrollable pane
        assert app.screen.query_one("#versions-card").max_scroll_y > 0
        await pilot.press("down")  # v2: the sample's complete card
        await settle(app, pilot)
        text = card_text(app)
        assert text.splitlines()[0] == "v2 model card · ✓ complete" and "— not given" not in text
        assert "owner: credit-ml team" in text and "v2 lineage" in text
