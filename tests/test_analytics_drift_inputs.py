"""Drift is about the inputs a version declares; other logged fields only on request. Many windows
at once (``drift_windows``, reading the store's parts) give exactly the single reports (and the SQL
path's numbers)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ks_2samp, wasserstein_distance

from console.analytics import drift as drift_mod
from console.analytics import drift_report, drift_windows, parse_time
from console.analytics.config import config_for
from console.errors import UsageError
from console.ingest.engine import Ingester
from console.store.db import open_store
from console.workspace import load_dir

from .conftest import write_workspace
from .test_analytics_cli import iso, js, registry, run, write_jsonl

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_drift_tests_declared_features_and_reaches_others_by_name(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    rng = np.random.default_rng(7)
    n = 300

    def records(prefix: str, shift: float, when: dt.datetime) -> list[dict]:
        return [
            {"ts": iso(when + dt.timedelta(minutes=i)), "model": "m", "version": "1",
             "request_id": f"{prefix}{i}", "prediction": 1.0,
             "features": {"x": float(rng.normal(shift)), "extra": float(rng.normal())}}
            for i in range(n)
        ]

    write_jsonl(ws / "reference" / "m-1.jsonl", records("r", 0.0, T0 - dt.timedelta(days=3)))
    write_jsonl(ws / "logs" / "m.jsonl", records("p", 0.0, T0))
    registry(ws, {"model": "m", "version": "1", "task": "regression", "stage": "production",
                  "features": {"x": "numeric"}, "reference": "reference/m-1.jsonl"})
    run(ws, "ingest")

    report = js(ws, "drift", "--model", "m", "--no-multivariate")
    assert [f["feature"] for f in report["features"]] == ["x"]
    asked = js(ws, "drift", "--model", "m", "--feature", "extra", "--no-multivariate")
    assert [f["feature"] for f in asked["features"]] == ["extra"]
    assert asked["features"][0]["method"] == "ks"


# -- many windows at once ----------------------------------------------------------------------

DAY0 = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)


class ViewsOnly:
    """The same store snapshot seen through its SQL views only (no parts): drift reads it with
    one query per side instead of reading the Parquet parts."""

    def __init__(self, db) -> None:
        self._db = db
        self.registry, self.production, self.batch = db.registry, db.production, db.batch
        self.config, self.store_dir, self.cache_dir, self.memo = db.config, db.store_dir, db.cache_dir, db.memo

    def cursor(self):
        return self._db.cursor()

    def parts(self, model, start=None, end=None):
        return None

    def labelled_subset(self, cond: str) -> str:
        return self._db.labelled_subset(cond)

    def training_usd(self, model: str, version: str) -> float | None:
        return self._db.training_usd(model, version)

    def alone(self):
        return contextlib.nullcontext()


def windows_workspace(tmp_path: Path) -> Path:
    """Three days of two versions' logs (mixed in each day's parts, two ingest batches so one day
    has two parts) with NaN, ±inf and nulls, a categorical with a new value on day 3, a
    low-cardinality numeric, a feature some parts lack, and a 1500-row reference file."""
    ws = write_workspace(tmp_path / "ws")
    rng = np.random.default_rng(2026)

    def record(i: int, when: dt.datetime, version: str, shift: float) -> dict:
        x = float(rng.normal(shift, 1.0))
        if i % 41 == 0:
            x = float("nan") if i % 2 else None
        if i % 97 == 0:
            x = float("inf")
        c = str(rng.choice(["a", "b", "c"] + (["new"] if shift > 1 else [])))
        feats = {"x": x, "c": None if i % 53 == 0 else c, "k": float(rng.integers(0, 3))}
        if when.day != DAY0.day + 1:
            feats["sparse"] = float(rng.normal())
        return {"ts": iso(when), "model": "m", "version": version, "request_id": f"{version}-{i}-{when:%d%H%M%S}",
                "prediction": int(rng.integers(0, 2)), "score": float(rng.random()), "features": feats}

    ref = [record(i, DAY0 - dt.timedelta(days=5, seconds=-i), "1", 0.0) for i in range(1500)]
    write_jsonl(ws / "reference" / "m-1.jsonl", ref)
    first = [record(i, DAY0 + dt.timedelta(seconds=97 * i), "1" if i % 3 else "2", 0.8 * (i * 97 // 86400))
             for i in range(2600)]  # ~2.9 days
    write_jsonl(ws / "logs" / "a.jsonl", first)
    registry(ws, {"model": "m", "version": "1", "task": "binary", "stage": "production",
                  "features": {"x": "numeric", "c": "categorical", "k": "numeric", "sparse": "numeric"},
                  "reference": "reference/m-1.jsonl"})
    registry(ws, {"model": "m", "version": "2", "task": "binary", "stage": "staging",
                  "features": {"x": "numeric", "c": "categorical", "k": "numeric", "sparse": "numeric"}})
    Ingester(load_dir(ws)).run_once()
    late = [record(i, DAY0 + dt.timedelta(days=1, seconds=31 * i), "1", 0.3) for i in range(400)]
    write_jsonl(ws / "logs" / "b.jsonl", late)
    Ingester(load_dir(ws)).run_once()
    return ws


def test_drift_windows_equal_single_reports_and_the_sql_path(tmp_path: Path, monkeypatch) -> None:
    ws = windows_workspace(tmp_path)
    parts = list((ws / ".console" / "parts" / "predictions").rglob("*.parquet"))
    assert len(parts) == 4  # three days, the second one in two parts
    db = open_store(load_dir(ws), production={"m": "1"})
    try:
        off = dataclasses.replace(config_for(db, "m"), cache=False)
        for window, start in (("1d", None), ("6h", DAY0 + dt.timedelta(hours=3, minutes=7))):
            batched = drift_windows(db, "m", window=window, start=start)
            assert len(batched["windows"]) == (3 if window == "1d" else 12)
            for rep in batched["windows"]:
                s, e = parse_time(rep["current"]["start"]), parse_time(rep["current"]["end"])
                single = drift_report(db, "m", start=s, end=e, multivariate=False, config=off)
                assert rep == single
                assert drift_report(ViewsOnly(db), "m", start=s, end=e, multivariate=False, config=off) == single
        # explicit, unaligned bounds (a trend ending at the newest record)
        last = DAY0 + dt.timedelta(days=2, hours=21, minutes=13)
        edges = [(last - dt.timedelta(hours=10 * (i + 1)), last - dt.timedelta(hours=10 * i)) for i in range(4)][::-1]
        trend = drift_windows(db, "m", bounds=edges)["windows"]
        assert [(parse_time(r["current"]["start"]), parse_time(r["current"]["end"])) for r in trend] == edges
        for rep, (s, e) in zip(trend, edges, strict=True):
            assert rep == drift_report(db, "m", start=s, end=e, multivariate=False, config=off)
        with pytest.raises(UsageError, match="not overlapping"):
            drift_windows(db, "m", bounds=[edges[1], edges[0]])
        # version 2 (a log-window reference): same through both paths
        two = drift_windows(db, "m", version="2", window="1d", reference_start=DAY0,
                            reference_end=DAY0 + dt.timedelta(days=1), config=off)
        for rep in two["windows"]:
            s, e = parse_time(rep["current"]["start"]), parse_time(rep["current"]["end"])
            assert rep == drift_report(ViewsOnly(db), "m", version="2", start=s, end=e, reference_start=DAY0,
                                       reference_end=DAY0 + dt.timedelta(days=1), multivariate=False, config=off)
        day = {f["feature"]: f for f in drift_windows(db, "m", window="1d")["windows"][1]["features"]}
        # a window too big to hold every column at once is done a few columns at a time: same report
        monkeypatch.setattr(drift_mod, "BIG_VALUES", 3000)
        for rep in drift_windows(db, "m", window="1d", config=off)["windows"]:
            s, e = parse_time(rep["current"]["start"]), parse_time(rep["current"]["end"])
            assert rep == drift_report(ViewsOnly(db), "m", start=s, end=e, multivariate=False, config=off)
    finally:
        db.close()

    # the numbers themselves: scipy on the raw records of day 2, version 1
    records = [json.loads(line) for name in ("a.jsonl", "b.jsonl") for line in (ws / "logs" / name).open()]
    reference = [json.loads(line) for line in (ws / "reference" / "m-1.jsonl").open()]

    def finite(rows: list[dict], name: str) -> np.ndarray:
        v = np.array([r["features"].get(name) if r["features"].get(name) is not None else np.nan for r in rows],
                     dtype=float)
        return v[np.isfinite(v)]

    d2 = [r for r in records if r["version"] == "1" and r["ts"].startswith("2026-11-11")]
    x_ref, x_cur = finite(reference, "x"), finite(d2, "x")
    x = day["x"]
    assert x["method"] == "wasserstein"
    assert abs(x["score"] - wasserstein_distance(x_ref, x_cur) / np.std(x_ref)) <= 1e-9 * x["score"]
    assert abs(x["stats"]["ks_pvalue"] - ks_2samp(x_ref, x_cur).pvalue) <= 1e-9 * x["stats"]["ks_pvalue"]
    assert x["stats"]["missing_share_current"] == (len(d2) - x_cur.size) / len(d2) > 0
    assert day["sparse"]["note"] == "no values in the current data"
    assert day["sparse"]["stats"]["missing_share_current"] == 1.0
    assert day["c"]["stats"]["current_values"] == sum(1 for r in d2 if r["features"]["c"] is not None)


def test_a_side_read_by_sql_in_batches_equals_the_side_of_the_whole_table(monkeypatch) -> None:
    """``sql_side`` streams its query in batches (a week of a 100M store no longer sits in memory
    twice); the values, counts and missing counts are those of the whole result at once."""
    import duckdb

    from console.analytics import driftdata

    rng = np.random.default_rng(11)
    n = 5000
    x = rng.normal(size=n)
    x[rng.choice(n, 200, replace=False)] = np.nan
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, x DOUBLE, c VARCHAR, m INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [
        (i, None if i % 97 == 0 else float(x[i]), None if i % 13 == 0 else f"v{i % 7}",
         None if i % 3 else i) for i in range(n)])
    con.execute("UPDATE t SET x = 'inf'::DOUBLE WHERE i % 101 = 0")
    cols = [("x", "numeric"), ("c", "categorical"), ("m", "numeric")]
    whole = driftdata.from_table(con.sql("SELECT x, c, m::DOUBLE AS m FROM t WHERE i >= ?", params=[10])
                                 .to_arrow_table(), cols)
    monkeypatch.setattr(driftdata, "SQL_BATCH", 333)  # 15 batches
    batched = driftdata.sql_side(con.cursor(), "t", "i >= ?", [10], cols)
    assert batched.rows == whole.rows == n - 10
    for c, kind in cols:
        got, want = batched.columns[c], whole.columns[c]
        assert (got.rows, got.missing) == (want.rows, want.missing)
        if kind == "numeric":
            assert np.array_equal(got.values, want.values)
            assert np.all(np.diff(got.values) >= 0) and np.all(np.isfinite(got.values))
        else:
            assert got.counts == want.counts
    assert batched.columns["x"].missing > 200  # NaN, null and inf


def test_a_column_read_against_bounds_counts_what_its_sorted_values_would_give() -> None:
    """The data quality rules read the current rows' numeric columns against the reference's
    ``[min, max]`` (``SideBuilder(bounds=...)``): no values kept, and the same missing count
    and values below / above as the sorted values of the same batches, masks included."""
    import pyarrow as pa

    from console.analytics import driftdata

    rng = np.random.default_rng(3)
    cols = [("x", "numeric"), ("c", "categorical")]
    kept, counted = driftdata.SideBuilder(cols), driftdata.SideBuilder(cols, {"x": (-1.0, 1.5)})
    for i in range(6):
        x = rng.normal(size=1000)
        x[rng.random(1000) < 0.03] = np.nan
        x[rng.random(1000) < 0.01] = np.inf
        x[rng.random(1000) < 0.01] = -np.inf
        x[:5] = [-1.0, 1.5, -1.0000001, 1.5000001, 0.0]  # on and just past the bounds
        arr = pa.array(x, mask=rng.random(1000) < 0.02)  # nulls as well
        table = pa.table({"x": arr, "c": pa.array(rng.choice(["a", "b"], 1000))})
        mask = None if i % 2 else rng.random(1000) < 0.7
        kept.add(table, mask)
        counted.add(table, mask)
    a, b = kept.finish().columns["x"], counted.finish().columns["x"]
    assert b.values is None and (b.rows, b.missing) == (a.rows, a.missing)
    assert b.outside == (int(np.sum(a.values < -1.0)), int(np.sum(a.values > 1.5)))
    assert b.outside[0] > 0 and b.outside[1] > 0
