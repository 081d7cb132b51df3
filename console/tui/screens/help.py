"""The ``?`` screen: every key of every screen, from the action registry (with the user's
keymap applied), and what the current role may not do, with the reason."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.tui.actions import ACTIONS, SCREEN_TITLES
from console.tui.screens.base import role_block

INTRO = (
    "Fleet is home: it lists every model, worst first. Enter opens a model (tabs: drift, "
    "performance, slices, ops, cost, versions). F2 alerts, F3 approvals (sign-off of pending "
    "requests), F4 audit journal, F5 SQL. ':' jumps to any view or model by name; esc goes back."
)


def display_key(app, action) -> str:
    keys = app.user_keymap.get(action.id, action.keys) if hasattr(app, "user_keymap") else action.keys
    out = []
    for k in keys.split(","):
        k = k.strip()
        try:
            out.append(app.get_key_display(Binding(k, "")))
        except Exception:
            out.append(k)
    return " ".join(out)


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", show=False)]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100%; max-width: 100; height: 100%; max-height: 46;
                                  border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, from_scope: str | None = None) -> None:
        super().__init__()
        self.from_scope = from_scope

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(INTRO, id="help-intro")
            yield Static(f"You are {self.app.identity.user} ({self.app.identity.role})"
                         + (" — READ-ONLY: all actions removed" if self.app.read_only else ""),
                         id="help-who")
            yield Static(self.render_help(), id="help-body")

    def render_help(self):
        app = self.app
        table = Table(box=None, expand=True, show_header=False, pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True, width=12)
        table.add_column("does", ratio=1)
        current = self.from_scope
        order = [current] if current in SCREEN_TITLES and current != "app" else []
        order += [s for s in SCREEN_TITLES if s not in order]
        for scope in order:
            title = SCREEN_TITLES[scope] + (" (this screen)" if scope == current else "")
            table.add_row(Text(f"— {title}", style="bold underline"), "")
            for action in (a for a in ACTIONS if a.scope == scope):
                allowed, reason = role_block(app, action.role)
                desc = Text(action.description)
                if allowed is not True:
                    desc.append(f"  (✗ not available: {reason})", style="italic")
                table.add_row(display_key(app, action), desc)
        table.add_row("", Text("Remap any key in console.toml [ui.keys] by action id, e.g. "
                               "\"fleet.filter\" = \"f\". See docs/tui.md.", style="italic"))
        return table

    def action_dismiss(self) -> None:
        self.dismiss(None)
