"""Reports over the store's view columns (tables built in DuckDB from seeded arrays): drift with
a window of logs as reference, slices with flags and fairness, ops, cost, query refusals."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pytest
from scipy import stats as st
from scipy.spatial import distance

from console import analytics, clock
from console.errors import UsageError
from console.store.registry import Registry
from tests.analytics_support import T0, TableStore, load, predictions_table, version

REL = 1e-9


def close(a, b) -> bool:
    return abs(a - b) <= REL * max(abs(a), abs(b), 1e-300)


def drift_store():
    rng = np.random.default_rng(42)
    n = 4000
    ts = [T0 + dt.timedelta(seconds=int(i) * 43) for i in range(n)]  # ~2 days
    half = n // 2
    income = np.concatenate([rng.normal(50, 10, half), rng.normal(58, 10, n - half)])
    income[::37] = np.nan
    age = rng.integers(18, 80, n).astype(float)
    region = np.concatenate([rng.choice(["n", "s", "e"], half, p=[.5, .3, .2]),
                             rng.choice(["n", "s", "e", "w"], n - half, p=[.3, .3, .2, .2])]).astype(object)
    region[::50] = None
    flag = rng.choice(["y", "n"], n).astype(object)
    score = rng.random(n)
    t = predictions_table(n, ts=ts, features={"income": income, "age": age, "region": region, "flag": flag},
                          score=score, prediction=[str(int(s >= .5)) for s in score])
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", "binary", features={"income": "numeric", "age": "numeric",
                                                                      "region": "categorical", "flag": "categorical"})
    s = TableStore(reg, {"m": "1"})
    load(s, [t], [("m", "income", "f_income", "numeric"), ("m", "age", "f_age", "numeric"),
                  ("m", "region", "f_region", "categorical"), ("m", "flag", "f_flag", "categorical")])
    return s, ts[half], dict(income=income, age=age, region=region, flag=flag, score=score, half=half)


def test_drift_with_log_window_reference_matches_scipy() -> None:
    s, mid, d = drift_store()
    half = d["half"]
    rep = analytics.drift_report(s, "m", start=mid, reference_start=T0, reference_end=mid, multivariate=False)
    assert rep["reference"]["rows"] == half and rep["current"]["rows"] == 4000 - half
    by = {f["feature"]: f for f in rep["features"]}
    inc_r = d["income"][:half][~np.isnan(d["income"][:half])]
    inc_c = d["income"][half:][~np.isnan(d["income"][half:])]
    f = by["income"]
    assert f["method"] == "wasserstein"  # > 1000 reference values, many distinct
    assert close(f["score"], st.wasserstein_distance(inc_r, inc_c) / np.std(inc_r))
    assert close(f["stats"]["ks_pvalue"], st.ks_2samp(inc_r, inc_c).pvalue)
    assert f["drifted"] is True
    assert close(f["stats"]["missing_share_reference"], np.isnan(d["income"][:half]).mean())
    r = by["region"]
    assert r["method"] == "jensenshannon"
    ref = Counter(v for v in d["region"][:half] if v is not None)
    cur = Counter(v for v in d["region"][half:] if v is not None)
    keys = sorted(set(ref) | set(cur))
    want = distance.jensenshannon([ref[k] / sum(ref.values()) for k in keys],
                                  [cur[k] / sum(cur.values()) for k in keys])
    assert close(r["score"], want) and r["drifted"] is True
    assert r["stats"]["new_categories"] == ["w"]
    assert by["flag"]["drifted"] is False and by["age"]["drifted"] is False
    assert rep["dataset_drift"] == {"share": 0.5, "threshold": 0.5, "drifted": True,
                                    "drifted_features": 2, "tested_features": 4}
    assert rep["output"]["feature"] == "score" and rep["output"]["method"] == "wasserstein"


def test_drift_small_reference_uses_pvalue_tests_and_config_overrides() -> None:
    s, mid, d = drift_store()
    end_ref = T0 + dt.timedelta(seconds=43 * 500)  # 500 reference rows
    cfg = analytics.load_config({"drift": {"share": 0.25},
                                 "models": {"m": {"drift": {"features": {"age": {"method": "psi", "threshold": 0.2}}}}}},
                                "m")
    rep = analytics.drift_report(s, "m", start=mid, reference_start=T0, reference_end=end_ref,
                                 multivariate=False, config=cfg)
    by = {f["feature"]: f for f in rep["features"]}
    assert by["income"]["method"] == "ks"
    inc_r = d["income"][:500][~np.isnan(d["income"][:500])]
    inc_c = d["income"][d["half"]:][~np.isnan(d["income"][d["half"]:])]
    assert close(by["income"]["score"], st.ks_2samp(inc_r, inc_c).pvalue)
    assert by["region"]["method"] == "chisquare" and by["region"]["score"] == 0.0  # unseen "w"
    assert by["flag"]["method"] == "z"
    assert by["age"]["method"] == "psi" and by["age"]["threshold"] == 0.2
    assert rep["dataset_drift"]["threshold"] == 0.25


def test_drift_multivariate_domain_classifier_sees_the_shift() -> None:
    s, mid, _ = drift_store()
    cfg = analytics.load_config({"multivariate": {"sample": 800, "folds": 3}}, "m")
    rep = analytics.drift_report(s, "m", start=mid, reference_start=T0, reference_end=mid,
                                 multivariate=True, config=cfg)
    mv = rep["multivariate"]
    assert 0.5 < mv["auc"] <= 1.0
    assert mv["top_features"] and mv["top_features"][0]["feature"] in ("income", "region")


def test_drift_usage_errors() -> None:
    s, mid, _ = drift_store()
    with pytest.raises(UsageError, match="unknown model 'nope'"):
        analytics.drift_report(s, "nope")
    with pytest.raises(UsageError, match="no registered reference"):
        analytics.drift_report(s, "m")
    with pytest.raises(UsageError, match="unknown version"):
        analytics.drift_report(s, "m", "9")
    with pytest.raises(UsageError, match="unknown drift method"):
        analytics.load_config({"drift": {"method": "magic"}})


def slices_store(task="binary"):
    rng = np.random.default_rng(3)
    n = 6000
    region = rng.choice(["north", "south", "east", "west"], n, p=[.4, .3, .2, .1])
    channel = rng.choice(["web", "app"], n)
    y = rng.integers(0, 2, n)
    p_correct = np.where(region == "west", 0.6, 0.85)
    correct = rng.random(n) < p_correct
    yhat = np.where(correct, y, 1 - y)
    score = np.clip(np.where(yhat == 1, 0.7, 0.3) + rng.normal(0, .1, n), 0, 1)
    t = predictions_table(n, features={"region": region.astype(object), "channel": channel.astype(object),
                                       "amount": rng.lognormal(3, 1, n)},
                          prediction=[str(v) for v in yhat], score=score, label=[str(v) for v in y])
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", task, slices=["region", "channel"], positive_label=1)
    s = TableStore(reg, {"m": "1"})
    load(s, [t], [("m", "region", "f_region", "categorical"), ("m", "channel", "f_channel", "categorical"),
                  ("m", "amount", "f_amount", "numeric")])
    return s, dict(region=region, channel=channel, y=y, yhat=yhat)


def test_slices_flag_the_worse_slice_only_with_exact_numbers() -> None:
    from sklearn.metrics import accuracy_score, recall_score

    s, d = slices_store()
    rep = analytics.slices_report(s, "m")
    flagged = [(x["feature"], x["value"]) for x in rep["slices"] if x["flagged"]]
    assert flagged == [("region", "west")]
    west = next(x for x in rep["slices"] if x["value"] == "west")
    sel = d["region"] == "west"
    assert close(west["metrics"]["accuracy"], accuracy_score(d["y"][sel], d["yhat"][sel]))
    lo, hi = west["accuracy_ci"]
    ci = st.binomtest(int((d["y"][sel] == d["yhat"][sel]).sum()), int(sel.sum())).proportion_ci(method="wilson")
    assert abs(lo - ci.low) < 1e-12 and abs(hi - ci.high) < 1e-12
    assert west["p_adjusted"] < 0.05 and west["diff"]["accuracy"] < -0.1
    fair = {f["feature"]: f for f in rep["fairness"]}["region"]
    rates = {r: (d["yhat"][d["region"] == r] == 1).mean() for r in ["north", "south", "east", "west"]}
    assert close(fair["demographic_parity_difference"], max(rates.values()) - min(rates.values()))
    tprs = {r: recall_score(d["y"][d["region"] == r], d["yhat"][d["region"] == r]) for r in rates}
    assert close(fair["equal_opportunity_difference"], max(tprs.values()) - min(tprs.values()))
    # --by a numeric feature: quintile bins
    rep = analytics.slices_report(s, "m", by="amount")
    assert len(rep["slices"]) == 5 and sum(x["rows"] for x in rep["slices"]) == 6000
    with pytest.raises(UsageError, match="unknown slice feature"):
        analytics.slices_report(s, "m", by="colour")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_slice_of_every_feature_matches_sklearn(task: str) -> None:
    """Two slice features and the whole come from one grouped query: each value's metrics are
    scikit-learn's on that value's rows, and ``overall`` is the whole range's."""
    from sklearn import metrics as skm

    rng = np.random.default_rng(11)
    n = 5000
    region = rng.choice(["north", "south", "east"], n, p=[.5, .3, .2]).astype(object)
    region[::41] = None
    amount = rng.lognormal(3, 1, n)
    feats = {"region": region, "amount": amount}
    if task == "regression":
        y = rng.normal(40, 10, n)
        yhat = y + rng.normal(0, 3, n)
        t = predictions_table(n, features=feats, prediction_num=yhat, label_num=y, label=[str(v) for v in y])

        def sk(sel):
            return {"mae": skm.mean_absolute_error(y[sel], yhat[sel]), "r2": skm.r2_score(y[sel], yhat[sel]),
                    "mape": skm.mean_absolute_percentage_error(y[sel], yhat[sel])}
    elif task == "multiclass":
        y = rng.choice(["a", "b", "c"], n)
        yhat = np.where(rng.random(n) < 0.7, y, rng.choice(["a", "b", "c"], n))
        t = predictions_table(n, features=feats, prediction=list(yhat), label=list(y))

        def sk(sel):
            return {"accuracy": skm.accuracy_score(y[sel], yhat[sel]),
                    "macro_f1": skm.f1_score(y[sel], yhat[sel], average="macro", zero_division=0)}
    else:
        y = rng.integers(0, 2, n)
        score = np.round(rng.random(n), 2)  # ties inside every slice
        yhat = (score >= 0.5).astype(int)
        t = predictions_table(n, features=feats, prediction=[str(v) for v in yhat], score=score,
                              label=[str(v) for v in y])

        def sk(sel):
            return {"accuracy": skm.accuracy_score(y[sel], yhat[sel]), "f1": skm.f1_score(y[sel], yhat[sel]),
                    "roc_auc": skm.roc_auc_score(y[sel], score[sel]),
                    "log_loss": skm.log_loss(y[sel], score[sel], labels=[0, 1]),
                    "brier": skm.brier_score_loss(y[sel], score[sel])}
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", task, slices=["region", "amount"])
    s = TableStore(reg, {"m": "1"})
    load(s, [t], [("m", "region", "f_region", "categorical"), ("m", "amount", "f_amount", "numeric")])
    rep = analytics.slices_report(s, "m")
    everything = np.ones(n, dtype=bool)
    for k, v in sk(everything).items():
        assert close(rep["overall"]["metrics"][k], v), k
    edges = sorted(set(np.quantile(amount, [0.2, 0.4, 0.6, 0.8], method="inverted_cdf")))
    seen = 0
    for x in rep["slices"]:
        if x["feature"] == "region":
            sel = (region == x["value"]) if x["value"] != "(null)" else np.array([r is None for r in region])
        else:
            b = np.searchsorted(edges, amount, side="right")
            labels = [f"< {edges[0]:.6g}"] + [f"[{lo:.6g}, {hi:.6g})" for lo, hi in zip(edges, edges[1:], strict=False)]
            labels.append(f"≥ {edges[-1]:.6g}")
            sel = b == labels.index(x["value"])
        assert x["rows"] == int(sel.sum())
        seen += x["rows"]
        for k, v in sk(sel).items():
            assert close(x["metrics"][k], v), (x["feature"], x["value"], k)
    assert seen == 2 * n


def test_holm_correction_needs_more_than_a_lucky_slice() -> None:
    rng = np.random.default_rng(8)
    n = 3000
    seg = rng.choice([f"s{i}" for i in range(30)], n)
    y = rng.integers(0, 2, n)
    yhat = np.where(rng.random(n) < 0.8, y, 1 - y)  # same accuracy everywhere
    t = predictions_table(n, features={"seg": seg.astype(object)}, prediction=[str(v) for v in yhat],
                          label=[str(v) for v in y])
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", "binary", slices=["seg"])
    s = TableStore(reg, {"m": "1"})
    load(s, [t], [("m", "seg", "f_seg", "categorical")])
    rep = analytics.slices_report(s, "m")
    raw = [x["p_value"] for x in rep["slices"] if x["p_value"] is not None]
    assert not any(x["flagged"] for x in rep["slices"])
    assert len(raw) == 30


def test_ops_windows_match_numpy_percentiles() -> None:
    rng = np.random.default_rng(4)
    n = 5000
    ts = [T0 + dt.timedelta(seconds=int(x)) for x in np.sort(rng.integers(0, 6 * 3600, n))]
    lat = rng.lognormal(4, 0.5, n)
    lat[::100] = np.nan
    status = np.where(rng.random(n) < 0.03, "error", "ok")
    t = predictions_table(n, ts=ts, latency_ms=lat, status=status.tolist())
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", "binary")
    s = TableStore(reg, {"m": "1"})
    load(s, [t])
    rep = analytics.ops_report(s, "m", window="1h")
    assert len(rep["windows"]) == 6
    hours = np.array([(x - T0).total_seconds() // 3600 for x in ts])
    for h, w in enumerate(rep["windows"]):
        sel = hours == h
        assert w["requests"] == int(sel.sum()) and w["errors"] == int((status[sel] == "error").sum())
        v = lat[sel][~np.isnan(lat[sel])]
        for q, key in ((50, "p50"), (95, "p95"), (99, "p99")):
            assert close(w["latency_ms"][key], float(np.percentile(v, q)))
    with pytest.raises(UsageError, match="bad window"):
        analytics.ops_report(s, "m", window="5x")


def test_ops_summary_equals_each_models_ops_report() -> None:
    """The fleet's one-query summary gives exactly ``ops_report``'s numbers, model by model."""
    rng = np.random.default_rng(9)
    reg = Registry()
    tables = []
    for i, (model, ver) in enumerate((("a", "1"), ("a", "2"), ("b", "1"))):
        n = 3000 + 500 * i
        ts = [T0 + dt.timedelta(seconds=int(x)) for x in np.sort(rng.integers(i * 1800, 8 * 3600, n))]
        lat = rng.lognormal(4, 0.6, n)
        lat[::97] = np.nan
        status = np.where(rng.random(n) < 0.05, "error", "ok").tolist()
        tables.append(predictions_table(n, model, ver, ts=ts, latency_ms=lat, status=status))
        reg.versions[(model, ver)] = version(model, ver, "binary")
    reg.versions[("idle", "1")] = version("idle", "1", "binary")  # registered, never logged
    s = TableStore(reg, {"a": "2", "b": "1", "idle": "1"})
    load(s, tables)
    spans = [(None, None), (T0 + dt.timedelta(minutes=50), T0 + dt.timedelta(hours=5, minutes=10))]
    for window in ("1h", "15m", "all"):
        for start, end in spans:
            summary = {e["model"]: e for e in analytics.ops_summary(s, window=window, start=start, end=end)}
            assert sorted(summary) == ["a", "b", "idle"]
            for model in ("a", "b", "idle"):
                series = analytics.ops_report(s, model, window=window, start=start, end=end)
                whole = analytics.ops_report(s, model, window="all", start=start, end=end)
                got = summary[model]
                assert [(w["start"], w["end"], w["requests"], w["errors"]) for w in got["windows"]] == [
                    (w["start"], w["end"], w["requests"], w["errors"]) for w in series["windows"]]
                assert (got["start"], got["end"]) == (series["start"], series["end"])
                if not whole["windows"]:
                    assert got["requests"] == 0 and got["latency_ms"]["p95"] is None
                    continue
                w = whole["windows"][0]
                assert (got["requests"], got["errors"], got["error_rate"]) == (
                    w["requests"], w["errors"], w["error_rate"])
                for key in ("p50", "p95", "p99", "mean", "max"):
                    a, b = got["latency_ms"][key], w["latency_ms"][key]
                    assert (a is None and b is None and not w["requests"]) or close(a, b)
    assert summary["a"]["requests"] > 0 and summary["b"]["latency_ms"]["p95"] is not None


@pytest.fixture
def clock_after_the_data():
    """Stores whose traffic runs into December: the console's clock reads a time after all of it
    (the budget month is that of the newest record not after the clock)."""
    with clock.frozen(dt.datetime(2027, 1, 1, tzinfo=dt.UTC)):
        yield


@pytest.mark.usefixtures("clock_after_the_data")
def test_cost_attribution_and_budget() -> None:
    n = 3000
    ts = [T0 + dt.timedelta(days=20) + dt.timedelta(minutes=10 * i) for i in range(n)]  # Nov 21 .. Dec 11
    cost = [0.001 if i % 3 == 0 else None for i in range(n)]
    t1 = predictions_table(n, ver="1", ts=ts, cost_usd=cost, prediction=["1"] * n,
                           label=["1" if i % 4 else "0" for i in range(n)])
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", "binary", created_at="2026-11-15T10:00:00Z",
                                       cost={"per_1k_predictions_usd": 0.5, "training_usd": 100.0,
                                             "monthly_budget_usd": 50.0})
    s = TableStore(reg, {"m": "1"})
    load(s, [t1])
    rep = analytics.cost_report(s, by="model")
    (row,) = rep["rows"]
    logged = sum(c for c in cost if c is not None)
    serving = logged + sum(1 for c in cost if c is None) * 0.5 / 1000
    assert row["predictions"] == n
    assert close(row["serving_usd"], serving) and row["training_usd"] == 100.0
    assert close(row["usd_per_1k"], (serving + 100) / n * 1000)
    correct = sum(1 for i in range(n) if i % 4)
    assert close(row["usd_per_correct"], serving / correct)
    days = analytics.cost_report(s, by="day")["rows"]
    assert {r["day"] for r in days if r["training_usd"]} == {"2026-11-15"}
    assert next(r for r in days if r["day"] == "2026-11-15")["predictions"] == 0
    # a range that excludes the version's creation day excludes its training cost
    rng_rep = analytics.cost_report(s, start=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert rng_rep["rows"][0]["training_usd"] == 0.0
    (b,) = rep["budget"]
    assert b["month"] == "2026-12"
    dec = [i for i, x in enumerate(ts) if x.month == 12]
    mtd = sum(cost[i] if cost[i] is not None else 0.5 / 1000 for i in dec)
    assert close(b["mtd_usd"], mtd) and close(b["burn"], mtd / 50.0)



@pytest.mark.usefixtures("clock_after_the_data")
def test_budget_of_every_model_in_one_pass_equals_each_alone() -> None:
    """Two models whose latest records fall in different months: the all-models budget (one
    query) equals each model's own, and the month-to-date sums are the hand-computed ones."""
    n = 400
    ts_a = [T0 + dt.timedelta(hours=3 * i) for i in range(n)]        # Nov 1 .. Dec 20
    ts_b = [T0 - dt.timedelta(days=20) + dt.timedelta(hours=i) for i in range(n)]  # Oct 12 .. Oct 28
    cost_a = [0.002 if i % 2 else None for i in range(n)]
    reg = Registry()
    for m, rate in (("a", 1.0), ("b", 2.0)):
        reg.versions[(m, "1")] = version(m, "1", "binary", created_at="2026-10-01T00:00:00Z",
                                         cost={"per_1k_predictions_usd": rate, "monthly_budget_usd": 10.0})
    reg.versions[("c", "1")] = version("c", "1", "binary", cost={"monthly_budget_usd": 5.0})  # no traffic
    s = TableStore(reg, {"a": "1", "b": "1", "c": "1"})
    load(s, [predictions_table(n, "a", ts=ts_a, cost_usd=cost_a, prediction=["1"] * n, label=["1"] * n),
             predictions_table(n, "b", ts=ts_b, prediction=["1"] * n, label=["0"] * n)])
    both = analytics.budget_status(s)
    assert [b["model"] for b in both] == ["a", "b", "c"]
    assert both == [analytics.budget_status(s, m)[0] for m in ("a", "b", "c")]
    a, b, c = both
    dec = [i for i, t in enumerate(ts_a) if t.month == 12]
    assert a["month"] == "2026-12" and close(a["mtd_usd"], sum(cost_a[i] or 0.001 for i in dec))
    assert b["month"] == "2026-10" and close(b["mtd_usd"], n * 0.002)
    assert c["month"] is None and c["mtd_usd"] == 0.0
    # labels=False: the same cost, no label join (nothing per correct prediction)
    with_labels = analytics.cost_report(s, "a")["rows"][0]
    without = analytics.cost_report(s, "a", labels=False)["rows"][0]
    assert close(without["total_usd"], with_labels["total_usd"]) and with_labels["correct"] == n
    assert without["labelled"] == 0 and without["usd_per_correct"] is None


@pytest.mark.parametrize("sql", [
    "INSERT INTO predictions VALUES (1)", "DELETE FROM predictions", "UPDATE predictions SET model='x'",
    "COPY predictions TO '/tmp/x.csv'", "ATTACH '/tmp/x.db'", "INSTALL httpfs", "LOAD httpfs",
    "CREATE TABLE x AS SELECT 1", "DROP VIEW predictions", "SET threads=1", "PRAGMA version",
    "EXPORT DATABASE '/tmp/d'", "CALL pragma_version()", "SELECT 1; DROP VIEW predictions",
    "EXPLAIN ANALYZE DELETE FROM predictions", "BEGIN", "VACUUM", "USE memory",
])
def test_query_refuses_everything_but_reads(sql: str) -> None:
    s, _ = slices_store()
    with pytest.raises(UsageError) as exc:
        analytics.run_query(s, sql)
    assert "\n" not in str(exc.value)
    assert s.cursor().execute("SELECT count(*) FROM predictions").fetchone()[0] == 6000


@pytest.mark.parametrize("sql", [
    "SELECT count(*) AS n FROM predictions", "FROM predictions SELECT count(*) AS n",
    "WITH a AS (SELECT * FROM predictions) SELECT count(*) AS n FROM a",
])
def test_query_reads(sql: str) -> None:
    s, _ = slices_store()
    assert analytics.run_query(s, sql) == [{"n": 6000}]
    assert analytics.run_query(s, "DESCRIBE predictions")[0]["column_name"] == "ts"
    assert analytics.run_query(s, "SUMMARIZE SELECT score FROM predictions")
    assert analytics.run_query(s, "EXPLAIN SELECT 1")


def test_windows_parsing() -> None:
    assert analytics.parse_window("15m") == 900 and analytics.parse_window("7d") == 7 * 86400
    assert analytics.parse_window("all") is None
    assert analytics.parse_time("2026-11-01") == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert analytics.parse_time("2026-11-01T02:00:00+02:00") == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert analytics.parse_time("2026-11-01T12:00:03.123") == dt.datetime(2026, 11, 1, 12, 0, 3, 123000, tzinfo=dt.UTC)
    for bad in ("yesterday", "2026-13-01", ""):
        with pytest.raises(UsageError):
            analytics.parse_time(bad)
    for bad in ("0h", "1y", "h"):
        with pytest.raises(UsageError):
            analytics.parse_window(bad)


def test_drift_constant_all_null_and_one_sided_columns() -> None:
    n = 3000
    ts = [T0 + dt.timedelta(seconds=60 * i) for i in range(n)]
    half = n // 2
    const = np.full(n, 7.0)
    empty_now = np.where(np.arange(n) < half, 1.0, np.nan)
    t = predictions_table(n, ts=ts, features={"const": const, "gone": empty_now,
                                              "word": np.array(["a"] * n, dtype=object)})
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", "regression")
    s = TableStore(reg, {"m": "1"})
    load(s, [t], [("m", "const", "f_const", "numeric"), ("m", "gone", "f_gone", "numeric"),
                  ("m", "word", "f_word", "categorical")])
    rep = analytics.drift_report(s, "m", start=ts[half], reference_start=T0, reference_end=ts[half],
                                 multivariate=True)
    by = {f["feature"]: f for f in rep["features"]}
    assert by["const"]["method"] == "jensenshannon" and by["const"]["score"] == 0.0 and not by["const"]["drifted"]
    assert by["word"]["score"] == 0.0 and not by["word"]["drifted"]
    assert by["gone"]["method"] is None and by["gone"]["note"] == "no values in the current data"
    assert by["gone"]["stats"]["missing_share_current"] == 1.0
    assert rep["dataset_drift"]["tested_features"] == 2 and rep["dataset_drift"]["drifted"] is False
    assert rep["output"] is None or rep["output"]["method"] is None  # no predictions logged


def test_bad_analytics_config_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    from console.cli import main
    from tests.conftest import write_workspace

    with pytest.raises(UsageError, match="alerts.error_rat: unknown key"):
        analytics.load_config({"alerts": {"error_rat": 0.1}})
    ws = write_workspace(tmp_path / "ws", extra_toml='\n[models.m.drift.features.x]\nmethod = "magic"\n')
    monkeypatch.setenv("MLOPS_CONSOLE_WORKSPACE", str(ws))
    assert main(["check", "--format", "json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "unknown drift method 'magic'" in err and err.count("\n") == 1
