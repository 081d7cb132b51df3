"""Requests and their states, replayed from the journal's entries.

A request (promote, rollback, retrain) moves through::

    pending ─► approved ─► executed | failed
       ├─► rejected        (a reviewer said no)
       ├─► cancelled       (its requester withdrew it)
       └─► expired         (nobody decided before ``expires_at``)

A break-glass rollback skips ``pending``: it is approved by its own request, executes at once
and carries ``review = "pending"`` until a reviewer signs it off (``"signed_off"``) or disputes
it (``"disputed"``). Expiry is derived when reading (``expires_at`` has passed, no decision) and
journaled as an ``expired`` entry by the next write that notices it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from console.governance.journal import parse_ts

ACTIONS = ("promote", "rollback", "retrain")
OPEN_STATES = ("pending",)
FINAL_STATES = ("executed", "failed", "rejected", "cancelled", "expired")


@dataclass
class Request:
    """One request with everything the journal says about it."""

    request_id: str
    action: str
    model: str
    version: str | None
    from_version: str | None
    reason: str
    requested_by: str
    requested_at: str
    break_glass: bool = False
    expires_at: str | None = None
    state: str = "pending"
    decided_by: str | None = None
    decided_at: str | None = None
    decision_comment: str | None = None
    override: bool = False
    evidence_hash: str | None = None
    gates: list[dict[str, Any]] | None = None  # the gates bound to the decision (or the request)
    evidence: dict[str, Any] | None = None  # what a policy saw when it raised the request (system)
    review: str | None = None  # break-glass: pending | signed_off | disputed
    reviewed_by: str | None = None
    review_comment: str | None = None
    hook: dict[str, Any] | None = None
    produced_version: str | None = None
    failure: str | None = None
    trail: list[dict[str, Any]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The ``requests`` keys (docs/formats.md, 'The command line'), then a few more."""
        return {
            "request_id": self.request_id,
            "action": self.action,
            "model": self.model,
            "version": self.version,
            "state": self.state,
            "requested_by": self.requested_by,
            "decided_by": self.decided_by,
            "from_version": self.from_version,
            "requested_at": self.requested_at,
            "break_glass": self.break_glass,
            "review": self.review,
            "override": self.override,
            "reason": self.reason,
        }


def replay(entries: list[dict[str, Any]], now: dt.datetime | None = None) -> dict[str, Request]:
    """Every request in journal order, with its state as of ``now`` (derived expiry included)."""
    requests: dict[str, Request] = {}
    for e in entries:
        action = e.get("action")
        rid = e.get("request_id")
        if action == "request":
            req = Request(
                request_id=rid,
                action=e.get("kind", ""),
                model=e.get("model", ""),
                version=e.get("version"),
                from_version=e.get("from_version"),
                reason=e.get("reason", ""),
                requested_by=e.get("actor", ""),
                requested_at=e.get("ts", ""),
                break_glass=bool(e.get("break_glass")),
                expires_at=e.get("expires_at"),
                gates=e.get("gates"),
                evidence_hash=e.get("evidence_hash"),
                evidence=e.get("evidence"),
            )
            if req.break_glass:
                req.state = "approved"
                req.decided_by = req.requested_by
                req.decided_at = req.requested_at
                req.review = "pending"
            req.trail.append(e)
            requests[rid] = req
            continue
        req = requests.get(rid) if rid else None
        if req is None:
            continue
        req.trail.append(e)
        if action in ("approve", "reject") and req.break_glass:
            req.review = "signed_off" if action == "approve" else "disputed"
            req.reviewed_by = e.get("actor")
            req.review_comment = e.get("comment")
        elif action in ("approve", "reject"):
            req.state = "approved" if action == "approve" else "rejected"
            req.decided_by = e.get("actor")
            req.decided_at = e.get("ts")
            req.decision_comment = e.get("comment")
            req.override = bool(e.get("override"))
            if "gates" in e:
                req.gates = e.get("gates")
                req.evidence_hash = e.get("evidence_hash")
        elif action == "cancel":
            req.state = "cancelled"
            req.decided_by = e.get("actor")
            req.decided_at = e.get("ts")
        elif action == "expired":
            req.state = "expired"
        elif action == "hook":
            req.hook = {k: e.get(k) for k in ("argv", "returncode", "timed_out", "duration_s", "stdout", "stderr", "error")}
        elif action == "executed":
            req.state = "executed"
            req.produced_version = e.get("produced_version")
            if e.get("version") and not req.version:
                req.version = e.get("version")
        elif action == "failed":
            req.state = "failed"
            req.failure = e.get("detail")
    if now is not None:
        for req in requests.values():
            if is_expired(req, now):
                req.state = "expired"
    return requests


def is_expired(req: Request, now: dt.datetime) -> bool:
    """Pending past its ``expires_at`` (derived; the journal may not say so yet)."""
    if req.state != "pending" or not req.expires_at:
        return False
    try:
        return now >= parse_ts(req.expires_at)
    except ValueError:
        return False


def next_request_id(entries: list[dict[str, Any]]) -> str:
    """``REQ-0001``, ``REQ-0002``, …: one more than the requests journaled so far."""
    n = sum(1 for e in entries if e.get("action") == "request")
    return f"REQ-{n + 1:04d}"
