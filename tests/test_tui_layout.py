"""Wide columns use the terminal: a slice, a feature name or an alert's detail is not cut at a
fixed width on a wide terminal, and the table still fits 80 columns."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets.data_table import ColumnKey

from console.tui.widgets.fittable import FitTable
from tests.tui_helpers import ALICE, make_app, screen_text, settle

LONG = "dataset drift: 4 of 8 features drifted (share 0.50 ≥ 0.50): income, age, debt_ratio, channel"


class _One(App):
    def compose(self) -> ComposeResult:
        yield FitTable(id="t", flex="detail")

    def on_mount(self) -> None:
        t = self.query_one(FitTable)
        t.add_column("kind", width=10, key="kind")
        t.add_column("detail", width=30, key="detail")
        t.add_row("drift", LONG)


async def test_the_flexible_column_takes_the_room_left_and_follows_resizes() -> None:
    app = _One()
    async with app.run_test(size=(200, 10)) as pilot:
        await pilot.pause()
        t = app.query_one(FitTable)
        detail = t.columns[ColumnKey("detail")]
        assert detail.width == 200 - 12 - 2  # the room left by "kind" (10 + padding), less its padding
        assert LONG in screen_text(app)
        await pilot.resize_terminal(60, 10)
        await pilot.pause()
        assert detail.width == 60 - 12 - 2
        await pilot.resize_terminal(30, 10)
        await pilot.pause()
        assert detail.width == 30  # never narrower than it was added with


async def test_the_room_leaves_out_the_scrollbar_the_rows_will_bring_before_it_shows() -> None:
    """The drift tab's race: rows added and ``fit`` run before the layout shows the vertical
    scrollbar (it does on idle, and no resize may follow). The column must leave the scrollbar
    its two columns then already, or the table scrolls sideways."""
    app = _One()
    async with app.run_test(size=(80, 6)) as pilot:
        await pilot.pause()
        t = app.query_one(FitTable)
        detail = t.columns[ColumnKey("detail")]
        assert detail.width == 80 - 12 - 2  # one row: no scrollbar
        for i in range(10):
            t.add_row("drift", f"feature {i}")
        t.fit()
        assert not t.show_vertical_scrollbar  # not yet
        assert detail.width == 80 - 2 - 12 - 2
        await pilot.pause()
        assert t.show_vertical_scrollbar and not t.show_horizontal_scrollbar
        assert detail.width == 80 - 2 - 12 - 2


async def test_alert_details_are_whole_on_a_wide_terminal(ingested_sample) -> None:
    app = make_app(ingested_sample, ALICE)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        row = next(line for line in screen_text(app).splitlines() if "critical" in line and "drift" in line)
        assert LONG in row  # in the table's row itself, not only in the detail line under it


async def test_the_footer_shows_whole_keys_only_and_the_screens_own_first(ingested_sample) -> None:
    """At 80 columns the model screen's footer keeps its actions, help and jump, and leaves out
    whole keys at the end — never a key cut in half; at 120 every key fits (compact)."""
    app = make_app(ingested_sample, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        for key in ("v Version", "R Retrain", "B Rollback", "P Promote", "X Break-glass", "? Help", ": Jump"):
            assert key in footer, footer
        assert footer.rstrip().endswith("w Window") and "q Quit" not in footer, footer
        await pilot.resize_terminal(120, 40)
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert footer.rstrip().endswith("W Range q Quit"), footer
