"""Every analytics command end to end on workspaces built from data we did not write:
scikit-learn's bundled breast_cancer (binary), wine (multiclass) and diabetes (regression)
datasets, written as prediction logs + labels + registry + reference files, ingested by the
real ingester, queried through ``python -m console`` — and the numbers checked against
scikit-learn and scipy on the same arrays."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as st
from sklearn import datasets
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

from tests.conftest import write_workspace
from tests.frozen_time import CONSOLE

T0 = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)
REL = 1e-9


def close(a, b) -> bool:
    return a is not None and abs(a - b) <= REL * max(abs(a), abs(b), 1e-300)


def run(ws: Path, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, MLOPS_CONSOLE_WORKSPACE=str(ws))
    res = subprocess.run([*CONSOLE, *args], capture_output=True, text=True,
                         env=env, cwd=ws, timeout=120)
    if expect is not None:
        assert res.returncode == expect, (args, res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    return res


def js(ws: Path, *args: str, expect: int = 0, sub: bool = False):
    """The command's JSON: in a subprocess (``sub``) or in-process through the same entry point
    (``console.cli.main``), which keeps this module fast; each command runs both ways below."""
    if sub:
        return json.loads(run(ws, *args, "--format", "json", expect=expect).stdout)
    import contextlib
    import io

    from console.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--workspace", str(ws), "--format", "json"])
    assert code == expect, (args, code, err.getvalue())
    return json.loads(out.getvalue())


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def registry(ws: Path, doc: dict) -> None:
    p = ws / "registry" / doc["model"] / f"{doc['version']}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def sk_workspace(tmp_path_factory) -> tuple[Path, dict]:
    """Three models from sklearn's datasets; returns the workspace and the arrays written."""
    ws = write_workspace(tmp_path_factory.mktemp("skws") / "ws", extra_toml=(
        "\n[alerts]\nwindow = \"30d\"\nops_window = \"30d\"\nerror_rate = 0.03\nperformance_tolerance = 0.02\nlatency_p95_ms = 120\n"
        "[multivariate]\nsample = 400\nfolds = 3\n"))
    rng = np.random.default_rng(2026)
    truth: dict = {}

    # -- binary: breast cancer --------------------------------------------------------------
    X, y = datasets.load_breast_cancer(return_X_y=True)
    names = [n.replace(" ", "_") for n in datasets.load_breast_cancer().feature_names[:6]]
    X = X[:, :6]
    order = rng.permutation(len(y))
    ref_idx, live_idx = order[:300], order[300:]
    clf = LogisticRegression(max_iter=5000).fit(X[ref_idx], y[ref_idx])
    ref_score = clf.predict_proba(X[ref_idx])[:, 1]
    live_X = X[live_idx].copy()
    live_X[:, 0] *= 1.25  # a shifted feature in production
    live_score = clf.predict_proba(live_X)[:, 1]
    live_pred = (live_score >= 0.5).astype(int)
    size = np.where(live_X[:, 0] > 20, "large", "small")
    n_live = len(live_idx)
    ts = [T0 + dt.timedelta(minutes=37 * i) for i in range(n_live)]  # ~7 days
    latency = rng.gamma(4, 20, n_live)
    status = np.where(rng.random(n_live) < 0.04, "error", "ok")
    recs, labels = [], []
    for i in range(n_live):
        r = {"ts": iso(ts[i]), "model": "cancer", "version": "1", "request_id": f"c{i:04d}",
             "features": {**{n: float(live_X[i, j]) for j, n in enumerate(names)}, "size": size[i]},
             "latency_ms": float(latency[i]), "cost_usd": 0.002 if i % 2 else None}
        if status[i] == "error":
            r.update(status="error", error="timeout")
        else:
            r.update(prediction=int(live_pred[i]), score=float(live_score[i]))
        if r["cost_usd"] is None:
            del r["cost_usd"]
        recs.append(r)
        if status[i] == "ok" and i % 5 != 0:  # 80% labelled, later, in a labels file
            labels.append({"request_id": f"c{i:04d}", "label": int(y[live_idx[i]]), "model": "cancer"})
    write_jsonl(ws / "logs" / "cancer.jsonl", recs)
    write_jsonl(ws / "labels" / "cancer.jsonl", labels)
    ref_recs = [{"ts": iso(T0 - dt.timedelta(days=30)), "model": "cancer", "version": "1",
                 "request_id": f"r{i}", "prediction": int(ref_score[i] >= .5), "score": float(ref_score[i]),
                 "label": int(y[ref_idx[i]]),
                 "features": {**{n: float(X[ref_idx[i], j]) for j, n in enumerate(names)},
                              "size": "large" if X[ref_idx[i], 0] > 20 else "small"}}
                for i in range(300)]
    write_jsonl(ws / "reference" / "cancer-1.jsonl", ref_recs)
    offline = {"accuracy": float(skm.accuracy_score(y[ref_idx], ref_score >= .5)),
               "roc_auc": float(skm.roc_auc_score(y[ref_idx], ref_score))}
    registry(ws, {"model": "cancer", "version": "1", "task": "binary", "stage": "production",
                  "created_at": iso(T0 - dt.timedelta(days=1)), "positive_label": 1, "threshold": 0.5,
                  "features": {**dict.fromkeys(names, "numeric"), "size": "categorical"},
                  "reference": "reference/cancer-1.jsonl", "metrics": offline, "slices": ["size"],
                  "cost": {"per_1k_predictions_usd": 1.5, "training_usd": 12.0, "monthly_budget_usd": 0.3}})
    ok = status == "ok"
    lab = np.array([i % 5 != 0 for i in range(n_live)]) & ok
    truth["cancer"] = dict(names=names, X_ref=X[ref_idx], X_live=live_X, y_live=y[live_idx], score=live_score,
                           pred=live_pred, ok=ok, lab=lab, ts=ts, latency=latency, status=status,
                           ref_score=ref_score, offline=offline, size=size)

    # -- multiclass: wine -------------------------------------------------------------------
    Xw, yw = datasets.load_wine(return_X_y=True)
    Xw = Xw[:, :4]
    pred_w = np.where(rng.random(len(yw)) < 0.85, yw, rng.integers(0, 3, len(yw)))
    tsw = [T0 + dt.timedelta(hours=2 * i) for i in range(len(yw))]
    write_jsonl(ws / "logs" / "wine.csv.jsonl", [
        {"ts": iso(tsw[i]), "model": "wine", "version": "2", "request_id": f"w{i}",
         "prediction": f"class_{pred_w[i]}", "label": f"class_{yw[i]}",
         "features": {f"x{j}": float(Xw[i, j]) for j in range(4)}} for i in range(len(yw))])
    registry(ws, {"model": "wine", "version": "2", "task": "multiclass", "stage": "production",
                  "features": {f"x{j}": "numeric" for j in range(4)}, "metrics": {"accuracy": 0.95}})
    truth["wine"] = dict(y=np.array([f"class_{v}" for v in yw]), pred=np.array([f"class_{v}" for v in pred_w]), ts=tsw)

    # -- regression: diabetes ---------------------------------------------------------------
    Xd, yd = datasets.load_diabetes(return_X_y=True)
    reg = LinearRegression().fit(Xd[:200], yd[:200])
    pd_ = reg.predict(Xd[200:])
    tsd = [T0 + dt.timedelta(hours=3 * i) for i in range(len(pd_))]
    write_jsonl(ws / "logs" / "diabetes.jsonl", [
        {"ts": iso(tsd[i]), "model": "diabetes", "version": "1", "request_id": f"d{i}",
         "prediction": float(pd_[i]), "label": float(yd[200 + i]),
         "features": {"bmi": float(Xd[200 + i, 2]), "bp": float(Xd[200 + i, 3]),
                      "sex": "a" if Xd[200 + i, 1] > 0 else "b"}} for i in range(len(pd_))])
    registry(ws, {"model": "diabetes", "version": "1", "task": "regression", "stage": "production",
                  "features": {"bmi": "numeric", "bp": "numeric", "sex": "categorical"},
                  "metrics": {"mae": float(skm.mean_absolute_error(yd[:200], reg.predict(Xd[:200])))},
                  "slices": ["sex"]})
    truth["diabetes"] = dict(y=yd[200:], pred=pd_, ts=tsd, sex=np.where(Xd[200:, 1] > 0, "a", "b"))
    res = run(ws, "ingest", "--format", "json")
    assert json.loads(res.stdout)["quarantined"] == 0
    return ws, truth


def test_drift_on_breast_cancer_matches_scipy(sk_workspace) -> None:
    ws, truth = sk_workspace
    t = truth["cancer"]
    rep = js(ws, "drift", "--model", "cancer", "--no-multivariate", sub=True)
    assert rep["model"] == "cancer" and rep["version"] == "1"
    assert rep["reference"]["rows"] == 300 and rep["current"]["rows"] == len(t["ts"])
    by = {f["feature"]: f for f in rep["features"]}
    for j, name in enumerate(t["names"]):
        f = by[name]
        ks = st.ks_2samp(t["X_ref"][:, j], t["X_live"][:, j])
        assert f["method"] == "ks" and close(f["score"], ks.pvalue), name
        assert close(f["stats"]["ks"], ks.statistic)
        w = st.wasserstein_distance(t["X_ref"][:, j], t["X_live"][:, j]) / np.std(t["X_ref"][:, j])
        assert close(f["stats"]["wasserstein_normed"], w)
    assert by[t["names"][0]]["drifted"] is True
    assert by["size"]["method"] == "z" and by["size"]["kind"] == "categorical"
    out = rep["output"]
    ok = t["ok"]
    assert out["feature"] == "score" and close(out["stats"]["ks_pvalue"], st.ks_2samp(t["ref_score"], t["score"][ok]).pvalue)
    assert out["stats"]["missing_share_current"] == pytest.approx((~ok).mean())
    # multivariate + a log-window reference + time bounds
    rep = js(ws, "drift", "--model", "cancer", "--multivariate", "--start", iso(t["ts"][100]),
             "--reference-start", iso(t["ts"][0]), "--reference-end", iso(t["ts"][100]))
    assert rep["reference"]["rows"] == 100 and rep["current"]["rows"] == len(t["ts"]) - 100
    assert rep["multivariate"]["auc"] is not None
    import contextlib
    import io

    from console.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["drift", "--workspace", str(ws), "--model", "cancer", "--no-multivariate"]) == 0
    assert "dataset drift" in out.getvalue() and t["names"][0] in out.getvalue()
    out = io.StringIO()  # a window without traffic: nothing tested, which is not "no drift"
    with contextlib.redirect_stdout(out):
        assert main(["drift", "--workspace", str(ws), "--model", "cancer", "--no-multivariate",
                     "--start", "2020-01-01", "--end", "2020-01-02"]) == 0
    assert "current 0 rows" in out.getvalue() and "dataset drift not tested" in out.getvalue(), out.getvalue()


def test_performance_on_all_three_tasks_matches_sklearn(sk_workspace) -> None:
    ws, truth = sk_workspace
    t = truth["cancer"]
    rep = js(ws, "performance", "--model", "cancer", "--window", "all", sub=True)
    (w,) = rep["windows"]
    lab = t["lab"]
    assert w["rows"] == int(t["ok"].sum()) and w["labelled"] == int(lab.sum())
    y, p, s = t["y_live"][lab], t["pred"][lab], t["score"][lab]
    m = w["metrics"]
    assert close(m["accuracy"], skm.accuracy_score(y, p)) and close(m["f1"], skm.f1_score(y, p))
    assert close(m["precision"], skm.precision_score(y, p)) and close(m["recall"], skm.recall_score(y, p))
    assert close(m["roc_auc"], skm.roc_auc_score(y, s)) and close(m["log_loss"], skm.log_loss(y, s))
    assert close(m["brier"], skm.brier_score_loss(y, s))
    assert close(w["vs_offline"]["roc_auc"], m["roc_auc"] - t["offline"]["roc_auc"])
    daily = js(ws, "performance", "--model", "cancer", "--window", "1d")
    assert sum(x["rows"] for x in daily["windows"]) == w["rows"]
    assert all(x["start"].endswith("T00:00:00Z") for x in daily["windows"])

    wine = truth["wine"]
    (w,) = js(ws, "performance", "--model", "wine", "--window", "all")["windows"]
    assert close(w["metrics"]["accuracy"], skm.accuracy_score(wine["y"], wine["pred"]))
    assert close(w["metrics"]["macro_f1"], skm.f1_score(wine["y"], wine["pred"], average="macro"))

    d = truth["diabetes"]
    (w,) = js(ws, "performance", "--model", "diabetes", "--window", "all")["windows"]
    assert close(w["metrics"]["mae"], skm.mean_absolute_error(d["y"], d["pred"]))
    assert close(w["metrics"]["rmse"], np.sqrt(skm.mean_squared_error(d["y"], d["pred"])))
    assert close(w["metrics"]["mape"], skm.mean_absolute_percentage_error(d["y"], d["pred"]))
    assert close(w["metrics"]["r2"], skm.r2_score(d["y"], d["pred"]))
    import contextlib
    import io

    from console.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["performance", "--workspace", str(ws), "--model", "diabetes", "--window", "7d",
                     "--format", "csv"]) == 0
    assert out.getvalue().splitlines()[0].startswith("start,end,rows,labelled")


def test_slices_ops_cost_on_sklearn_data(sk_workspace) -> None:
    ws, truth = sk_workspace
    t = truth["cancer"]
    rep = js(ws, "slices", "--model", "cancer", sub=True)
    vals = {x["value"]: x for x in rep["slices"]}
    for v in ("large", "small"):
        sel = t["lab"] & (t["size"] == v)
        assert vals[v]["labelled"] == int(sel.sum())
        assert close(vals[v]["metrics"]["accuracy"], skm.accuracy_score(t["y_live"][sel], t["pred"][sel]))
    import csv
    import io

    rows = {r["value"]: r for r in csv.DictReader(io.StringIO(run(ws, "slices", "--model", "cancer", "--format",
                                                                   "csv").stdout))}
    for v in ("large", "small"):  # the interval as two number columns, not a list in one cell
        low, high = vals[v]["accuracy_ci"]
        assert (float(rows[v]["accuracy_ci_low"]), float(rows[v]["accuracy_ci_high"])) == (low, high)
    d = truth["diabetes"]
    rep = js(ws, "slices", "--model", "diabetes", "--by", "sex")
    a = next(x for x in rep["slices"] if x["value"] == "a")
    sel = d["sex"] == "a"
    assert close(a["metrics"]["mae"], skm.mean_absolute_error(d["y"][sel], d["pred"][sel]))

    ops = js(ws, "ops", "--model", "cancer", "--window", "all", sub=True)
    (w,) = ops["windows"]
    assert w["requests"] == len(t["ts"]) and w["errors"] == int((t["status"] == "error").sum())
    assert close(w["latency_ms"]["p95"], float(np.percentile(t["latency"], 95)))
    assert len(js(ws, "ops", "--model", "cancer", "--window", "1d")["windows"]) >= 7

    cost = js(ws, "cost", "--model", "cancer", "--by", "version", sub=True)
    (row,) = cost["rows"]
    n = len(t["ts"])
    serving = sum(0.002 if i % 2 else 1.5 / 1000 for i in range(n))
    assert row["predictions"] == n and close(row["serving_usd"], serving)
    assert row["training_usd"] == 12.0 and close(row["total_usd"], serving + 12.0)
    assert cost["budget"][0]["month"] == "2026-10"
    days = js(ws, "cost", "--by", "day")["rows"]
    assert {r["model"] for r in days} == {"cancer", "wine", "diabetes"}


def test_check_fires_and_exits_one(sk_workspace) -> None:
    ws, _ = sk_workspace
    rep = js(ws, "check", expect=1, sub=True)
    assert rep["ok"] is False
    kinds = {(a["model"], a["kind"]) for a in rep["alerts"]}
    assert ("cancer", "drift") in kinds  # the shifted feature
    assert ("cancer", "budget") in kinds  # $0.30 budget
    assert ("cancer", "latency") in kinds  # p95 ≈ 155 ms ≥ 120 ms
    assert ("cancer", "errors") in kinds  # ~4% ≥ 3%
    assert ("wine", "performance") in kinds  # 0.85-ish vs 0.95 offline
    for a in rep["alerts"]:
        assert set(a) >= {"model", "version", "kind", "severity", "detail", "since", "evidence"}
        assert a["severity"] in ("critical", "warning")
    # output_drift: exactly where the drift report over the same window calls the output drifted
    for model in ("cancer", "wine", "diabetes"):
        outs = [a for a in rep["alerts"] if a["model"] == model and a["kind"] == "output_drift"]
        drift = next((a for a in rep["alerts"] if a["model"] == model and a["kind"] == "drift"), None)
        if drift is None:
            assert not outs
            continue
        dr = js(ws, "drift", "--model", model, "--no-multivariate", "--start", drift["window_since"],
                "--end", drift["until"])["output"]
        assert bool(outs) == bool(dr["drifted"]), (model, dr)
        for a in outs:
            assert a["severity"] == "warning" and a["evidence"]["column"] == dr["feature"]
            assert a["evidence"]["score"] == dr["score"] and a["evidence"]["threshold"] == dr["threshold"]
    assert any(a["kind"] == "output_drift" for a in rep["alerts"])  # the shifted cancer scores
    import contextlib
    import io

    from console.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["check", "--workspace", str(ws)]) == 1
    assert "alert(s)" in out.getvalue() and "✗ critical" in out.getvalue()


def test_query_and_usage_errors(sk_workspace, capsys, monkeypatch) -> None:
    ws, truth = sk_workspace
    rows = js(ws, "query", "SELECT model, count(*) AS n FROM predictions GROUP BY 1 ORDER BY 1", sub=True)
    assert rows == [{"model": "cancer", "n": len(truth["cancer"]["ts"])},
                    {"model": "diabetes", "n": len(truth["diabetes"]["y"])},
                    {"model": "wine", "n": len(truth["wine"]["y"])}]
    csv = run(ws, "query", "SELECT 1 AS a", "--format", "csv").stdout
    assert csv == "a\n1\n"
    res = run(ws, "query", "DROP VIEW predictions", expect=2)
    assert res.stdout == "" and res.stderr.count("\n") == 1 and "read-only" in res.stderr
    # the rest in-process through the same entry point (console.cli.main), to keep this fast
    from console.cli import main

    monkeypatch.setenv("MLOPS_CONSOLE_WORKSPACE", str(ws))
    monkeypatch.chdir(ws)
    capsys.readouterr()
    for args in (["query", "COPY predictions TO 'x.csv'"],
                 ["query", "SELECT * FROM read_csv('/etc/passwd')"],
                 ["drift", "--model", "nope"], ["performance", "--model", "cancer", "--window", "3x"],
                 ["ops", "--model", "cancer", "--start", "yesterday"],
                 ["slices", "--model", "cancer", "--by", "colour"],
                 ["performance", "--model", "cancer", "--start", "2026-10-09", "--end", "2026-10-08"],
                 ["drift", "--model", "wine"]):
        assert main([*args, "--format", "json"]) == 2, args
        out, err = capsys.readouterr()
        assert out == "" and len(err.strip().splitlines()) == 1, (args, err)
    assert not (ws / "x.csv").exists()


def test_default_window_widens_on_data_spanning_years(tmp_path) -> None:
    """``ops`` (default 1h) and ``performance`` (default 1d) on three years of data: the
    default window widens to a sensible size instead of failing; an explicit size is kept."""
    ws = write_workspace(tmp_path / "ws")
    start = dt.datetime(2023, 11, 1, tzinfo=dt.UTC)
    recs = [{"ts": iso(start + dt.timedelta(days=3 * i)), "model": "m", "version": "1",
             "request_id": f"q{i}", "prediction": i % 2, "score": (i % 10) / 10,
             "latency_ms": 10.0 + i % 7, "features": {"x": float(i)}} for i in range(365)]
    write_jsonl(ws / "logs" / "m.jsonl", recs)
    write_jsonl(ws / "labels" / "m.jsonl", [{"request_id": f"q{i}", "label": i % 3 % 2} for i in range(365)])
    registry(ws, {"model": "m", "version": "1", "task": "binary", "stage": "production"})
    run(ws, "ingest")
    ops = js(ws, "ops", "--model", "m")
    assert ops["window"] == "1d"  # 1h would be ~26k windows over three years
    assert sum(w["requests"] for w in ops["windows"]) == 365
    assert 1000 < len(ops["windows"]) <= 2000
    assert js(ws, "ops", "--model", "m", "--window", "7d")["window"] == "7d"
    err = run(ws, "ops", "--model", "m", "--window", "1h", expect=2).stderr
    assert "too many" in err and len(err.strip().splitlines()) == 1
    perf = js(ws, "performance", "--model", "m")
    assert perf["window"] == "1d" and sum(w["rows"] for w in perf["windows"]) == 365
    table = run(ws, "ops", "--model", "m").stdout
    assert "window 1d" in table
