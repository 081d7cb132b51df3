"""Policy-raised retrains end to end on the ingested sample workspace: ``[retrain_policy]`` makes
``policy run`` raise one retrain request as ``system`` with the windows it saw as evidence (each
window's numbers equal to what ``drift`` and ``performance`` print for it), never a second one
for the same condition; ``system`` signs only with a key the administrator registered as
``system``, never decides, and no user can act as it from the command line."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path

import pytest

from console.cli import main
from console.errors import PermissionDenied
from console.governance import effects, engine
from console.governance.journal import Journal
from console.governance.signing import own_key, signers_line
from console.identity import SYSTEM, Identity
from console.workspace import load_dir
from tests.frozen_time import CONSOLE, FROZEN
from tests.test_unknown_is_not_ok import corrupt_reference_cache
from tests.tui_helpers import ALICE

POLICY = """
[retrain_policy]
when = ["drift", "performance"]
window = "1d"
consecutive_windows = 3
"""


def cli(ws: Path, *args: str, expect: int = 0) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--workspace", str(ws)])
    assert code == expect, (args, code, err.getvalue())
    return out.getvalue(), err.getvalue()


def cli_json(ws: Path, *args: str, expect: int = 0):
    return json.loads(cli(ws, *args, "--format", "json", expect=expect)[0])


def with_policy(ws: Path, register_system: bool = True, toml: str = POLICY) -> Path:
    with (ws / "console.toml").open("a") as f:
        f.write(toml)
    if register_system:  # the administrator makes this account's key the system signer
        with (ws / "signers").open("a") as f:
            f.write(signers_line(SYSTEM, own_key()) + "\n")
    return ws


def entries(ws: Path) -> list[dict]:
    return Journal(ws / "journal.jsonl").entries()


def test_policy_raises_one_retrain_as_system_with_the_evidence(sample_ws: Path) -> None:
    ws = with_policy(sample_ws)
    before = len(entries(ws))
    rep = cli_json(ws, "policy", "run")
    assert rep["raised"] == ["REQ-0002"] and not rep["errors"]
    by_model = {e["model"]: e for e in rep["models"]}
    cr = by_model["credit-risk"]
    assert cr["holds"] and cr["held"] == ["drift"] and cr["outcome"] == "raised"
    assert {m: e["outcome"] for m, e in by_model.items() if m != "credit-risk"} == {
        "delivery-eta": "does_not_hold", "ticket-router": "does_not_hold"}

    new = entries(ws)[before:]
    assert [e["action"] for e in new] == ["request"]
    req = new[0]
    assert req["actor"] == SYSTEM and req["kind"] == "retrain" and req["model"] == "credit-risk"
    assert req["from_version"] == "2" and req["sig"].startswith("ed25519:")
    ev = req["evidence"]
    assert ev["policy"] == {"when": ["drift", "performance"], "window": "1d", "consecutive_windows": 3}
    assert ev["run_by"] and ev["held"] == ["drift"] and ev["conditions"] == cr["conditions"]
    assert "dataset drift in each of the last 3 windows of 1d" in req["reason"]

    # every window the evidence names is what the reports say about it
    drift_w, perf_w = ev["conditions"]["drift"], ev["conditions"]["performance"]
    assert len(drift_w) == len(perf_w) == 3
    for d, p in zip(drift_w, perf_w, strict=True):
        assert (d["start"], d["end"]) == (p["start"], p["end"])
        rep_d = cli_json(ws, "drift", "--model", "credit-risk", "--start", d["start"], "--end", d["end"],
                         "--no-multivariate")
        assert d["share"] == rep_d["dataset_drift"]["share"] and d["rows"] == rep_d["current"]["rows"]
        assert d["status"] == ("breach" if rep_d["dataset_drift"]["drifted"] else "ok") == "breach"
        rep_p = cli_json(ws, "performance", "--model", "credit-risk", "--window", "all",
                         "--start", p["start"], "--end", p["end"])
        (w,) = rep_p["windows"]
        assert p["metric"] == "roc_auc" and p["live"] == w["metrics"]["roc_auc"]
        assert p["offline"] == rep_p["offline"]["roc_auc"] and p["labelled"] == w["labelled"]
        if w["labelled"] < 50:  # [alerts] performance_min_labelled: too few labels is no breach
            assert p["status"] == "insufficient_labels" and p["worse_by"] is None
        else:
            assert p["worse_by"] == pytest.approx(p["offline"] - p["live"], rel=1e-12)
            assert p["status"] == ("breach" if p["worse_by"] > 0.05 else "ok")
    # consecutive windows, ending at the production version's newest record
    assert [d["end"] for d in drift_w[:-1]] == [d["start"] for d in drift_w[1:]]

    # the journal verifies: the system entry is signed with the key registered as system
    verify = cli_json(ws, "audit", "verify")
    assert verify["ok"] and verify["signed"] == verify["entries"]
    # a request like any other: listed, pending, its evidence in the report
    listed = {r["request_id"]: r for r in cli_json(ws, "requests")}
    assert listed["REQ-0002"]["requested_by"] == SYSTEM and listed["REQ-0002"]["state"] == "pending"

    # never twice for the same open condition
    again = cli_json(ws, "policy", "run")
    assert again["raised"] == []
    assert {e["model"]: (e["outcome"], e.get("request_id")) for e in again["models"]}["credit-risk"] == (
        "open_request", "REQ-0002")
    assert len(entries(ws)) == before + 1


def test_system_never_decides_a_person_does(sample_ws: Path) -> None:
    ws = with_policy(sample_ws)
    cli(ws, "policy", "run")
    w = load_dir(ws)
    req = engine.get_request(w, "REQ-0002", now=FROZEN)
    # system with every role still may not decide: refused, journaled as refused (signed as system)
    for verdict in ("approve", "reject"):
        with pytest.raises(PermissionDenied, match="system raises requests only"):
            engine.decide(w, Identity(SYSTEM, operator=True, reviewer=True), "REQ-0002", verdict,
                          "looks fine to me", now=FROZEN)
    with pytest.raises(PermissionDenied, match="only reviewers may resume"):  # nor executes
        effects.resume(w, Identity(SYSTEM, operator=True, reviewer=True), "REQ-0002", now=FROZEN)
    refused = [e for e in entries(ws) if e["action"] == "refused"]
    assert [(e["actor"], e["attempt"]) for e in refused] == [
        (SYSTEM, "approve"), (SYSTEM, "reject"), (SYSTEM, "execute")]
    assert engine.get_request(w, "REQ-0002", now=FROZEN).state == "pending"
    assert engine.why_not_decide(req, ALICE, "approve") is None  # a reviewer may: four eyes unchanged
    # a person rejects it; the same condition is not raised again (at most once per 3 windows)
    done = engine.decide(w, ALICE, "REQ-0002", "reject", "not before the new labels arrive", now=FROZEN)
    assert done.state == "rejected" and done.decided_by == "alice"
    again = cli_json(ws, "policy", "run")
    assert again["raised"] == []
    outcome = {e["model"]: (e["outcome"], e.get("request_id")) for e in again["models"]}
    assert outcome["credit-risk"] == ("same_condition", "REQ-0002")
    assert cli_json(ws, "audit", "verify")["ok"]


def test_no_user_can_act_as_system(sample_ws: Path) -> None:
    ws = with_policy(sample_ws, register_system=False)
    before = len(entries(ws))
    # no flag names the actor
    res = subprocess.run([*CONSOLE, "request", "retrain", "--model", "credit-risk", "--reason", "x",
                          "--actor", "system", "--workspace", str(ws)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "unrecognized arguments: --actor system" in res.stderr
    # this account's key is not registered as system: refused, one line with the fix, nothing journaled
    _, err = cli(ws, "policy", "run", expect=2)
    assert err.count("\n") == 1 and "is not registered as system" in err and "system ed25519 " in err
    assert len(entries(ws)) == before
    # nor may console.toml give system a role
    text = (ws / "console.toml").read_text()
    (ws / "console.toml").write_text(text.replace('operators = ["carol"', 'operators = ["system", "carol"'))
    assert '"system", "carol"' in (ws / "console.toml").read_text()
    _, err = cli(ws, "requests", expect=2)
    assert err.count("\n") == 1 and "'system' is the console's own actor" in err
    # a dry run evaluates for anyone and raises nothing
    (ws / "console.toml").write_text(text)
    rep = cli_json(ws, "policy", "run", "--dry-run")
    assert {e["model"]: e["outcome"] for e in rep["models"]}["credit-risk"] == "dry_run"
    assert rep["raised"] == [] and len(entries(ws)) == before


@pytest.mark.parametrize("toml,message", [
    ('[retrain_policy]\nwhen = ["drift"]\nwindows = "1d"\n', "unknown key [retrain_policy] windows (did you mean window?)"),
    ('[retrain_policy]\nwhen = "drift"\n', "[retrain_policy] when must be a list of strings"),
    ('[retrain_policy]\nwhen = ["vibes"]\n', "when: unknown condition 'vibes'"),
    ('[retrain_policy]\nwhen = ["drift"]\nconsecutive_windows = 0\n', "consecutive_windows must be 1..30"),
    ('[retrain_policy]\nwhen = ["drift"]\nwindow = "all"\n', "window must be a duration"),
    ('[retrain_policy]\nwhen = ["drift"]\nwindow = "1x"\n', "bad [retrain_policy] window"),
])
def test_policy_config_errors_are_one_line(bare_sample: Path, toml: str, message: str) -> None:
    ws = with_policy(bare_sample, register_system=False, toml="\n" + toml)
    _, err = cli(ws, "policy", "run", expect=2)
    assert err.count("\n") == 1 and message in err, err


def test_a_window_that_cannot_be_computed_raises_nothing(sample_ws: Path) -> None:
    ws = with_policy(sample_ws)
    corrupt_reference_cache(ws)  # drift cannot read its reference any more
    before = len(entries(ws))
    res = subprocess.run([*CONSOLE, "policy", "run", "--format", "json", "--workspace", str(ws)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    rep = json.loads(res.stdout)
    assert rep["raised"] == [] and {e["model"] for e in rep["errors"]} == {
        "credit-risk", "delivery-eta", "ticket-router"}
    assert all(e["condition"] == "drift" for e in rep["errors"])
    assert {e["model"]: e["outcome"] for e in rep["models"]}["credit-risk"] == "not_evaluated"
    assert "policy incomplete" in res.stderr and "Traceback" not in res.stderr
    assert len(entries(ws)) == before


def test_estimated_performance_holds_without_labels(sample_ws: Path) -> None:
    """``estimated_performance``: each window's estimate is what ``estimate`` prints for that
    window, breach = worse than the offline metric by more than the tolerance; a multiclass
    model cannot be estimated and is skipped with the reason, never "does not hold"."""
    ws = with_policy(sample_ws, toml=POLICY.replace('["drift", "performance"]', '["estimated_performance"]'))
    rep = cli_json(ws, "policy", "run", "--dry-run")
    assert not rep["errors"] and not rep["raised"]
    skipped = {s["model"]: s["reason"] for s in rep["skipped"]}
    assert "multiclass" in skipped["ticket-router"]
    for entry in rep["models"]:
        if entry["model"] == "ticket-router":  # nothing judged: not "does not hold"
            assert entry["conditions"] == {} and entry["outcome"] == "not_applicable"
            continue
        wins = entry["conditions"]["estimated_performance"]
        assert len(wins) == 3
        for w in wins:
            est = cli_json(ws, "estimate", "--model", entry["model"], "--window", "all", "--metric", w["metric"],
                           "--start", w["start"], "--end", w["end"])
            (got,) = est["windows"]
            assert w["estimated"] == pytest.approx(got["metrics"][w["metric"]]["estimated"], rel=1e-12)
            worse = (w["estimated"] - w["offline"]) if w["metric"] == "rmse" else (w["offline"] - w["estimated"])
            assert w["worse_by"] == pytest.approx(worse)
            assert w["status"] == ("breach" if worse > w["tolerance"] else "ok")
        held = all(w["status"] == "breach" for w in wins)
        assert entry["holds"] == held and entry["outcome"] == ("dry_run" if held else "does_not_hold")
