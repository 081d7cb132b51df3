"""Every state word is readable in every bundled theme and under ``NO_COLOR``: each is drawn
the way the screens draw it (in a zebra-striped table with a row cursor, and in a note line),
passed through the console's own output filters, and the WCAG contrast ratio of every drawn
word against its background is at least 4.5 (3 for bold)."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.color import Color
from textual.widgets import DataTable, Static

from console.tui import format as fmt
from console.tui.contrast import MIN_RATIO, MIN_RATIO_BOLD, ratio
from console.tui.themes import BUNDLED_DIR, load_themes
from tests.tui_helpers import CAROL, make_app, settle

THEMES = [t.name for t in load_themes(BUNDLED_DIR)[0]]
# what the screens draw besides fmt.state: the fleet's loading/failed/none cells, flagged slices
EXTRA = [Text("… loading", style="italic"), Text("✗ failed", style="red"), Text("✓ none", style="green"),
         Text("✗ flagged", style="red bold"), Text("✓ ok", style="green")]
CELLS = [fmt.state(word) for word in fmt.STATES] + EXTRA
NOTE = "✗ failed"  # a note line (``.note``, muted text) saying a tab failed


def test_ratio_is_wcag() -> None:
    assert round(ratio((0, 0, 0), (255, 255, 255)), 1) == 21.0
    assert round(ratio((0x77, 0x77, 0x77), (255, 255, 255)), 2) == 4.48


@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
@pytest.mark.parametrize("theme", THEMES)
async def test_every_state_reads_on_its_background(bare_sample, monkeypatch, theme, no_color) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = make_app(bare_sample, CAROL, theme=theme)
    async with app.run_test(size=(60, 2 * len(CELLS) + 8)) as pilot:
        await settle(app, pilot)
        table = DataTable(id="probe", zebra_stripes=True, cursor_type="row")
        table.styles.dock = "top"
        table.styles.height = 2 * len(CELLS) + 2
        note = Static(NOTE, classes="note")
        note.styles.dock = "bottom"
        await app.screen.mount(table, note)
        table.add_column("state", width=16)
        for cell in CELLS:  # twice: on both zebra stripes
            table.add_row(cell)
            table.add_row(cell.copy())
        table.focus()
        await pilot.pause()
        assert app.theme == theme
        background = Color.parse(app.theme_variables["background"])
        seen: dict[str, float] = {}
        for strip in app.screen._compositor.render_strips():
            for line_filter in app.get_line_filters():  # what the driver writes to the terminal
                strip = strip.apply_filter(line_filter, background)
            for seg in strip:
                word = seg.text.strip()
                if word not in {c.plain for c in CELLS} or seg.style is None:
                    continue
                fg, bg = seg.style.color.get_truecolor(), seg.style.bgcolor.get_truecolor()
                need = MIN_RATIO_BOLD if seg.style.bold else MIN_RATIO
                got = ratio(tuple(fg), tuple(bg))
                seen[word] = min(seen.get(word, 99.0), got / need)
        assert set(seen) == {c.plain for c in CELLS}, "every state was drawn"
        unreadable = {w: round(r, 2) for w, r in seen.items() if r < 1}
        assert not unreadable, f"contrast below the minimum (as a share of it): {unreadable}"
