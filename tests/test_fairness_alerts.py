"""Fairness gaps, the ``fairness`` alert of ``check`` and the ``fairness`` promotion gate, on a
small seeded workspace: a binary model whose predictions favour one group and a multiclass
model (one-vs-rest), with every gap checked against numpy / scikit-learn on the same arrays."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import recall_score

from console.governance.gates import evaluate_gates
from console.workspace import load_dir
from tests.conftest import write_workspace
from tests.test_analytics_cli import iso, js, registry, write_jsonl

T0 = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)
N = 900
GROUPS = np.array(["a", "b", "c"])


def _gap(per: dict) -> tuple[float, list]:
    hi = max(per, key=per.get)
    lo = min(per, key=per.get)
    return per[hi] - per[lo], [hi, lo]


def _data(seed: int, task: str, bias: float):
    rng = np.random.default_rng(seed)
    g = GROUPS[rng.integers(0, 3, N)]
    if task == "binary":
        y = rng.integers(0, 2, N)
        flip = rng.random(N) < np.where(g == "a", bias, 0.1)  # group a: more positives predicted
        pred = np.where(flip, 1, np.where(rng.random(N) < 0.8, y, 1 - y))
    else:
        y = rng.integers(0, 3, N)
        pred = np.where(rng.random(N) < 0.75, y, rng.integers(0, 3, N))
        pred = np.where((g == "b") & (y == 2) & (rng.random(N) < bias), 0, pred)  # class 2 missed in b
    lab = rng.random(N) < 0.8
    return g, y, pred, lab


def _write(ws: Path, model: str, version: str, task: str, data, stage: str, offset: int = 0) -> None:
    g, y, pred, lab = data
    recs, labels = [], []
    for i in range(N):
        p = int(pred[i]) if task == "binary" else f"k{pred[i]}"
        recs.append({"ts": iso(T0 + dt.timedelta(minutes=10 * i + offset)), "model": model, "version": version,
                     "request_id": f"{model}{version}-{i}", "prediction": p, "latency_ms": 5.0,
                     "features": {"group": str(g[i]), "x": float(i % 7)},
                     **({"score": 0.9 if p == 1 else 0.1} if task == "binary" else {})})
        if lab[i]:
            labels.append({"request_id": f"{model}{version}-{i}", "model": model,
                           "label": int(y[i]) if task == "binary" else f"k{y[i]}"})
    write_jsonl(ws / "logs" / f"{model}-{version}.jsonl", recs)
    write_jsonl(ws / "labels" / f"{model}-{version}.jsonl", labels)
    registry(ws, {"model": model, "version": version, "task": task, "stage": stage,
                  **({"positive_label": 1, "threshold": 0.5} if task == "binary" else {}),
                  "features": {"group": "categorical", "x": "numeric"}, "slices": ["group"], "metrics": {},
                  "lineage": {"data_hash": "h", "code_commit": "c"}})


def _binary_truth(data) -> dict:
    g, y, pred, lab = data
    rate = {v: float(np.mean(pred[g == v] == 1)) for v in GROUPS}
    tpr = {v: float(recall_score(y[(g == v) & lab], pred[(g == v) & lab])) for v in GROUPS}
    return {"parity": _gap(rate), "equal_opportunity": _gap(tpr)}


def _multiclass_truth(data) -> dict:
    g, y, pred, lab = data
    per = {}
    for k in range(3):
        rate = {v: float(np.mean(pred[(g == v) & lab] == k)) for v in GROUPS}
        tpr = {v: float(recall_score(y[(g == v) & lab], pred[(g == v) & lab], labels=[k], average=None)[0])
               for v in GROUPS}
        per[f"k{k}"] = {"parity": _gap(rate), "equal_opportunity": _gap(tpr)}
    worst = {gap: max(per, key=lambda k, gap=gap: per[k][gap][0]) for gap in ("parity", "equal_opportunity")}
    return {"per": per, "worst": worst}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = write_workspace(tmp_path_factory.mktemp("fair") / "ws", extra_toml=(
        "\n[alerts]\nwindow = \"30d\"\nfairness_parity_max = 0.1\nfairness_equal_opportunity_max = 0.1\n"
        "[models.wine.alerts]\nfairness_parity_max = 0.5\n"
        "[gates]\nenabled = [\"fairness\"]\n"))
    truth = {"bin1": _data(1, "binary", 0.5), "bin2": _data(2, "binary", 0.1),
             "mc": _data(3, "multiclass", 0.6)}
    _write(root, "loan", "1", "binary", truth["bin1"], "production")
    _write(root, "loan", "2", "binary", truth["bin2"], "candidate", offset=3)
    _write(root, "wine", "1", "multiclass", truth["mc"], "production")
    js(root, "ingest")
    return root, truth


def test_binary_gaps_and_alert_match_sklearn(ws) -> None:
    root, truth = ws
    t = _binary_truth(truth["bin1"])
    rep = js(root, "slices", "--model", "loan", "--version", "1")
    f = rep["fairness"][0]
    assert f["feature"] == "group"
    assert abs(f["demographic_parity_difference"] - t["parity"][0]) < 1e-12
    assert f["parity_groups"] == t["parity"][1]
    assert abs(f["equal_opportunity_difference"] - t["equal_opportunity"][0]) < 1e-12
    assert f["equal_opportunity_groups"] == t["equal_opportunity"][1]
    assert t["parity"][0] > 0.1  # the seeded bias is really there
    check = js(root, "check", expect=1)
    fair = {a["evidence"]["gap"]: a for a in check["alerts"] if a["kind"] == "fairness" and a["model"] == "loan"}
    assert "parity" in fair and fair["parity"]["severity"] == "warning"
    ev = fair["parity"]["evidence"]
    assert ev["feature"] == "group" and ev["groups"] == t["parity"][1] and ev["threshold"] == 0.1
    assert abs(ev["value"] - t["parity"][0]) < 1e-12 and ev["positive_class"] is None
    for gap, a in fair.items():
        assert abs(a["evidence"]["value"] - t[gap][0]) < 1e-12 and t[gap][0] > 0.1
    assert set(fair) == {gap for gap in t if t[gap][0] > 0.1}


def test_multiclass_one_vs_rest_worst_class(ws) -> None:
    root, truth = ws
    t = _multiclass_truth(truth["mc"])
    f = js(root, "slices", "--model", "wine")["fairness"][0]
    assert f["one_vs_rest"] is True
    for k, per in t["per"].items():
        got = f["per_class"][k]
        assert abs(got["demographic_parity_difference"] - per["parity"][0]) < 1e-12
        assert abs(got["equal_opportunity_difference"] - per["equal_opportunity"][0]) < 1e-12
    k = t["worst"]["equal_opportunity"]
    assert f["equal_opportunity_class"] == k == "k2"  # the seeded miss: class 2 in group b
    assert abs(f["equal_opportunity_difference"] - t["per"][k]["equal_opportunity"][0]) < 1e-12
    assert f["equal_opportunity_groups"] == t["per"][k]["equal_opportunity"][1]
    assert f["parity_class"] == t["worst"]["parity"]
    check = js(root, "check", expect=1)
    wine = [a for a in check["alerts"] if a["kind"] == "fairness" and a["model"] == "wine"]
    # per-model override: parity allowed up to 0.5, equal opportunity still 0.1
    assert [a["evidence"]["gap"] for a in wine] == ["equal_opportunity"]
    assert wine[0]["evidence"]["positive_class"] == "k2" and "class k2 vs rest" in wine[0]["detail"]


def test_fairness_gate(ws, tmp_path) -> None:
    root, truth = ws
    ws_ = load_dir(root)
    t2 = _binary_truth(truth["bin2"])
    (gate,) = evaluate_gates(ws_, "loan", "2")
    over = [g for g in ("parity", "equal_opportunity") if t2[g][0] > 0.1]
    assert gate["gate"] == "fairness"
    assert gate["status"] == ("failed" if over else "passed"), (gate, t2)
    got = gate["evidence"]["gaps"][0]
    assert abs(got["parity"] - t2["parity"][0]) < 1e-12
    assert abs(got["equal_opportunity"] - t2["equal_opportunity"][0]) < 1e-12
    (gate1,) = evaluate_gates(ws_, "loan", "1")
    assert gate1["status"] == "failed" and "group" in gate1["detail"]
    # no threshold set, or no traffic: not evaluated, never passed
    bare = write_workspace(tmp_path / "bare", extra_toml="\n[gates]\nenabled = [\"fairness\"]\n")
    _write(bare, "loan", "1", "binary", truth["bin1"], "production")
    _write(bare, "loan", "3", "binary", truth["bin2"], "candidate")
    (bare / "logs" / "loan-3.jsonl").write_text("")
    js(bare, "ingest")
    (gate,) = evaluate_gates(load_dir(bare), "loan", "1")
    assert gate["status"] == "not_evaluated" and "no fairness threshold" in gate["detail"]
    with (bare / "console.toml").open("a") as fh:
        fh.write("[alerts]\nfairness_parity_max = 0.2\n")
    (gate,) = evaluate_gates(load_dir(bare), "loan", "3")
    assert gate["status"] == "not_evaluated" and "no traffic" in gate["detail"]


async def test_slices_tab_names_the_class_groups_and_threshold(ws) -> None:
    """The TUI's slices tab says, per sensitive feature, each gap with the class of a multiclass
    (one-vs-rest) gap, the two values compared, and over/within its threshold in words."""
    from tests.tui_helpers import make_app, settle

    root, truth = ws
    want = js(root, "slices", "--model", "wine")["fairness"][0]
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_model("wine")
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        text = app.screen.query_one("#slices-fairness").render().plain
    cls = want["parity_class"]
    hi, lo = want["parity_groups"]
    parity, eo = (line for line in text.splitlines() if line.startswith("  group · "))
    over = want["demographic_parity_difference"] > 0.5  # the wine model's own threshold
    assert parity == (f"  group · demographic parity: {want['demographic_parity_difference']:.3f} for class {cls} "
                      f"vs rest ({hi} vs {lo}) " + ("✗ over 0.5" if over else "✓ within 0.5"))
    over = want["equal_opportunity_difference"] > 0.1  # the workspace-wide threshold
    hi, lo = want["equal_opportunity_groups"]
    assert eo == (f"  group · equal opportunity: {want['equal_opportunity_difference']:.3f} for class "
                  f"{want['equal_opportunity_class']} vs rest ({hi} vs {lo}) " + ("✗ over 0.1" if over else "✓ within 0.1"))
