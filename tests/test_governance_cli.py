"""The governance commands as real OS users (root only), and races between real processes."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing as mp
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from console.errors import UsageError
from console.governance import engine
from console.governance.engine import AlreadyDecided
from console.workspace import load_dir
from tests.frozen_time import CONSOLE
from tests.test_governance_helpers import (
    ALICE,
    BOB,
    CAROL,
    USERS,
    build_workspace,
    home_of,
    journal,
    real_users,
    register_keys,
    run_as,
    share_with_team,
)

OPS = ("mlc-carol", "mlc-dave")
REVS = ("mlc-alice", "mlc-bob")


@pytest.fixture
def team_ws(os_accounts):
    """A workspace shared by the mlc-team group, outside pytest's private tmp dirs."""
    base = Path(tempfile.mkdtemp(prefix="mlc-gov-"))
    base.chmod(0o755)
    root = build_workspace(base / "ws", operators=OPS, reviewers=REVS)
    register_keys(root, USERS)
    share_with_team(root)
    yield root
    shutil.rmtree(base, ignore_errors=True)


def js(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@real_users
def test_four_eyes_as_real_os_users(team_ws):
    root = team_ws
    r = js(run_as("mlc-carol", root, "request", "promote", "--model", "credit", "--version", "3",
                  "--reason", "offline AUC up", "--format", "json"))
    rid = r["request_id"]
    assert r["state"] == "pending" and r["requested_by"] == "mlc-carol"
    assert {g["gate"] for g in r["gates"]} == {"offline_metric", "live_metric", "slices", "drift", "lineage"}

    # the requester is not a reviewer; a non-member is nobody; env vars do not change identity
    p = run_as("mlc-carol", root, "approve", rid, "--comment", "me", "--format", "json")
    assert p.returncode == 2 and "not a reviewer" in p.stderr and p.stdout == ""
    p = run_as("mlc-eve", root, "approve", rid, "--comment", "x",
               env={"USER": "mlc-alice", "LOGNAME": "mlc-alice", "SUDO_USER": "mlc-alice"})
    assert p.returncode == 2 and "mlc-eve is not a reviewer" in p.stderr
    p = run_as("mlc-eve", root, "request", "retrain", "--model", "credit", "--reason", "x")
    assert p.returncode == 2 and "not an operator" in p.stderr

    # gates that did not pass need an explicit override
    p = run_as("mlc-alice", root, "approve", rid, "--comment", "ok")
    assert p.returncode == 2 and "override" in p.stderr
    r = js(run_as("mlc-alice", root, "approve", rid, "--override", "--format", "json",
                  "--comment", "no shadow traffic yet; offline +0.04 AUC justifies it"))
    assert (r["state"], r["decided_by"], r["override"]) == ("executed", "mlc-alice", True)
    assert json.loads((root / "serving.json").read_text())["models"]["credit"]["production"] == "3"

    models = js(run_as("mlc-bob", root, "models", "--format", "json"))
    assert models[0]["production"] == "3"
    rows = js(run_as("mlc-bob", root, "requests", "--format", "json"))
    assert rows[0]["request_id"] == rid
    assert {k: rows[0][k] for k in ("action", "model", "version", "state", "requested_by", "decided_by")} == {
        "action": "promote", "model": "credit", "version": "3", "state": "executed",
        "requested_by": "mlc-carol", "decided_by": "mlc-alice"}

    entries = journal(root)
    refused = [e for e in entries if e["action"] == "refused"]
    assert [e["actor"] for e in refused] == ["mlc-carol", "mlc-eve", "mlc-eve", "mlc-alice"]
    assert [e["attempt"] for e in refused] == ["approve", "approve", "request retrain", "approve"]
    assert {e["actor"] for e in entries if e["action"] != "refused"} == {"mlc-carol", "mlc-alice"}

    v = run_as("mlc-dave", root, "audit", "verify", "--format", "json")
    assert v.returncode == 0 and json.loads(v.stdout) == {
        "ok": True, "entries": len(entries), "first_bad_seq": None, "problems": [], "partial_tail": False,
        "signed": len(entries), "signers": str(root / "signers")}

    # cancelling: only the requester
    r = js(run_as("mlc-carol", root, "request", "retrain", "--model", "credit", "--reason", "drift",
                  "--format", "json"))
    p = run_as("mlc-dave", root, "cancel", r["request_id"])
    assert p.returncode == 2 and "only mlc-carol" in p.stderr
    assert js(run_as("mlc-carol", root, "cancel", r["request_id"], "--format", "json"))["state"] == "cancelled"

    # break-glass rollback by an operator, reviewed afterwards by a reviewer
    r = js(run_as("mlc-dave", root, "request", "rollback", "--model", "credit", "--break-glass",
                  "--reason", "v3 errors at 3am", "--format", "json"))
    assert (r["state"], r["version"], r["break_glass"], r["review"]) == ("executed", "2", True, "pending")
    assert json.loads((root / "serving.json").read_text())["models"]["credit"]["production"] == "2"
    r = js(run_as("mlc-bob", root, "approve", r["request_id"], "--comment", "right call", "--format", "json"))
    assert r["review"] == "signed_off"

    # a tampered journal is caught from the CLI
    lines = (root / "journal.jsonl").read_text().splitlines(keepends=True)
    entry = json.loads(lines[1])
    entry["actor"] = "mlc-bob"
    lines[1] = json.dumps(entry) + "\n"
    (root / "journal.jsonl").write_text("".join(lines))
    v = run_as("mlc-alice", root, "audit", "verify", "--format", "json")
    assert v.returncode == 1 and json.loads(v.stdout)["first_bad_seq"] == 2


@real_users
def test_simultaneous_decisions_by_real_users(team_ws):
    root = team_ws
    r = js(run_as("mlc-carol", root, "request", "rollback", "--model", "credit", "--version", "1",
                  "--reason", "v2 regression", "--format", "json"))
    import subprocess

    procs = []
    for i, user in enumerate(("mlc-alice", "mlc-bob") * 3):
        verdict = "approve" if i % 2 == 0 else "reject"
        procs.append(subprocess.Popen(
            [*CONSOLE, verdict, r["request_id"], "--comment", f"{user} #{i}",
             "--workspace", str(root)],
            user=user, group="mlc-team", extra_groups=[], umask=0o002, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=root, env={**os.environ, "HOME": str(home_of(user))},
        ))
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    winners = [res for res in results if res[0] == 0]
    losers = [res for res in results if res[0] != 0]
    assert len(winners) == 1, results
    assert all(code == 2 and "already decided" in err for code, _, err in losers), losers
    decisions = [e for e in journal(root) if e["action"] in ("approve", "reject")]
    assert len(decisions) == 1
    assert all(decisions[0]["actor"] in err for _, _, err in losers)


def _decide_worker(root: str, ident, rid: str, barrier, queue) -> None:
    from console import clock
    from tests.frozen_time import FROZEN

    clock.freeze(FROZEN)  # a spawned process: the same frozen clock as the test
    ws = load_dir(Path(root))
    barrier.wait()
    try:
        req = engine.decide(ws, ident, rid, "approve" if ident.user == "alice" else "reject", f"by {ident.user}")
        queue.put(("won", ident.user, req.state))
    except AlreadyDecided as exc:
        queue.put(("lost", ident.user, str(exc)))
    except UsageError as exc:  # pragma: no cover - would fail the assertions below
        queue.put(("error", ident.user, str(exc)))


def test_simultaneous_decisions_in_processes(tmp_path):
    """Real processes (injected identities) racing on one request: exactly one decision stands."""
    root = build_workspace(tmp_path / "ws", hooks=False)
    ws = load_dir(root)
    rid = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift").request_id
    ctx = mp.get_context("spawn")
    n = 6
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_decide_worker, args=(str(root), (ALICE, BOB)[i % 2], rid, barrier, queue))
             for i in range(n)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=60) for _ in range(n)]
    for p in procs:
        p.join(timeout=60)
    won = [o for o in outcomes if o[0] == "won"]
    lost = [o for o in outcomes if o[0] == "lost"]
    assert len(won) == 1 and len(lost) == n - 1, outcomes
    assert all(f"by {won[0][1]}" in o[2] for o in lost)
    assert len([e for e in journal(root) if e["action"] in ("approve", "reject")]) == 1


def test_cli_as_current_user(tmp_path):
    """Without extra accounts: the CLI acts as this process's OS user, whatever the env says."""
    import getpass

    me = getpass.getuser()
    root = build_workspace(tmp_path / "ws", operators=(me,), reviewers=("alice",))
    register_keys(root, [None])
    r = js(run_as(None, root, "request", "retrain", "--model", "credit", "--reason", "drift", "--format", "json"))
    assert r["requested_by"] == me
    p = run_as(None, root, "approve", r["request_id"], "--comment", "x", env={"USER": "alice", "LOGNAME": "alice"})
    assert p.returncode == 2 and "not a reviewer" in p.stderr
    p = run_as(None, root, "approve", "REQ-9999", "--comment", "x")
    assert p.returncode == 2 and "no request" in p.stderr and "Traceback" not in p.stderr
    p = run_as(None, root, "request", "promote", "--model", "credit", "--version", "3", "--reason", "")
    assert p.returncode == 2 and "reason" in p.stderr
    rows = run_as(None, root, "requests", "--format", "csv")
    assert rows.returncode == 0 and rows.stdout.splitlines()[0].startswith("request_id,action,model,version,state")
    md = run_as(None, root, "report", r["request_id"], "--format", "md")
    assert md.returncode == 0 and "## Decision trail" in md.stdout and "drift" in md.stdout
    html = run_as(None, root, "report", r["request_id"], "--format", "html")
    assert html.returncode == 0 and html.stdout.startswith("<!DOCTYPE html>") and "<table>" in html.stdout
    table = run_as(None, root, "report", r["request_id"])  # table by default, as every report
    assert table.returncode == 0 and table.stdout.startswith(f"{r['request_id']}: retrain credit")
    assert "Decision trail\n--------------" in table.stdout and "|" not in table.stdout.split("Decision trail")[1]
    trail = list(csv.DictReader(io.StringIO(run_as(None, root, "report", r["request_id"], "--format", "csv").stdout)))
    entries = [e for e in journal(root) if e.get("request_id") == r["request_id"]]
    assert [(int(t["seq"]), t["action"], t["hash"]) for t in trail] == [(e["seq"], e["action"], e["hash"]) for e in entries]
    out = run_as(None, root, "gates", "--model", "credit", "--version", "3", "--format", "json")
    assert out.returncode == 1, out.stderr  # a gate failed: usable in CI
    g = json.loads(out.stdout)
    assert g["passed"] is False and {x["status"] for x in g["gates"]} >= {"passed"}
    assert g["evidence_hash"].startswith("sha256:")
    assert all(x["detail"] for x in g["gates"])
    with (root / "console.toml").open("a") as fh:  # keep only the gate v3 passes
        fh.write('\n[models."credit".gates]\nenabled = ["lineage"]\n')
    out = run_as(None, root, "gates", "--model", "credit", "--version", "3", "--format", "json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert [(x["gate"], x["status"]) for x in json.loads(out.stdout)["gates"]] == [("lineage", "passed")]


@real_users
def test_sample_workspace_pending_promotion_signed_off_by_a_real_reviewer(os_accounts):
    """The bundled sample's pending request (carol → credit-risk 3), decided as a real account."""
    sample = Path(__file__).resolve().parent.parent / "sample_data"
    if not (sample / "journal.jsonl").is_file():
        pytest.skip("the sample workspace has not been generated in this checkout")
    base = Path(tempfile.mkdtemp(prefix="mlc-sample-"))
    try:
        base.chmod(0o755)
        root = base / "ws"
        shutil.copytree(sample, root, ignore=shutil.ignore_patterns(".console"))
        toml = (root / "console.toml").read_text()
        toml = toml.replace('operators = ["carol", "dave"]', 'operators = ["carol", "mlc-carol"]')
        toml = toml.replace('reviewers = ["alice", "bob"]', 'reviewers = ["mlc-alice"]')
        (root / "console.toml").write_text(toml)
        register_keys(root, ["mlc-alice", "mlc-carol"])
        share_with_team(root)
        (pending,) = js(run_as("mlc-alice", root, "requests", "--state", "pending", "--format", "json"))
        assert (pending["model"], pending["version"], pending["requested_by"]) == ("credit-risk", "3", "carol")
        assert js(run_as("mlc-alice", root, "audit", "verify", "--format", "json"))["ok"]
        r = js(run_as("mlc-alice", root, "approve", pending["request_id"], "--override", "--format", "json",
                      "--comment", "flagged slices are the same as v2's; v3 wins overall offline and live"))
        gates = {g["gate"]: g for g in r["gates"]}
        assert gates["offline_metric"]["status"] == "passed"
        assert gates["live_metric"]["status"] == "passed"  # the sample runs v3 in shadow
        assert r["state"] == "executed" and r["override"] is True
        assert json.loads((root / "serving.json").read_text())["models"]["credit-risk"]["production"] == "3"
        p = run_as("mlc-carol", root, "request", "rollback", "--model", "credit-risk", "--break-glass",
                   "--reason", "3am page", "--format", "json")
        assert js(p)["version"] == "2"
        v = js(run_as("mlc-alice", root, "audit", "verify", "--format", "json"))
        assert v["ok"] and v["entries"] == len(journal(root))
    finally:
        shutil.rmtree(base, ignore_errors=True)


@real_users
def test_refusal_without_write_access_is_still_clear(team_ws):
    root = team_ws
    js(run_as("mlc-carol", root, "request", "retrain", "--model", "credit", "--reason", "drift", "--format", "json"))
    (root / "journal.jsonl").chmod(0o644)  # the group may no longer append
    p = run_as("mlc-eve", root, "approve", "REQ-0001", "--comment", "x")
    assert p.returncode == 2 and "not a reviewer" in p.stderr and "could not be journaled" in p.stderr
    p = run_as("mlc-alice", root, "approve", "REQ-0001", "--comment", "x")
    assert p.returncode == 2 and "cannot write" in p.stderr and "Traceback" not in p.stderr
    assert js(run_as("mlc-alice", root, "requests", "--format", "json"))[0]["state"] == "pending"
