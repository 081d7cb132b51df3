"""The real deployment: one workspace shared by several OS accounts in one group, set up as
docs/governance.md prescribes (group-owned, setgid folders, umask 002; console.toml and
hooks/ owned by the admin and not group-writable). Three real accounts take turns — ingest,
check, drift, request, approve (the hooks run as the approver), the TUI in a real terminal —
and afterwards every file and folder any of them created can be read and replaced by every
other member. Runs as root (CI is root; it creates the accounts), skips otherwise.
"""

from __future__ import annotations

import grp
import json
import os
import pty
import pwd
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.frozen_time import CONSOLE
from tests.test_governance_helpers import (
    GROUP,
    can_make_users,
    ensure_os_users,
    home_of,
    real_users,
    register_keys,
    run_as,
    share_with_team,
)

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
OPERATOR, REVIEWER, ANALYST = "mlc-carol", "mlc-alice", "mlc-eve"
ACCOUNTS = (OPERATOR, REVIEWER, ANALYST)
ADMIN_OWNED = ("console.toml", "hooks", "signers")  # who may approve, what runs, whose signature counts


@dataclass
class SharedWorkspace:
    """A workspace shared by ``accounts`` through ``group``; ``homes`` are their real homes."""

    root: Path
    group: str
    accounts: tuple[str, ...]
    homes: dict[str, Path] = field(default_factory=dict)

    def env(self, user: str) -> dict[str, str]:
        return {"HOME": str(self.homes[user]), "USER": user, "LOGNAME": user}

    def run(self, user: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``mlops-console ARGS`` as ``user`` (umask 002, only the team group)."""
        return run_as(user, self.root, *args, timeout=timeout, env=self.env(user))


def make_shared_workspace(
    base: Path,
    operators: tuple[str, ...] = (OPERATOR,),
    reviewers: tuple[str, ...] = (REVIEWER,),
    accounts: tuple[str, ...] = ACCOUNTS,
) -> SharedWorkspace:
    """A copy of the sample workspace at ``base/ws`` set up for the team, as root would:

    - the mlc-* accounts exist (group mlc-team) and have real home directories;
    - everything is group mlc-team, group-writable, folders setgid (``share_with_team``: the
      ``chgrp -R`` / ``chmod -R g+w`` / ``chmod g+s`` of docs/governance.md);
    - ``[access]`` names the accounts; ``console.toml``, ``signers`` and ``hooks/`` belong to the
      admin (root:root, 0644 / 0755): members run the hooks but cannot change them;
    - each account has a private home (its signing key), and the admin registered its key.
    """
    ensure_os_users()
    base.chmod(0o755)
    root = base / "ws"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".console"))
    toml = (root / "console.toml").read_text()
    toml = toml.replace('operators = ["carol", "dave"]', f"operators = {json.dumps(list(operators))}")
    toml = toml.replace('reviewers = ["alice", "bob"]', f"reviewers = {json.dumps(list(reviewers))}")
    assert json.dumps(list(operators)) in toml and json.dumps(list(reviewers)) in toml
    (root / "console.toml").write_text(toml)
    share_with_team(root)
    os.chown(root / "console.toml", 0, 0)
    (root / "console.toml").chmod(0o644)
    for dirpath, _dirs, files in os.walk(root / "hooks"):
        os.chown(dirpath, 0, 0)
        os.chmod(dirpath, 0o755)
        for name in files:
            os.chown(os.path.join(dirpath, name), 0, 0)
            os.chmod(os.path.join(dirpath, name), 0o755)
    ws = SharedWorkspace(root, GROUP, accounts)
    ws.homes = {user: home_of(user) for user in accounts}  # private: each one's signing key
    register_keys(root, accounts)  # the admin adds each account's public key to signers
    return ws


@pytest.fixture
def shared() -> Iterator[SharedWorkspace]:
    why = can_make_users()
    if why:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="mlc-shared-"))
    try:
        yield make_shared_workspace(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def add_late_records(root: Path, n: int = 40) -> None:
    """A new log file (as root, the way a log shipper would) with records for days the store
    already has: the next ingester writes parts into folders another account created."""
    import gzip

    src = sorted((root / "logs" / "credit-risk").glob("*.jsonl.gz"))[-1]
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        lines = [json.loads(line) for _, line in zip(range(n), fh, strict=False)]
    for rec in lines:
        rec["request_id"] = f"{rec['request_id']}-late"
    path = root / "logs" / "credit-risk" / "late.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    share_with_team(path.parent)


def launch_tui(ws: SharedWorkspace, user: str, needle: bytes = b"credit-risk") -> tuple[int, bytes]:
    """The console in a real terminal as ``user``: wait until it drew the fleet, press q."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_CONSOLE_WORKSPACE"}
    env.update(ws.env(user), TERM="xterm-256color", COLUMNS="120", LINES="40")
    proc = subprocess.Popen([*CONSOLE, "--workspace", str(ws.root)], stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=ws.root, user=user, group=GROUP, extra_groups=[], umask=0o002,
                            start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and needle not in seen:
            seen += _read(master, 0.2)
        assert needle in seen, seen[-800:]
        os.write(master, b"q")
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            seen += _read(master, 0.2)
        code = proc.wait(timeout=5)
        seen += _read(master, 0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, seen


def _read(fd: int, wait: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], wait)
    if not ready:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


PROBE = r"""
import json, os, sys
root, me = sys.argv[1], os.getuid()
skip = {os.path.join(root, p) for p in json.loads(sys.argv[2])}
bad = []
for dirpath, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if os.path.join(dirpath, d) not in skip]
    probe = os.path.join(dirpath, ".probe-%d" % me)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.unlink(probe)
    except OSError as exc:
        bad.append(["folder", dirpath, exc.strerror])
    for name in files:
        path = os.path.join(dirpath, name)
        if path in skip or os.lstat(path).st_uid == me:
            continue
        try:
            os.close(os.open(path, os.O_RDWR | os.O_NOFOLLOW))
        except OSError as exc:
            bad.append(["file", path, exc.strerror])
print(json.dumps(bad))
"""


@real_users
def test_three_accounts_share_one_workspace(shared: SharedWorkspace) -> None:
    ws, root = shared, shared.root
    steps: list[tuple[str, str, subprocess.CompletedProcess, set[int]]] = []

    def step(user: str, expect: set[int], *args: str) -> subprocess.CompletedProcess:
        proc = ws.run(user, *args)
        steps.append((user, " ".join(args), proc, expect))
        assert proc.returncode in expect, (user, args, proc.returncode, proc.stderr[-2000:])
        return proc

    step(ANALYST, {0}, "ingest", "--format", "json")  # creates .console/: lock, parts, checkpoint
    add_late_records(root)
    late = json.loads(step(OPERATOR, {0}, "ingest", "--format", "json").stdout)  # the lock and folders eve made
    assert late["predictions"] == 40
    step(REVIEWER, {1}, "check", "--format", "json")  # the sample has problems: exit 1
    step(ANALYST, {1}, "check", "--format", "json")  # reads (and replaces) alice's cache
    step(OPERATOR, {0}, "drift", "--model", "credit-risk", "--format", "json")  # the reference copy
    step(ANALYST, {0}, "drift", "--model", "credit-risk", "--format", "json")  # reads carol's copy
    req = json.loads(step(OPERATOR, {0}, "request", "rollback", "--model", "credit-risk", "--version", "1",
                          "--reason", "v2 misbehaves", "--format", "json").stdout)
    done = json.loads(step(REVIEWER, {0}, "approve", req["request_id"], "--comment", "ok, roll back",
                           "--format", "json").stdout)
    assert done["state"] == "executed"
    retrain = json.loads(step(OPERATOR, {0}, "request", "retrain", "--model", "delivery-eta",
                              "--reason", "fresh data", "--format", "json").stdout)
    done = json.loads(step(REVIEWER, {0}, "approve", retrain["request_id"], "--comment", "go",
                           "--format", "json").stdout)  # the hook writes models/, reference/, registry/
    assert done["state"] == "executed" and done["produced_version"]
    step(ANALYST, {0}, "audit", "verify", "--format", "json")
    assert json.loads((root / "serving.json").read_text())  # replaced by alice

    for user in (ANALYST, OPERATOR):  # the TUI ingests live, as a third and a first account
        code, screen = launch_tui(ws, user)
        assert code == 0, screen[-800:]
        assert b"Traceback" not in screen

    for user, what, proc, expect in steps:
        assert "Traceback" not in proc.stderr, (user, what, proc.stderr)
        assert proc.returncode in expect

    # every file and folder a member created: the team's group, group read-write (folders
    # group rwx and setgid), so any other member can read and replace it
    uids = {pwd.getpwnam(u).pw_uid: u for u in ws.accounts}
    gid = grp.getgrnam(ws.group).gr_gid
    created, bad = [], []
    for dirpath, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(dirpath) / name
            st = os.lstat(path)
            if st.st_uid not in uids:
                continue
            created.append(path)
            rel = f"{path.relative_to(root)} ({uids[st.st_uid]}, {oct(stat.S_IMODE(st.st_mode))}, gid {st.st_gid})"
            if st.st_gid != gid or stat.S_ISLNK(st.st_mode):
                bad.append(rel)
            elif stat.S_ISDIR(st.st_mode) and (st.st_mode & 0o070 != 0o070 or not st.st_mode & stat.S_ISGID):
                bad.append(rel)
            elif stat.S_ISREG(st.st_mode) and st.st_mode & 0o060 != 0o060:
                bad.append(rel)
    assert bad == []
    names = {p.relative_to(root).as_posix() for p in created}
    for expected in (".console", ".console/ingest.lock", ".console/checkpoint.json", "serving.json",
                     "journal.head", "deployments.jsonl"):
        assert expected in names, sorted(names)[:40]
    assert any(n.startswith(".console/cache/") and n.endswith(".json") for n in names)
    assert any(n.startswith(".console/cache/") and n.endswith(".parquet") for n in names)
    assert any(n.startswith(".console/parts/predictions/") and n.endswith(".parquet") for n in names)
    assert any(n.startswith("registry/delivery-eta/") for n in names)
    assert {uids[os.lstat(p).st_uid] for p in created} == set(ws.accounts)

    # and the proof: each member opens for writing every file the others created, and creates
    # and deletes a file in every folder (the admin-owned config and hooks excepted)
    for user in ws.accounts:
        probe = subprocess.run([sys.executable, "-c", PROBE, str(root), json.dumps(list(ADMIN_OWNED))],
                               capture_output=True, text=True, user=user, group=GROUP, extra_groups=[],
                               umask=0o002, timeout=120, env={"PATH": os.environ.get("PATH", "")})
        assert probe.returncode == 0, probe.stderr
        assert json.loads(probe.stdout) == [], (user, probe.stdout[:2000])

    # the admin's files stayed the admin's: not group-writable, not replaced
    for name in ADMIN_OWNED:
        st = os.stat(root / name)
        assert st.st_uid == 0 and not st.st_mode & 0o022
