"""The time-window picker (``w``): all data, the last hour, 24 h, 7 or 30 days."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.tui.window import CHOICES


class WindowPicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    WindowPicker { align: center middle; }
    WindowPicker > Vertical { width: 40; height: auto; border: round $primary; background: $surface; }
    WindowPicker OptionList { height: auto; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(" Time window for every report")
            yield OptionList(*[Option(("● " if c.key == self.current else "  ") + c.label, id=c.key)
                               for c in CHOICES], id="window-options")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = next(i for i, c in enumerate(CHOICES) if c.key == self.current) if any(
            c.key == self.current for c in CHOICES) else 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
