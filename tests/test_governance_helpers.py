"""Shared builders for the governance tests: small real workspaces on disk, real OS users.

``build_workspace`` writes a console.toml, a registry of ``credit`` versions, and (optionally)
a few days of seeded, labelled prediction logs with a drift episode plus the sample hooks.
``os_users`` creates real OS accounts (only as root with ``useradd``) so the CLI can run as them.
The in-process people (CAROL, ALICE, …) sign with their well-known demo keys, which
``build_workspace`` registers in the workspace's ``signers`` file; real accounts get their own
keys in their own home (``home_of``), registered with ``register_keys`` — as an admin would.
"""

from __future__ import annotations

import datetime as dt
import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from console.governance.signing import demo_key, demo_seed, signers_line
from console.identity import Identity
from tests.frozen_time import CONSOLE

HOOKS_SRC = Path(__file__).resolve().parent.parent / "console" / "samplegen" / "hooks"
USERS = ("mlc-alice", "mlc-bob", "mlc-carol", "mlc-dave", "mlc-eve")
GROUP = "mlc-team"
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)

PEOPLE = ("carol", "dave", "alice", "bob", "eve")


def person(name: str, **roles) -> Identity:
    """An in-process identity that signs with ``name``'s demo key."""
    return Identity(name, key=demo_seed(name), **roles)


CAROL = person("carol", operator=True)
DAVE = person("dave", operator=True)
ALICE = person("alice", reviewer=True)
BOB = person("bob", reviewer=True)
EVE = person("eve")


def write_signers(root: Path, names=PEOPLE) -> None:
    """The allowed-signers file with the demo keys of ``names`` (admin-owned, 0644)."""
    path = root / "signers"
    path.write_text("".join(signers_line(n, demo_key(n)) + "\n" for n in names))
    path.chmod(0o644)


def admin_only(root: Path) -> None:
    """console.toml, signers, hooks/ and its files: writable by their owner only."""
    for path in (root / "console.toml", root / "signers", root / "hooks"):
        if path.exists():
            path.chmod(path.stat().st_mode & 0o7755)
    if (root / "hooks").is_dir():
        for f in (root / "hooks").iterdir():
            f.chmod(f.stat().st_mode & 0o7755)


def toml_list(names) -> str:
    return "[" + ", ".join(f'"{n}"' for n in names) + "]"


def build_workspace(
    root: Path,
    operators=("carol", "dave"),
    reviewers=("alice", "bob"),
    extra_toml: str = "",
    hooks: bool = True,
    logs_days: int = 0,
    rows_per_day: int = 150,
    seed: int = 7,
    model: str = "credit",
) -> Path:
    """A workspace with credit 1 (archived), 2 (production), 3 (candidate)."""
    for d in ("logs", "labels", f"registry/{model}", "hooks"):
        (root / d).mkdir(parents=True, exist_ok=True)
    hook_toml = ""
    if hooks:
        for name in ("retrain.py", "deploy.py"):
            shutil.copy(HOOKS_SRC / name, root / "hooks" / name)
        hook_toml = (
            '[hooks]\nretrain = "python hooks/retrain.py"\npromote = "python hooks/deploy.py"\n'
            'rollback = "python hooks/deploy.py"\n'
        )
    (root / "console.toml").write_text(
        f'[workspace]\nname = "gov-test"\n\n[sources]\npredictions = ["logs"]\nlabels = ["labels"]\n'
        f'registry = "registry"\n\n[access]\noperators = {toml_list(operators)}\n'
        f"reviewers = {toml_list(reviewers)}\n\n{hook_toml}\n{extra_toml}"
    )
    lineage = {"data_hash": "sha256:abc", "code_commit": "0123abc", "training_data": "warehouse://t"}
    for version, stage, auc in (("1", "archived", 0.70), ("2", "production", 0.80), ("3", "candidate", 0.84)):
        write_version(root, version, stage, {"roc_auc": auc, "accuracy": 0.7}, lineage, model=model)
    if logs_days:
        write_logs(root, logs_days, rows_per_day, seed)
        ref = write_reference(root, "2", 600, seed)
        write_version(root, "2", "production", {"roc_auc": 0.80, "accuracy": 0.7}, lineage, model=model,
                      reference=ref)
    write_signers(root)
    admin_only(root)
    return root


def write_version(root: Path, version: str, stage: str, metrics: dict, lineage: dict, model: str = "credit",
                  **extra) -> None:
    doc = {
        "model": model, "version": version, "task": "binary", "stage": stage,
        "created_at": f"2026-09-{10 + int(version):02d}T08:00:00Z", "created_by": "test",
        "features": {"income": "numeric", "age": "numeric", "region": "categorical"},
        "metrics": metrics, "slices": ["region"], "positive_label": 1, "threshold": 0.5,
        "lineage": lineage, **extra,
    }
    path = root / "registry" / model / f"{version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))


def _draw(rng, drift: bool):
    income = float(rng.lognormal(np.log(50_000 * (1.6 if drift else 1.0)), 0.3))
    age = float(rng.integers(18, 80))
    region = str(rng.choice(["north", "south", "east", "mars"] if drift else ["north", "south", "east"]))
    logit = -1.0 + (50_000 - income) / 20_000 + (0.8 if region == "north" else 0.0)
    y = int(rng.random() < 1 / (1 + np.exp(-logit)))
    score = float(np.clip(1 / (1 + np.exp(-logit)) + rng.normal(0, 0.1), 0, 1))
    return income, age, region, y, score


def write_reference(root: Path, version: str, rows: int, seed: int, drifted: bool = False) -> str:
    """The version's drift baseline (Parquet, record format), drawn before any drift (or from
    the drifted population)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng([seed, 99])
    draws = [_draw(rng, drifted) for _ in range(rows)]
    table = pa.table({
        "ts": pa.array([START - dt.timedelta(days=30) + dt.timedelta(minutes=i) for i in range(rows)],
                       type=pa.timestamp("ms", tz="UTC")),
        "model": ["credit"] * rows, "version": [version] * rows,
        "request_id": [f"ref-{i}" for i in range(rows)],
        "income": [round(d[0], 2) for d in draws], "age": [d[1] for d in draws],
        "region": [d[2] for d in draws], "prediction": [int(d[4] >= 0.5) for d in draws],
        "score": [round(d[4], 4) for d in draws], "label": [d[3] for d in draws],
    })
    rel = f"reference/credit/{version}.parquet"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / rel)
    return rel


def write_logs(root: Path, days: int, per_day: int, seed: int) -> None:
    """Labelled traffic of version 2; the last third of the days drifts (income up, new region)."""
    rng = np.random.default_rng(seed)
    lines, labels = [], []
    for d in range(days):
        drift = d >= days - max(1, days // 3)
        for i in range(per_day):
            income, age, region, y, score = _draw(rng, drift)
            ts = START + dt.timedelta(days=d, seconds=int(i * 86400 / per_day))
            rid = f"r{d:03d}-{i:05d}"
            rec = {"ts": ts.isoformat().replace("+00:00", "Z"), "model": "credit", "version": "2",
                   "request_id": rid, "features": {"income": round(income, 2), "age": age, "region": region},
                   "prediction": int(score >= 0.5), "score": round(score, 4), "latency_ms": 12.0}
            if i % 2 == 0:
                rec["label"] = y
            else:
                labels.append(json.dumps({"request_id": rid, "label": y, "model": "credit"}))
            lines.append(json.dumps(rec))
    (root / "logs" / "credit.jsonl").write_text("\n".join(lines) + "\n")
    (root / "labels" / "late.jsonl").write_text("\n".join(labels) + "\n")


def journal(root: Path) -> list[dict]:
    path = root / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- real OS users ----------------------------------------------------------------------------


def can_make_users() -> str | None:
    """None when real OS users can be created here, else why not."""
    if os.geteuid() != 0:
        return "needs root to create OS accounts (CI and the dev box run as root)"
    if shutil.which("useradd") is None or shutil.which("groupadd") is None:
        return "useradd/groupadd not available"
    return None


def ensure_os_users() -> list[str]:
    """Create mlc-* accounts in group mlc-team (idempotent, safe across pytest-xdist workers).

    The accounts must be able to run this interpreter: when it lives below a folder they
    cannot traverse (pyenv under /root, mode 0700), that folder gets o+x — traverse only,
    nothing becomes listable or readable that was not already.
    """
    import fcntl

    with open("/tmp/.mlc-gov-users.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            grp.getgrnam(GROUP)
        except KeyError:
            subprocess.run(["groupadd", GROUP], check=True, capture_output=True)
        for user in USERS:
            try:
                pwd.getpwnam(user)
            except KeyError:
                subprocess.run(["useradd", "--no-create-home", "-g", GROUP, "-s", "/usr/sbin/nologin", user],
                               check=True, capture_output=True)
        for path in (Path(sys.executable), Path(sys.executable).resolve(), Path(__file__).resolve()):
            for folder in reversed(path.parents):
                mode = folder.stat().st_mode
                if not mode & 0o001:
                    os.chmod(folder, (mode & 0o7777) | 0o001)
    return list(USERS)


def share_with_team(path: Path) -> None:
    """Make ``path`` and everything in it usable by the mlc-team (group-owned, setgid, g+w) —
    except what only the administrator (root, here) may change: console.toml, signers, hooks/."""
    gid = grp.getgrnam(GROUP).gr_gid
    admin = {path / "console.toml", path / "signers", path / "hooks"}
    for dirpath, _dirnames, filenames in os.walk(path):
        os.chown(dirpath, -1, gid)
        protected = Path(dirpath) in admin or Path(dirpath).parent in admin
        os.chmod(dirpath, 0o2755 if protected else 0o2775)
        for f in filenames:
            p = os.path.join(dirpath, f)
            os.chown(p, -1, gid)
            write = 0o644 if protected or Path(p) in admin else 0o664
            os.chmod(p, write | (os.stat(p).st_mode & 0o111))


def home_of(user: str | None) -> Path:
    """A private home for ``user`` (None: this process's account) where its signing key lives."""
    import getpass
    import tempfile

    name = user or getpass.getuser()
    base = Path(tempfile.gettempdir()) / "mlc-homes"
    base.mkdir(mode=0o755, exist_ok=True)
    home = base / name
    if not home.is_dir():
        home.mkdir(mode=0o700, exist_ok=True)
        if user is not None:
            shutil.chown(home, user, GROUP)
    return home


_KEY_LINES: dict[str | None, str] = {}


def register_keys(root: Path, users) -> list[str]:
    """As the administrator: add each account's own public key (``keys show`` run as that
    account, creating its key on first use) to the workspace's signers file."""
    lines = []
    for user in users:
        if user not in _KEY_LINES:  # the key lives in the account's home: ask once a session
            p = run_as(user, root, "keys", "show")
            assert p.returncode == 0, p.stderr
            _KEY_LINES[user] = p.stdout.strip()
        lines.append(_KEY_LINES[user])
    path = root / "signers"
    old = path.read_text() if path.exists() else ""
    path.write_text(old + "".join(line + "\n" for line in lines))
    path.chmod(0o644)
    return lines


def run_as(user: str | None, root: Path, *args: str, timeout: float = 120, env=None) -> subprocess.CompletedProcess:
    """``python -m console -w ROOT ARGS`` as OS account ``user`` (None: this process's user)."""
    kwargs = {}
    if user is not None:
        kwargs = {"user": user, "group": GROUP, "extra_groups": [], "umask": 0o002}  # no root groups
    full_env = {k: v for k, v in os.environ.items() if k != "MLOPS_CONSOLE_WORKSPACE"}
    full_env["HOME"] = str(home_of(user))  # unless ``env`` gives another
    full_env.update(env or {})
    return subprocess.run(
        [*CONSOLE, *args, "--workspace", str(root)],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=root, **kwargs,
    )


real_users = pytest.mark.skipif(can_make_users() is not None, reason=str(can_make_users()))
