"""The governance steps as one sequence, the same for the CLI and the TUI: request, approve or
reject, execute, cancel, break-glass, which version a rollback goes back to, and acknowledging
or snoozing an alert (``governance.alert_acks``).

``engine`` decides who may do what (under the journal lock), ``gates`` evaluates the evidence
and ``effects`` carries a decision out; this module strings them together so that no front end
carries its own copy of the order or of the rules between them:

- gates are evaluated only over a store brought up to date first (one ingest pass, skipped
  when another console is ingesting — it keeps the store current — or this account cannot
  write the store);
- a promotion's gates are evaluated for the request (operators) and again for the approval,
  but only when the approval can happen at all: a decision the engine is bound to refuse
  (not a reviewer, the requester herself, a request no longer pending, a break-glass review)
  is refused without an ingest pass or gates;
- an approved request is executed at once; a break-glass rollback is executed as it is
  created (it is approved by its own request).

Every function takes the acting ``Identity`` (the CLI: the OS account; the TUI: its own) and
returns an ``Outcome`` (the request as journaled afterwards, and the gates when evaluated).
Refusals are raised by the engine (``PermissionDenied``/``UsageError``), journaled there.
Headless: no Textual, nothing printed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console import clock
from console.governance import effects, engine
from console.governance.requests import Request
from console.governance.state import RollbackTarget, fleet_state, rollback_target
from console.identity import Identity
from console.store.registry import Registry, load_registry, version_sort_key
from console.workspace import Workspace

GatesShown = Callable[[list[dict[str, Any]]], None]


@dataclass
class Outcome:
    """A step's result: the request as journaled after it, and the gates it evaluated."""

    request: Request
    gates: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class RollbackChoice:
    """The versions a rollback of ``model`` may go to: ``default`` (None when no earlier
    production version is known) first, then every other registered version, newest first."""

    model: str
    current: str | None
    default: str | None
    why: str
    candidates: list[str] = field(default_factory=list)


def ingest_pass(ws: Workspace) -> bool:
    """One ingest pass so gates see the newest data; False when it was skipped (another
    console holds the ingest lock, or this account cannot write the store) — a stale store is
    still evidence, and the gates say what they saw."""
    try:
        from console.ingest.engine import Ingester

        Ingester(ws).run_once(wait=0.0)
    except Exception:  # noqa: BLE001 - see above: never a reason to refuse a decision
        return False
    return True


def fresh_gates(ws: Workspace, model: str, version: str, registry: Registry | None = None) -> list[dict]:
    """The promotion gates of ``model`` ``version`` over a freshly ingested store."""
    from console.governance.gates import evaluate_gates

    ingest_pass(ws)
    return evaluate_gates(ws, model, version, registry=registry)


def why_not_decide(req: Request, ident: Identity, verdict: str) -> str | None:
    """Why ``ident`` may not approve/reject ``req`` now (the engine's own rule and words), or None."""
    why = engine.why_not_decide(req, ident, verdict)
    return why[1] if why else None


def decision_needs_gates(req: Request, ident: Identity, verdict: str) -> bool:
    """Whether approving ``req`` as ``ident`` needs the gates evaluated now: only a promotion
    (not a break-glass review) that ``ident`` may decide — any other attempt is refused (or
    needs no gates) whatever they would say."""
    return (verdict == "approve" and req.action == "promote" and not req.break_glass
            and engine.why_not_decide(req, ident, verdict) is None)


def rollback_choice(ws: Workspace, model: str, registry: Registry | None = None) -> RollbackChoice:
    """Where a rollback of ``model`` may go, the default first (the engine's own default when
    no version is named: ``state.rollback_target``)."""
    registry = registry or load_registry(ws.registry, ws.root)
    state = fleet_state(ws, registry)
    target: RollbackTarget = rollback_target(ws, registry, state, model)
    others = sorted((v.version for v in registry.versions_of(model)
                     if v.version not in (target.current, target.version)), key=version_sort_key, reverse=True)
    candidates = ([target.version] if target.version else []) + others
    return RollbackChoice(model, target.current, target.version, target.why, candidates)


def request(ws: Workspace, ident: Identity, action: str, model: str, version: str | None, reason: str,
            break_glass: bool = False, registry: Registry | None = None, now: dt.datetime | None = None,
            show_gates: GatesShown | None = None) -> Outcome:
    """Raise a request. A promotion requested by an operator carries its gates (over a freshly
    ingested store) as evidence; a break-glass rollback is executed at once."""
    gates = None
    if action == "promote" and version and ident.operator:
        engine.required_text(reason, "--reason")  # refused before the (slow) gates, as it would be after
        gates = fresh_gates(ws, model, version, registry=registry)
        if show_gates:
            show_gates(gates)
    req = engine.create_request(ws, ident, action, model, version, reason, break_glass=break_glass,
                                now=now or clock.now(), registry=registry, gates=gates)
    if req.break_glass:
        req = effects.execute(ws, ident, req.request_id, now=now)
    return Outcome(req, gates)


def break_glass(ws: Workspace, ident: Identity, model: str, version: str | None, reason: str,
                registry: Registry | None = None, now: dt.datetime | None = None) -> Outcome:
    """Roll ``model`` back now (to ``version``, else the default target), open for review."""
    return request(ws, ident, "rollback", model, version, reason, break_glass=True, registry=registry, now=now)


def decide(ws: Workspace, ident: Identity, request_id: str, verdict: str, comment: str,
           override: bool = False, expected_evidence: str | None = None, registry: Registry | None = None,
           now: dt.datetime | None = None, show_gates: GatesShown | None = None) -> Outcome:
    """Approve or reject (on a break-glass request: sign off or dispute). Approving a pending
    promotion evaluates its gates afresh first (an ingest pass, then the gates) and binds them
    to the decision; an approved request is then executed."""
    now = now or clock.now()
    req = engine.get_request(ws, request_id, now=now)
    gates = None
    if decision_needs_gates(req, ident, verdict):
        gates = fresh_gates(ws, req.model, req.version, registry=registry)
        if show_gates:
            show_gates(gates)
    req = engine.decide(ws, ident, request_id, verdict, comment, override=override, gates=gates,
                        now=now, expected_evidence=expected_evidence)
    if req.state == "approved" and not req.break_glass:
        req = effects.execute(ws, ident, request_id)
    return Outcome(req, gates)


def execute(ws: Workspace, ident: Identity, request_id: str, now: dt.datetime | None = None) -> Outcome:
    """Carry out an approved request whose execution never reported back (``effects.resume``)."""
    return Outcome(effects.resume(ws, ident, request_id, now=now))


def cancel(ws: Workspace, ident: Identity, request_id: str, now: dt.datetime | None = None) -> Outcome:
    """The requester withdraws her pending request."""
    return Outcome(engine.cancel(ws, ident, request_id, now=now))


def ack_alert(ws: Workspace, ident: Identity, alert_id: str, comment: str, alerts: Any,
              now: dt.datetime | None = None) -> dict[str, Any]:
    """Acknowledge a firing alert (operators; ``governance.alert_acks.ack``): its journal entry."""
    from console.governance import alert_acks

    return alert_acks.ack(ws, ident, alert_id, comment, alerts, now=now)


def snooze_alert(ws: Workspace, ident: Identity, alert_id: str, until: str, comment: str | None, alerts: Any,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Snooze a firing alert until ``until`` (operators; ``governance.alert_acks.snooze``)."""
    from console.governance import alert_acks

    return alert_acks.snooze(ws, ident, alert_id, until, comment, alerts, now=now)
