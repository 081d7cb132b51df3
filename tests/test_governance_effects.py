"""Effects that must not outlive or undo their journal entry: a hook's children die with it
(timeout, interruption), and a damaged serving.json is never replaced by a partial one."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from console.errors import UsageError
from console.governance import effects, engine
from console.workspace import load_dir
from tests.frozen_time import CONSOLE
from tests.test_governance_helpers import (
    ALICE,
    CAROL,
    DAVE,
    build_workspace,
    home_of,
    journal,
    register_keys,
)

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)

# A hook that starts a child and then hangs: the child records its pid, waits, then "deploys".
SPAWNING_HOOK = """\
import os, subprocess, sys, time
root = os.environ["MLOPS_WORKSPACE"]
child = (
    "import os, time, sys\\n"
    "open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\\n"
    "os.rename(sys.argv[1] + '.tmp', sys.argv[1])\\n"
    "time.sleep(float(sys.argv[3]))\\n"
    "open(sys.argv[2], 'w').write('deployed late')\\n"
)
subprocess.Popen([sys.executable, "-c", child, os.path.join(root, "child.pid"),
                  os.path.join(root, "late-deploy"), os.environ.get("CHILD_DELAY", "6")])
while not os.path.exists(os.path.join(root, "child.pid")):
    time.sleep(0.01)
open(os.path.join(root, "hook.ready"), "w").close()
time.sleep(600)
"""


def spawning_workspace(root: Path, timeout: str = "3s") -> Path:
    build_workspace(root, extra_toml=f'[governance]\nhook_timeout = "{timeout}"\n')
    (root / "hooks" / "hang.py").write_text(SPAWNING_HOOK)
    (root / "hooks" / "hang.py").chmod(0o644)
    toml = (root / "console.toml").read_text().replace('rollback = "python hooks/deploy.py"',
                                                         'rollback = "python hooks/hang.py"')
    (root / "console.toml").write_text(toml)
    return root


def dead(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (it can run no more code)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_for(predicate, timeout: float = 30.0) -> bool:
    import time

    deadline = time.monotonic() + timeout  # a bound, not a wait: returns as soon as it holds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_timed_out_hook_takes_its_children_with_it(tmp_path):
    root = spawning_workspace(tmp_path / "ws")
    ws = load_dir(root)
    r = engine.create_request(ws, CAROL, "rollback", "credit", "1", "bad v2", now=NOW)
    engine.decide(ws, ALICE, r.request_id, "approve", "ok", now=NOW)
    req = effects.execute(ws, ALICE, r.request_id, now=NOW)
    assert req.state == "failed" and "timed out" in journal(root)[-1]["detail"]
    pid = int((root / "child.pid").read_text())
    assert wait_for(lambda: dead(pid)), f"the hook's child {pid} outlived the timeout"
    assert not (root / "late-deploy").exists()  # and being dead, it never will
    assert not (root / "serving.json").exists()


def test_a_hook_that_exits_leaves_nothing_running(tmp_path):
    root = build_workspace(tmp_path / "ws")
    (root / "hooks" / "bg.py").write_text(SPAWNING_HOOK.replace("time.sleep(600)", "sys.exit(0)"))
    (root / "hooks" / "bg.py").chmod(0o644)
    toml = (root / "console.toml").read_text().replace('rollback = "python hooks/deploy.py"',
                                                         'rollback = "python hooks/bg.py"')
    (root / "console.toml").write_text(toml)
    ws = load_dir(root)
    r = engine.create_request(ws, CAROL, "rollback", "credit", "1", "bad v2", now=NOW)
    engine.decide(ws, ALICE, r.request_id, "approve", "ok", now=NOW)
    assert effects.execute(ws, ALICE, r.request_id, now=NOW).state == "executed"
    pid = int((root / "child.pid").read_text())
    assert wait_for(lambda: dead(pid))
    assert not (root / "late-deploy").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_console_kills_the_hooks_group(tmp_path, sig):
    import getpass

    me = getpass.getuser()
    root = spawning_workspace(tmp_path / "ws", timeout="10m")
    toml = (root / "console.toml").read_text().replace('reviewers = ["alice", "bob"]', f'reviewers = ["{me}"]')
    (root / "console.toml").write_text(toml)
    register_keys(root, [None])
    ws = load_dir(root)
    engine.create_request(ws, CAROL, "rollback", "credit", "1", "bad v2")  # on the CLI's clock
    env = {**os.environ, "HOME": str(home_of(None)), "CHILD_DELAY": "6"}
    console = subprocess.Popen([*CONSOLE, "approve", "REQ-0001", "--comment", "go", "--workspace", str(root)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: (root / "hook.ready").exists(), 60), console.communicate(timeout=5)
        pid = int((root / "child.pid").read_text())
        console.send_signal(sig)
        console.wait(timeout=30)
        assert wait_for(lambda: dead(pid)), f"the hook's child {pid} outlived the console"
        assert not (root / "late-deploy").exists()
    finally:
        if console.poll() is None:
            console.kill()
            console.wait()


def other_models_serving() -> dict:
    return {"models": {
        "fraud": {"production": "7", "previous": "6", "history": []},
        "credit": {"production": "2", "previous": "1", "history": []},
    }}


@pytest.mark.parametrize("damage", ['{"models": {"fraud": {"production": "7"', '["not", "a", "serving", "file"]'])
def test_a_damaged_serving_file_refuses_the_rollback_and_loses_nothing(tmp_path, damage):
    root = build_workspace(tmp_path / "ws")
    ws = load_dir(root)
    (root / "serving.json").write_text(damage)
    r = engine.create_request(ws, CAROL, "rollback", "credit", "1", "bad v2", now=NOW)
    with pytest.raises(UsageError, match="serving.json is not") as info:
        engine.decide(ws, ALICE, r.request_id, "approve", "ok", now=NOW)
    assert "\n" not in str(info.value) and "nothing was changed" in str(info.value)
    assert (root / "serving.json").read_text() == damage
    assert [e["action"] for e in journal(root)] == ["request"]  # still pending, nothing ran
    assert not (root / "deployments.jsonl").exists()
    with pytest.raises(UsageError, match="serving.json is not"):
        engine.create_request(ws, DAVE, "rollback", "credit", "1", "3am", break_glass=True, now=NOW)
    # repaired: the rollback goes through and every other model keeps its entry
    (root / "serving.json").write_text(json.dumps(other_models_serving()))
    engine.decide(ws, ALICE, r.request_id, "approve", "ok", now=NOW)
    assert effects.execute(ws, ALICE, r.request_id, now=NOW).state == "executed"
    models = json.loads((root / "serving.json").read_text())["models"]
    assert models["fraud"]["production"] == "7" and models["credit"]["production"] == "1"


def test_serving_damaged_while_the_hook_runs_fails_the_request_and_keeps_the_file(tmp_path):
    root = build_workspace(tmp_path / "ws")
    (root / "hooks" / "break.py").write_text(
        "import os\nopen(os.path.join(os.environ['MLOPS_WORKSPACE'], 'serving.json'), 'w').write('{oops')\n")
    (root / "hooks" / "break.py").chmod(0o644)
    toml = (root / "console.toml").read_text().replace('rollback = "python hooks/deploy.py"',
                                                         'rollback = "python hooks/break.py"')
    (root / "console.toml").write_text(toml)
    ws = load_dir(root)
    r = engine.create_request(ws, CAROL, "rollback", "credit", "1", "bad v2", now=NOW)
    engine.decide(ws, ALICE, r.request_id, "approve", "ok", now=NOW)
    req = effects.execute(ws, ALICE, r.request_id, now=NOW)
    assert req.state == "failed" and "serving.json is not valid JSON" in journal(root)[-1]["detail"]
    assert (root / "serving.json").read_text() == "{oops"


def test_hook_runs_in_its_own_session(tmp_path):
    root = build_workspace(tmp_path / "ws")
    (root / "hooks" / "who.py").write_text("import os\nprint(os.getsid(0) == os.getpid(), os.getpgrp() == os.getpid())\n")
    out = effects.run_hook(load_dir(root), [sys.executable, "hooks/who.py"], dict(os.environ))
    assert out["returncode"] == 0 and out["stdout"].split() == ["True", "True"]
