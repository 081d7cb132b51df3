"""Approvals: the queue of requests (pending first; ``a`` shows every request), enter opens the
sign-off view. Operators can break glass (``X``): an immediate rollback of the highlighted
request's model, journaled as such and left open for review."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.tui import format as fmt
from console.tui.screens.base import FilteredTableScreen
from console.tui.screens.requesting import open_request_dialog
from console.tui.widgets.filterbar import FilterBar


def is_open(req) -> bool:
    return req.state == "pending" or (req.break_glass and req.review == "pending")


class ApprovalsScreen(FilteredTableScreen):
    SCOPE = "approvals"
    TITLE = "Approvals"
    VIEW = "approvals"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list = []
        self.show_all = False
        self.filter_text = ""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="approvals-summary", classes="note")
        yield DataTable(id="approvals-table", cursor_type="row", zebra_stripes=True)
        yield FilterBar(id="approvals-filter")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for label, w in (("id", 8), ("state", 14), ("action", 9), ("model", 14), ("version", 9),
                         ("by", 8), ("when", 11), ("reason", 50)):
            t.add_column(label, width=w)
        t.focus()
        super().on_mount()

    def fetch(self) -> Any:
        return self.app.backend.requests()

    def show(self, data: Any) -> None:
        self.requests = list(reversed(data))  # newest first
        self.repaint()

    def visible(self) -> list:
        rows = self.requests if self.show_all else [r for r in self.requests if is_open(r)]
        if self.filter_text:
            n = self.filter_text.lower()
            rows = [r for r in rows if n in " ".join(str(v) for v in r.row().values()).lower()]
        return rows

    def repaint(self) -> None:
        t = self.query_one(DataTable)
        t.clear()
        rows = self.visible()
        for r in rows:
            label = fmt.state(r.state)
            if r.break_glass:  # executed at once; what is open is its review
                label = Text(f"⚠ break-glass, review {r.review or '—'}")
            move = (f"{r.from_version}→{r.version}" if r.from_version and r.version else (r.version or "—"))
            t.add_row(r.request_id, label, r.action, Text(r.model, style="bold"), move, r.requested_by,
                      fmt.when(r.requested_at)[5:], r.reason.splitlines()[0] if r.reason else "", key=r.request_id)
        n_open = sum(1 for r in self.requests if is_open(r))
        role = self.app.identity
        hint = ("you may decide (enter → sign-off)" if role.reviewer and not self.app.read_only
                else f"✗ you cannot decide: {'read-only mode' if self.app.read_only else role.user + ' is not a reviewer'}")
        self.query_one("#approvals-summary", Static).update(
            f"{n_open} open · showing {'all' if self.show_all else 'open'} ({len(rows)}) · {hint}")

    def current(self):
        rows = self.visible()
        t = self.query_one(DataTable)
        return rows[t.cursor_row] if rows and t.cursor_row < len(rows) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_request()

    def action_open_request(self) -> None:
        from console.tui.screens.signoff import SignoffScreen

        r = self.current()
        if r:
            self.app.push_screen(SignoffScreen(r.request_id))

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.repaint()

    def action_break_glass(self) -> None:
        r = self.current()
        if r is None:
            self.notify("highlight a request of the model to roll back (or use X on a model screen)")
            return
        open_request_dialog(self, "rollback", r.model, None, break_glass=True)
