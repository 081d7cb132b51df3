"""The whole loop: drift alert → retrain request → approval → new candidate → promotion request →
gates → approval (override with justification) → serving.json → rollback; the journal verifies
and any edit of it is caught. Once from the CLI as real OS users (root only), once in-process.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from console.governance import effects, engine
from console.governance.gates import failing
from console.governance.journal import Journal
from console.governance.state import fleet_state
from console.store.registry import load_registry
from console.workspace import load_dir
from tests.test_governance_helpers import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    build_workspace,
    can_make_users,
    ensure_os_users,
    journal,
    register_keys,
    run_as,
    share_with_team,
)


def drift_alert(root: Path, user: str | None) -> dict:
    """``ingest`` then ``check``: the drift alert that starts the loop."""
    p = run_as(user, root, "ingest", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["predictions"] > 0
    p = run_as(user, root, "check", "--format", "json")
    assert p.returncode == 1, (p.stdout, p.stderr)
    alerts = json.loads(p.stdout)["alerts"]
    drift = [a for a in alerts if a["model"] == "credit" and a["kind"] == "drift"]
    assert drift, alerts
    return drift[0]


def tamper_is_caught(root: Path, user: str | None) -> None:
    lines = (root / "journal.jsonl").read_text().splitlines(keepends=True)
    entry = json.loads(lines[2])
    entry["ts"] = "2020-01-01T00:00:00.000Z"
    lines[2] = json.dumps(entry) + "\n"
    (root / "journal.jsonl").write_text("".join(lines))
    p = run_as(user, root, "audit", "verify", "--format", "json")
    assert p.returncode == 1 and json.loads(p.stdout)["first_bad_seq"] == 3


@pytest.mark.skipif(can_make_users() is not None, reason=str(can_make_users()))
def test_loop_from_the_cli_as_real_os_users():
    ensure_os_users()
    base = Path(tempfile.mkdtemp(prefix="mlc-loop-"))
    try:
        base.chmod(0o755)
        root = build_workspace(base / "ws", operators=("mlc-carol", "mlc-dave"),
                               reviewers=("mlc-alice", "mlc-bob"), logs_days=9)
        register_keys(root, ["mlc-carol", "mlc-dave", "mlc-alice", "mlc-bob"])
        share_with_team(root)

        def cli(user, *args, code=0):
            p = run_as(user, root, *args, "--format", "json")
            assert p.returncode == code, (args, p.stdout, p.stderr)
            return json.loads(p.stdout) if p.stdout else None

        alert = drift_alert(root, "mlc-carol")
        r = cli("mlc-carol", "request", "retrain", "--model", "credit",
                "--reason", f"drift alert: {alert['detail']}")
        r = cli("mlc-alice", "approve", r["request_id"], "--comment", "retrain on recent traffic")
        assert r["state"] == "executed" and r["produced_version"] == "4", r
        assert (root / "registry" / "credit" / "4.json").is_file()
        models = cli("mlc-bob", "models")
        assert {"version": "4", "stage": "candidate"} in models[0]["versions"]
        # alice's hook wrote v4's artifact into the group-writable workspace: bob's console loads
        # it (skops runs no code of the file's) and says who else could have changed it
        assert (root / "models" / "credit" / "4.skops").is_file()
        imp = cli("mlc-bob", "explain", "--global", "--model", "credit", "--version", "4")
        assert imp["features"] and "4.skops is owned by mlc-alice" in imp["artifact"]["writers"]

        r = cli("mlc-carol", "request", "promote", "--model", "credit", "--version", "4",
                "--reason", "retrained on the drifted population")
        not_passed = failing(r["gates"])
        assert "live_metric" in not_passed  # v4 never served: no live comparison is possible
        p = run_as("mlc-alice", root, "approve", r["request_id"], "--comment", "ok")
        assert p.returncode == 2 and "override" in p.stderr
        r = cli("mlc-alice", "approve", r["request_id"], "--override",
                "--comment", "v2 is drifting; v4 trained on current traffic; watch it for a day")
        assert (r["state"], r["override"]) == ("executed", True)
        serving = json.loads((root / "serving.json").read_text())["models"]["credit"]
        assert (serving["production"], serving["previous"]) == ("4", "2")

        r = cli("mlc-dave", "request", "rollback", "--model", "credit", "--reason", "approval rate fell")
        assert (r["version"], r["from_version"]) == ("2", "4")
        r = cli("mlc-bob", "approve", r["request_id"], "--comment", "agreed, back to 2")
        assert r["state"] == "executed"
        assert json.loads((root / "serving.json").read_text())["models"]["credit"]["production"] == "2"
        deployments = (root / "deployments.jsonl").read_text().splitlines()
        assert [json.loads(x)["version"] for x in deployments] == ["4", "2"]

        report = run_as("mlc-bob", root, "report", "REQ-0002", "--format", "md")
        assert report.returncode == 0 and "override" in report.stdout and "Champion vs challenger" in report.stdout
        v = cli("mlc-bob", "audit", "verify")
        assert v["ok"] and v["entries"] == len(journal(root))
        actors = {e["actor"] for e in journal(root)}
        assert actors <= {"mlc-carol", "mlc-dave", "mlc-alice", "mlc-bob"}
        tamper_is_caught(root, "mlc-bob")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_loop_in_process(tmp_path):
    root = build_workspace(tmp_path / "ws", logs_days=9)
    alert = drift_alert(root, None)
    parent = root / "registry" / "credit" / "2.json"
    doc = json.loads(parent.read_text())
    parent.write_text(json.dumps(doc | {"cost": {"training_usd": 999.0, "per_1k_predictions_usd": 0.1}}))
    v2 = root / "registry" / "credit" / "2.json"  # v2's model card: the retrained version inherits it
    v2.write_text(json.dumps({**json.loads(v2.read_text()), "owner": "risk team", "limitations": ["x"],
                              "training_data": "v2's own"}))
    ws = load_dir(root)
    req = engine.create_request(ws, CAROL, "retrain", "credit", None, f"drift: {alert['detail']}")
    engine.decide(ws, ALICE, req.request_id, "approve", "go")
    req = effects.execute(ws, ALICE, req.request_id)
    assert (req.state, req.produced_version) == ("executed", "4")
    registry = load_registry(ws.registry, ws.root)
    assert fleet_state(ws, registry).stage("credit", "4") == "candidate"
    lineage = registry.get("credit", "4").lineage
    assert lineage["parent_version"] == "2" and lineage["data_hash"].startswith("sha256:")
    assert (root / lineage["artifact"]).is_file() and registry.get("credit", "4").reference.is_file()
    # its training cost is the hook's own CPU time at the default rate, never the parent's 999:
    # reported through MLOPS_TRAINING_USD_FILE, journaled with the execution, shown by `cost`
    cpu = lineage["training_cpu_seconds"]
    usd = round(cpu / 3600 * 0.10, 6)
    assert cpu > 0 and registry.get("credit", "4").cost == {"per_1k_predictions_usd": 0.1}
    executed = [e for e in journal(root) if e["action"] == "executed" and e.get("request_id") == req.request_id]
    assert (executed[0]["training_usd"], executed[0]["training_usd_source"]) == (usd, "file")
    assert fleet_state(ws, registry).training == {("credit", "4"): usd}
    from console.analytics.cost import cost_report
    from console.store.db import open_store

    db = open_store(ws, **fleet_state(ws, registry).overlay())
    try:
        assert db.training_usd("credit", "4") == usd and db.training_usd("credit", "2") == 999.0
        by_version = {r["version"]: r for r in cost_report(db, model="credit", by="version")["rows"]}
        assert by_version["4"]["training_usd"] == usd
        assert db.cursor().execute("SELECT training_usd FROM versions WHERE model = 'credit' AND version = '4'"
                                   ).fetchone()[0] == usd
    finally:
        db.close()
    card = registry.get("credit", "4").card  # the card says what the model is; the data is v4's own
    assert (card["owner"], card["limitations"]) == ("risk team", ["x"])
    assert card["training_data"].startswith("labelled traffic of credit") and "holdout" in card["evaluation_data"]

    from console.governance.gates import evaluate_gates

    gates = evaluate_gates(ws, "credit", "4")
    promo = engine.create_request(ws, DAVE, "promote", "credit", "4", "retrained", gates=gates)
    engine.decide(ws, BOB, promo.request_id, "approve", "justified: v2 drifted", override=bool(failing(gates)),
                  gates=gates)
    assert effects.execute(ws, BOB, promo.request_id).state == "executed"
    back = engine.create_request(ws, CAROL, "rollback", "credit", None, "bad")
    engine.decide(ws, ALICE, back.request_id, "approve", "ok")
    assert effects.execute(ws, ALICE, back.request_id).state == "executed"
    assert fleet_state(ws, load_registry(ws.registry, ws.root)).production["credit"] == "2"
    assert Journal(ws.journal_path).verify()["ok"]
    tamper_is_caught(root, None)
