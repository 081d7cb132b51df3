"""Requests, roles, decisions, expiry, break-glass and effects, through injected identities."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from console.cli.app_cmds import models_report
from console.errors import PermissionDenied, UsageError
from console.governance import effects, engine
from console.governance.engine import AlreadyDecided
from console.governance.gates import evaluate_gates, evidence_hash
from console.governance.journal import Journal
from console.governance.seed import seed_sample_workspace
from console.governance.state import fleet_state
from console.store.registry import load_registry
from console.workspace import load_dir
from tests.test_governance_helpers import ALICE, BOB, CAROL, DAVE, EVE, build_workspace, journal

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def ws(tmp_path: Path):
    return load_dir(build_workspace(tmp_path / "ws"))


def gates_for(ws, version="3"):
    return evaluate_gates(ws, "credit", version)


def test_request_then_approve_promotes_and_writes_serving(ws):
    req = engine.create_request(ws, CAROL, "promote", "credit", "3", "better offline", now=NOW)
    assert (req.state, req.from_version, req.requested_by) == ("pending", "2", "carol")
    gates = gates_for(ws)
    req = engine.decide(ws, ALICE, req.request_id, "approve", "looks fine", override=True, gates=gates, now=NOW)
    assert (req.state, req.decided_by, req.override) == ("approved", "alice", True)
    req = effects.execute(ws, ALICE, req.request_id, now=NOW)
    assert req.state == "executed", req.failure
    serving = json.loads(ws.serving_path.read_text())
    entry = serving["models"]["credit"]
    assert (entry["production"], entry["previous"], entry["request_id"]) == ("3", "2", req.request_id)
    assert entry["history"][-1]["version"] == "3"
    # the journal, not the registry files, decides stages
    state = fleet_state(ws, load_registry(ws.registry, ws.root))
    assert state.production["credit"] == "3"
    assert (state.stage("credit", "2"), state.stage("credit", "3")) == ("archived", "production")
    assert json.loads((ws.registry / "credit" / "3.json").read_text())["stage"] == "candidate"
    report = models_report(ws)
    assert report[0]["production"] == "3"
    deployed = [json.loads(x) for x in (ws.root / "deployments.jsonl").read_text().splitlines()]
    assert deployed[-1]["version"] == "3" and deployed[-1]["from_version"] == "2"
    actions = [e["action"] for e in journal(ws.root)]
    assert actions == ["request", "override", "approve", "hook", "executed"]
    assert Journal(ws.journal_path).verify()["ok"]


def test_approval_binds_evidence_hash(ws):
    req = engine.create_request(ws, CAROL, "promote", "credit", "3", "r", now=NOW)
    gates = gates_for(ws)
    engine.decide(ws, ALICE, req.request_id, "approve", "justified: offline is better", override=True, gates=gates, now=NOW)
    approve = [e for e in journal(ws.root) if e["action"] == "approve"][0]
    assert approve["evidence_hash"] == evidence_hash(gates)
    assert approve["gates"] == gates
    assert approve["override"] is True and approve["overridden_gates"]
    override = [e for e in journal(ws.root) if e["action"] == "override"][0]
    assert override["justification"] == "justified: offline is better"
    assert override["overridden_gates"] == approve["overridden_gates"]
    assert override["evidence_hash"] == approve["evidence_hash"] and override["seq"] == approve["seq"] - 1


def test_failed_gates_need_override(ws):
    req = engine.create_request(ws, CAROL, "promote", "credit", "3", "r", now=NOW)
    gates = gates_for(ws)
    assert any(g["status"] != "passed" for g in gates)  # no store: live gates cannot be evaluated
    with pytest.raises(PermissionDenied, match="override"):
        engine.decide(ws, ALICE, req.request_id, "approve", "ok", gates=gates, now=NOW)
    assert journal(ws.root)[-1]["action"] == "refused"
    assert engine.get_request(ws, req.request_id, NOW).state == "pending"


def test_roles_are_enforced_and_refusals_journaled(ws):
    with pytest.raises(PermissionDenied, match="not an operator"):
        engine.create_request(ws, ALICE, "promote", "credit", "3", "r", now=NOW)
    with pytest.raises(PermissionDenied, match="not an operator"):
        engine.create_request(ws, EVE, "retrain", "credit", None, "r", now=NOW)
    req = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW)
    with pytest.raises(PermissionDenied, match="not a reviewer"):
        engine.decide(ws, DAVE, req.request_id, "approve", "ok", now=NOW)
    with pytest.raises(PermissionDenied, match="only carol"):
        engine.cancel(ws, DAVE, req.request_id, now=NOW)
    refused = [e for e in journal(ws.root) if e["action"] == "refused"]
    assert [e["actor"] for e in refused] == ["alice", "eve", "dave", "dave"]
    assert all(e["detail"] for e in refused)


def test_requester_never_approves_own_request(tmp_path):
    ws = load_dir(build_workspace(tmp_path / "ws", operators=("carol",), reviewers=("carol", "alice")))
    from tests.test_governance_helpers import person

    both = person("carol", operator=True, reviewer=True)
    req = engine.create_request(ws, both, "retrain", "credit", None, "drift", now=NOW)
    with pytest.raises(PermissionDenied, match="never decides their own"):
        engine.decide(ws, both, req.request_id, "approve", "self", now=NOW)
    assert engine.decide(ws, ALICE, req.request_id, "reject", "no", now=NOW).state == "rejected"


def test_decided_once(ws):
    req = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW)
    engine.decide(ws, ALICE, req.request_id, "reject", "not now", now=NOW)
    with pytest.raises(AlreadyDecided, match="already decided: rejected by alice"):
        engine.decide(ws, BOB, req.request_id, "approve", "yes", now=NOW)
    with pytest.raises(AlreadyDecided):
        engine.cancel(ws, CAROL, req.request_id, now=NOW)
    late = [e for e in journal(ws.root) if e["action"] == "refused"]
    assert [(e["actor"], e["attempt"]) for e in late] == [("bob", "approve"), ("carol", "cancel")]


def test_cancel_by_requester(ws):
    req = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW)
    assert engine.cancel(ws, CAROL, req.request_id, now=NOW).state == "cancelled"
    with pytest.raises(AlreadyDecided, match="cancelled by carol"):
        engine.decide(ws, ALICE, req.request_id, "approve", "late", now=NOW)


def test_expiry_is_derived_then_journaled(tmp_path):
    ws = load_dir(build_workspace(tmp_path / "ws", extra_toml='[governance]\nrequest_ttl = "2h"\n'))
    req = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW)
    later = NOW + dt.timedelta(hours=3)
    assert engine.get_request(ws, req.request_id, NOW + dt.timedelta(hours=1)).state == "pending"
    assert engine.get_request(ws, req.request_id, later).state == "expired"  # derived
    assert "expired" not in [e["action"] for e in journal(ws.root)]
    with pytest.raises(AlreadyDecided, match="expired"):
        engine.decide(ws, ALICE, req.request_id, "approve", "too late", now=later)
    assert [e["action"] for e in journal(ws.root)][-2:] == ["expired", "refused"]  # noticed and journaled
    assert engine.get_request(ws, req.request_id, NOW).state == "expired"


def test_bad_requests_are_usage_errors(ws):
    with pytest.raises(UsageError, match="needs --version"):
        engine.create_request(ws, CAROL, "promote", "credit", None, "r", now=NOW)
    with pytest.raises(UsageError, match="already in production"):
        engine.create_request(ws, CAROL, "promote", "credit", "2", "r", now=NOW)
    with pytest.raises(UsageError, match="no version"):
        engine.create_request(ws, CAROL, "promote", "credit", "9", "r", now=NOW)
    with pytest.raises(UsageError, match="no model"):
        engine.create_request(ws, CAROL, "promote", "nope", "1", "r", now=NOW)
    with pytest.raises(UsageError, match="reason"):
        engine.create_request(ws, CAROL, "promote", "credit", "3", "   ", now=NOW)
    assert journal(ws.root) == []


def test_rollback_default_target_journal_then_serving_then_archived(tmp_path):
    """Without a named version a rollback goes to the production version before the current
    one: from the journal, else serving.json's history, else the newest archived version below
    the current one; with none of these it must be named."""
    from console.governance.state import rollback_target
    from tests.test_governance_helpers import write_version

    root = build_workspace(tmp_path / "ws")
    ws = load_dir(root)

    def target():
        registry = load_registry(ws.registry, ws.root)
        t = rollback_target(ws, registry, fleet_state(ws, registry), "credit")
        return t.version, t.source

    assert target() == ("1", "registry")  # 1 is archived, 2 in production
    lineage = {"data_hash": "sha256:abc", "code_commit": "0123abc", "training_data": "warehouse://t"}
    write_version(root, "1", "staging", {"roc_auc": 0.7}, lineage)
    assert target() == (None, "")
    with pytest.raises(UsageError, match="no earlier production version"):
        engine.create_request(ws, CAROL, "rollback", "credit", None, "r", now=NOW)
    ws.serving_path.write_text(json.dumps({"models": {"credit": {
        "production": "2", "previous": "1", "history": [{"version": "1"}, {"version": "2"}]}}}))
    assert target() == ("1", "serving.json")
    req = engine.create_request(ws, CAROL, "rollback", "credit", None, "back", now=NOW)
    assert (req.version, req.from_version) == ("1", "2")


def _promote(ws, version="3"):
    req = engine.create_request(ws, CAROL, "promote", "credit", version, "r", now=NOW)
    engine.decide(ws, ALICE, req.request_id, "approve", "ok", override=True, gates=gates_for(ws, version), now=NOW)
    return effects.execute(ws, ALICE, req.request_id, now=NOW)


def test_rollback_goes_to_previous_production(ws):
    assert _promote(ws).state == "executed"
    req = engine.create_request(ws, DAVE, "rollback", "credit", None, "v3 misbehaves", now=NOW)
    assert (req.version, req.from_version) == ("2", "3")
    engine.decide(ws, BOB, req.request_id, "approve", "agreed", now=NOW)
    assert effects.execute(ws, BOB, req.request_id, now=NOW).state == "executed"
    serving = json.loads(ws.serving_path.read_text())["models"]["credit"]
    assert (serving["production"], serving["previous"]) == ("2", "3")
    assert [h["version"] for h in serving["history"]] == ["3", "2"]
    state = fleet_state(ws, load_registry(ws.registry, ws.root))
    assert state.production["credit"] == "2" and state.stage("credit", "3") == "archived"


def test_rollback_to_named_version(ws):
    req = engine.create_request(ws, CAROL, "rollback", "credit", "1", "back to v1", now=NOW)
    assert (req.version, req.from_version) == ("1", "2")


def test_failing_hook_leaves_serving_unchanged(ws):
    (ws.root / "hooks" / "deploy.fail").write_text("cluster unreachable")
    req = _promote(ws)
    assert req.state == "failed"
    assert not ws.serving_path.exists()
    hook = [e for e in journal(ws.root) if e["action"] == "hook"][0]
    assert hook["returncode"] == 3 and "cluster unreachable" in hook["stderr"]
    assert fleet_state(ws, load_registry(ws.registry, ws.root)).production["credit"] == "2"
    assert Journal(ws.journal_path).verify()["ok"]


def test_hook_timeout_is_a_failure(tmp_path):
    root = build_workspace(tmp_path / "ws", extra_toml='[governance]\nhook_timeout = "1s"\n')
    (root / "hooks" / "slow.py").write_text("import time\nprint('starting', flush=True)\ntime.sleep(30)\n")
    text = (root / "console.toml").read_text().replace('promote = "python hooks/deploy.py"',
                                                       'promote = "python hooks/slow.py"')
    (root / "console.toml").write_text(text)
    ws = load_dir(root)
    req = _promote(ws)
    assert req.state == "failed" and "timed out" in req.failure
    assert req.hook["timed_out"] is True and "starting" in req.hook["stdout"]
    assert not ws.serving_path.exists()


def test_hook_environment(tmp_path):
    root = build_workspace(tmp_path / "ws")
    (root / "hooks" / "env.py").write_text(
        "import json, os\nprint(json.dumps({k: v for k, v in os.environ.items() if k.startswith('MLOPS_')}))\n"
    )
    text = (root / "console.toml").read_text().replace('promote = "python hooks/deploy.py"',
                                                       'promote = "python hooks/env.py --x \'a b\'"')
    (root / "console.toml").write_text(text)
    ws = load_dir(root)
    req = _promote(ws)
    env = json.loads(req.hook["stdout"])
    assert env["MLOPS_REQUEST_ID"] == req.request_id
    assert (env["MLOPS_ACTION"], env["MLOPS_MODEL"], env["MLOPS_VERSION"], env["MLOPS_FROM_VERSION"]) == (
        "promote", "credit", "3", "2")
    assert (env["MLOPS_ACTOR"], env["MLOPS_REQUESTED_BY"], env["MLOPS_REASON"]) == ("alice", "carol", "r")
    assert env["MLOPS_WORKSPACE"] == str(ws.root)
    assert req.hook["argv"][-2:] == ["--x", "a b"]  # shlex-split argv, no shell


def test_break_glass_rollback(ws):
    assert _promote(ws).state == "executed"
    with pytest.raises(PermissionDenied, match="only for rollback"):
        engine.create_request(ws, DAVE, "promote", "credit", "1", "r", break_glass=True, now=NOW)
    with pytest.raises(PermissionDenied, match="not an operator"):
        engine.create_request(ws, ALICE, "rollback", "credit", None, "r", break_glass=True, now=NOW)
    req = engine.create_request(ws, DAVE, "rollback", "credit", None, "pager at 3am: v3 is down", break_glass=True, now=NOW)
    assert (req.state, req.break_glass, req.review) == ("approved", True, "pending")
    req = effects.execute(ws, DAVE, req.request_id, now=NOW)
    assert (req.state, req.review) == ("executed", "pending")
    assert json.loads(ws.serving_path.read_text())["models"]["credit"]["production"] == "2"
    with pytest.raises(PermissionDenied, match="not a reviewer"):
        engine.decide(ws, CAROL, req.request_id, "approve", "fine", now=NOW)
    req = engine.decide(ws, ALICE, req.request_id, "approve", "right call", now=NOW)
    assert (req.state, req.review, req.reviewed_by) == ("executed", "signed_off", "alice")
    with pytest.raises(AlreadyDecided, match="already reviewed"):
        engine.decide(ws, BOB, req.request_id, "reject", "hmm", now=NOW)
    assert next(e for e in journal(ws.root) if e.get("request_id") == req.request_id)["break_glass"] is True


def test_retrain_failure_marks_failed(ws):
    # no logs at all: the retrain hook cannot train and says so
    req = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW)
    engine.decide(ws, ALICE, req.request_id, "approve", "go", now=NOW)
    req = effects.execute(ws, ALICE, req.request_id, now=NOW)
    assert req.state == "failed"
    assert "labelled predictions" in req.hook["stderr"]


def test_seed_sample_workspace_is_deterministic(tmp_path):
    roots = [build_workspace(tmp_path / name, operators=("carol",), reviewers=("alice",), model="credit-risk") for name in ("a", "b")]
    for root in roots:
        seed_sample_workspace(root)
        seed_sample_workspace(root)  # idempotent
    a, b = ((r / "journal.jsonl").read_bytes() for r in roots)
    assert a == b and len(a.splitlines()) == 1
    ws = load_dir(roots[0])
    (req,) = engine.list_requests(ws, NOW + dt.timedelta(days=3650))
    assert (req.action, req.model, req.version, req.requested_by, req.state) == (
        "promote", "credit-risk", "3", "carol", "pending")
    assert Journal(ws.journal_path).verify()["ok"]


def test_report_shows_evidence_and_trail(ws):
    from console.governance.report import build_report, render

    req = _promote(ws)
    data = build_report(ws, req.request_id)
    assert data["evidence_hash_matches"] is True
    assert data["failing_gates"] and data["request"]["override"] is True
    assert [e["action"] for e in data["trail"]] == ["request", "override", "approve", "hook", "executed"]
    md = render(data, "md")
    for text in ("## Gates", "## Evidence: offline_metric", "## Champion vs challenger",
                 "| offline roc_auc | 0.8 | 0.84 |", "## Decision trail", "alice", "verifies"):
        assert text in md, text
    html = render(data, "html")
    assert "<h2>Decision trail</h2>" in html and "&lt;" not in md
    # tampering with the stored gates is visible in the report
    lines = ws.journal_path.read_text().splitlines(keepends=True)
    approve = json.loads(lines[2])
    assert approve["action"] == "approve"
    approve["gates"][0]["evidence"]["challenger"] = 0.99
    lines[2] = json.dumps(approve) + "\n"
    ws.journal_path.write_text("".join(lines))
    data = build_report(ws, req.request_id)
    assert data["evidence_hash_matches"] is False and data["journal"]["first_bad_seq"] == 3
    assert "DOES NOT MATCH" in render(data, "md")


def test_report_of_pending_promotion_evaluates_gates_now(ws):
    from console.governance.report import build_report

    req = engine.create_request(ws, CAROL, "promote", "credit", "3", "r")  # now: not expired
    data = build_report(ws, req.request_id)
    assert data["gates_source"] == "evaluated now (not yet decided)" and data["gates"]


def test_retrain_without_hook_fails_and_promote_without_hook_only_switches_serving(tmp_path):
    ws = load_dir(build_workspace(tmp_path / "ws", hooks=False))
    req = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW)
    engine.decide(ws, ALICE, req.request_id, "approve", "go", now=NOW)
    req = effects.execute(ws, ALICE, req.request_id, now=NOW)
    assert req.state == "failed" and "no [hooks] retrain" in req.failure
    assert _promote(ws).state == "executed"
    assert json.loads(ws.serving_path.read_text())["models"]["credit"]["production"] == "3"


def test_resume_an_execution_that_never_reported_back(ws):
    req = engine.create_request(ws, CAROL, "promote", "credit", "3", "r", now=NOW)
    engine.decide(ws, ALICE, req.request_id, "approve", "ok", override=True, gates=gates_for(ws), now=NOW)
    # ... and the approving process died before running the hook
    with pytest.raises(UsageError, match="may still be executing"):
        effects.resume(ws, BOB, req.request_id, now=NOW + dt.timedelta(minutes=5))
    with pytest.raises(PermissionDenied):
        effects.resume(ws, CAROL, req.request_id, now=NOW + dt.timedelta(hours=1))
    req = effects.resume(ws, BOB, req.request_id, now=NOW + dt.timedelta(hours=1))
    assert req.state == "executed"
    actions = [e["action"] for e in journal(ws.root)]
    assert actions[-3:] == ["resume", "hook", "executed"]
    with pytest.raises(UsageError, match="executed"):
        effects.resume(ws, BOB, req.request_id, now=NOW + dt.timedelta(hours=2))


def test_retrain_from_a_named_version(ws):
    req = engine.create_request(ws, CAROL, "retrain", "credit", "1", "try the old recipe", now=NOW)
    assert (req.version, req.from_version) == (None, "1")
    req = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift", now=NOW)
    assert (req.version, req.from_version) == (None, "2")
    with pytest.raises(UsageError, match="REQ-0002 already asks for the same"):
        engine.create_request(ws, DAVE, "retrain", "credit", None, "drift again", now=NOW)


def test_approval_bound_to_the_evidence_the_reviewer_saw(ws):
    from console.governance.report import build_report, render

    req = engine.create_request(ws, CAROL, "promote", "credit", "3", "r")
    shown = build_report(ws, req.request_id)
    assert f"--evidence {shown['gates_hash']}" in render(shown, "md")
    # the registry changes under the reviewer's feet: the offline numbers are not what they saw
    from tests.test_governance_helpers import write_version

    write_version(ws.root, "3", "candidate", {"roc_auc": 0.81, "accuracy": 0.7},
                  {"data_hash": "sha256:abc", "code_commit": "0123abc"})
    with pytest.raises(PermissionDenied, match="evidence changed"):
        engine.decide(ws, ALICE, req.request_id, "approve", "ok", override=True, gates=gates_for(ws),
                      expected_evidence=shown["gates_hash"])
    assert journal(ws.root)[-1]["action"] == "refused"
    fresh = gates_for(ws)
    req = engine.decide(ws, ALICE, req.request_id, "approve", "ok", override=True, gates=fresh,
                        expected_evidence=evidence_hash(fresh))
    assert req.state == "approved" and req.evidence_hash == evidence_hash(fresh)
