"""Seeding a generated sample workspace with governance history.

``seed_sample_workspace(root)`` adds a pending promotion request for the candidate version of
``credit-risk`` (version 3), raised by the operator ``carol``, so that a reviewer opening the
demo has something to sign off. It writes through the same journal code as every other
request, with an injected identity (the generator runs as whoever runs it). The timestamp is
derived from the registry so the generated journal is byte-for-byte deterministic, and the
request has no expiry (a demo opened months later still finds it pending).

The sample's people (its ``[access]`` lists) are fictional, so their signing keys are the
well-known ``signing.demo_key(name)`` — anyone can derive them, which is what a demo needs and
why a real workspace must never register them. The generator writes their public keys to the
sample's ``signers`` file and signs carol's request with hers, so the sample verifies.
``adopt_copy(root)`` makes a copy of the sample usable by whoever runs ``mlops-console demo``:
they are the administrator of their copy, so their own key is registered and they become an
operator and a reviewer there.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from console import clock
from console.governance.engine import create_request, list_requests
from console.governance.journal import parse_ts
from console.governance.signing import demo_key, demo_seed, own_key, signers_line, signers_path
from console.identity import Identity, os_user
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
    people = sorted(set(ws.operators) | set(ws.reviewers) | {SAMPLE_OPERATOR})
    path = signers_path(ws)
    path.write_text(
        "# The sample's fictional people and their well-known demo keys (anyone can derive them).\n"
        "# user ed25519 <base64 public key> — maintained by the workspace's administrator.\n"
        + "".join(signers_line(name, demo_key(name)) + "\n" for name in people),
        encoding="utf-8",
    )
    admin_only(ws.root)
    for req in list_requests(ws, now):
        if (req.action, req.model, req.version, req.requested_by) == (
            "promote", SAMPLE_MODEL, target.version, SAMPLE_OPERATOR
        ):
            return
    carol = Identity(user=SAMPLE_OPERATOR, operator=True, reviewer=False, key=demo_seed(SAMPLE_OPERATOR))
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
        times.append(clock.as_utc(when))
    return (max(times) if times else FALLBACK_TS) + dt.timedelta(hours=2)


def admin_only(root: Path) -> None:
    """``console.toml``, ``signers`` and ``hooks/`` writable by their owner only (go-w)."""
    root = Path(root)
    paths = [root / "console.toml", root / "signers", root / "hooks"]
    if (root / "hooks").is_dir():
        paths += sorted((root / "hooks").iterdir())
    for path in paths:
        if path.exists() and not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o7755)


def adopt_copy(root: Path) -> str:
    """Make this OS account the administrator of a copy of the sample: register its own key in
    the copy's signers file and add it to the copy's operators and reviewers. Returns the name."""
    user = os_user()
    ws = load_dir(Path(root))
    path = signers_path(ws)
    line = signers_line(user, own_key(create=True))
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if line not in text.splitlines():
        path.write_text(text + line + "\n", encoding="utf-8")
    toml = ws.config_path.read_text(encoding="utf-8")
    for key in ("operators", "reviewers"):
        names = ws.operators if key == "operators" else ws.reviewers
        if user not in names:
            toml = re.sub(rf"(?m)^(\s*{key}\s*=\s*\[)", lambda m: f'{m.group(1)}"{user}", ', toml, count=1)
    ws.config_path.write_text(toml, encoding="utf-8")
    admin_only(Path(root))
    return user
