"""The custom-range dialog (``W``): type a start and an end for every report's window, in the
command line's grammar (RFC 3339 or a date, start inclusive, end exclusive, either left empty
for open) — parsed by the same function as ``--start``/``--end``
(``analytics.windows.parse_range``). A bad entry is one line of error in the dialog and what was
typed stays; enter applies; esc returns to the default window (the last span picked with ``w``,
ending at the newest data).
"""

from __future__ import annotations

from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.analytics.windows import iso, parse_range
from console.errors import UsageError

HINT = "RFC 3339 or a date (2026-11-01T12:00:00Z, 2026-11-01); empty: open. enter applies, esc: default window"


class RangeDialog(ModalScreen[tuple[datetime | None, datetime | None] | None]):
    """Returns ``(start, end)``, or ``None`` (esc): back to the default window."""

    BINDINGS = [Binding("escape", "cancel", "Default window", show=False)]
    DEFAULT_CSS = """
    RangeDialog { align: center middle; }
    RangeDialog > Vertical { width: 100%; max-width: 76; height: auto; border: round $primary;
                             background: $surface; padding: 0 1; }
    RangeDialog .dialog-title { text-style: bold; }
    RangeDialog #range-error { color: $error; text-style: bold; }
    """

    def __init__(self, start: datetime | None = None, end: datetime | None = None) -> None:
        super().__init__()
        self.start, self.end = start, end

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Custom window for every report", classes="dialog-title")
            yield Static("start (inclusive)")
            yield Input(value=iso(self.start) or "", placeholder="2026-11-01", id="range-start")
            yield Static("end (exclusive)")
            yield Input(value=iso(self.end) or "", placeholder="2026-11-08T00:00:00Z", id="range-end")
            yield Static("", id="range-error")
            yield Static(HINT, classes="muted", id="range-hint")

    def on_mount(self) -> None:
        self.query_one("#range-start", Input).focus()

    @on(Input.Submitted, "#range-start")
    def _next(self) -> None:
        self.query_one("#range-end", Input).focus()

    @on(Input.Submitted, "#range-end")
    def _apply(self) -> None:
        start = self.query_one("#range-start", Input).value.strip() or None
        end = self.query_one("#range-end", Input).value.strip() or None
        try:
            lo, hi = parse_range(start, end, names=("start", "end"))
        except UsageError as exc:  # one line; what was typed stays
            self.query_one("#range-error", Static).update(f"✗ {exc}")
            return
        self.dismiss((lo, hi))

    def action_cancel(self) -> None:
        self.dismiss(None)
