"""The confirmation dialog for every decision: it names the action, the model and the version,
shows what will happen, and requires a comment (the reason or justification) before the confirm
button works. Returns the comment, or ``None`` when cancelled.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ConfirmDialog(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical { width: 100%; max-width: 76; height: auto; border: thick $warning;
                               background: $surface; padding: 0 1; }
    ConfirmDialog .dialog-title { text-style: bold; }
    ConfirmDialog Input { margin: 1 0 0 0; }
    ConfirmDialog Horizontal { height: auto; align-horizontal: right; }
    ConfirmDialog Button { margin: 0 0 0 1; min-width: 12; }
    """

    def __init__(self, title: str, body: str, confirm_label: str, placeholder: str = "comment (required)",
                 prefill: str = "", danger: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label
        self.placeholder = placeholder
        self.prefill = prefill
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title", id="confirm-title")
            yield Static(self.body, id="confirm-body")
            yield Input(value=self.prefill, placeholder=self.placeholder, id="confirm-comment")
            yield Static("A comment is required. enter confirms, esc cancels.", classes="muted",
                         id="confirm-hint")
            with Horizontal():
                yield Button("Cancel", id="confirm-cancel")
                yield Button(self.confirm_label, id="confirm-ok",
                             variant="error" if self.danger else "primary",
                             disabled=not self.prefill.strip())

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-ok", Button).disabled = not event.value.strip()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self._confirm()

    @on(Button.Pressed, "#confirm-ok")
    def _ok(self) -> None:
        self._confirm()

    @on(Button.Pressed, "#confirm-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def _confirm(self) -> None:
        comment = self.query_one(Input).value.strip()
        if not comment:
            self.query_one("#confirm-hint", Static).update("✗ A comment is required: say why.")
            return
        self.dismiss(comment)

    def action_cancel(self) -> None:
        self.dismiss(None)
