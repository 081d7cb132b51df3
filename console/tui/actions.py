"""The one registry of the console's actions: every key binding, the ``?`` help screen and the
command palette are built from ``ACTIONS``. A user keymap (see ``keymap.py``) remaps an action by
its id; nothing else in the TUI spells a key.

Scopes: ``app`` actions work everywhere; the others belong to one screen (its name). ``role``
names what the current user needs (``operator``/``reviewer``) — such actions are removed in
``--read-only`` mode and shown disabled, with the reason, to users without the role.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    """One thing a user can do: an id (for remapping), default keys, a description."""

    id: str  # "<scope>.<name>", the binding id users remap
    keys: str  # default keys, comma separated (Textual key names)
    description: str
    action: str  # the Textual action string, e.g. "open_model"
    show: bool = True  # shown in the footer
    role: str | None = None  # "operator" | "reviewer": needs that role; hidden in read-only mode
    palette: bool = True  # offered in the command palette
    priority: bool = False
    label: str = ""  # short footer text (default: the description)

    @property
    def footer(self) -> str:
        return self.label or self.description

    @property
    def scope(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]


ACTIONS: tuple[Action, ...] = (
    # -- everywhere --------------------------------------------------------------------------
    Action("app.help", "question_mark", "Help: every key", "app.help", label="Help"),
    Action("app.jump", "colon", "Jump to a view, tab or model by name", "app.jump", label="Jump"),
    Action("app.back", "escape", "Back", "app.back", show=False),
    Action("app.fleet", "f1", "Fleet (home)", "app.goto('fleet')", show=False),
    Action("app.alerts", "f2", "Alerts", "app.goto('alerts')", show=False),
    Action("app.approvals", "f3", "Approvals", "app.goto('approvals')", show=False),
    Action("app.audit", "f4", "Audit journal", "app.goto('audit')", show=False),
    Action("app.query", "f5", "Query (SQL)", "app.goto('query')", show=False),
    Action("app.report", "f6", "Fleet compliance report", "app.goto('report')", show=False),
    Action("app.window", "w", "Time window", "app.pick_window", label="Window"),
    Action("app.range", "W", "Custom start/end of the window", "app.pick_range", label="Range"),
    Action("app.refresh", "ctrl+r", "Refresh now", "app.refresh_now", show=False),
    Action("app.theme", "ctrl+t", "Next theme", "app.next_theme", show=False),
    Action("app.palette", "ctrl+p", "Command palette", "app.command_palette", show=False),
    Action("app.quit", "q", "Quit", "app.quit_console", label="Quit"),
    # -- fleet -------------------------------------------------------------------------------
    Action("fleet.open", "enter", "Open model", "open_model", label="Open"),
    Action("fleet.filter", "slash", "Filter", "filter", label="Filter"),
    Action("fleet.sort", "s", "Sort by column", "sort", label="Sort"),
    Action("fleet.reverse", "S", "Reverse sort", "reverse_sort", show=False),
    # -- model -------------------------------------------------------------------------------
    Action("model.next_tab", "right_square_bracket", "Next tab", "next_tab", show=False),
    Action("model.prev_tab", "left_square_bracket", "Previous tab", "prev_tab", show=False),
    *(Action(f"model.tab{i}", str(i), f"Tab {i}: {name}", f"tab({i})", show=False)
      for i, name in enumerate(("drift", "performance", "slices", "ops", "cost", "versions", "quality"), start=1)),
    Action("model.version", "v", "Choose version", "choose_version", label="Version"),
    Action("model.retrain", "R", "Request retrain", "request('retrain')", role="operator", label="Retrain"),
    Action("model.rollback", "B", "Request rollback", "request('rollback')", role="operator", label="Rollback"),
    Action("model.promote", "P", "Request promotion of the shown version", "request('promote')",
           role="operator", label="Promote"),
    Action("model.breakglass", "X", "Break-glass rollback (now)", "break_glass", role="operator", label="Break-glass"),
    Action("model.explain_slice", "e", "Slices tab: explain a prediction of the highlighted slice", "explain_slice",
           show=False),
    Action("model.cost_by", "d", "Cost tab: the table per day / per version", "cost_by", show=False),
    Action("model.importance", "i", "Versions tab: the highlighted version's feature importance and its drift",
           "importance", show=False),
    # -- alerts ------------------------------------------------------------------------------
    Action("alerts.open", "enter", "Open the alert's model", "open_model", label="Open"),
    Action("alerts.act", "r", "Request retrain/rollback", "act", role="operator", label="Act"),
    Action("alerts.ack", "a", "Acknowledge the alert (comment required)", "ack", role="operator", label="Ack"),
    Action("alerts.snooze", "z", "Snooze the alert for a duration (2h, 1d)", "snooze", role="operator",
           label="Snooze"),
    Action("alerts.filter", "slash", "Filter", "filter", label="Filter"),
    # -- approvals ---------------------------------------------------------------------------
    Action("approvals.open", "enter", "Sign-off view", "open_request", label="Sign-off"),
    Action("approvals.filter", "slash", "Filter", "filter", label="Filter"),
    Action("approvals.all", "a", "Pending / all", "toggle_all", label="All/open"),
    Action("approvals.breakglass", "X", "Break-glass rollback", "break_glass", role="operator", label="Break-glass"),
    # -- sign-off ----------------------------------------------------------------------------
    Action("signoff.approve", "a", "Approve", "decide('approve')", role="reviewer", label="Approve"),
    Action("signoff.reject", "x", "Reject", "decide('reject')", role="reviewer", label="Reject"),
    Action("signoff.override", "o", "Override failed gates", "decide('override')", role="reviewer", label="Override"),
    # -- audit -------------------------------------------------------------------------------
    Action("audit.filter", "slash", "Filter", "filter", label="Filter"),
    Action("audit.verify", "V", "Verify chain", "verify", label="Verify"),
    Action("audit.report", "r", "The fleet compliance report of the window's period", "app.goto('report')",
           label="Report"),
    # -- query -------------------------------------------------------------------------------
    Action("query.run", "ctrl+j", "Run query", "run_query", priority=True, label="Run"),
    Action("query.cancel", "ctrl+k", "Cancel query", "cancel_query", priority=True, label="Cancel"),
    Action("query.prev", "ctrl+up", "Previous from history", "history(-1)", priority=True, label="History"),
    Action("query.next", "ctrl+down", "Next from history", "history(1)", priority=True, show=False),
    Action("query.csv", "ctrl+e", "Export result to CSV", "export('csv')", priority=True, label="CSV"),
    Action("query.parquet", "ctrl+o", "Export result to Parquet", "export('parquet')", priority=True, label="Parquet"),
    Action("query.focus", "ctrl+l", "Editor / schema / results", "cycle_focus", priority=True, label="Focus"),
    Action("query.select_all", "ctrl+a", "Select all of the SQL", "select_all_sql", priority=True, show=False),
    Action("query.explain", "ctrl+g", "Explain the highlighted row's request_id", "explain_row", priority=True, show=False),
    # -- fleet compliance report -----------------------------------------------------------
    Action("report.export", "e", "Export the report to a file (.md, .html or .json)", "export", label="Export"),
    # -- a slice's predictions (e on the slices tab) ----------------------------------------
    Action("slice.explain", "enter", "Explain the highlighted prediction", "explain_row", label="Explain"),
)

SCREEN_TITLES = {
    "app": "Everywhere",
    "fleet": "Fleet",
    "model": "Model",
    "alerts": "Alerts",
    "approvals": "Approvals",
    "signoff": "Sign-off",
    "audit": "Audit",
    "query": "Query",
    "report": "Fleet report",
    "slice": "Slice predictions",
}


def actions_for(scope: str) -> list[Action]:
    return [a for a in ACTIONS if a.scope == scope]


def by_id(action_id: str) -> Action | None:
    return next((a for a in ACTIONS if a.id == action_id), None)


def bindings_for(scope: str) -> list[Binding]:
    """Textual bindings of one scope, each with its action id so a keymap can remap it."""
    return [
        Binding(a.keys, a.action.removeprefix("app.") if scope == "app" else a.action,
                a.footer, show=a.show, id=a.id, priority=a.priority, tooltip=a.description)
        for a in actions_for(scope)
    ]


def action_for_method(scope: str, method: str) -> Action | None:
    """The registry entry behind a Textual action name (``decide``, ``request``, ...)."""
    for a in actions_for(scope):
        if a.action.split("(", 1)[0].removeprefix("app.") == method:
            return a
    return None
