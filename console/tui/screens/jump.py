"""The ``:`` prompt: type a view (fleet, alerts, approvals, audit, query), a model's tab
(drift, performance, slices, ops, cost, versions, quality — of the model on screen, else of the model
highlighted in the fleet), a model's name, or ``model/tab`` (``credit-risk/slices``); the
completion is shown as you type, tab (or →) takes it, enter goes there, esc cancels.

``resolve`` is the matching, kept apart from the screen so it can be read (and tested) alone:
an exact name first, else the one name the text is the start of (``model/tab`` names only
once a ``/`` is typed); views, then tabs, then
models when names collide. ``explain <request id> [model] [version]`` opens the explain screen.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static


def targets(views: list[str], tabs: list[str], models: list[str]) -> list[str]:
    """Everything ``:`` can go to, in the order names are matched."""
    return [*views, *tabs, *models, *(f"{m}/{t}" for m in models for t in tabs)]


def resolve(text: str, names: list[str]) -> str | None:
    """The target ``text`` names: an exact (case-blind) match, else the only name it starts
    (``cre`` is credit-risk, not one of its tabs)."""
    text = text.strip().lstrip(":").strip().lower()
    if not text:
        return None
    exact = next((n for n in names if n.lower() == text), None)
    if exact is not None:
        return exact
    starts = [n for n in names if n.lower().startswith(text) and ("/" in n) == ("/" in text)]
    return starts[0] if len(starts) == 1 else None


class JumpScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False),
                Binding("tab", "complete", "Complete", show=False, priority=True)]
    DEFAULT_CSS = """
    JumpScreen { align: center bottom; }
    JumpScreen > Vertical { height: auto; width: 100%; background: $panel; }
    JumpScreen #jump-choices { height: auto; color: $foreground; }
    /* one line, also when focused: Textual's Input:focus border is more specific than a type rule */
    JumpScreen Input, JumpScreen Input:focus { border: none; height: 1; padding: 0 1; }
    """

    def __init__(self, views: list[str], models: list[str], tabs: list[str] | None = None) -> None:
        super().__init__()
        self.views = views
        self.models = models
        self.tabs = tabs or []
        self.names = targets(views, self.tabs, models)

    def compose(self) -> ComposeResult:
        with Vertical():
            tabs = f"  tabs: {' '.join(self.tabs)}" if self.tabs else ""
            yield Static(f" views: {' '.join(self.views)}{tabs}  models: {' '.join(self.models)}"
                         + ("  (model/tab too)" if self.tabs else ""), id="jump-choices")
            yield Input(placeholder=": view, tab or model (tab completes)",
                        suggester=SuggestFromList(self.names, case_sensitive=False),
                        id="jump-input")

    def action_complete(self) -> None:
        """Take the suggestion shown after the cursor (Textual's → does the same)."""
        inp = self.query_one(Input)
        inp.action_end()
        inp.action_cursor_right()  # at the end, Input's → accepts the suggestion

    def on_input_submitted(self, event: Input.Submitted) -> None:
        words = event.value.strip().lstrip(":").split()
        if len(words) >= 2 and words[0].lower() == "explain":  # explain <request id> [model] [version]
            self.dismiss("explain:" + "\t".join(words[1:4]))
            return
        match = resolve(event.value, self.names)
        if match is None:
            self.notify(f"no view, tab or model named {event.value.strip()!r}", severity="warning")
            return
        self.dismiss(match)

    def action_cancel(self) -> None:
        self.dismiss(None)
