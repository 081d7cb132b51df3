"""What every model-screen panel shares: its place in the tabs and the fetch/show split."""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical
from textual.widgets import Static


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
