"""The one-line inputs: what is typed into the ``/`` filter and the ``:`` prompt is on screen
at 80×24 and 120×40 (not hidden under a border or the footer), an active filter is named in
the header, and ``:`` goes to views, a model's tabs and ``model/tab``, with completion."""

from __future__ import annotations

import pytest

from console.tui.screens.jump import resolve, targets
from tests.tui_helpers import CAROL, make_app, screen_text, settle

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_filter_text_is_visible_and_named_in_the_header(bare_sample, size) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"ticket")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert any(line.strip() == "ticket" for line in lines[-4:-1]), lines[-4:]
        assert "filter “ticket”" in lines[1]
        await pilot.press("enter")  # kept: the bar stays, the header still says so
        await pilot.pause()
        assert "filter “ticket”" in screen_text(app).splitlines()[1]
        await pilot.press("slash", "escape")  # cleared
        await pilot.pause()
        assert "filter" not in screen_text(app).splitlines()[1]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_jump_prompt_shows_what_is_typed_and_its_completion(bare_sample, size) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("colon", *"credit-risk/sl")
        await settle(app, pilot)
        lines = screen_text(app).splitlines()
        assert lines[-1].strip() == "credit-risk/slices", lines[-3:]  # typed + suggested rest
        assert "tabs: drift performance slices ops" in " ".join(" ".join(lines[-4:]).split())  # wherever it wraps
        await pilot.press("tab")
        await pilot.pause()
        assert app.screen.query_one("#jump-input").value == "credit-risk/slices"
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen"
        assert (app.screen.model, app.screen.active_tab()) == ("credit-risk", "slices")


async def test_jump_to_a_tab_of_the_model_on_screen_or_highlighted(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        highlighted = app.screen.selected_model()
        await pilot.press("colon", *"ops", "enter")  # from the fleet: the highlighted model
        await settle(app, pilot)
        assert (app.screen.model, app.screen.active_tab()) == (highlighted, "ops")
        model_screen = app.screen
        await pilot.press("colon", *"drift", "enter")  # on a model: its tab, same screen
        await settle(app, pilot)
        assert app.screen is model_screen and app.screen.active_tab() == "drift"
        await pilot.press("colon", *"delivery-eta/cost", "enter")
        await settle(app, pilot)
        assert (app.screen.model, app.screen.active_tab()) == ("delivery-eta", "cost")


def test_resolve_prefers_exact_then_a_unique_start() -> None:
    names = targets(["fleet", "alerts", "audit"], ["drift", "ops", "slices"], ["credit-risk", "delivery-eta"])
    assert resolve(":ops", names) == "ops"
    assert resolve("DEL", names) == "delivery-eta"
    assert resolve("credit-risk/sl", names) == "credit-risk/slices"
    assert resolve("a", names) is None  # alerts or audit: ambiguous
    assert resolve("credit-risk", names) == "credit-risk"  # exact beats credit-risk/…
