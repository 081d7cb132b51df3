"""The sign-off view: one request with its gates and their evidence, and the champion (in
production) against the challenger side by side — offline metrics from the registry, live
metrics, drift and flagged slices from the engine. Approve, reject or override (failed gates)
open a confirmation dialog naming the model and version and requiring a comment. What the
user may not do is shown disabled with the reason."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.store.registry import version_label
from console.tui import format as fmt
from console.tui.screens.base import ConsoleScreen, role_block
from console.tui.widgets.confirm import ConfirmDialog

GATE_STATE = {"passed": ("✓ passed", "green"), "failed": ("✗ failed", "red"),
              "not_evaluated": ("? not evaluated", "yellow")}


class SignoffScreen(ConsoleScreen):
    SCOPE = "signoff"
    TITLE = "Sign-off"

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id
        self.req = None
        self.gates: list[dict] | None = None

    @property
    def crumb(self) -> str:
        return f"Sign-off {self.request_id}"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="signoff-body"):
            yield Static("loading…", id="signoff-request")
            yield Static("", id="signoff-why", classes="note")
            yield Static("", id="signoff-gates")
            yield Static("", id="signoff-compare")

    def fetch(self) -> Any:
        from console.governance.engine import get_request

        be = self.app.backend
        req = get_request(be.ws, self.request_id, now=be.clock())
        gates = None
        if req.action == "promote" and req.version and not req.break_glass:
            # a pending promotion: its gates now, over a freshly ingested store (what approving
            # it evaluates again); a decided one: the gates its decision recorded
            gates = be.gates(req.model, req.version) if req.state == "pending" else (req.gates or [])
        champion = be.fleet.production.get(req.model)
        if req.action == "rollback":
            champion, challenger = req.from_version or champion, req.version
        else:
            challenger = req.version
        compare = be.compare_versions(req.model, champion, challenger) if challenger else None
        return req, gates, compare, champion, challenger

    def show(self, data: Any) -> None:
        req, gates, compare, champion, challenger = data
        self.req, self.gates = req, gates
        self.query_one("#signoff-request", Static).update(self.render_request(req))
        self.query_one("#signoff-gates", Static).update(self.render_gates(gates))
        self.query_one("#signoff-compare", Static).update(self.render_compare(compare, champion, challenger))
        self.query_one("#signoff-why", Static).update(self.why_not())
        self.refresh_bindings()

    def render_request(self, req) -> Table:
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        state = fmt.state(req.state)
        if req.break_glass:
            state = Text("⚠ break-glass, review ") + fmt.state(req.review or "pending")
        t.add_row("request", Text(f"{req.request_id} · {req.action} {req.model} ") + Text(
            move_text(req), style="bold") + Text(" · ") + state)
        t.add_row("raised", f"by {req.requested_by} at {fmt.when(req.requested_at)}"
                  + (f" · expires {fmt.when(req.expires_at)}" if req.expires_at else ""))
        t.add_row("reason", req.reason or "—")
        if req.decided_by:
            t.add_row("decided", f"{req.state} by {req.decided_by}: {req.decision_comment or ''}"
                      + (" (OVERRIDE)" if req.override else ""))
        return t

    def render_gates(self, gates: list[dict] | None):
        if gates is None:
            return Text("gates: only promotions have gates", style="italic")
        t = Table(title="gates (their evidence is bound to your decision)", title_justify="left",
                  expand=True, box=None, pad_edge=False)
        t.add_column("gate", no_wrap=True)
        t.add_column("status", no_wrap=True)
        t.add_column("evidence", ratio=1)
        for g in gates:
            label, colour = GATE_STATE.get(g.get("status"), (g.get("status"), ""))
            t.add_row(g.get("gate"), Text(label, style=colour), g.get("detail", ""))
        return t

    def render_compare(self, compare: dict | None, champion, challenger):
        if not compare:
            return Text("")
        from rich.console import Group

        t = Table(title=f"champion {version_label(champion)} vs challenger {version_label(challenger)}",
                  title_justify="left", expand=True, box=None, pad_edge=False)
        t.add_column("", ratio=2)
        t.add_column(f"{version_label(champion)} (champion)", justify="right", ratio=2)
        t.add_column(f"{version_label(challenger)} (challenger)", justify="right", ratio=2)
        for name, a, b in compare.get("rows", []):
            t.add_row(name, a, b)
        problems = [Text("▲ " + p, style="italic") for p in compare.get("problems", [])[:4]]
        return Group(t, *problems)

    # -- roles and actions -----------------------------------------------------------------
    def blocked(self, action: str) -> str | None:
        """Why this user may not ``action`` (approve/reject/override) this request now, or None."""
        allowed, reason = role_block(self.app, "reviewer")
        if allowed is not True:
            return reason
        req = self.req
        if req is None:
            return "loading"
        if action == "override" and self.gates is None:
            return "this request has no gates to override"
        from console.governance.workflow import why_not_decide

        why = why_not_decide(req, self.app.identity, "reject" if action == "reject" else "approve")
        if why:
            return why
        failing = [g["gate"] for g in (self.gates or []) if g.get("status") != "passed"]
        if action == "approve" and failing and not req.break_glass:
            return f"gates not passed ({', '.join(failing)}): use override"
        if action == "override" and not failing:
            return "no failed gates to override"
        return None

    def why_not(self) -> str:
        reasons: dict[str, list[str]] = {}
        actions = ("approve", "reject") + (("override",) if self.gates is not None else ())
        for action in actions:
            reason = self.blocked(action)
            if reason and reason != "loading":
                reasons.setdefault(reason, []).append(action)
        info = reasons.pop("no failed gates to override", None)
        if not reasons:
            return "✓ you may approve or reject this request" + (
                "" if info or self.gates is None else " (override approves despite failed gates)")
        return " · ".join(f"✗ {'/'.join(acts)}: {why}" for why, acts in reasons.items())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "decide":
            return True
        allowed, _ = role_block(self.app, "reviewer")
        if allowed is not True:
            return allowed
        verdict = str(parameters[0]) if parameters else "approve"
        if verdict == "override" and self.req is not None and self.gates is None:
            return False  # no gates here: not offered at all
        return None if self.blocked(verdict) else True

    def disabled_reason(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "decide":
            verdict = str(parameters[0]) if parameters else "approve"
            reason = self.blocked(verdict)
            return f"cannot {verdict}: {reason}" if reason else None
        return super().disabled_reason(action, parameters)

    def action_decide(self, verdict: str) -> None:
        reason = self.blocked(verdict)
        if reason:
            self.notify(f"cannot {verdict}: {reason}", severity="warning")
            return
        req = self.req
        failing = [g["gate"] for g in (self.gates or []) if g.get("status") != "passed"]
        target = f"{req.model} {version_label(req.version)}" if req.version else \
            f"{req.model} from {version_label(req.from_version)}"
        if verdict == "override":
            title = f"OVERRIDE failed gates and approve {req.action} of {target}"
            body = (f"{req.request_id}: gates not passed: {', '.join(failing)}. Your comment is the "
                    "justification, recorded in the journal.")
            label = "Override"
        elif verdict == "approve":
            title = f"Approve {req.action} of {target}"
            body = f"{req.request_id} by {req.requested_by}: {req.reason}\nApproval executes it at once."
            label = "Approve"
        else:
            title = f"Reject {req.action} of {target}"
            body = f"{req.request_id} by {req.requested_by}: {req.reason}"
            label = "Reject"
        if req.break_glass:
            body += "\n(break-glass: this is the retrospective review)"
        elif self.gates is not None and verdict != "reject":
            body += ("\nThe gates are evaluated again on the newest data as you confirm; the journal "
                     "records those with the decision.")
        app, rid = self.app, self.request_id

        def submit(comment: str, _choice) -> Any:
            try:
                return app.backend.decide(rid, "reject" if verdict == "reject" else "approve", comment,
                                          override=verdict == "override")
            except Exception:  # the dialog says why; the view behind it shows what is true now
                app.call_from_thread(self.reload)
                raise

        def done(req) -> None:
            if req is None:
                return
            app.notify(f"{rid}: {req.state}" + (f" by {req.decided_by}" if req.decided_by else ""), timeout=8)
            self.reload()
            app.action_refresh_now()

        self.app.push_screen(ConfirmDialog(title, body, label, danger=verdict != "approve", submit=submit), done)


def move_text(req) -> str:
    """What a request changes, in words: ``v2 → v3``; a retrain ``from v2`` (``→ v4`` once it
    produced one)."""
    if req.action == "retrain":
        return f"from {version_label(req.from_version)}" + (
            f" → {version_label(req.produced_version)}" if req.produced_version else "")
    return f"{version_label(req.from_version)} → {version_label(req.version)}"
