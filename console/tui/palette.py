"""The command palette's entries: every view, every model, and every action of the registry
that the current screen and role allow (the same registry that makes the key bindings)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.app import SystemCommand
from textual.screen import Screen

from console.tui.actions import ACTIONS
from console.tui.screens.base import role_block

VIEW_HELP = {"fleet": "every model, worst first", "alerts": "what check reports",
             "approvals": "pending requests and sign-off", "audit": "the journal and its chain",
             "query": "SQL over the store's views",
             "report": "the fleet compliance report, exportable"}


def system_commands(app, screen: Screen) -> Iterable[SystemCommand]:
    for view, text in VIEW_HELP.items():
        yield SystemCommand(f"Go to {view}", text, partial(app.action_goto, view))
    if app.backend is not None:
        for model in app.backend.registry.models():
            yield SystemCommand(f"Open model {model}", "drift, performance, slices, ops, cost, versions, quality",
                                partial(app.open_model, model))
    scope = getattr(screen, "SCOPE", None)
    for action in ACTIONS:
        if action.scope not in ("app", scope) or not action.palette or action.id == "app.palette":
            continue
        allowed, _ = role_block(app, action.role)
        if allowed is not True:
            continue
        target = app if action.scope == "app" else screen
        name = action.action.removeprefix("app.")
        yield SystemCommand(action.description, f"key: {action.keys}  ({action.id})",
                            partial(target.run_action, name))
