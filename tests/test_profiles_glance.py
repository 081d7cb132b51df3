"""The fleet's at-a-glance columns from the daily profiles (console.profiles.glance) against the
exact functions on the same data (the ingested sample): over all the data, with fresh profiles,
requests, errors, error rates and the daily buckets equal ``ops_summary``'s, latency quantiles
within ALPHA of the exact order statistic, month-to-date spend equal ``budget_status``'s, and
the live multiclass and regression metric equal ``performance_report``'s;
without fresh profiles (none yet, or a batch committed since) or for a bounded window, the
exact functions answer — and the freshness check computes and writes nothing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from console.analytics import cost, ops, parse_time
from console.profiles import core, glance, local
from tests.test_profiles_reader import _open


@pytest.fixture(name="db")
def db_fixture(sample_ws):
    db = _open(sample_ws)
    yield db
    db.close()


def _models(db) -> list[str]:
    return sorted(db.registry.models())


def test_fresh_profiles_answer_the_fleet_glance_as_the_exact_path_does(db):
    local.profile_store(db)
    models = _models(db)
    assert local.profiles_fresh(db, models) and local.profiles_fresh(db)
    got, exact = glance.ops_summary(db, models, "1d"), ops.ops_summary(db, models, "1d")
    assert [g["model"] for g in got] == [e["model"] for e in exact] == models
    with_traffic = 0
    for g, e in zip(got, exact, strict=True):
        assert g["source"] == "profiles"
        for k in ("requests", "errors", "error_rate", "start", "end", "windows"):
            assert g[k] == e[k], (g["model"], k)
        if not g["requests"]:
            continue
        with_traffic += 1
        lat = np.sort(np.array([r[0] for r in db.cursor().execute(
            "SELECT latency_ms FROM predictions WHERE model = ? AND isfinite(latency_ms)", [g["model"]]).fetchall()]))
        for q, key in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            x = lat[math.floor(q * (lat.size - 1))]  # the order statistic the sketch bounds
            assert abs(g["latency_ms"][key] - x) <= core.ALPHA * abs(x) + 1e-12, (g["model"], key)
        assert g["latency_ms"]["max"] == e["latency_ms"]["max"] == lat.max()
        assert g["latency_ms"]["mean"] is None  # not profiled, never made up
    assert with_traffic >= 2
    budgets = glance.budget_status(db)
    assert budgets and _same_budgets(budgets, cost.budget_status(db))
    assert any(b["mtd_usd"] > 0 for b in budgets)


def _same_budgets(got: list[dict], exact: list[dict]) -> bool:
    """Equal, the spend to the last bits: the exact query's per-day rows come in no fixed order,
    so even two exact answers may add the same days in a different order."""
    assert len(got) == len(exact)
    for g, e in zip(got, exact, strict=True):
        assert g.keys() == e.keys()
        for k, v in g.items():
            assert v == (pytest.approx(e[k], rel=1e-12) if isinstance(v, float) else e[k]), (g["model"], k)
    return True


def test_without_fresh_profiles_the_exact_functions_answer(sample_ws):
    from tests.tui_helpers import ingest

    db = _open(sample_ws)
    try:
        models = _models(db)
        out = local.profiles_dir(db)
        assert not local.profiles_fresh(db, models)  # never profiled
        assert not out.exists()  # the check made nothing
        assert {g["source"] for g in glance.ops_summary(db, models, "1d")} == {"exact"}
        local.profile_store(db)
        assert {g["source"] for g in glance.ops_summary(db, models, "1d")} == {"profiles"}
        # a bounded window, or buckets that are not whole days: the exact path
        bounded = glance.ops_summary(db, models, "1d", start=parse_time("2026-11-20"))
        assert {g["source"] for g in bounded} == {"exact"}
        exact = ops.ops_summary(db, models, "1d", start=parse_time("2026-11-20"))
        assert [(g["model"], g["requests"], g["windows"]) for g in bounded] == \
            [(e["model"], e["requests"], e["windows"]) for e in exact]
        assert {g["source"] for g in glance.ops_summary(db, models, "1h")} == {"exact"}
        manifest = (out / "manifest.json").read_bytes()
    finally:
        db.close()
    model = "credit-risk"
    log = sorted((sample_ws / "logs" / model).glob("predictions-*.jsonl"))[-1]
    last = json.loads(log.read_text().splitlines()[-1])
    with log.open("a") as f:
        for i in range(7):
            f.write(json.dumps(dict(last, request_id=f"glance-{i}", status="error")) + "\n")
    ingest(sample_ws)
    db = _open(sample_ws)
    try:
        assert not local.profiles_fresh(db, models)  # a batch since: not known fresh
        assert (out / "manifest.json").read_bytes() == manifest  # looked, wrote nothing
        got = {g["model"]: g for g in glance.ops_summary(db, models, "1d")}
        exact = {e["model"]: e for e in ops.ops_summary(db, models, "1d")}
        assert got[model]["source"] == "exact" and got[model]["requests"] == exact[model]["requests"]
        assert _same_budgets(glance.budget_status(db), cost.budget_status(db))
        local.profile_store(db)
        again = {g["model"]: g for g in glance.ops_summary(db, models, "1d")}
        assert again[model]["source"] == "profiles"
        assert again[model]["errors"] == exact[model]["errors"] and again[model]["requests"] == exact[model]["requests"]
    finally:
        db.close()


def _arrow_sums(prof, by: list[str]) -> list[tuple]:
    """Arrow's group sums, the values' sum with ``math.fsum`` (correctly rounded; Arrow's and
    DuckDB's own sums may differ from it in the last bits over many rows)."""
    g = prof.group_by(by).aggregate([("count", "sum"), ("value", "list")]).to_pydict()
    out = []
    for row in zip(*(g[c] for c in by), g["count_sum"], g["value_list"], strict=True):
        vals = [v for v in row[-1] if v is not None]
        out.append((*row[:-1], math.fsum(vals) if vals else None))
    return sorted(out, key=repr)


def _same_sums(got: list[tuple], want: list[tuple]) -> bool:
    assert [r[:-1] for r in got] == [r[:-1] for r in want]  # the keys and the counts: equal
    for g, w in zip(got, want, strict=True):
        assert (g[-1] is None) == (w[-1] is None) and (w[-1] is None or g[-1] == pytest.approx(w[-1], rel=1e-13)), g
    return True


@pytest.mark.parametrize("folder", ["profiles", "p[1]*?{x}"])  # the second, a glob to DuckDB
def test_the_day_files_grouped_by_duckdb_merge_as_the_arrow_merge_does(db, tmp_path, folder):
    """``local.merge_days`` and ``local.sums_by`` (DuckDB over the day files: what the fleet's
    first numbers wait for) against ``core.merge`` and Arrow's ``group_by`` of the same rows:
    every count, value and day count equal, for stat sets with extremes, edges, sketches and
    summed values, over all days and a range; also where the folder's name holds characters
    DuckDB would read as a glob (the files are then read by Arrow and grouped by DuckDB)."""
    import datetime as dt
    import shutil

    import pyarrow as pa
    import pyarrow.compute as pc

    local.profile_store(db)
    out = tmp_path / folder
    shutil.copytree(local.profiles_dir(db), out)
    cases = [(glance.OPS_STATS, (core.LATENCY,)), (("hist", "edge", "min", "max", "missing"), None),
             (("sum", "metric", "rows", "labelled"), None), (glance.SPEND_STATS, ("", core.COST))]
    checked = refused = 0
    for model in _models(db):
        days = [f.name[4:14] for f in local.day_files(out, model)]
        if not days:
            continue
        mid = dt.date.fromisoformat(days[len(days) // 2])
        for start, end in ((None, None), (mid, None), (None, mid)):
            prof = local.read_profiles(out, model=model, start=start, end=end, ordered=False)
            for stats, columns in cases:
                want = prof.filter(pc.is_in(prof["stat"], pa.array(stats)))
                if columns is not None:
                    want = want.filter(pc.is_in(want["column"], pa.array(columns)))
                try:
                    exact = core.merge(want)
                except ValueError:  # versions binned on different edges: the same refusal
                    with pytest.raises(ValueError, match="binned on different edges: merge one version at a time"):
                        local.merge_days(db, model, stats, columns, start, end, out=out)
                    refused += 1
                else:
                    got = local.merge_days(db, model, stats, columns, start, end, out=out)
                    assert (got.count, got.value, got.days) == (exact.count, exact.value, exact.days), (model, stats)
                for by in (["day", "stat"], ["version", "day", "stat"], ["stat", "column"]):
                    sums = sorted(local.sums_by(db, model, tuple(by), stats, columns, start, end, out=out), key=repr)
                    assert _same_sums(sums, _arrow_sums(want, by)), (model, stats, by)
                checked += want.num_rows
    assert checked > 10_000 and 0 < refused < checked
    with pytest.raises(ValueError, match="cannot group profiles by"):
        local.sums_by(db, _models(db)[0], ("stat", "nope"), glance.OPS_STATS, out=out)


def test_the_fleets_first_numbers_from_profiles_import_no_pandas(db, sample_ws):
    """pyarrow imports pandas (when installed: the dev, explain and spark extras) on its first
    conversion of a Python value, 0.3-0.45 s the fleet's first numbers would wait for: the
    glance's ops and budgets, from fresh profiles, are read without it — in a process of their
    own, as the console's."""
    import subprocess
    import sys

    pytest.importorskip("pandas", reason="pandas is not installed: nothing to keep out")
    local.profile_store(db)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tests.test_profiles_reader import _open\n"
        "from console.profiles import glance\n"
        "db = _open(Path(sys.argv[1]))\n"
        "ops = glance.ops_summary(db, sorted(db.registry.models()), '1d')\n"
        "budgets = glance.budget_status(db)\n"
        "print(sorted({o['source'] for o in ops}), len(budgets), 'pandas' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script, str(sample_ws)], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['profiles']", str(len(cost.budget_status(db))), "False"]


def test_with_the_analytics_cache_deleted_the_manifest_gives_the_ranges_without_a_scan(sample_ws):
    """``profile`` keeps each model's and version's first and last ``ts`` in its manifest for the
    store's batch: a console opened after the analytics cache was deleted knows them from the
    freshness check, before any query of the rows — and they are the scan's."""
    import shutil

    from console.analytics.cache import _memo_key
    from console.analytics.source import Scope, _range_key, data_range

    db = _open(sample_ws)
    try:
        local.profile_store(db)
        models = _models(db)
        versions = {m: sorted({r[0] for r in db.cursor().execute(
            "SELECT DISTINCT version FROM predictions WHERE model = ?", [m]).fetchall()}) for m in models}
        cache_dir, manifest = db.cache_dir, local.profiles_dir(db) / "manifest.json"
    finally:
        db.close()
    shutil.rmtree(cache_dir)
    scopes = [Scope(m, v) for m in models for v in [None, *versions[m]]]
    assert len(scopes) > len(models)
    db = _open(sample_ws)
    try:
        assert all(db.memo.get(_memo_key(_range_key(s, "predictions"))) is None for s in scopes)
        assert local.profiles_fresh(db, models)
        recalled = {s: db.memo.get(_memo_key(_range_key(s, "predictions"))) for s in scopes}
    finally:
        db.close()
    shutil.rmtree(cache_dir, ignore_errors=True)  # (the recalled ranges were kept in memory only)
    manifest.unlink()  # no manifest: the ranges come from the rows
    db = _open(sample_ws)
    try:
        for s in scopes:
            assert recalled[s] is not None and recalled[s] == data_range(db, s), s
            assert recalled[s][0] is not None and recalled[s][0] < recalled[s][1]
    finally:
        db.close()


def test_a_console_opened_without_its_analytics_cache_knows_the_ranges_before_any_report(sample_ws):
    """The TUI's backend, on opening (and on a new snapshot), takes the ranges from the manifest
    of the same batch (``local.recall_ranges``): the header's newest record and the fleet's
    ranges are known before anything is asked — and equal what a scan finds. A manifest of
    another batch gives nothing."""
    import shutil

    from console.analytics.cache import _memo_key
    from console.analytics.source import Scope, _range_key, data_range
    from console.tui.backend import Backend
    from console.workspace import load_dir
    from tests.tui_helpers import CAROL

    db = _open(sample_ws)
    try:
        local.profile_store(db)
        models = _models(db)
        cache_dir, manifest = db.cache_dir, local.profiles_dir(db) / "manifest.json"
        scans = {m: data_range(db, Scope(m, None)) for m in models}
    finally:
        db.close()
    shutil.rmtree(cache_dir)
    be = Backend(load_dir(sample_ws), CAROL, live=False)
    be.open()
    try:
        got = {m: be.db.memo.get(_memo_key(_range_key(Scope(m, None), "predictions"))) for m in models}
    finally:
        be.close()
    assert got == scans and all(v is not None for v in got.values())
    shutil.rmtree(cache_dir, ignore_errors=True)
    doc = json.loads(manifest.read_text())
    doc["_batch"]["batch"] += 1  # as if written for another batch
    manifest.write_text(json.dumps(doc))
    db = _open(sample_ws)
    try:
        local.recall_ranges(db)
        assert all(db.memo.get(_memo_key(_range_key(Scope(m, None), "predictions"))) is None for m in models)
    finally:
        db.close()


def test_the_live_metric_from_profiles_is_the_reports_where_the_counts_give_it(sample_ws):
    """``performance_live`` answers the multiclass ``macro_f1`` and the regression ``rmse`` from
    fresh profiles, equal to ``performance_report``'s ``live`` (value, labelled rows, window,
    low confidence) in daily and weekly windows — with labelled requests that failed in the
    newest day, which the report does not count (``labelled_ok``); a binary model's
    ``roc_auc`` (it needs the scores), a bounded range and stale profiles go to the report."""
    from console.analytics.performance import performance_report
    from tests.tui_helpers import ingest

    db = _open(sample_ws)
    try:  # failed requests whose label came inline, on each model's newest day
        newest = {m: db.cursor().execute("SELECT ts, version, prediction FROM predictions WHERE model = ? "
                                         "ORDER BY ts DESC LIMIT 1", [m]).fetchone()
                  for m in ("delivery-eta", "ticket-router")}
    finally:
        db.close()
    for model, (ts, version, prediction) in newest.items():
        with (sample_ws / "logs" / model / "predictions-failed.jsonl").open("w") as f:
            for i in range(5):
                f.write(json.dumps({"ts": ts.isoformat() + "Z", "model": model, "version": version,
                                    "request_id": f"failed-{i}", "prediction": prediction, "status": "error",
                                    "label": prediction}) + "\n")
    ingest(sample_ws)
    db = _open(sample_ws)
    try:
        models = _models(db)
        before = {m: glance.performance_live(db, m, "1d") for m in models}
        assert {b["source"] for b in before.values()} == {"exact"}  # not profiled yet
        local.profile_store(db)
        tasks = set()
        for m in models:
            for window in ("1d", "7d", None):
                exact = performance_report(db, m, window=window)
                got = glance.performance_live(db, m, window)
                tasks.add(exact["task"])
                assert got.pop("source") == ("profiles" if exact["task"] in ("multiclass", "regression") else "exact")
                assert got == exact["live"], (m, window)
            assert before[m] == {**performance_report(db, m, window="1d")["live"], "source": "exact"}
            assert got["value"] is not None and got["labelled"] > 0
            assert glance.performance_live(db, m, "1d", start=parse_time("2026-11-10T00:00:00Z"))["source"] == "exact"
        assert tasks == {"binary", "multiclass", "regression"}
        for m in ("delivery-eta", "ticket-router"):  # (the failed ones are labelled, not labelled_ok)
            merged = core.merge(local.read_profiles(local.profiles_dir(db), model=m, ordered=False))
            assert merged.get("labelled") - merged.get("labelled_ok") >= 5
    finally:
        db.close()
