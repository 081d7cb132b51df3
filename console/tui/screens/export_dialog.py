"""The export dialog: type a file name (relative to the workspace, or absolute) whose suffix
names the format; ``enter`` writes it in a worker through the caller's ``write(name)`` (a
headless function). A bad name or an unwritable file is one line of error in the dialog and what
was typed stays; esc cancels. Dismisses with ``write``'s result once the file is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState


class ExportDialog(ModalScreen[Any]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog > Vertical { width: 100%; max-width: 76; height: auto; border: round $primary;
                              background: $surface; padding: 0 1; }
    ExportDialog .dialog-title { text-style: bold; }
    ExportDialog #export-error { color: $error; text-style: bold; }
    """

    def __init__(self, title: str, default: str, hint: str, write: Callable[[str], Any]) -> None:
        super().__init__()
        self.title_text, self.default, self.hint, self.write = title, default, hint, write

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title")
            yield Input(value=self.default, id="export-name")
            yield Static("", id="export-error")
            yield Static(self.hint, classes="muted", id="export-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#export-name")
    def _submit(self, event: Input.Submitted) -> None:
        self.query_one("#export-error", Static).update("… writing")
        self._write(event.value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def _write(self, name: str) -> tuple[bool, Any]:
        """``(True, write's result)`` or ``(False, the error's first line)``. The dialog is
        dismissed when the worker has finished (``on_worker_state_changed``), never from
        inside it: dismissing a screen cancels its workers, this one too if still running."""
        try:
            return True, self.write(name)
        except Exception as exc:  # one line in the dialog; what was typed stays
            return False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "export":
            return
        if event.state == WorkerState.ERROR:
            self.query_one("#export-error", Static).update(f"✗ failed: {event.worker.error}")
            return
        if event.state != WorkerState.SUCCESS:
            return
        ok, value = event.worker.result
        if ok:
            self.dismiss(value)
        else:
            self.query_one("#export-error", Static).update(f"✗ {value}")

    def action_cancel(self) -> None:
        self.dismiss(None)
