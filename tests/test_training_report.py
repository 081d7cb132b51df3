"""A retrain's training cost is what its hook reports (issue 16): the number it writes to the
file named by ``MLOPS_TRAINING_USD_FILE``, else its last ``MLOPS_TRAINING_USD=`` output line —
journaled with the execution and shown by ``cost``/``value`` in place of whatever the registry
entry says (here a hook that copies its parent's cost entry, 999 USD, as careless hooks do)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.analytics.cost import cost_report
from console.governance import effects, engine
from console.governance.state import fleet_state
from console.store.db import open_store
from console.store.registry import load_registry
from console.workspace import load_dir
from tests.test_governance_helpers import ALICE, CAROL, build_workspace, journal

# Registers credit v4 as a copy of v2's entry (cost included), then reports as REPORT says.
HOOK = """\
import json, os, sys
from pathlib import Path
reg = Path(os.environ["MLOPS_REGISTRY"]) / "credit"
doc = json.loads((reg / "2.json").read_text())
doc.update(version="4", stage="candidate", created_at=os.environ["MLOPS_NOW"])
(reg / "4.json.tmp").write_text(json.dumps(doc))
os.replace(reg / "4.json.tmp", reg / "4.json")
report = json.loads(Path("hooks/report.json").read_text())
target = os.environ.get("MLOPS_TRAINING_USD_FILE")
if "file" in report:
    open(target, "w").write(report["file"])
if "link" in report:  # swap the console's file for a link to a file of the hook's choosing
    Path(target + ".elsewhere").write_text(report["link"])
    os.remove(target)
    os.symlink(target + ".elsewhere", target)
for line in report.get("stdout", []):
    print(line)
print("target given:", bool(target), file=sys.stderr)
"""


def retrain(tmp_path: Path, report: dict) -> tuple:
    root = build_workspace(tmp_path / "ws", logs_days=3)
    parent = root / "registry" / "credit" / "2.json"
    doc = json.loads(parent.read_text())
    parent.write_text(json.dumps(doc | {"cost": {"training_usd": 999.0, "per_1k_predictions_usd": 0.1}}))
    (root / "hooks" / "report.py").write_text(HOOK)
    (root / "hooks" / "report.json").write_text(json.dumps(report))
    toml = (root / "console.toml").read_text().replace('retrain = "python hooks/retrain.py"',
                                                         'retrain = "python hooks/report.py"')
    (root / "console.toml").write_text(toml)
    ws = load_dir(root)
    req = engine.create_request(ws, CAROL, "retrain", "credit", None, "drift")
    engine.decide(ws, ALICE, req.request_id, "approve", "go")
    done = effects.execute(ws, ALICE, req.request_id)
    assert (done.state, done.produced_version) == ("executed", "4")
    executed = [e for e in journal(root) if e["action"] == "executed" and e.get("request_id") == req.request_id]
    hook = [e for e in journal(root) if e["action"] == "hook" and e.get("request_id") == req.request_id]
    assert "target given: True" in hook[0]["stderr"]  # every retrain hook is given the file
    return ws, executed[0]


def shown(ws) -> tuple:
    """Credit v4's training cost as the snapshot, ``cost`` (its row; none when 0 or unknown, as
    v4 has served nothing yet) and the ``versions`` view show it."""
    state = fleet_state(ws, load_registry(ws.registry, ws.root))
    db = open_store(ws, **state.overlay())
    try:
        rows = {r["version"]: r for r in cost_report(db, model="credit", by="version")["rows"]}
        view = db.cursor().execute("SELECT training_usd FROM versions WHERE model = 'credit' AND version = '4'")
        return db.training_usd("credit", "4"), rows.get("4", {}).get("training_usd"), view.fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("report, usd, source", [
    ({"file": "12.5\n"}, 12.5, "file"),
    ({"stdout": ["building", "MLOPS_TRAINING_USD=1", "MLOPS_TRAINING_USD= 3.25 "]}, 3.25, "stdout"),
    ({"file": "2", "stdout": ["MLOPS_TRAINING_USD=7"]}, 2.0, "file"),  # the file wins
    ({"file": "  \n", "stdout": ["MLOPS_TRAINING_USD=0"]}, 0.0, "stdout"),  # empty file: not a report
    ({"link": "5", "stdout": ["MLOPS_TRAINING_USD=0.75"]}, 0.75, "stdout"),  # a link is never followed
])
def test_the_hooks_report_is_the_training_cost(tmp_path, report, usd, source):
    ws, entry = retrain(tmp_path, report)
    assert (entry["training_usd"], entry["training_usd_source"]) == (usd, source)
    assert "training_usd_error" not in entry
    figure, cost_training, view = shown(ws)
    assert figure == view == usd and cost_training == (usd or None)  # never the parent's 999
    from console.governance.report import build_report, render

    md = render(build_report(ws, entry["request_id"]), "md")  # the auditor's report names it
    assert f"training_usd_source={source}" in md and "training_usd=" in md


@pytest.mark.parametrize("report, why", [
    ({"file": "lots"}, "output file reported 'lots'"),
    ({"stdout": ["MLOPS_TRAINING_USD=-3"]}, "standard output reported '-3'"),
    ({"file": "nan"}, "reported 'nan'"),
    ({"file": "1" * 5000}, "more than 4096 bytes"),
])
def test_a_report_that_is_not_a_cost_is_journaled_and_unknown(tmp_path, report, why):
    ws, entry = retrain(tmp_path, report)
    assert entry["training_usd"] is None and why in entry["training_usd_error"]
    assert shown(ws) == (None, None, None)  # unknown, not the registry's 999


def test_no_report_leaves_the_registry_entry_as_the_cost(tmp_path):
    ws, entry = retrain(tmp_path, {"stdout": ["done"]})
    assert not {"training_usd", "training_usd_source", "training_usd_error"} & set(entry)
    assert shown(ws) == (999.0, 999.0, 999.0)  # what the hook registered (here: copied, visibly)


async def test_the_versions_tab_shows_the_reported_cost(tmp_path):
    from tests.tui_helpers import make_app, settle

    ws, _ = retrain(tmp_path, {"file": "12.5"})
    app = make_app(ws.root, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("credit")
        await settle(app, pilot)
        await pilot.press("6")
        await settle(app, pilot)
        text = app.screen.query_one("#versions-lineage").render().plain  # v4, the newest, highlighted
        assert "training_usd 12.5" in text and "training_usd 999" not in text
        assert "as its retrain hook reported it" in text
