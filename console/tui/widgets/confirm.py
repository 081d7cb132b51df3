"""The confirmation dialog for every decision: it names the action, the model and the version,
shows what will happen, and requires a comment (the reason or justification) before the confirm
button works.

Two optional parts: a ``choice`` (say, the version a rollback goes to), whose every change
re-titles the dialog through ``describe``; and ``submit``, the action itself, run in a thread
worker while the dialog stays open — a refusal or failure is shown in the dialog with the
comment and the choice kept, so the user corrects and confirms again. Without ``submit`` the
dialog returns the comment (``None`` when cancelled); with it, what ``submit`` returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

HINT = "A comment is required. enter confirms, esc cancels."


class ConfirmDialog(ModalScreen[Any]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical { width: 100%; max-width: 76; height: auto; border: thick $warning;
                               background: $surface; padding: 0 1; }
    ConfirmDialog .dialog-title { text-style: bold; }
    ConfirmDialog Input { margin: 1 0 0 0; }
    ConfirmDialog #confirm-choice-row { height: auto; align-horizontal: left; }
    ConfirmDialog #confirm-choice-row Label { padding: 1 1 0 0; }
    ConfirmDialog Select { width: 1fr; }
    ConfirmDialog Horizontal { height: auto; align-horizontal: right; }
    ConfirmDialog Button { margin: 0 0 0 1; min-width: 12; }
    """

    def __init__(self, title: str, body: str, confirm_label: str, placeholder: str = "comment (required)",
                 prefill: str = "", danger: bool = False, *,
                 choices: list[tuple[str, str]] | None = None, choice: str | None = None,
                 choice_label: str = "", describe: Callable[[str | None], tuple[str, str]] | None = None,
                 submit: Callable[[str, str | None], Any] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label
        self.placeholder = placeholder
        self.prefill = prefill
        self.danger = danger
        self.choices = choices or []
        self.choice = choice if choice is not None or not self.choices else self.choices[0][1]
        self.choice_label = choice_label
        self.describe = describe
        self.submit = submit
        self.busy = False
        self.error: str | None = None
        if describe is not None:
            self.title_text, self.body = describe(self.choice)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title", id="confirm-title")
            yield Static(self.body, id="confirm-body")
            yield Input(value=self.prefill, placeholder=self.placeholder, id="confirm-comment")
            if self.choices:  # after the comment: tab reaches it from there
                with Horizontal(id="confirm-choice-row"):
                    yield Label(self.choice_label or "choose")
                    yield Select(self.choices, value=self.choice, allow_blank=False, id="confirm-choice")
            yield Static(HINT, classes="muted", id="confirm-hint")
            with Horizontal():
                yield Button("Cancel", id="confirm-cancel")
                yield Button(self.confirm_label, id="confirm-ok",
                             variant="error" if self.danger else "primary",
                             disabled=not self.prefill.strip())

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Select.Changed, "#confirm-choice")
    def _chosen(self, event: Select.Changed) -> None:
        if event.value is Select.BLANK:
            return
        self.choice = str(event.value)
        if self.describe is not None:
            self.title_text, self.body = self.describe(self.choice)
            self.query_one("#confirm-title", Static).update(self.title_text)
            self.query_one("#confirm-body", Static).update(self.body)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-ok", Button).disabled = self.busy or not event.value.strip()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self._confirm()

    @on(Button.Pressed, "#confirm-ok")
    def _ok(self) -> None:
        self._confirm()

    @on(Button.Pressed, "#confirm-cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    def _confirm(self) -> None:
        if self.busy:
            return
        comment = self.query_one(Input).value.strip()
        if not comment:
            self.query_one("#confirm-hint", Static).update("✗ A comment is required: say why.")
            return
        if self.submit is None:
            self.dismiss(comment)
            return
        self.busy = True
        self.query_one("#confirm-ok", Button).disabled = True
        self.query_one("#confirm-hint", Static).update("… working (the dialog closes when it is done)")
        submit, choice = self.submit, self.choice
        self.run_worker(lambda: submit(comment, choice), thread=True, exit_on_error=False,
                        group="confirm-submit", name="confirm-submit")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "confirm-submit":
            return
        if event.state == WorkerState.SUCCESS:
            self.dismiss(event.worker.result)
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.busy = False
            exc = event.worker.error
            text = str(exc).strip().splitlines()[0] if exc and str(exc).strip() else type(exc).__name__
            self.error = text
            self.query_one("#confirm-hint", Static).update(f"✗ {text}")
            self.query_one("#confirm-ok", Button).disabled = not self.query_one(Input).value.strip()
            self.query_one(Input).focus()

    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(None)
