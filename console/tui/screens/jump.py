"""The ``:`` prompt: type a view (fleet, alerts, approvals, audit, query) or a model's name;
tab completes, enter goes there, esc cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static


class JumpScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    JumpScreen { align: center bottom; }
    JumpScreen > Vertical { height: auto; width: 100%; background: $panel; }
    JumpScreen Input { border: none; height: 1; }
    """

    def __init__(self, views: list[str], models: list[str]) -> None:
        super().__init__()
        self.views = views
        self.models = models

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(" views: " + " ".join(self.views) + "  models: " + " ".join(self.models),
                         id="jump-choices")
            yield Input(placeholder=": view or model (tab completes)",
                        suggester=SuggestFromList(self.views + self.models, case_sensitive=False),
                        id="jump-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip().lstrip(":")
        names = self.views + self.models
        match = next((n for n in names if n.lower() == text.lower()), None)
        if match is None:
            starts = [n for n in names if n.lower().startswith(text.lower())] if text else []
            match = starts[0] if len(starts) == 1 else None
        if match is None:
            self.notify(f"no view or model named {text!r}", severity="warning")
            return
        self.dismiss(match)

    def action_cancel(self) -> None:
        self.dismiss(None)
