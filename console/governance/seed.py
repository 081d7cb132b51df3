"""Seeding a generated sample workspace with governance history.

``seed_sample_workspace(root)`` adds a pending promotion request for the candidate version of
``credit-risk`` (version 3), raised by the operator ``carol``, so that a reviewer opening the
demo has something to sign off. It writes through the same journal code as every other
request, with an injected identity (the generator runs as whoever runs it). The timestamp is
derived from the registry so the generated journal is byte-for-byte deterministic, and the
request has no expiry (a demo opened months later still finds it pending).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from console.governance.engine import create_request, list_requests
from console.governance.journal import parse_ts
from console.identity import Identity
from console.store.registry import load_registry, version_sort_key
from console.workspace import load_dir

SAMPLE_MODEL = "credit-risk"
SAMPLE_VERSION = "3"
SAMPLE_OPERATOR = "carol"
FALLBACK_TS = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
REASON = (
    "Candidate version 3 scores better than production in offline evaluation; "
    "please review its gates and evidence and promote it."
)


def seed_sample_workspace(root: Path) -> None:
    """Add the sample's pending promotion request (idempotent: nothing if it is already there)."""
    ws = load_dir(Path(root))
    registry = load_registry(ws.registry, ws.root)
    versions = registry.versions_of(SAMPLE_MODEL)
    if not versions:
        raise ValueError(f"the sample workspace has no {SAMPLE_MODEL!r} model")
    target = registry.get(SAMPLE_MODEL, SAMPLE_VERSION)
    if target is None:  # tolerate a generator that numbers differently: the newest candidate
        candidates = [v for v in versions if v.stage == "candidate"] or versions
        target = max(candidates, key=lambda v: version_sort_key(v.version))
    now = _seed_time([v.created_at for v in versions])
    for req in list_requests(ws, now):
        if (req.action, req.model, req.version, req.requested_by) == (
            "promote", SAMPLE_MODEL, target.version, SAMPLE_OPERATOR
        ):
            return
    carol = Identity(user=SAMPLE_OPERATOR, operator=True, reviewer=False)
    create_request(
        ws, carol, "promote", SAMPLE_MODEL, target.version, REASON,
        now=now, registry=registry, ttl=None,
    )


def _seed_time(created: list[str | None]) -> dt.datetime:
    """Two hours after the newest version was registered (deterministic)."""
    times = []
    for text in created:
        if not text:
            continue
        try:
            when = parse_ts(text)
        except ValueError:
            continue
        times.append(when if when.tzinfo else when.replace(tzinfo=dt.UTC))
    return (max(times) if times else FALLBACK_TS) + dt.timedelta(hours=2)
