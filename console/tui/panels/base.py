"""What every model-screen panel shares: its place in the tabs, the fetch/show split, and its
note line, which says "… loading" before the first data, "✗ failed: <why>" when the tab's
report failed and "? not computed: <why>" when the model as registered has no such report — a panel never sits blank or shows stale numbers as if they were current."""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical
from textual.widgets import Static

from console.errors import NotComputable


class Panel(Vertical):
    """A tab of the model screen. ``fetch`` runs in a worker thread, ``show`` on the main thread."""

    TAB = ""
    LABEL = ""
    PROGRESSIVE = False  # True: ``fetch`` yields several paints (the first one soonest)
    shown = 0  # the model screen's load generation this panel has painted (a first step of it)
    step = 0  # the last step of that load painted (progressive panels paint several)
    complete = 0  # the generation painted in full

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        raise NotImplementedError

    def show(self, data: Any) -> None:
        raise NotImplementedError

    def note(self, text: str) -> None:
        for s in self.query(".panel-note").results(Static):
            s.update(text)

    def loading(self) -> None:
        self.note("… loading")

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, NotComputable):  # the model as registered has no answer: not a failure
            self.note(f"? not computed: {exc.reason}")
            return
        text = str(exc).strip()
        why = f"{type(exc).__name__}: {text.splitlines()[0] if text else 'failed'}"
        self.note(f"✗ failed: {self.LABEL.lower()} could not be computed: {why}"
                  + (" (the rest of this tab is from before)" if self.shown else ""))

