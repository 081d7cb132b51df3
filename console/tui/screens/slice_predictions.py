"""The predictions of one slice (``e`` on the model screen's slices tab; docs/tui.md, 'Explain'):
the slice's logged predictions over the tab's window, worst first (wrong labelled ones, then the
other labelled, then unlabelled; regression: the largest error first), from
``analytics.slices.slice_predictions`` in a worker. ``enter`` opens the explain view of the
highlighted one."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.tui import format as fmt
from console.tui.screens.base import ConsoleScreen
from console.tui.widgets.fittable import FitTable


def verdict(r: dict) -> Text:
    """The row's outcome as a word with its symbol (never colour alone)."""
    if r.get("abs_error") is not None:
        return Text(f"error {fmt.num(r['abs_error'])}")
    if r.get("wrong") is None:
        return Text("– no label")
    return Text("✗ wrong", style="red bold") if r["wrong"] else Text("✓ right", style="green")


class SlicePredictionsScreen(ConsoleScreen):
    SCOPE = "slice"
    TITLE = "Slice"

    def __init__(self, model: str, version: str, feature: str, value: str, window=None) -> None:
        super().__init__()
        self.model, self.version, self.feature, self.value = model, version, feature, value
        self.window = window  # the model screen's resolved window: the slices tab's range
        self.rows: list[dict] = []

    @property
    def crumb(self) -> str:
        return f"{self.feature} = {self.value}"

    def compose_body(self) -> ComposeResult:
        yield Static(f"… loading the predictions of {self.feature} = {self.value}", id="slice-state", classes="note")
        yield FitTable(id="slice-table", cursor_type="row", zebra_stripes=True, flex="request")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for label, w in (("request", 20), ("when", 16), ("pred.", 6), ("score", 7), ("label", 6), ("outcome", 10)):
            t.add_column(label, width=w, key=label)
        t.focus()
        super().on_mount()

    def fetch(self) -> Any:  # a worker thread
        from console.analytics.slices import slice_predictions

        be = self.app.backend
        span = be.span(self.window) if self.window is not None else {}
        return slice_predictions(be.db, self.model, self.feature, self.value, version=self.version, **span)

    def show(self, data: Any) -> None:
        self.rows = data["rows"]
        t = self.query_one(DataTable)
        t.clear()
        for r in self.rows:
            t.add_row(str(r["request_id"]), fmt.when(r["ts"]), fmt.num(r["prediction"]), fmt.num(r["score"]),
                      "—" if r["label"] is None else str(r["label"]), verdict(r))
        t.fit()
        wrong = data.get("wrong_in_slice")
        order = ("largest error first" if data.get("task") == "regression"
                 else f"{wrong:,} wrong · wrong first, then newest")
        self.query_one("#slice-state", Static).update(
            f"{self.model} v{self.version} · {self.feature} = {self.value} · {data['rows_in_slice']:,} predictions · "
            f"{order} · showing {len(self.rows)} · enter: explain" if self.rows
            else f"{self.model} v{self.version} · {self.feature} = {self.value}: no predictions in this window")

    def show_error(self, exc: Exception) -> None:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.query_one("#slice-state", Static).update(f"✗ failed: {text}")

    def action_explain_row(self) -> None:
        from console.tui.screens.explain import ExplainScreen

        row = self.query_one(DataTable).cursor_row
        if not 0 <= row < len(self.rows):
            return
        self.app.push_screen(ExplainScreen(str(self.rows[row]["request_id"]), self.model, self.version))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_explain_row()
