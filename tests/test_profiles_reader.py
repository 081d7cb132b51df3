"""Answers from the daily profiles (console.profiles.reader) against the exact path on the same
data (the ingested sample): counts, error rates, labelled rows and cost equal exactly; binary
metrics from the merged confusion counts equal ``performance_report``'s; latency quantiles
within ALPHA of the exact order statistic; a numeric feature's drift equal to the same
Wasserstein within the sketch's stated bound of the raw values' (the report's own test; a
binned method's score exactly the raw values' on the reference's bins), a categorical
feature's equal to the drift report's own; stale profiles refreshed before answering; windows that are not
whole days answered exactly, and the command line saying which path answered."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from console.analytics import parse_time, stats
from console.analytics.drift import drift_windows, plan_drift
from console.analytics.performance import performance_report
from console.profiles import core, local, reader

MODEL = "credit-risk"
START, END = parse_time("2026-11-15"), parse_time("2026-11-22")


def _open(ws: Path):
    from console.governance.state import fleet_state
    from console.store.db import open_store
    from console.store.registry import load_registry
    from console.workspace import load

    w = load(ws)
    state = fleet_state(w, load_registry(w.registry, w.root))
    return open_store(w, stages=dict(state.stages), production=dict(state.production))


def _column(db, sql: str, params: list) -> np.ndarray:
    return np.array([r[0] for r in db.cursor().execute(sql, params).fetchall()], dtype=np.float64)


@pytest.fixture(name="db")
def db_fixture(sample_ws):
    db = _open(sample_ws)
    yield db
    db.close()


def test_trend_from_profiles_equals_the_exact_path(db):
    prof = reader.trend(db, MODEL, start=START, end=END, window="1d")
    exact = reader.trend(db, MODEL, start=START, end=END, window="1d", exact=True)
    assert prof["source"] == "profiles" and exact["source"] == "exact"
    assert [w["start"] for w in prof["windows"]] == [w["start"] for w in exact["windows"]]
    assert len(prof["windows"]) == 7
    version = prof["version"]
    perf = performance_report(db, MODEL, version, window="1d", start=START, end=END)["windows"]
    labelled_windows = 0
    for p, e, pw in zip(prof["windows"], exact["windows"], perf, strict=True):
        for k in ("requests", "errors", "error_rate", "labelled"):
            assert p[k] == e[k], (p["start"], k)
        s, t = parse_time(p["start"]), parse_time(p["end"])
        costs = _column(db, "SELECT cost_usd FROM predictions WHERE model = ? AND version = ? AND ts >= ? "
                            "AND ts < ? AND isfinite(cost_usd)", [MODEL, version, s.replace(tzinfo=None),
                                                                   t.replace(tzinfo=None)])
        assert p["cost_usd"] == math.fsum(costs.tolist())  # correctly rounded: equal, not close
        assert e["cost_usd"] == pytest.approx(p["cost_usd"], rel=1e-12, abs=1e-15)
        lat = np.sort(_column(db, "SELECT latency_ms FROM predictions WHERE model = ? AND version = ? AND ts >= ? "
                                  "AND ts < ? AND isfinite(latency_ms)",
                              [MODEL, version, s.replace(tzinfo=None), t.replace(tzinfo=None)]))
        for q, key in zip(reader.QS, ("p50", "p95", "p99"), strict=True):
            x = lat[math.floor(q * (lat.size - 1))]  # the order statistic the sketch bounds
            assert abs(p["latency_ms"][key] - x) <= core.ALPHA * abs(x) + 1e-12
            assert e["latency_ms"][key] == pytest.approx(np.quantile(lat, q))  # the exact path interpolates
        assert p["latency_ms"]["max"] == lat.max()
        assert pw["labelled"] == p["labelled"]
        labelled_windows += bool(p["labelled"])
        for k in ("accuracy", "precision", "recall", "f1") if p["labelled"] else ():
            assert p["metrics"][k] == pytest.approx(pw["metrics"][k], abs=1e-12), k
        assert set(p["missing_share"]) >= set(e["missing_share"])
        for f, share in e["missing_share"].items():
            assert p["missing_share"][f] == pytest.approx(share, abs=1e-15), f
    assert labelled_windows, "some windows have labels: the metrics were compared"


def _drift_against_raw_values(db):
    """Each window's drift from profiles, beside the exact report's and the raw values."""
    rep = reader.trend(db, MODEL, start=START, end=END, window="1d")
    version = rep["version"]
    plan = plan_drift(db, MODEL, version, None, None, None, None)
    ref = plan.reference_data()
    plan.reference.ready()
    exact = drift_windows(db, MODEL, version, start=START, end=END, window="1d")["windows"]
    cols = {name: (col, kind, rc) for name, col, kind, _, rc in plan.feats}
    for w, ew in zip(rep["windows"], exact, strict=True):
        s, t = parse_time(w["start"]).replace(tzinfo=None), parse_time(w["end"]).replace(tzinfo=None)
        by_name = {f["feature"]: f for f in ew["features"]}
        for f in w["drift"]["features"]:
            col, kind, rc = cols[f["feature"]]
            b = None
            if kind == "numeric":
                b = _column(db, f'SELECT "{col}" FROM predictions WHERE model = ? AND version = ? AND ts >= ? '
                                f'AND ts < ? AND isfinite("{col}")', [MODEL, version, s, t])
            yield f, by_name[f["feature"]], kind, (ref.columns[rc].values if kind == "numeric" else None), b


def test_numeric_drift_from_profiles_is_the_reports_wasserstein_within_its_bound(db):
    """A numeric feature gets the drift report's own test (Wasserstein over the reference's std,
    the reference having > 1000 values), computed on the merged sketch: within ``score_bound``
    of scipy's distance on the raw values — the bound being the sketch's ALPHA of the mean
    magnitude — and the same verdict wherever the threshold is not inside that bound."""
    from scipy.stats import wasserstein_distance

    checked = {"numeric": 0, "categorical": 0, "verdicts": 0}
    for f, e, kind, a, b in _drift_against_raw_values(db):
        if kind == "numeric":
            assert f["method"] == e["method"] == "wasserstein"
            norm = max(float(np.std(a)), stats.WASSERSTEIN_STD_FLOOR)
            raw = wasserstein_distance(a, b) / norm
            bound = f["score_bound"]
            assert abs(f["score"] - raw) <= bound + 1e-12, (f["feature"], f["score"], raw, bound)
            assert bound <= core.ALPHA * (1 + core.ALPHA) / (1 - core.ALPHA) * float(np.mean(np.abs(b))) / norm + 1e-12
            assert e["score"] == pytest.approx(raw, rel=1e-9)
            if abs(raw - f["threshold"]) > bound:
                assert f["drifted"] == e["drifted"] == (raw >= f["threshold"])
                checked["verdicts"] += 1
            assert "edges" not in f
            checked["numeric"] += 1
        else:
            assert f["exact_counts"] is True
            assert f["method"] == e["method"]
            assert f["score"] == pytest.approx(e["score"], rel=1e-12), f["feature"]
            assert f["drifted"] == e["drifted"]
            checked["categorical"] += 1
        assert f["missing_share_current"] == pytest.approx(e["stats"]["missing_share_current"])
    assert checked["numeric"] >= 20 and checked["categorical"] and checked["verdicts"] >= 20, checked


def test_a_binned_method_scores_numeric_features_on_the_reference_edges(sample_ws):
    """With a binned method configured (here PSI), a numeric feature is scored on the reference's
    own Sturges bins: exactly the statistic of the raw values on those bins."""
    with (sample_ws / "console.toml").open("a") as f:
        f.write('\n[drift]\nnumeric_method = "psi"\n')
    db = _open(sample_ws)
    try:
        checked = 0
        for f, _e, kind, a, b in _drift_against_raw_values(db):
            if kind != "numeric":
                continue
            edges = np.histogram_bin_edges(a, bins="sturges")
            assert f["edges"] == pytest.approx(edges.tolist(), abs=0)
            inside = (b >= edges[0]) & (b <= edges[-1])
            cur = [int((b < edges[0]).sum()), *np.histogram(b[inside], edges)[0].tolist(), int((b > edges[-1]).sum())]
            refc = [0, *np.histogram(a, edges)[0].tolist(), 0]
            keep = [i for i in range(len(cur)) if cur[i] or refc[i]]
            r = np.array([refc[i] for i in keep], float)
            c = np.array([cur[i] for i in keep], float)
            assert f["method"] == "psi" and "score_bound" not in f
            assert f["score"] == pytest.approx(stats.psi(r / r.sum(), c / c.sum()), rel=1e-12)
            assert f["drifted"] == (f["score"] >= stats.DEFAULT_THRESHOLDS["psi"])
            checked += 1
        assert checked >= 20
    finally:
        db.close()


def test_stale_profiles_are_refreshed_before_answering(sample_ws):
    from tests.tui_helpers import ingest

    db = _open(sample_ws)
    try:
        local.profile_store(db)
        before = reader.trend(db, MODEL, start=START, end=END, window="1d")["windows"][-1]["requests"]
    finally:
        db.close()
    log = sample_ws / "logs" / MODEL / "predictions-2026-11-21.jsonl"
    last = json.loads(log.read_text().splitlines()[-1])
    with log.open("a") as f:
        for i in range(25):
            rec = dict(last, ts=f"2026-11-21T23:30:{i:02d}Z", request_id=f"late-{i}", status="error" if i % 5 else "ok")
            f.write(json.dumps(rec) + "\n")
    ingest(sample_ws)
    db = _open(sample_ws)
    try:
        got = reader.trend(db, MODEL, start=START, end=END, window="1d")
        exact = reader.trend(db, MODEL, start=START, end=END, window="1d", exact=True)
        assert got["source"] == "profiles"
        assert got["windows"][-1]["requests"] == before + 25 == exact["windows"][-1]["requests"]
        assert got["windows"][-1]["errors"] == exact["windows"][-1]["errors"]
        again = local.profile_store(db)
        assert again["computed"] == []  # the answer left every day fresh
    finally:
        db.close()


def test_windows_that_are_not_whole_days_are_answered_exactly(db):
    rep = reader.trend(db, MODEL, start=parse_time("2026-11-20T12:00:00Z"), end=END, window="1d")
    assert rep["source"] == "exact" and "midnight" in rep["why"]
    rep = reader.trend(db, MODEL, start=START, end=END, window="1h", drift=False)
    assert rep["source"] == "exact" and "whole days" in rep["why"]
    assert reader.day_aligned(7 * 86400, START, END) is None


def test_fleet_from_profiles_equals_the_exact_counts(db):
    prof = reader.fleet(db, START, END)
    exact = reader.fleet(db, START, END, exact=True)
    assert prof["source"] == "profiles" and exact["source"] == "exact"
    assert [r["model"] for r in prof["models"]] == [r["model"] for r in exact["models"]]
    for p, e in zip(prof["models"], exact["models"], strict=True):
        for k in ("version", "requests", "errors", "error_rate", "labelled"):
            assert p[k] == e[k], (p["model"], k)
        assert p["cost_usd"] == pytest.approx(e["cost_usd"], rel=1e-12, abs=1e-15)
        assert p["drift"]["tested_features"] >= 1


def test_trend_and_fleet_commands_say_which_path_answered(sample_ws, capsys):
    from console.cli import main

    args = ["--workspace", str(sample_ws), "trend", "--model", MODEL, "--start", "2026-11-20", "--end",
            "2026-11-22", "--format", "json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "profiles" and len(out["windows"]) == 2
    assert main([*args, "--exact"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["source"] == "exact"
    assert [w["requests"] for w in exact["windows"]] == [w["requests"] for w in out["windows"]]
    assert main(["--workspace", str(sample_ws), "fleet", "--format", "json"]) == 0
    fleet = json.loads(capsys.readouterr().out)
    assert fleet["source"] == "profiles" and {r["model"] for r in fleet["models"]} >= {MODEL}
    assert main(["--workspace", str(sample_ws), "trend", "--model", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["--workspace", str(sample_ws), "trend", "--model", MODEL, "--window", "soon"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1



@pytest.mark.parametrize("model,keys", [("delivery-eta", ("mae", "rmse")), ("ticket-router", ("accuracy", "macro_f1"))])
def test_metrics_from_profiles_equal_performance_report(db, model, keys):
    rep = reader.trend(db, model, start=START, end=END, window="1d", drift=False)
    assert rep["source"] == "profiles"
    perf = performance_report(db, model, rep["version"], window="1d", start=START, end=END)["windows"]
    compared = 0
    for p, e in zip(rep["windows"], perf, strict=True):
        assert p["labelled"] == e["labelled"]
        for k in keys if p["labelled"] else ():
            assert p["metrics"][k] == pytest.approx(e["metrics"][k], rel=1e-9), (model, p["start"], k)
            compared += 1
    assert compared


def test_profiles_that_cannot_be_written_leave_the_exact_path_answering(db):
    import shutil

    out = local.profiles_dir(db)
    shutil.rmtree(out, ignore_errors=True)
    out.write_text("not a folder")  # nothing can be written below it, even by root
    rep = reader.trend(db, MODEL, start=START, end=END, window="1d", drift=False)
    assert rep["source"] == "exact" and "could not be refreshed" in rep["why"]
    assert len(rep["windows"]) == 7
    fl = reader.fleet(db, START, END)
    assert fl["source"] == "exact" and "could not be refreshed" in fl["why"]


def test_multi_day_windows_merge_their_days(db):
    prof = reader.trend(db, MODEL, start=START, end=END, window="7d", features=["region"])
    exact = reader.trend(db, MODEL, start=START, end=END, window="7d", exact=True, features=["region"])
    assert prof["source"] == "profiles" and len(prof["windows"]) == 2  # clipped at both ends, midnights
    for p, e in zip(prof["windows"], exact["windows"], strict=True):
        assert (p["start"], p["end"]) == (e["start"], e["end"])
        assert (p["requests"], p["errors"], p["labelled"]) == (e["requests"], e["errors"], e["labelled"])
        assert [f["feature"] for f in p["drift"]["features"]] == ["region"]
        assert p["drift"]["features"][0]["score"] == pytest.approx(e["drift"]["features"][0]["score"], rel=1e-12)


def test_time_ranges_are_remembered_per_batch_and_never_stale(sample_ws):
    """The profiles' up-to-date scan hands each model's and version's first and last ``ts`` to
    ``data_range`` (kept on disk per store batch: the next process does not scan every row
    again); a new batch is scanned again, so a later record moves the range."""
    from console.analytics import cache
    from console.analytics.source import Scope, _range_key, data_range
    from tests.tui_helpers import ingest

    def exact(db, model, version=None):
        cond = "model = ?" + (" AND version = ?" if version else "")
        lo, hi = db.cursor().execute(f"SELECT min(ts), max(ts) FROM predictions WHERE {cond}",
                                     [model, *([version] if version else [])]).fetchone()
        return lo.isoformat(), hi.isoformat()

    def naive(rng):
        return tuple(t.replace(tzinfo=None).isoformat() for t in rng)

    db = _open(sample_ws)
    try:
        local.profile_store(db)
        versions = [r[0] for r in db.cursor().execute(
            "SELECT DISTINCT version FROM predictions WHERE model = ? ORDER BY 1", [MODEL]).fetchall()]
        assert len(versions) >= 2
        for v in [None, *versions]:
            key = ("per_batch", cache.key_hash(_range_key(Scope(MODEL, v), "predictions")))
            assert db.memo.get(key) is not None, v  # handed over by the scan, not computed again
            assert naive(data_range(db, Scope(MODEL, v))) == exact(db, MODEL, v)
        batch = db.batch
    finally:
        db.close()
    cache._MEMORY.clear()  # as a new process: only the disk holds it
    db = _open(sample_ws)
    try:
        disk = cache.cache_for(db).get({**_range_key(Scope(MODEL, None), "predictions"), "batch": batch})
        assert disk is not None and db.batch == batch
        assert naive(data_range(db, Scope(MODEL, None))) == exact(db, MODEL)
        old_hi = exact(db, MODEL)[1]
    finally:
        db.close()
    log = sorted((sample_ws / "logs" / MODEL).glob("predictions-*.jsonl"))[-1]
    last = json.loads(log.read_text().splitlines()[-1])
    with log.open("a") as f:
        f.write(json.dumps(dict(last, ts=old_hi[:19].replace(" ", "T") + ".5Z", request_id="later-1")) + "\n")
    ingest(sample_ws)
    db = _open(sample_ws)
    try:
        assert db.batch > batch
        got = naive(data_range(db, Scope(MODEL, None)))
        assert got == exact(db, MODEL) and got[1] > old_hi
    finally:
        db.close()


def test_wasserstein_to_weighted_points_equals_scipys():
    """The O(points · log n) distance the sketch's drift uses is scipy's weighted
    ``wasserstein_distance`` (ties, single values, points outside the reference's range)."""
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(17)
    for _ in range(300):
        n, k = int(rng.integers(1, 3000)), int(rng.integers(1, 200))
        a = np.sort(np.round(rng.normal(rng.normal(), rng.uniform(0.1, 3), n), int(rng.integers(0, 4))))
        x = np.unique(np.round(rng.normal(rng.normal(), rng.uniform(0.1, 3), k), int(rng.integers(0, 4))))
        w = rng.integers(1, 50, x.size).astype(np.float64)
        got = core.wasserstein_to_points(a, core.cdf_integral(a), x, w)
        assert got == pytest.approx(wasserstein_distance(a, x, None, w), rel=1e-12, abs=1e-12)
