"""A ``DataTable`` whose one wide column (a slice, a feature name, an alert's detail) takes the
width the terminal has left, so a long value is cut at 80 columns only where it must and not
at all on a wide terminal. The other columns keep their widths; the flexible one never gets
narrower than the width it was added with. Refitted on every resize and when rows change.
The room is the width less the vertical scrollbar whenever the rows overflow the height —
decided from the rows, not from whether the layout has shown the scrollbar yet: it shows it
on idle, sometimes after the last refit, and the table then scrolled sideways by two columns.
Textual has no public call to resize a column, so ``fit`` sets two private members of
``DataTable``; tests/test_tui_layout.py measures the widths and fails if a Textual upgrade changes them.
"""

from __future__ import annotations

from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey


class FitTable(DataTable):
    """``DataTable`` with ``flex`` (a column key) sized to the room left by the others."""

    def __init__(self, *args, flex: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.flex = flex
        self._flex_min: int | None = None

    def fit(self) -> None:
        """Give the flexible column the width left over (at least the width it was added with)."""
        col = self.columns.get(ColumnKey(self.flex))
        room = self._room()
        if col is None or room <= 0:
            return
        if self._flex_min is None or col.width < self._flex_min:
            self._flex_min = col.width
        others = sum(c.get_render_width(self) for key, c in self.columns.items() if key != col.key)
        width = max(self._flex_min, room - others - 2 * self.cell_padding)
        if width != col.width:
            col.width = width
            self._require_update_dimensions = True  # Textual recomputes the scroll width on idle
            self._clear_caches()
            self.refresh()

    def _room(self) -> int:
        """The width the columns can fill: the content's, less the vertical scrollbar's if the
        header and rows are taller than the table (or the scrollbar is always there)."""
        styles, region = self.styles, self.content_region
        tall = sum(row.height for row in self.rows.values()) + (self.header_height if self.show_header else 0)
        bar = styles.overflow_y == "scroll" or styles.scrollbar_gutter == "stable" or (
            styles.overflow_y == "auto" and tall > region.height)
        return region.width - (styles.scrollbar_size_vertical if bar else 0)

    def clear(self, columns: bool = False):
        if columns:
            self._flex_min = None
        return super().clear(columns)

    def on_resize(self, event: events.Resize) -> None:
        self.fit()
