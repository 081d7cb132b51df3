"""What an on-call hand expects: ``?`` lists every key, ``:`` jumps, esc goes back along the
breadcrumb, the palette offers models and actions, the window picker, themes, a user keymap,
and the header naming workspace, user and role."""

from __future__ import annotations

from console.tui.actions import ACTIONS
from tests.tui_helpers import (
    ALICE,
    CAROL,
    flat_text,
    make_app,
    screen_text,
    settle,
)


async def test_header_names_workspace_user_and_role(bare_sample) -> None:
    app = make_app(bare_sample, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        first = screen_text(app).splitlines()[0]
        assert "acme-risk" in first and "alice (reviewer)" in first and "window: all data" in first


async def test_help_lists_every_action_of_the_registry(bare_sample) -> None:
    app = make_app(bare_sample, CAROL, )
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        body = app.screen.render_help()  # the table the help screen shows
        from rich.console import Console

        console = Console(width=100, record=True)
        console.print(body)
        text = console.export_text()
        for action in ACTIONS:
            assert action.description in text, action.id
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "FleetScreen"


async def test_jump_to_model_and_view_then_back_along_the_breadcrumb(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("colon", *"delivery-eta", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen" and app.screen.model == "delivery-eta"
        assert "Fleet › delivery-eta › drift" in screen_text(app).splitlines()[1]
        await pilot.press("4")
        await settle(app, pilot)
        assert "delivery-eta › ops" in screen_text(app).splitlines()[1]
        await pilot.press("colon", *"audit", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "AuditScreen"
        assert "Fleet › Audit" in screen_text(app).splitlines()[1]
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "FleetScreen"
        await pilot.press("colon", *"nonesuch", "enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "JumpScreen"  # stays, says so
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "FleetScreen"


async def test_palette_offers_models_views_and_allowed_actions(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Open model credit-risk" in titles and "Go to approvals" in titles
        assert "Time window" in titles
        app.open_model("credit-risk")
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Request retrain" in titles  # carol is an operator
    app = make_app(bare_sample, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("credit-risk")
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Request retrain" not in titles  # not alice's to do
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"ticket")
        await settle(app, pilot)
        assert "Open model ticket-router" in flat_text(app)


async def test_window_picker_changes_every_report_window(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        await pilot.pause()
        assert type(app.screen).__name__ == "WindowPicker"
        await pilot.press("down", "down", "enter")  # all → 1h → 24h
        await settle(app, pilot)
        assert app.window.choice.key == "24h"
        assert "window: last 24 h" in screen_text(app).splitlines()[0]


async def test_themes_switch_and_are_loaded_from_files(bare_sample) -> None:
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.theme == "console-dark"
        assert {"console-dark", "console-light", "console-high-contrast"} <= set(app.available_themes)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme != "console-dark" and app.theme in app.console_themes
    app = make_app(bare_sample, CAROL, theme="light")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "console-light"


async def test_user_keymap_from_console_toml_remaps_and_help_shows_it(bare_sample) -> None:
    toml = (bare_sample / "console.toml").read_text()
    (bare_sample / "console.toml").write_text(toml + '\n[ui.keys]\n"app.jump" = "g"\n"fleet.filter" = "f"\n')
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        assert type(app.screen).__name__ == "JumpScreen"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f", *"ticket")
        await pilot.pause()
        assert app.screen.filter_text == "ticket"
        rows = [r.model for r in app.screen.visible_rows()]
        assert rows == ["ticket-router"]


async def test_bad_keymap_entry_is_a_notification_not_a_crash(bare_sample) -> None:
    toml = (bare_sample / "console.toml").read_text()
    (bare_sample / "console.toml").write_text(toml + '\n[ui.keys]\n"no.such" = "g"\n')
    app = make_app(bare_sample, CAROL)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert any("no.such" in n.message for n in app._notifications)


def test_fleet_and_gates_name_the_same_primary_metric():
    """One meaning per task: the fleet's live column, the performance plot and the gates compare
    the same metric (multiclass: macro_f1), whatever the registry's offline metrics list first."""
    from console.analytics.metrics import PRIMARY_METRIC
    from console.governance import gates
    from console.tui.fleetdata import primary_metric

    assert PRIMARY_METRIC == {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "rmse"}
    for task, metric in PRIMARY_METRIC.items():
        assert primary_metric(task) == metric
    assert gates.DEFAULTS["metric"] is None  # None: PRIMARY_METRIC of the task
