"""Configuration, hooks and signers only the administrator can change (ssh-StrictModes-like):
with real files and modes, and as real OS accounts where ownership matters."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from console.governance import engine
from console.governance.trust import UntrustedFiles, trust_problems
from console.workspace import load_dir
from tests.test_governance_helpers import (
    CAROL,
    GROUP,
    build_workspace,
    ensure_os_users,
    journal,
    real_users,
    register_keys,
    run_as,
    share_with_team,
)

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_workspace(tmp_path / "ws")


def test_an_admin_only_workspace_is_trusted(root):
    assert trust_problems(load_dir(root)) == []


@pytest.mark.parametrize("target, mode, expect", [
    ("console.toml", 0o664, "console.toml is writable by group"),
    ("console.toml", 0o646, "console.toml is writable by everyone"),
    ("signers", 0o664, "signers is writable by group"),
    ("hooks/deploy.py", 0o775, "deploy.py is writable by group"),
    ("hooks", 0o2775, "hooks is writable by group"),
])
def test_group_or_world_writable_governance_files_refuse_every_action(root, target, mode, expect):
    (root / target).chmod(mode)
    ws = load_dir(root)
    with pytest.raises(UntrustedFiles, match=expect):
        engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW)
    assert journal(root) == []
    p = run_as(None, root, "request", "retrain", "--model", "credit", "--reason", "drift")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert expect in p.stderr and "chmod " in p.stderr
    (root / target).chmod(mode & ~0o022)
    assert engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW).state == "pending"


def test_check_and_the_tui_status_warn(root):
    (root / "console.toml").chmod(0o664)
    p = run_as(None, root, "check", "--format", "json")
    assert "warning: untrusted governance file" in p.stderr and "console.toml" in p.stderr
    json.loads(p.stdout)  # stdout stays the report

    from console.tui.backend import Backend
    from console.tui.widgets.header import ChainBanner

    be = Backend(load_dir(root), CAROL, live=False)
    be.open()
    try:
        st = be.status()
    finally:
        be.close()
    assert st.untrusted and "console.toml is writable by group" in st.untrusted[0]
    banner = ChainBanner()
    banner.update_state(True, None, st.untrusted)
    assert banner.has_class("-broken") and "UNTRUSTED CONFIG" in str(banner.render())


def test_a_hook_program_outside_the_workspace_is_checked_with_its_folders(tmp_path, root):
    tools = tmp_path / "tools"
    tools.mkdir()
    hook = tools / "deploy.sh"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    toml = (root / "console.toml").read_text().replace('promote = "python hooks/deploy.py"',
                                                         f'promote = "{hook}"')
    (root / "console.toml").write_text(toml)
    assert trust_problems(load_dir(root)) == []
    tools.chmod(0o777)
    assert any("tools" in p and "writable by group or others" in p for p in trust_problems(load_dir(root)))


# -- as real accounts --------------------------------------------------------------------------


@pytest.fixture
def team(tmp_path):
    ensure_os_users()
    base = Path(tempfile.mkdtemp(prefix="mlc-trust-"))
    base.chmod(0o755)
    root = build_workspace(base / "ws", operators=("mlc-carol",), reviewers=("mlc-alice", "mlc-bob"))
    register_keys(root, ["mlc-carol", "mlc-alice", "mlc-bob", "mlc-eve"])
    share_with_team(root)
    yield root
    shutil.rmtree(base, ignore_errors=True)


def sh_as(user: str, root: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", "-c", script], user=user, group=GROUP, extra_groups=[], umask=0o002,
                          cwd=root, capture_output=True, text=True, timeout=60)


@real_users
def test_a_member_cannot_make_herself_a_reviewer(team):
    """The reported attack: eve (read-only) edits console.toml to list herself, then approves."""
    root = team
    assert run_as("mlc-carol", root, "request", "retrain", "--model", "credit", "--reason", "x").returncode == 0
    p = sh_as("mlc-eve", root, "echo 'reviewers = [\"mlc-eve\"]' >> console.toml")
    assert p.returncode != 0 and "Permission denied" in p.stderr  # the admin's file: not hers to edit
    # the workspace folder is group-writable (the journal lives there): she swaps the file instead
    p = sh_as("mlc-eve", root, "sed 's/reviewers = \\[/reviewers = [\"mlc-eve\", /' console.toml > mine && "
                               "mv -f mine console.toml")
    assert p.returncode == 0, p.stderr
    assert '"mlc-eve"' in (root / "console.toml").read_text()
    p = run_as("mlc-eve", root, "approve", "REQ-0001", "--comment", "me")
    assert p.returncode == 2 and "console.toml is owned by mlc-eve" in p.stderr, p.stderr
    p = run_as("mlc-alice", root, "approve", "REQ-0001", "--comment", "ok")  # nobody acts on her file
    assert p.returncode == 2 and "console.toml is owned by mlc-eve" in p.stderr
    assert [e["action"] for e in journal(root)] == ["request"]


@real_users
def test_a_member_cannot_plant_code_in_a_hook(team):
    """Code added to hooks/deploy.py would run as the next reviewer: not writable, and a
    replaced hooks folder or a group-writable one refuses every action."""
    root = team
    p = sh_as("mlc-eve", root, "echo 'open(\"pwned\", \"w\")' >> hooks/deploy.py")
    assert p.returncode != 0 and "Permission denied" in p.stderr
    p = sh_as("mlc-eve", root, "mv hooks old-hooks && cp -r old-hooks hooks && "
                               "echo 'open(\"pwned\", \"w\")' >> hooks/deploy.py")
    assert p.returncode == 0, p.stderr
    assert run_as("mlc-carol", root, "request", "rollback", "--model", "credit", "--version", "1",
                  "--reason", "x").returncode == 2
    p = run_as("mlc-carol", root, "request", "rollback", "--model", "credit", "--version", "1", "--reason", "x")
    assert "is owned by mlc-eve" in p.stderr and "hooks" in p.stderr
    assert not (root / "pwned").exists()
    shutil.rmtree(root / "hooks")
    (root / "old-hooks").rename(root / "hooks")
    os.chmod(root / "hooks", 0o2775)  # the old share_with_team: group-writable hooks
    p = run_as("mlc-carol", root, "request", "rollback", "--model", "credit", "--version", "1", "--reason", "x")
    assert p.returncode == 2 and f"hooks is writable by group {GROUP}: chmod g-w" in p.stderr
