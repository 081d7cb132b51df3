"""Estimated performance (``estimate``) against NannyML, on NannyML's own synthetic datasets.

``tests/oracles/make_cbpe_oracle.py`` (run once, in a NannyML environment of its own) wrote the
inputs and NannyML's per-chunk results; here the same rows become a workspace — reference files,
prediction logs with analysis row ``i`` on day ``i // chunk`` (so each daily window is one NannyML
chunk), late labels for some windows — ingested by the real ingester and estimated through the
command line. CBPE must agree with NannyML within 0.01 per chunk (it agrees to ~1e-6: the same
algorithm); DLE uses scikit-learn's gradient boosting instead of LightGBM, so its estimates are held
to a relative tolerance and its bands (which depend on the reference only) to NannyML's exactly.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_workspace

ORACLES = Path(__file__).resolve().parent / "oracles"
T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
CBPE_LABELLED_DAYS = 8  # of the 10 analysis days: the last two have no labels yet


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def read_inputs(name: str) -> list[dict]:
    with gzip.open(ORACLES / name, "rt") as fh:
        return list(csv.DictReader(fh))


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def ts_of(i: int, chunk: int) -> dt.datetime:
    return T0 + dt.timedelta(days=i // chunk, microseconds=(i % chunk) * (86_400_000_000 // chunk))


def cli(ws: Path, *args: str, expect: int = 0) -> tuple[str, str]:
    from console.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--workspace", str(ws)])
    assert code == expect, (args, code, err.getvalue()[-2000:])
    return out.getvalue(), err.getvalue()


def js(ws: Path, *args: str) -> dict:
    return json.loads(cli(ws, *args, "--format", "json")[0])


def registry(ws: Path, doc: dict) -> None:
    p = ws / "registry" / doc["model"] / f"{doc['version']}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def oracle_ws(tmp_path_factory) -> Path:
    ws = write_workspace(tmp_path_factory.mktemp("estimate") / "ws")
    # -- binary: NannyML's synthetic "work from home" data ----------------------------------
    rows = read_inputs("cbpe_inputs.csv.gz")
    ref = [r for r in rows if r["period"] == "reference"]
    ana = [r for r in rows if r["period"] == "analysis"]
    chunk = json.loads((ORACLES / "cbpe_nannyml.json").read_text())["chunk_size"]
    write_jsonl(ws / "reference" / "wfh.jsonl", [
        {"ts": iso(T0 - dt.timedelta(days=60)), "model": "wfh", "version": "1", "request_id": f"r{i}",
         "score": float(r["score"]), "prediction": int(r["prediction"]), "label": int(r["label"])}
        for i, r in enumerate(ref)])
    write_jsonl(ws / "logs" / "wfh.jsonl", [
        {"ts": iso(ts_of(i, chunk)), "model": "wfh", "version": "1", "request_id": f"a{i}",
         "score": float(r["score"]), "prediction": int(r["prediction"])} for i, r in enumerate(ana)])
    write_jsonl(ws / "labels" / "wfh.jsonl", [
        {"request_id": f"a{i}", "model": "wfh", "label": int(r["label"])}
        for i, r in enumerate(ana) if i // chunk < CBPE_LABELLED_DAYS])
    registry(ws, {"model": "wfh", "version": "1", "task": "binary", "stage": "production", "positive_label": 1,
                  "threshold": 0.5, "reference": "reference/wfh.jsonl"})
    # -- regression: NannyML's synthetic car prices ------------------------------------------
    rows = read_inputs("dle_inputs.csv.gz")
    meta = json.loads((ORACLES / "dle_nannyml.json").read_text())
    feats = meta["features"]
    kinds = {f: "categorical" if f in ("fuel", "transmission") else "numeric" for f in feats}

    def features(r: dict) -> dict:
        return {f: (r[f] if kinds[f] == "categorical" else float(r[f])) for f in feats}

    ref = [r for r in rows if r["period"] == "reference"]
    ana = [r for r in rows if r["period"] == "analysis"]
    write_jsonl(ws / "reference" / "cars.jsonl", [
        {"ts": iso(T0 - dt.timedelta(days=60)), "model": "cars", "version": "1", "request_id": f"r{i}",
         "prediction": float(r["y_pred"]), "label": float(r["y_true"]), "features": features(r)}
        for i, r in enumerate(ref)])
    write_jsonl(ws / "logs" / "cars.jsonl", [
        {"ts": iso(ts_of(i, meta["chunk_size"])), "model": "cars", "version": "1", "request_id": f"c{i}",
         "prediction": float(r["y_pred"]), "label": float(r["y_true"]), "features": features(r)}
        for i, r in enumerate(ana)])
    registry(ws, {"model": "cars", "version": "1", "task": "regression", "stage": "production",
                  "features": kinds, "reference": "reference/cars.jsonl"})
    # -- what cannot be estimated -------------------------------------------------------------
    write_jsonl(ws / "reference" / "nolabels.jsonl", [
        {"ts": iso(T0 - dt.timedelta(days=60)), "model": "nolabels", "version": "1", "request_id": f"n{i}",
         "score": i / 20, "prediction": int(i >= 10)} for i in range(20)])
    write_jsonl(ws / "logs" / "small.jsonl", [
        *({"ts": iso(T0 + dt.timedelta(hours=i)), "model": "nolabels", "version": "1", "request_id": f"n{i}",
           "score": i / 20, "prediction": int(i >= 10)} for i in range(20)),
        *({"ts": iso(T0 + dt.timedelta(hours=i)), "model": "router", "version": "1", "request_id": f"t{i}",
           "prediction": "billing", "label": "billing"} for i in range(5))])
    registry(ws, {"model": "nolabels", "version": "1", "task": "binary", "stage": "production",
                  "reference": "reference/nolabels.jsonl"})
    registry(ws, {"model": "router", "version": "1", "task": "multiclass", "stage": "production"})
    cli(ws, "ingest", "--format", "json")
    return ws


def test_cbpe_matches_nannyml_per_chunk(oracle_ws) -> None:
    oracle = json.loads((ORACLES / "cbpe_nannyml.json").read_text())
    rep = js(oracle_ws, "estimate", "--model", "wfh", "--window", "1d")
    assert rep["method"] == "CBPE" and rep["reference"]["rows"] == oracle["reference_rows"]
    assert rep["reference"]["calibrated"] is oracle["needs_calibration"]
    assert len(rep["windows"]) == len(oracle["chunks"])
    worst = 0.0
    covered = labelled = 0
    for day, (w, chunk) in enumerate(zip(rep["windows"], oracle["chunks"], strict=True)):
        assert w["start"] == iso(T0 + dt.timedelta(days=day)) and w["rows"] == oracle["chunk_size"]
        assert set(w["metrics"]) == {"roc_auc", "accuracy", "precision", "recall", "f1"}
        for name, ours in w["metrics"].items():
            theirs = chunk["metrics"][name]
            assert set(ours) == {"estimated", "lower", "upper", "realized"}
            for k in ("estimated", "lower", "upper"):
                worst = max(worst, abs(ours[k] - theirs[k]))
                assert ours[k] == pytest.approx(theirs[k], abs=0.01), (day, name, k)
            if day < CBPE_LABELLED_DAYS:
                # NannyML's realized values are scikit-learn's on the same labels
                assert ours["realized"] == pytest.approx(theirs["realized"], abs=1e-9), (day, name)
                labelled += 1
                covered += ours["lower"] <= ours["realized"] <= ours["upper"]
            else:
                assert ours["realized"] is None, (day, name)
    assert worst < 1e-4  # the same algorithm: far inside the 0.01 the issue asks
    assert covered >= 0.7 * labelled, (covered, labelled)


def test_dle_against_nannyml(oracle_ws) -> None:
    oracle = json.loads((ORACLES / "dle_nannyml.json").read_text())
    rep = js(oracle_ws, "estimate", "--model", "cars", "--window", "1d")
    assert rep["method"] == "DLE" and rep["reference"]["rows"] == oracle["reference_rows"]
    assert len(rep["windows"]) == len(oracle["chunks"])
    covered = total = 0
    for w, chunk in zip(rep["windows"], oracle["chunks"], strict=True):
        for name, ours in w["metrics"].items():
            theirs = chunk["metrics"][name]
            # a different gradient-boosting library: the same per-row error model, not the same trees
            assert ours["estimated"] == pytest.approx(theirs["estimated"], rel=0.03), name  # measured ≤ 1.5 %
            # the band's half-width is 3 sampling errors, a function of the reference alone: exact
            assert (ours["upper"] - ours["lower"]) / 6 == pytest.approx(theirs["sampling_error"], rel=1e-9), name
            assert ours["realized"] == pytest.approx(theirs["realized"], rel=1e-9), name
            total += 1
            covered += ours["lower"] <= ours["realized"] <= ours["upper"]
    # both libraries see the shift: the estimated MAE falls with the realized one after day 2
    est = [w["metrics"]["mae"]["estimated"] for w in rep["windows"]]
    assert max(est[2:]) < min(est[:2])
    assert covered >= 0.7 * total, (covered, total)  # 15 of 18 (NannyML's own: 16)


def test_one_metric_csv_and_table(oracle_ws) -> None:
    rep = js(oracle_ws, "estimate", "--model", "wfh", "--metric", "accuracy", "--window", "all")
    assert rep["metric_names"] == ["accuracy"] and len(rep["windows"]) == 1
    assert set(rep["windows"][0]) == {"start", "end", "rows", "metrics"}
    assert set(rep["windows"][0]["metrics"]) == {"accuracy"}
    out, _ = cli(oracle_ws, "estimate", "--model", "wfh", "--metric", "f1", "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0].split(",")[:8] == ["start", "end", "rows", "metric", "estimated", "lower", "upper", "realized"]
    assert len(lines) == 11
    out, _ = cli(oracle_ws, "estimate", "--model", "wfh", "--metric", "f1")
    assert "CBPE estimate" in out and "band = estimate ± 3 sampling errors" in out


@pytest.mark.parametrize(("args", "words"), [
    (("--model", "router"), "multiclass model"),
    (("--model", "nolabels"), "no rows with both a score and a label"),
    (("--model", "wfh", "--metric", "mae"), "unknown metric 'mae'"),
    (("--model", "cars", "--metric", "roc_auc"), "unknown metric 'roc_auc'"),
    (("--model", "nope"), "unknown model 'nope'"),
])
def test_what_cannot_be_estimated_is_one_line(oracle_ws, args, words) -> None:
    out, err = cli(oracle_ws, "estimate", *args, expect=2)
    assert out == "" and words in err and len(err.strip().splitlines()) == 1, err


def test_cbpe_estimates_from_counts_equal_row_by_row() -> None:
    """The per-window estimate groups rows by (score, prediction); NannyML's formulas row by row
    (expected confusion matrix; expected ROC curve sorted by score) give the same numbers."""
    from sklearn.metrics import auc

    from console.analytics.estimate import expected_metrics

    rng = np.random.default_rng(7)
    score = np.round(rng.random(3000), 2)  # many ties
    p = np.clip(score + rng.normal(0, 0.05, score.size), 0, 1)
    p = np.interp(score, np.unique(score), np.sort(np.unique(p))[: np.unique(score).size])  # a function of score
    yhat = (score >= 0.4).astype(int)
    keys, count = np.unique(np.c_[score, yhat, p], axis=0, return_counts=True)
    got = expected_metrics(keys[:, 0], keys[:, 1].astype(int), count.astype(float), keys[:, 2])
    tp = np.sum(np.where(yhat == 1, p, 0))
    fp = np.sum(np.where(yhat == 1, 1 - p, 0))
    fn = np.sum(np.where(yhat == 0, p, 0))
    tn = np.sum(np.where(yhat == 0, 1 - p, 0))
    assert got["accuracy"] == pytest.approx((tp + tn) / score.size, abs=1e-12)
    assert got["precision"] == pytest.approx(tp / (tp + fp), abs=1e-12)
    assert got["recall"] == pytest.approx(tp / (tp + fn), abs=1e-12)
    assert got["f1"] == pytest.approx(tp / (tp + 0.5 * (fp + fn)), abs=1e-12)
    order = np.argsort(score, kind="stable")[::-1]
    tps = np.r_[0, np.cumsum(p[order])]
    fps = np.r_[0, np.cumsum(1 - p[order])]
    assert got["roc_auc"] == pytest.approx(auc(fps / fps[-1], tps / tps[-1]), abs=1e-6)
