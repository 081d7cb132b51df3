"""Daily profiles (console.profiles) against exact computations on the same seeded data:
counts and histograms exactly (numpy, scikit-learn), DDSketch quantiles within ALPHA of
numpy's, merged days equal to the whole window, binned drift from merged histograms equal to
the drift statistics on the raw values' bins, the store engine against DuckDB on the sample,
and the Spark engine equal to the local one on a seeded lake and on the sample's predictions
(one local[2] SparkSession for the module, its JVM ended at the end; skipped with the reason
when Spark cannot run)."""

from __future__ import annotations

import collections
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import confusion_matrix

from console.analytics import stats
from console.analytics.source import model_features
from console.profiles import core, local

DAY0 = dt.date(2026, 11, 1)


def seeded(n: int, seed: int, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    age = rng.normal(40 + shift, 12, n)
    age[rng.random(n) < 0.05] = np.nan
    neg = rng.normal(-3, 2, n)  # negative and positive values: both sketch stores
    score = rng.random(n)
    label = rng.integers(0, 2, n)
    return pa.table({
        "status": ["error" if i % 37 == 0 else "ok" for i in range(n)],
        "prediction": pa.array((score >= 0.5).astype(np.int64).astype(str)),
        "score": score,
        "label": pa.array([str(x) if i % 4 else None for i, x in enumerate(label)]),
        "latency_ms": rng.lognormal(3, 1, n),
        "cost_usd": rng.random(n) / 1000,
        "age": pa.array(age, from_pandas=True),
        "delta": neg,
        "city": pa.array([None if i % 17 == 0 else f"c{int(x) % 30}" for i, x in enumerate(rng.zipf(1.5, n))]),
        "raw": pa.array([("x" if i % 11 == 0 else str(i)) if i % 5 else None for i in range(n)]),
    })


FEATURES = (("age", "age", "numeric"), ("delta", "delta", "numeric"), ("city", "city", "categorical"),
            ("raw", "raw", "numeric"))


def spec_for(ref: pa.Table) -> core.VersionSpec:
    edges = {name: core.reference_edges(ref.column(name).to_numpy(zero_copy_only=False))
             for name in ("age", "delta")}
    return core.VersionSpec(FEATURES, edges, "binary", "1", 0.5)


def profiled(table: pa.Table, spec: core.VersionSpec, day: dt.date = DAY0) -> core.Merged:
    return core.merge(core.to_table(core.profile_group("m", "1", day, table, spec)))


def finite(table: pa.Table, col: str) -> np.ndarray:
    v = np.asarray(table.column(col).to_numpy(zero_copy_only=False), dtype=np.float64)
    return v[np.isfinite(v)]


def test_profile_counts_histograms_and_metrics_are_exact():
    ref, cur = seeded(5000, 1), seeded(8000, 2, shift=3)
    spec = spec_for(ref)
    m = profiled(cur, spec)
    assert m.get("rows") == 8000
    assert m.get("errors") == sum(1 for i in range(8000) if i % 37 == 0)
    labels = cur.column("label").to_pylist()
    assert m.get("labelled") == sum(v is not None for v in labels)
    status = cur.column("status").to_pylist()  # the performance report's labelled: status ok (or none)
    assert m.get("labelled_ok") == sum(v is not None and s in (None, "ok") for v, s in zip(labels, status, strict=True))
    assert 0 < m.get("labelled_ok") < m.get("labelled")  # (errors with labels in the data)
    age = finite(cur, "age")
    assert m.get("missing", "age") == 8000 - age.size
    assert m.value[("min", "age", "")] == age.min() and m.value[("max", "age", "")] == age.max()
    # numeric histogram on the reference's edges == numpy's, plus the values outside them
    edges, counts = core.hist_counts(m, "age")
    assert edges == list(np.histogram_bin_edges(finite(ref, "age"), bins="sturges"))
    inside = (age >= edges[0]) & (age <= edges[-1])
    assert counts[1:-1] == np.histogram(age[inside], bins=np.array(edges))[0].tolist()
    assert counts[0] == int((age < edges[0]).sum()) and counts[-1] == int((age > edges[-1]).sum())
    # a numeric feature logged as text: numbers are values, the rest type errors
    raw = cur.column("raw").to_pylist()
    assert m.get("type_error", "raw") == sum(1 for v in raw if v == "x")
    assert m.get("missing", "raw") == sum(1 for v in raw if v is None)
    # categorical counts (30 values ≤ TOP_K: all exact)
    assert m.keyed("category", "city") == dict(collections.Counter(v for v in cur.column("city").to_pylist() if v))
    assert m.get("missing", "city") == sum(1 for v in cur.column("city").to_pylist() if v is None)
    # cost: the correctly rounded sum
    assert m.value[("sum", "cost_usd", "")] == math.fsum(cur.column("cost_usd").to_pylist())
    # binary confusion at the threshold == scikit-learn's
    idx = [i for i, v in enumerate(labels) if v is not None and i % 37]  # labelled rows with status ok
    y = [int(labels[i]) for i in idx]
    p = [int(cur.column("score")[i].as_py() >= 0.5) for i in idx]
    tn, fp, fn, tp = confusion_matrix(y, p, labels=[0, 1]).ravel()
    assert (m.get("metric", "", "tp"), m.get("metric", "", "fp"), m.get("metric", "", "fn"),
            m.get("metric", "", "tn")) == (tp, fp, fn, tn)


def test_top_k_keeps_the_commonest_values_and_sums_the_rest():
    t = pa.table({"city": [f"v{i}" for i in range(80) for _ in range(i + 1)]})
    m = profiled(t, core.VersionSpec((("city", "city", "categorical"),)))
    cats = m.keyed("category", "city")
    assert len(cats) == core.TOP_K + 1
    assert all(cats[f"v{i}"] == i + 1 for i in range(80 - core.TOP_K, 80))
    assert cats[core.OTHER] == sum(i + 1 for i in range(80 - core.TOP_K))


def test_sketch_quantiles_are_within_alpha_of_numpy():
    cur = seeded(20000, 3)
    m = profiled(cur, spec_for(cur))
    qs = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]
    for col in ("latency_ms", "age", "delta"):
        exact = np.quantile(finite(cur, col), qs, method="lower")
        for q, est, x in zip(qs, core.quantiles(m, col, qs), exact, strict=True):
            assert abs(est - x) <= core.ALPHA * abs(x) + 1e-12, (col, q, est, x)


def test_merge_of_days_equals_the_profile_of_the_window():
    ref = seeded(4000, 4)
    spec = spec_for(ref)
    days = [seeded(3000, 10 + d, shift=d) for d in range(5)]
    merged = core.merge(core.to_table(
        [r for d, t in enumerate(days) for r in core.profile_group("m", "1", DAY0 + dt.timedelta(d), t, spec)]))
    whole = profiled(pa.concat_tables(days), spec)
    assert merged.days == 5
    assert merged.count == whole.count  # every count, histogram bin, category and sketch bucket
    for k, v in whole.value.items():
        assert math.isclose(merged.value[k], v, rel_tol=1e-12), k  # min/max/edges exact, sums to rounding
    assert core.quantiles(merged, "latency_ms", [0.5, 0.99]) == core.quantiles(whole, "latency_ms", [0.5, 0.99])


@pytest.mark.parametrize("method", ["psi", "jensenshannon", "chisquare"])
def test_binned_drift_from_merged_days_equals_drift_on_the_raw_values_bins(method):
    ref = seeded(5000, 5)
    spec = spec_for(ref)
    days = [seeded(2000, 20 + d, shift=2 * d) for d in range(3)]
    cur = core.merge(core.to_table(
        [r for d, t in enumerate(days) for r in core.profile_group("m", "1", DAY0 + dt.timedelta(d), t, spec)]))
    refm = profiled(ref, spec)
    edges, ref_counts = core.hist_counts(refm, "age")
    _, cur_counts = core.hist_counts(cur, "age")
    got = core.binned_drift(ref_counts, cur_counts, method)
    # the exact path: the raw values binned on the same edges with the drift report's statistics
    e = np.array(edges)

    def binned(v: np.ndarray) -> np.ndarray:  # below, np.histogram's bins (the last closed), above
        return np.array([(v < e[0]).sum(), *stats.histogram_sorted(stats.sort_finite(v), e), (v > e[-1]).sum()])

    hr = binned(finite(ref, "age"))
    hc = binned(np.concatenate([finite(t, "age") for t in days]))
    keep = (hr + hc) > 0
    hr, hc = hr[keep], hc[keep]
    if method == "chisquare":
        want = stats.chisquare_test(dict(enumerate(hr.tolist())), dict(enumerate(hc.tolist())))
    else:
        want = getattr(stats, method)(hr / hr.sum(), hc / hc.sum())
    assert got == want


def _lake(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for f in range(2):
        rng = np.random.default_rng(40 + f)
        n = 4000
        t = seeded(n, 30 + f).drop(["raw"])
        ts = [dt.datetime(2026, 11, 1) + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 4 * 86400, n)]
        t = t.append_column("ts", pa.array(ts, pa.timestamp("us")))
        t = t.append_column("model", pa.array(["m1" if i % 3 else "m2" for i in range(n)]))
        t = t.append_column("version", pa.array([str(1 + i % 2) for i in range(n)]))
        t = t.append_column("request_id", pa.array([f"r{f}-{i}" for i in range(n)]))
        pq.write_table(t, root / f"part-{f}.parquet")
    return root


def test_lake_profiles_with_duckdb_match_numpy(tmp_path):
    lake = _lake(tmp_path / "lake")
    prof = local.profile_source(lake)
    raw = pa.concat_tables([pq.read_table(p) for p in sorted(lake.glob("*.parquet"))])
    days = pc.cast(raw["ts"], pa.date32())
    for model in ("m1", "m2"):
        for day in sorted(set(days.to_pylist())):
            sel = raw.filter(pc.and_(pc.equal(raw["model"], model), pc.equal(days, pa.scalar(day, pa.date32()))))
            got = prof.filter(pc.and_(pc.equal(prof["model"], model), pc.equal(prof["day"], pa.scalar(day, pa.date32()))))
            m = core.merge(got)
            assert m.get("rows") == sel.num_rows
            assert m.get("missing", "age") == sel.num_rows - finite(sel, "age").size
            assert m.value[("max", "latency_ms", "")] == finite(sel, "latency_ms").max()


def test_store_profiles_match_duckdb_and_are_incremental(sample_ws):
    from console.store.db import open_store
    from console.workspace import load

    db = open_store(load(sample_ws))
    try:
        first = local.profile_store(db)
        assert first["computed"] and first["kept"] == 0
        again = local.profile_store(db)
        assert again["computed"] == [] and again["kept"] == len(first["computed"])
        prof = local.read_profiles(Path(first["out"]))
        cur = db.cursor()
        counts = cur.execute("SELECT model, version, day, count(*), count(*) FILTER (status = 'error'), "
                             "count(*) FILTER (labelled) FROM predictions_labelled GROUP BY ALL").fetchall()
        d = prof.filter(pc.equal(prof["stat"], "rows")).to_pydict()
        got = {(m, v, day): c for m, v, day, c in zip(d["model"], d["version"], d["day"], d["count"], strict=True)}
        assert got == {(m, v, day): n for m, v, day, n, _, _ in counts}
        # one numeric feature's histogram on its reference edges, a whole model over every day
        model = "credit-risk"
        edges_rows = prof.filter(pc.and_(pc.equal(prof["model"], model), pc.equal(prof["stat"], "edge")))
        assert edges_rows.num_rows, "the sample's references give edges"
        feature = edges_rows["column"][0].as_py()
        version = edges_rows["version"][0].as_py()
        col = next(c for f, c, _ in model_features(db, model, version) if f == feature)
        vals = np.array([r[0] for r in cur.execute(
            f'SELECT "{col}" FROM predictions WHERE model = ? AND version = ? AND isfinite("{col}")',
            [model, version]).fetchall()], dtype=np.float64)
        m = core.merge(prof.filter(pc.and_(pc.equal(prof["model"], model), pc.equal(prof["version"], version))))
        edges, counts = core.hist_counts(m, feature)
        inside = (vals >= edges[0]) & (vals <= edges[-1])
        assert counts[1:-1] == np.histogram(vals[inside], bins=np.array(edges))[0].tolist()
        assert sum(counts) == vals.size
        lat = np.array([r[0] for r in cur.execute(
            "SELECT latency_ms FROM predictions WHERE model = ? AND version = ? AND isfinite(latency_ms)",
            [model, version]).fetchall()])
        for q, est in zip([0.5, 0.95], core.quantiles(m, "latency_ms", [0.5, 0.95]), strict=True):
            x = np.quantile(lat, q, method="lower")
            assert abs(est - x) <= core.ALPHA * abs(x) + 1e-12
    finally:
        db.close()


# Spark's scratch files in the test's temporary folder (none in the checkout or $HOME), and a JVM
# that starts fast (C1 only, serial GC, no perf-data file in /tmp) for jobs of a few seconds.
def _spark_test_conf(scratch: Path) -> dict[str, str]:
    return {"spark.local.dir": str(scratch), "spark.sql.warehouse.dir": str(scratch / "warehouse"),
            "spark.sql.shuffle.partitions": "2",
            "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={scratch} -Dderby.system.home={scratch} "
                                             "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData"}


@pytest.fixture(scope="module")
def spark_session(tmp_path_factory):
    """One local[2] SparkSession for this module's Spark tests, its JVM ended afterwards; a skip
    with the reason where Spark cannot run (no pyspark, no Java runtime)."""
    from console.profiles import spark

    why = spark.missing_requirement()
    if why is not None:
        pytest.skip(f"Spark engine cannot run here: {why}")
    session = spark.session("local[2]", conf=_spark_test_conf(tmp_path_factory.mktemp("spark")))
    yield session
    proc = getattr(session.sparkContext._gateway, "proc", None)
    spark.shutdown(session)
    assert proc is None or proc.poll() is not None, "Spark's JVM is still running"


def _sample_lake(db, lake: Path) -> Path:
    """The ingested sample's predictions as a lake: one flat Parquet file per model (reserved
    columns, the effective label inline, every feature under its name) — the sample's three logs
    formats (JSONL, CSV, Parquet) after the ingester's parsing."""
    from console.store.sql import ident

    cur = db.cursor()
    lake.mkdir(parents=True)
    base = ("ts", "model", "version", "request_id", "prediction", "score", "label", "latency_ms", "status",
            "error", "cost_usd")
    for (model,) in cur.execute("SELECT DISTINCT model FROM predictions ORDER BY 1").fetchall():
        feats: dict[str, str] = {}
        for (v,) in cur.execute("SELECT DISTINCT version FROM predictions WHERE model = ? ORDER BY 1", [model]).fetchall():
            feats.update({name: col for name, col, _ in model_features(db, model, v) if name not in feats})
        cols = [ident(c) for c in base] + [f"{ident(c)} AS {ident(n)}" for n, c in sorted(feats.items())]
        t = local._arrow(cur, f"SELECT {', '.join(cols)} FROM predictions_labelled WHERE model = ? "
                              "ORDER BY ts, request_id", [model])
        pq.write_table(t, lake / f"{model}.parquet")
    return lake


def test_spark_profiles_equal_local_profiles(sample_ws, tmp_path, capsys, spark_session):
    """Spark's profiles equal the local engine's — counts, histograms, metric counts, sums and
    sketch buckets exactly (so every quantile too) — on a seeded lake (two models, two versions,
    days across files), and through ``profile --engine spark`` on the sample workspace's
    predictions as a lake (its JSONL, CSV and Parquet logs as ingested, labels inline; three
    models with their registry's reference edges and tasks), written as Parquet the console
    reads. One test, so the suite's workers start one JVM between them."""
    import json

    from console.cli import main
    from console.profiles import spark
    from console.store.db import open_store
    from console.store.registry import load_registry
    from console.workspace import load

    lake = _lake(tmp_path / "lake")
    assert spark.profile_spark(lake, spark=spark_session).equals(local.profile_source(lake))

    db = open_store(load(sample_ws))
    try:
        lake = _sample_lake(db, tmp_path / "sample-lake")
    finally:
        db.close()
    out = tmp_path / "out"
    assert main(["--workspace", str(sample_ws), "profile", "--engine", "spark", "--source", str(lake),
                 "--out", str(out), "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    got = local.read_profiles(out)
    assert rep["engine"] == "spark" and rep["profile_rows"] == got.num_rows
    w = load(sample_ws)
    want = local.profile_source(lake, load_registry(w.registry, w.root))
    assert set(want["model"].to_pylist()) == {"credit-risk", "delivery-eta", "ticket-router"}
    for stat in ("hist", "sketch", "metric", "category"):  # reference edges, quantiles, labels, categories
        assert want.filter(pc.equal(want["stat"], stat)).num_rows, stat
    assert got.equals(want)


def test_profile_command_errors_are_one_line(tmp_path, capsys):
    from console.cli import main

    assert main(["--workspace", str(tmp_path), "profile", "--engine", "spark"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main(["--workspace", str(tmp_path), "profile", "--source", str(tmp_path / "none"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no such lake path" in err and err.strip().count("\n") == 0


def test_profile_command_on_the_store_and_an_unknown_model(sample_ws, capsys):
    from console.cli import main

    assert main(["--workspace", str(sample_ws), "profile", "--model", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and err.strip().count("\n") == 0
    assert main(["--workspace", str(sample_ws), "profile", "--model", "delivery-eta", "--format", "json"]) == 0
    prof = local.read_profiles(sample_ws / ".console" / "profiles")
    assert set(prof["model"].to_pylist()) == {"delivery-eta"}
    m = core.merge(prof)
    assert {k for (s, _c, k) in m.count if s == "metric"} == {"n", "abs", "sq"}  # regression


def test_profile_command_writes_lake_profiles(tmp_path, capsys):
    from console.cli import main

    lake = _lake(tmp_path / "lake")
    assert main(["profile", "--source", str(lake), "--out", str(tmp_path / "out"), "--format", "json"]) == 0
    assert local.read_profiles(tmp_path / "out").equals(local.profile_source(lake))


def test_lake_files_of_different_types_are_read_apart(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    ts = pa.array([dt.datetime(2026, 11, 1, 12)] * 3, pa.timestamp("us"))
    pq.write_table(pa.table({"ts": ts, "model": ["a"] * 3, "version": ["1"] * 3, "prediction": [1, 0, 1]}),
                   lake / "a.parquet")
    pq.write_table(pa.table({"ts": ts, "model": ["b"] * 3, "version": ["1"] * 3, "prediction": ["x", "y", "x"],
                             "label": ["x", "x", None]}), lake / "b.parquet")
    m = core.merge(local.profile_source(lake, model="b"))
    assert m.get("rows") == 3 and m.keyed("metric") == {'["x", "x"]': 1, '["x", "y"]': 1}
    pq.write_table(pa.table({"ts": ts, "model": ["a"] * 3, "version": ["1"] * 3, "prediction": ["p", "q", "r"]}),
                   lake / "c.parquet")
    with pytest.raises(Exception, match="different column types"):
        local.profile_source(lake)


def _days_table(days: list[pa.Table], model: str = "m", version: str = "1") -> pa.Table:
    parts = []
    for d, t in enumerate(days):
        n = t.num_rows
        t = t.append_column("model", pa.array([model] * n)).append_column("version", pa.array([version] * n))
        parts.append(t.append_column("day", pa.array([DAY0 + dt.timedelta(d)] * n, pa.date32())))
    return pa.concat_tables(parts)


def _aggregate(table: pa.Table, spec: core.VersionSpec, model: str = "m", version: str = "1") -> pa.Table:
    import duckdb

    from console.profiles import aggregate

    con = duckdb.connect()
    con.register("rows_t", table)
    fell_back: list = []

    def fallback(m, v, day):
        fell_back.append(day)
        sel = table.filter(pc.equal(table["day"], pa.scalar(day, pa.date32())))
        return core.profile_group(m, v, day, sel, spec)

    rows = aggregate.profile_relation(con, "SELECT * FROM rows_t", model, version, spec, fallback)
    assert rows is not None and not fell_back
    return core.to_table(rows)


@pytest.mark.parametrize("task", ["binary", "regression", "multiclass"])
def test_duckdb_aggregates_equal_profile_group(task):
    days = [seeded(3000 + 500 * d, 60 + d, shift=d) for d in range(4)]
    ref = seeded(5000, 1)
    spec = spec_for(ref)
    edges = spec.edges["age"]
    # values exactly on every edge, and just beside them: the bins np.searchsorted gives
    on_edges = np.array([*edges, *np.nextafter(edges, np.inf), *np.nextafter(edges, -np.inf)])
    age = days[0]["age"].to_numpy(zero_copy_only=False).copy()
    age[:on_edges.size] = on_edges
    days[0] = days[0].set_column(days[0].schema.get_field_index("age"), "age", pa.array(age, from_pandas=True))
    if task == "regression":
        days = [t.set_column(t.schema.get_field_index("prediction"), "prediction", pa.array(
            t["score"].to_numpy() * 10)).set_column(t.schema.get_field_index("label"), "label", pa.array(
                [None if i % 4 == 0 else float(i % 7) for i in range(t.num_rows)])) for t in days]
    spec = core.VersionSpec(spec.features, spec.edges, task, "1" if task == "binary" else None,
                            0.5 if task == "binary" else None)
    want = core.to_table([r for d, t in enumerate(days) for r in core.profile_group("m", "1", DAY0 + dt.timedelta(d), t, spec)])
    got = _aggregate(_days_table(days), spec)
    assert got.equals(want)


def test_store_profiles_equal_profile_group_of_each_day(sample_ws):
    """The store engine's aggregate statements against ``profile_group`` of each day's rows."""
    from console.store.db import open_store
    from console.workspace import load

    db = open_store(load(sample_ws))
    try:
        out = Path(local.profile_store(db)["out"])
        cur = db.cursor()
        want = []
        for (model,) in cur.execute("SELECT DISTINCT model FROM predictions ORDER BY 1").fetchall():
            versions = [r[0] for r in cur.execute(
                "SELECT DISTINCT version FROM predictions WHERE model = ? ORDER BY 1", [model]).fetchall()]
            specs = {v: local.version_spec(db.registry, model, v, model_features(db, model, v)) for v in versions}
            cols = sorted({src for s in specs.values() for _, src, _ in s.features})
            sel = ", ".join(["version", "day", *local.BASE_COLUMNS, "labelled", *(f'"{c}"' for c in cols)])
            t = local._arrow(cur, f"SELECT {sel} FROM predictions_labelled WHERE model = ?", [model])
            for v, day in sorted(set(zip(t["version"].to_pylist(), t["day"].to_pylist(), strict=True))):
                sub = t.filter(pc.and_(pc.equal(t["version"], v), pc.equal(t["day"], pa.scalar(day, pa.date32()))))
                want += core.profile_group(model, v, day, sub, specs[v])
        assert local.read_profiles(out).equals(core.to_table(want))
    finally:
        db.close()


def test_the_lake_engine_takes_the_workspaces_memory_limit(tmp_path, capsys):
    """``profile --source`` bounds its DuckDB like every other console's: the workspace's
    ``[workspace] memory_limit`` reaches it (a limit DuckDB cannot read is one line, exit 2, and
    nothing is written), and ``profile_source`` uses the limit it is given."""
    from console.cli import main
    from console.errors import UsageError
    from tests.conftest import write_workspace

    lake = _lake(tmp_path / "lake")
    with pytest.raises(UsageError, match="memory_limit 'lots'"):
        local.profile_source(lake, limit="lots")
    assert local.profile_source(lake, limit="64MB").equals(local.profile_source(lake))
    ws = write_workspace(tmp_path / "ws")
    toml = ws / "console.toml"
    toml.write_text(toml.read_text().replace('name = "test-ws"', 'name = "test-ws"\nmemory_limit = "lots"'))
    out = tmp_path / "out"
    assert main(["--workspace", str(ws), "profile", "--source", str(lake), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "memory_limit 'lots'" in err and err.strip().count("\n") == 0
    assert not out.exists()
