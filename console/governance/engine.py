"""Who may do what, and doing it: requesting, deciding (compare-and-set), cancelling.

Every function takes the acting ``Identity`` explicitly; the CLI passes the OS account that
runs the process (``Workspace.identity()``), tests and the TUI pass theirs. Every mutation is
one transaction under the journal's exclusive lock: read the entries, replay the state,
check that the request is still open and the actor may act, append, fsync, release. A
refused attempt is journaled (``action = "refused"``) and raised as ``PermissionDenied``.
Before anything is written, ``writer_for`` checks that the workspace's configuration, hooks
and signers file can be trusted (``trust``) and that the actor's signing key is registered
(``signing``); every entry the actor appends is signed with it.
Effects of an approval (hooks, ``serving.json``) run after the decision is committed, in
``console.governance.effects``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from console import clock, durations
from console.errors import PermissionDenied, UsageError
from console.governance.journal import Journal, JournalTxn, JournalUnwritable, format_ts
from console.governance.requests import ACTIONS, Request, is_expired, next_request_id, replay
from console.governance.state import fleet_state, read_serving_strict, rollback_target
from console.identity import SYSTEM, Identity
from console.store.registry import Registry, load_registry
from console.workspace import Workspace

DEFAULT_TTL = "72h"
MAX_TEXT = 4000


class AlreadyDecided(UsageError):
    """The request was decided (or withdrawn, or expired) before this attempt."""


class Duplicate(UsageError):
    """A pending request already asks for the same thing (``request_id`` names it)."""

    def __init__(self, message: str, request_id: str):
        super().__init__(message)
        self.request_id = request_id


def journal_of(ws: Workspace) -> Journal:
    """The workspace's journal, for reading."""
    return Journal(ws.journal_path)


def writer_for(ws: Workspace, ident: Identity) -> Journal:
    """The journal, signing as ``ident``: refused (exit 2) when the workspace's configuration
    is not trustworthy or ``ident`` has no registered key."""
    from console.governance.signing import signer_for
    from console.governance.trust import require_trusted

    require_trusted(ws)
    return Journal(ws.journal_path, signer=signer_for(ws, ident))


def _serving_writable(ws: Workspace, request_id: str, now: dt.datetime) -> None:
    """Approving a promotion or rollback rewrites serving.json: refuse before deciding when it
    exists but is damaged (nothing journaled, nothing run)."""
    req = replay(journal_of(ws).entries(), now).get(request_id)
    if req is not None and req.action in ("promote", "rollback") and not req.break_glass:
        read_serving_strict(ws)


def _refusal_writer(ws: Workspace, ident: Identity, reason: str) -> Journal:
    """The journal to record a refused attempt by ``ident`` in; when that cannot be signed or
    written, the refusal is raised at once (unjournaled)."""
    from console.governance.signing import KeyProblem

    try:
        journal = writer_for(ws, ident)
    except KeyProblem:
        raise PermissionDenied(
            f"{reason} (the attempt could not be journaled: {ident.user} has no registered signing key)"
        ) from None
    _writable_or_refuse(journal, reason)
    return journal


def request_ttl(ws: Workspace) -> dt.timedelta | None:
    """``[governance] request_ttl`` (default 72h); ``"0"`` or ``"never"`` means no expiry."""
    value = ws.section("governance").get("request_ttl", DEFAULT_TTL)
    if str(value).strip().lower() in ("0", "never", "none", ""):
        return None
    return durations.parse(value, f"[governance] request_ttl in {ws.config_path}")


def list_requests(ws: Workspace, now: dt.datetime | None = None) -> list[Request]:
    """Every request, oldest first, with states as of ``now`` (expiry derived)."""
    return list(replay(journal_of(ws).entries(), now or clock.now()).values())


def get_request(ws: Workspace, request_id: str, now: dt.datetime | None = None) -> Request:
    reqs = replay(journal_of(ws).entries(), now or clock.now())
    if request_id not in reqs:
        raise UsageError(f"no request {request_id!r} in {ws.journal_path.name}")
    return reqs[request_id]


def required_text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise UsageError(f"{what} is required and must not be empty")
    if len(text) > MAX_TEXT:
        raise UsageError(f"{what} is longer than {MAX_TEXT} characters")
    return text


def _journal_expiries(txn: JournalTxn, actor: str, now: dt.datetime) -> None:
    """Journal ``expired`` for every pending request whose time ran out (noticed now)."""
    for req in replay(txn.entries()).values():
        if is_expired(req, now):
            txn.append(actor, "expired", now=now, request_id=req.request_id, expires_at=req.expires_at)


def _writable_or_refuse(journal: Journal, reason: str) -> None:
    """A refused attempt by someone who cannot even write the journal: refuse, unjournaled."""
    try:
        with journal.locked():
            pass
    except JournalUnwritable:
        raise PermissionDenied(f"{reason} (the attempt could not be journaled: no write access)") from None


def _too_late(txn: JournalTxn, ident: Identity, now: dt.datetime, attempt: str, request_id: str, reason: str):
    """A decision on something already decided: journaled as refused, reported as such."""
    txn.append(ident.user, "refused", now=now, attempt=attempt, detail=reason, request_id=request_id)
    return AlreadyDecided(reason)


def _refuse(txn: JournalTxn, ident: Identity, now: dt.datetime, attempt: str, reason: str, **fields: Any):
    txn.append(ident.user, "refused", now=now, attempt=attempt, detail=reason, **fields)
    return PermissionDenied(reason)


def create_request(
    ws: Workspace,
    ident: Identity,
    action: str,
    model: str,
    version: str | None,
    reason: str,
    break_glass: bool = False,
    now: dt.datetime | None = None,
    registry: Registry | None = None,
    gates: list[dict[str, Any]] | None = None,
    ttl: dt.timedelta | None | str = "config",
    evidence: dict[str, Any] | None = None,
) -> Request:
    """Journal a new request; a break-glass rollback is approved by its own request.

    ``gates``: the gate results shown to the requester (promotions), kept as evidence.
    ``evidence``: what a policy saw when it raised the request (``governance.policy``), journaled
    with it.
    """
    now = now or clock.now()
    if action not in ACTIONS:
        raise UsageError(f"unknown request {action!r} (known: {', '.join(ACTIONS)})")
    registry = registry or load_registry(ws.registry, ws.root)
    reason_text = (reason or "").strip()
    life = request_ttl(ws) if ttl == "config" else ttl
    if not ident.operator:
        journal = _refusal_writer(
            ws, ident, f"{ident.user} is not an operator of this workspace; only operators may request"
        )
    else:
        journal = writer_for(ws, ident)
        if break_glass and action == "rollback":
            read_serving_strict(ws)  # it executes at once: a damaged serving.json is refused first
    with journal.locked() as txn:
        _journal_expiries(txn, ident.user, now)
        attempt = f"request {action}" + (" --break-glass" if break_glass else "")
        where = {"model": model, "version": version}
        if not ident.operator:
            raise _refuse(
                txn, ident, now, attempt,
                f"{ident.user} is not an operator of this workspace; only operators may request", **where,
            )
        if break_glass and action != "rollback":
            raise _refuse(txn, ident, now, attempt, "break-glass is only for rollback", **where)
        if not reason_text:
            raise UsageError("--reason is required and must not be empty")
        reason_text = required_text(reason_text, "--reason")
        if model not in registry.models():
            raise UsageError(f"no model {model!r} in the registry ({ws.registry})")
        state = fleet_state(ws, registry, txn.entries())
        current = state.production.get(model)
        if version is not None and registry.get(model, version) is None:
            raise UsageError(f"no version {version!r} of {model!r} in the registry")
        if action == "promote":
            if version is None:
                raise UsageError("request promote needs --version")
            if current == version:
                raise UsageError(f"{model} {version} is already in production")
        elif action == "rollback":
            if current is None:
                raise UsageError(f"{model} has nothing in production to roll back")
            if version is None:
                version = rollback_target(ws, registry, state, model).version
                if version is None:
                    raise UsageError(
                        f"{model} has no earlier production version (journal, serving.json or an archived "
                        "version in the registry); name the version to roll back to"
                    )
            if version == current:
                raise UsageError(f"{model} {version} is already in production")
        else:  # retrain: --version names the version to retrain from (default: production)
            current = version or current
            version = None
        for req in replay(txn.entries(), now).values():
            same = (req.action, req.model, req.version) == (action, model, version)
            if action == "retrain":
                same = same and req.from_version == current
            if req.state == "pending" and same:
                what = f"from {current}" if action == "retrain" else version
                raise Duplicate(f"{req.request_id} already asks for the same ({action} {model} {what})",
                                req.request_id)
        rid = next_request_id(txn.entries())
        fields: dict[str, Any] = {
            "request_id": rid,
            "kind": action,
            "model": model,
            "version": version,
            "from_version": current,
            "reason": reason_text,
            "break_glass": bool(break_glass),
            "expires_at": format_ts(now + life) if life and not break_glass else None,
        }
        if gates is not None:
            from console.governance.gates import evidence_hash

            fields["gates"] = gates
            fields["evidence_hash"] = evidence_hash(gates)
        if evidence is not None:
            fields["evidence"] = evidence
        txn.append(ident.user, "request", now=now, **fields)
        return replay(txn.entries(), now)[rid]


def _no_role_to_decide(ident: Identity, verdict: str) -> str | None:
    """Why ``ident`` may decide nothing at all (``system``, not a reviewer), or None."""
    if ident.user == SYSTEM:
        return f"{SYSTEM} raises requests only; a person decides them (four eyes)"
    if not ident.reviewer:
        return f"{ident.user} is not a reviewer of this workspace; only reviewers may {verdict}"
    return None


def why_not_decide(req: Request, ident: Identity, verdict: str) -> tuple[str, str] | None:
    """Why ``ident`` may not ``verdict`` (approve/reject) ``req`` as it stands: ``("refused",
    reason)`` (not a reviewer; the requester herself), ``("too_late", reason)`` (decided,
    withdrawn, expired; a break-glass request already reviewed), or None. ``decide`` applies it
    under the lock; a front end may ask it first to show the action disabled with the reason."""
    rid = req.request_id
    role = _no_role_to_decide(ident, verdict)
    if role is not None:
        return "refused", role
    if req.requested_by == ident.user:
        return "refused", f"{ident.user} raised {rid}; a requester never decides their own request"
    if req.break_glass:
        if req.review != "pending":
            return "too_late", f"{rid} was already reviewed by {req.reviewed_by} ({req.review})"
        return None
    if req.state != "pending":
        who = req.decided_by or "nobody"
        what = {"expired": f"expired at {req.expires_at}"}.get(req.state, f"{req.state} by {who}")
        return "too_late", f"{rid} was already decided: {what}"
    return None


def decide(
    ws: Workspace,
    ident: Identity,
    request_id: str,
    verdict: str,
    comment: str,
    override: bool = False,
    gates: list[dict[str, Any]] | None = None,
    now: dt.datetime | None = None,
    expected_evidence: str | None = None,
) -> Request:
    """Approve or reject, exactly once (compare-and-set under the journal lock).

    For a promotion, ``gates`` are the gate results the reviewer was shown; approving when
    any of them did not pass needs ``override=True`` and the comment is its justification.
    The decision entry stores the gates and their evidence hash. On a break-glass request the
    verdict is the retrospective review (``signed_off`` / ``disputed``).
    ``expected_evidence``: the evidence hash the reviewer looked at (``gates``/``report``);
    when the gates now hash differently the approval is refused — look again.
    """
    if verdict not in ("approve", "reject"):
        raise UsageError(f"unknown verdict {verdict!r}")
    now = now or clock.now()
    role = _no_role_to_decide(ident, verdict)
    if role is not None:
        journal = _refusal_writer(ws, ident, role)
    else:
        journal = writer_for(ws, ident)
        if verdict == "approve":
            _serving_writable(ws, request_id, now)
    with journal.locked() as txn:
        _journal_expiries(txn, ident.user, now)
        reqs = replay(txn.entries(), now)
        req = reqs.get(request_id)
        if req is None:
            raise UsageError(f"no request {request_id!r} in {ws.journal_path.name}")
        where = {"request_id": request_id}
        why = why_not_decide(req, ident, verdict)
        if why is not None and why[0] == "refused":
            raise _refuse(txn, ident, now, verdict, why[1], **where)
        comment_text = required_text(comment, "--comment")
        if why is not None:
            raise _too_late(txn, ident, now, verdict, request_id, why[1])
        if req.break_glass:
            txn.append(ident.user, verdict, now=now, request_id=request_id, comment=comment_text, review=True)
            return replay(txn.entries(), now)[request_id]
        fields: dict[str, Any] = {"request_id": request_id, "comment": comment_text}
        if verdict == "approve" and req.action == "promote":
            from console.governance.gates import evidence_hash, failing

            if gates is None:
                raise UsageError("approving a promotion needs its gates evaluated")
            now_hash = evidence_hash(gates)
            if expected_evidence is not None and expected_evidence != now_hash:
                raise _refuse(
                    txn, ident, now, verdict,
                    f"the evidence changed since it was shown ({expected_evidence} → {now_hash}); "
                    "review the gates again", **where,
                )
            bad = failing(gates)
            if bad and not override:
                raise _refuse(
                    txn, ident, now, verdict,
                    f"gates not passed: {', '.join(bad)}; only an override with a justification approves it",
                    **where,
                )
            fields["gates"] = gates
            fields["evidence_hash"] = now_hash
            fields["override"] = bool(bad) and override
            if fields["override"]:
                fields["overridden_gates"] = bad
        elif override:
            fields["override"] = False
        if fields.get("override"):
            # The override is its own entry (docs/governance.md, 'The journal'), right before the approval it enables.
            txn.append(ident.user, "override", now=now, request_id=request_id,
                       overridden_gates=fields["overridden_gates"], justification=comment_text,
                       evidence_hash=fields["evidence_hash"])
        txn.append(ident.user, verdict, now=now, **fields)
        return replay(txn.entries(), now)[request_id]


def cancel(ws: Workspace, ident: Identity, request_id: str, now: dt.datetime | None = None) -> Request:
    """The requester withdraws a pending request."""
    now = now or clock.now()
    with writer_for(ws, ident).locked() as txn:
        _journal_expiries(txn, ident.user, now)
        req = replay(txn.entries(), now).get(request_id)
        if req is None:
            raise UsageError(f"no request {request_id!r} in {ws.journal_path.name}")
        if req.requested_by != ident.user:
            raise _refuse(
                txn, ident, now, "cancel",
                f"only {req.requested_by}, who raised {request_id}, may cancel it", request_id=request_id,
            )
        if req.state != "pending":
            raise _too_late(
                txn, ident, now, "cancel", request_id,
                f"{request_id} is {req.state}" + (f" by {req.decided_by}" if req.decided_by else ""),
            )
        txn.append(ident.user, "cancel", now=now, request_id=request_id)
        return replay(txn.entries(), now)[request_id]
