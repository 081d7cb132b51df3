"""Adopted Parquet sources (``[ingest] adopt_parquet``): the store reads well-formed Parquet
prediction files in place, and every view shows exactly what rewriting them would have shown."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from console.ingest.adopt import plan
from console.ingest.engine import Ingester
from console.store.checkpoint import read_checkpoint
from console.store.layout import StoreLayout
from console.workspace import load_dir
from tests.conftest import write_workspace
from tests.test_ingest_formats import ingest, query

ADOPT = "\n[ingest]\nadopt_parquet = true\n"


def table(seed: int, n: int, start: int = 0, prediction: str = "int", tz: bool = True) -> pa.Table:
    """Seeded prediction records with every kind of column a well-formed file may hold, some
    invalid records (each rule of the contract) and some repeated keys."""
    rng = np.random.default_rng(seed)
    ids = np.arange(start, start + n)
    rid = np.array([f"r{i}" for i in ids], dtype=object)
    spots = rng.choice(n, 12, replace=False)
    rid[rng.random(n) < 0.05] = "r3"  # repeats within the file (and across files)
    rid[rng.random(n) < 0.02] = None  # missing request_id
    score = rng.random(n)
    score[rng.random(n) < 0.03] = 1.5  # outside [0, 1]
    score_mask = rng.random(n) < 0.1
    latency = rng.gamma(2.0, 20.0, n)
    latency[rng.random(n) < 0.02] = -1.0
    status = np.where(rng.random(n) < 0.02, "weird", np.where(rng.random(n) < 0.05, "error", "ok")).astype(object)
    status[rng.random(n) < 0.1] = None
    ts = 1_762_000_000_000 + ids * 1000
    ts[rng.random(n) < 0.01] = 4_102_444_800_000 + 10**9  # in the future (year 2100)
    if prediction == "int":
        pred = pa.array(rng.integers(0, 2, n), mask=rng.random(n) < 0.03)
    elif prediction == "float":
        pred = pa.array(rng.normal(100, 30, n).round(2), mask=rng.random(n) < 0.03)
    else:
        texts = np.array(["a", "b", "c"])[rng.integers(0, 3, n)].astype(object)
        texts[spots[9]] = texts[spots[10]] = ""  # empty: valid only when status is "error"
        pred = pa.array(texts, type=pa.string(), mask=rng.random(n) < 0.03)
    # one record for each remaining rule, at seeded places
    models = np.where(rng.random(n) < 0.5, "m1", "m2").astype(object)
    versions = np.where(ids % 7 == 0, "2", "1").astype(object)
    models[spots[0]], models[spots[1]], models[spots[2]] = "", "m\x01", "m" * 81
    versions[spots[3]] = ""
    rid[spots[4]] = ""
    score[spots[5]] = np.nan
    latency[spots[6]] = np.inf
    status[spots[7]] = ""
    ts[spots[8]] = -2_500_000_000_000  # 1890
    status[spots[9]] = "error"  # with an empty prediction below: valid
    income = rng.normal(50_000, 12_000, n)
    income[rng.random(n) < 0.05] = np.nan
    return pa.table({
        "ts": pa.array(ts, type=pa.timestamp("ms", tz="UTC" if tz else None)),
        "model": pa.array(models, type=pa.string()),
        "version": pa.array(versions, type=pa.string()),
        "request_id": pa.array(rid, type=pa.string()),
        "prediction": pred,
        "score": pa.array(score, mask=score_mask),
        "latency_ms": pa.array(latency),
        "status": pa.array(status, type=pa.string()),
        "income": pa.array(income, mask=rng.random(n) < 0.05),
        "age": pa.array(rng.integers(18, 90, n)),
        "region": pa.array(np.array(["eu", "us", "apac"])[rng.integers(0, 3, n)], mask=rng.random(n) < 0.1),
        "blob": pa.array([b"x"] * n, type=pa.binary()),
    })


def write_sources(ws: Path) -> None:
    pq.write_table(table(1, 3000, prediction="int"), ws / "logs" / "a.parquet", row_group_size=1000)
    pq.write_table(table(2, 2000, start=2500, prediction="str", tz=False), ws / "logs" / "b.parquet")
    labels = pa.table({"request_id": [f"r{i}" for i in range(0, 4000, 3)],
                       "label": pa.array(np.arange(0, 4000, 3) % 2)})
    pq.write_table(labels, ws / "labels" / "l.parquet")


def same_everywhere(a: Path, b: Path) -> None:
    """Every view of store ``a`` equals store ``b``'s, row for row (sources by file name; the
    batch a row arrived in is the one thing that may differ)."""
    base = "regexp_replace(source, '.*/', '') AS source"
    for sql in (
        f"SELECT * EXCLUDE (source, batch), {base} FROM predictions ORDER BY source, line",
        f"SELECT * EXCLUDE (source, batch, label_ts), {base} FROM predictions_labelled ORDER BY source, line",
        f"SELECT kind, {base}, line, byte_offset, reason, raw FROM quarantine ORDER BY source, line",
        "SELECT * FROM features ORDER BY model, feature",
        # per file (a killed run may leave a stream of a file it never reached: rewritten or not)
        f"SELECT {base}, kind, max(\"offset\"), max(size), sum(rows), sum(quarantined), sum(duplicates), "
        "max(last_error) FROM ingest_status GROUP BY ALL ORDER BY source",
    ):
        got, want = query(a, sql), query(b, sql)
        assert len(got) == len(want), sql
        for x, y in zip(got, want, strict=True):
            assert x == y or json.dumps(x, default=str) == json.dumps(y, default=str), (sql, x, y)


def two_workspaces(tmp_path: Path) -> tuple[Path, Path]:
    adopted = write_workspace(tmp_path / "adopt", ADOPT)
    rewritten = write_workspace(tmp_path / "rewrite")
    for ws in (adopted, rewritten):
        write_sources(ws)
    return adopted, rewritten


def test_well_formed_files_are_adopted_and_read_exactly_as_rewritten(tmp_path: Path) -> None:
    adopted, rewritten = two_workspaces(tmp_path)
    r1, r2 = ingest(adopted), ingest(rewritten)
    assert r1 == r2 and r1["quarantined"] > 0 and r1["duplicates"] > 0
    cp = read_checkpoint(StoreLayout(adopted / ".console").checkpoint_path)
    assert sorted(Path(p).name for p in cp.adopted) == ["a.parquet", "b.parquet"]
    # nothing of the adopted files' records was rewritten into prediction parts
    assert not list((adopted / ".console" / "parts" / "predictions").rglob("*.parquet"))
    same_everywhere(adopted, rewritten)
    # a second file repeating keys of the first: duplicates, exactly once
    for ws in (adopted, rewritten):
        pq.write_table(table(3, 1500, start=2000, prediction="float"), ws / "logs" / "c.parquet")
    assert ingest(adopted) == ingest(rewritten)
    same_everywhere(adopted, rewritten)
    assert ingest(adopted)["predictions"] == 0  # nothing new


def test_parts_of_a_model_with_adopted_rows_are_read_through_the_views(tmp_path: Path) -> None:
    from console.store.db import open_store
    from console.workspace import load_dir

    adopted, _ = two_workspaces(tmp_path)
    ingest(adopted)
    db = open_store(load_dir(adopted))
    try:
        assert db.parts("m1") is None and db.parts("m2") is None  # the one helper says: use SQL
    finally:
        db.close()


def test_a_changed_adopted_file_is_withdrawn_and_adopted_again(tmp_path: Path) -> None:
    adopted, rewritten = two_workspaces(tmp_path)
    ingest(adopted)
    cp1 = read_checkpoint(StoreLayout(adopted / ".console").checkpoint_path)
    # b.parquet is replaced by other content (fewer rows, other ids)
    pq.write_table(table(9, 800, start=9000, prediction="str", tz=False), adopted / "logs" / "b.parquet")
    ingest(adopted)
    cp2 = read_checkpoint(StoreLayout(adopted / ".console").checkpoint_path)
    b = str(adopted / "logs" / "b.parquet")
    assert cp2.adopted[b].fp != cp1.adopted[b].fp and cp2.adopted[b].batch > cp1.adopted[b].batch
    # a.parquet dropped duplicates (some maybe of b's old rows): adopted again with it, and the
    # old batch's sidecars, used by neither any more, go after the grace period
    a = str(adopted / "logs" / "a.parquet")
    assert cp2.adopted[a].batch == cp2.adopted[b].batch > cp1.adopted[a].batch
    assert cp1.adopted[b].keys in cp2.retired and cp1.adopted[b].excluded in cp2.retired
    # the store now holds what a fresh ingest of the new files holds
    shutil.rmtree(rewritten / "logs")
    shutil.copytree(adopted / "logs", rewritten / "logs")
    ingest(rewritten)
    for sql in ("SELECT model, version, request_id, prediction, ts FROM predictions ORDER BY ALL",
                "SELECT sum(rows), sum(duplicates) FROM ingest_status WHERE kind = 'predictions'"):
        assert query(adopted, sql) == query(rewritten, sql)
    rows = query(adopted, "SELECT count(*), count(DISTINCT (model, version, request_id)) FROM predictions")
    assert rows[0][0] == rows[0][1]  # exactly once
    # and the key set of a fresh process agrees: nothing new, no duplicate counted wrongly
    assert ingest(adopted)["predictions"] == 0


def test_a_renamed_adopted_file_is_adopted_where_it_is_now(tmp_path: Path) -> None:
    adopted, rewritten = two_workspaces(tmp_path)
    ingest(adopted)
    ingest(rewritten)
    before = query(adopted, "SELECT count(*) FROM predictions")
    os.rename(adopted / "logs" / "a.parquet", adopted / "logs" / "a-1.parquet")  # rotated
    ingest(adopted)
    cp = read_checkpoint(StoreLayout(adopted / ".console").checkpoint_path)
    assert sorted(Path(p).name for p in cp.adopted) == ["a-1.parquet", "b.parquet"]
    assert query(adopted, "SELECT count(*) FROM predictions") == before
    sql = "SELECT * EXCLUDE (source, batch) FROM predictions ORDER BY model, version, request_id"
    assert query(adopted, sql) == query(rewritten, sql)


def test_a_moved_workspace_adopts_its_files_again_with_one_pass_over_the_key_set(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    """Every adopted file of a workspace moved elsewhere is renamed at once: all are withdrawn
    together (the key set walked once, not once per file — 90 files of 10M keys took a minute)
    and adopted again where they are; the keys left in memory still catch duplicates."""
    from console.store.keys import KeySet

    adopted, rewritten = two_workspaces(tmp_path)
    first = ingest(adopted)
    ingest(rewritten)
    before = query(adopted, "SELECT count(*) FROM predictions")[0][0]
    moved = tmp_path / "moved"
    os.rename(adopted, moved)
    removals: list[int] = []
    remove = KeySet.remove
    monkeypatch.setattr(KeySet, "remove", lambda self, keys: (removals.append(len(keys)), remove(self, keys))[1])
    ing = Ingester(load_dir(moved), sync=False)
    again = ing.run_once(wait=5)
    assert again.errors == []
    assert len(removals) == 1 and removals[0] == before  # both files' keys, in one call
    # read again from their first rows, they count again (labels are rewritten: they stay)
    assert again.as_dict() == {**first, "labels": 0}
    cp = read_checkpoint(StoreLayout(moved / ".console").checkpoint_path)
    assert sorted(cp.adopted) == sorted(str(moved / "logs" / n) for n in ("a.parquet", "b.parquet"))
    same_everywhere(moved, rewritten)
    # the same process's key set after the withdrawal: a file repeating their keys is all duplicates
    for ws in (moved, rewritten):
        pq.write_table(table(3, 1500, start=2000, prediction="float"), ws / "logs" / "c.parquet")
    assert ing.run_once(wait=5).as_dict() == ingest(rewritten)
    same_everywhere(moved, rewritten)


def test_files_that_do_not_map_are_rewritten_as_before(tmp_path: Path) -> None:
    t = table(4, 500)
    nested = t.drop_columns(["income", "age"]).append_column(
        "features", pa.StructArray.from_arrays([t.column("income").combine_chunks()], names=["income"]))
    numeric_version = t.set_column(2, "version", pa.array(np.ones(500, dtype=np.int64)))
    assert isinstance(plan(nested.schema), str) and isinstance(plan(numeric_version.schema), str)
    assert not isinstance(plan(t.schema), str)
    ws_a = write_workspace(tmp_path / "adopt", ADOPT)
    ws_r = write_workspace(tmp_path / "rewrite")
    for ws in (ws_a, ws_r):
        pq.write_table(nested, ws / "logs" / "nested.parquet")
        pq.write_table(numeric_version, ws / "logs" / "v.parquet")
        # well-formed by its schema, but its float predictions are spelled by the store as
        # polars does (0.00001), not as DuckDB does (1e-05): rewritten, never shown otherwise
        tiny = table(5, 300, start=5000, prediction="float")
        tiny = tiny.set_column(4, "prediction", pa.array(np.full(300, 1.25e-5)))
        pq.write_table(tiny, ws / "logs" / "tiny.parquet")
    assert ingest(ws_a) == ingest(ws_r)
    assert read_checkpoint(StoreLayout(ws_a / ".console").checkpoint_path).adopted == {}
    same_everywhere(ws_a, ws_r)


CHILD = """
import sys
from pathlib import Path
from console.ingest.engine import Ingester
from console.workspace import load_dir
ing = Ingester(load_dir(Path(sys.argv[1])), batch_rows=int(sys.argv[2]), compact_at=2, retire_grace_s=0.5,
               on_batch=lambda n, _r: print("batch", n, flush=True))
print("ready", flush=True)
r = ing.run_once(wait=60)
print("done", r.as_dict(), flush=True)
"""


def run_child(ws: Path, kill_after: float | None) -> int:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(ws), "150"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    if kill_after is not None:
        if proc.stdout.readline().startswith("batch"):  # killed after its first commit, mid-way
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
    proc.stdout.read()
    proc.wait(timeout=120)
    return proc.returncode


def test_sigkill_during_adoption_then_finish_exactly_once(tmp_path: Path) -> None:
    adopted = write_workspace(tmp_path / "adopt", ADOPT)
    rewritten = write_workspace(tmp_path / "rewrite")
    for ws in (adopted, rewritten):
        for i in range(8):
            pq.write_table(table(20 + i, 1200, start=1000 * i, prediction="int"), ws / "logs" / f"f{i}.parquet")
    killed = 0
    for delay in (0.0, 0.01, 0.03, 0.06):
        killed += run_child(adopted, delay) == -signal.SIGKILL
    assert killed >= 2
    assert run_child(adopted, None) == 0
    ingest(rewritten)
    rows = query(adopted, "SELECT count(*), count(DISTINCT (model, version, request_id)) FROM predictions")
    assert rows[0][0] == rows[0][1], "a record was stored twice"
    same_everywhere(adopted, rewritten)
    # no sidecar outside the checkpoint survives (orphans of the killed runs are deleted)
    cp = read_checkpoint(StoreLayout(adopted / ".console").checkpoint_path)
    named = {a.keys for a in cp.adopted.values()} | {a.excluded for a in cp.adopted.values() if a.excluded}
    on_disk = {os.path.relpath(p, adopted / ".console") for p in (adopted / ".console" / "parts" / "adopted").rglob("*")
               if p.is_file()}
    assert on_disk <= named | set(cp.retired)


def test_sandboxed_query_reads_adopted_files_and_nothing_else(tmp_path: Path) -> None:
    import pytest

    from console.analytics.query import open_query_store, run_query
    from console.errors import UsageError
    from console.workspace import load_dir

    adopted, rewritten = two_workspaces(tmp_path)
    ingest(adopted)
    ingest(rewritten)
    db = open_query_store(load_dir(adopted))
    try:
        got = run_query(db, "SELECT count(*) AS n FROM predictions")
        assert got == [{"n": query(rewritten, "SELECT count(*) FROM predictions")[0][0]}]
        with pytest.raises(UsageError):
            run_query(db, f"SELECT * FROM read_parquet('{rewritten / 'logs' / 'a.parquet'}')")
    finally:
        db.close()


def test_analytics_of_adopted_rows_equal_those_of_rewritten_rows(tmp_path: Path) -> None:
    """Drift reads a model's day partitions directly when it can: with adopted rows it reads the
    views (``Snapshot.parts`` says so), with the same numbers."""
    import datetime as dt

    from console.analytics import drift_report
    from console.store.db import open_store
    from console.workspace import load_dir

    adopted, rewritten = two_workspaces(tmp_path)
    ingest(adopted)
    ingest(rewritten)
    t0 = dt.datetime(2025, 11, 1, 12, 26, 40, tzinfo=dt.UTC)
    reps = []
    for ws in (adopted, rewritten):
        db = open_store(load_dir(ws))
        try:
            reps.append(drift_report(db, "m1", version="1", start=t0 + dt.timedelta(minutes=30), end=t0 + dt.timedelta(hours=2),
                                     reference_start=t0, reference_end=t0 + dt.timedelta(minutes=30),
                                     multivariate=False))
        finally:
            db.close()
    assert reps[0] == reps[1]
    assert reps[0]["features"]  # features were compared


def test_other_consoles_see_adopted_rows_at_their_next_refresh(tmp_path: Path) -> None:
    from console.store.db import open_store
    from console.workspace import load_dir

    adopted, rewritten = two_workspaces(tmp_path)
    ingest(rewritten)
    readers = [open_store(load_dir(adopted)) for _ in range(2)]  # two consoles, opened before any ingest
    try:
        count = "SELECT count(*) FROM predictions"
        assert [r.cursor().execute(count).fetchall() for r in readers] == [[(0,)], [(0,)]]
        ingest(adopted)
        old = readers[0]
        new = [r.refresh() for r in readers]
        want = query(rewritten, count)
        assert [n.cursor().execute(count).fetchall() for n in new] == [want, want]
        assert old.cursor().execute(count).fetchall() == [(0,)]  # a snapshot keeps its own batch
    finally:
        for r in readers:
            r.close()


def test_an_adopted_file_rewritten_as_not_well_formed_is_withdrawn_and_read_the_usual_way(tmp_path: Path) -> None:
    adopted, rewritten = two_workspaces(tmp_path)
    ingest(adopted)
    t = table(1, 3000, prediction="int")
    numeric_version = t.set_column(2, "version", pa.array(np.ones(3000, dtype=np.int64)))
    for ws in (adopted, rewritten):
        pq.write_table(numeric_version, ws / "logs" / "a.parquet")
    ingest(adopted)
    ingest(rewritten)
    cp = read_checkpoint(StoreLayout(adopted / ".console").checkpoint_path)
    assert sorted(Path(p).name for p in cp.adopted) == ["b.parquet"]
    sql = "SELECT * EXCLUDE (source, batch) FROM predictions ORDER BY model, version, request_id"
    assert query(adopted, sql) == query(rewritten, sql)


def test_duckdb_and_polars_spell_floats_alike_inside_the_band_adoption_trusts() -> None:
    """``adopted.SPELLED_ALIKE``: inside it a float column's values are not compared one by one
    when a file is adopted, so DuckDB's text (``number_text``) must be polars' for every value
    there — seeded values across every decade of the band, both signs, round and long ones."""
    import duckdb
    import polars as pl

    from console.ingest.normalize import canonical_number_text
    from console.store.adopted import SPELLED_ALIKE, number_text, spelled_alike_sql

    rng = np.random.default_rng(11)
    lo, hi = SPELLED_ALIKE
    n = 400_000
    x = 10.0 ** rng.uniform(np.log10(lo), np.log10(hi), n) * rng.choice([-1.0, 1.0], n)
    x[: n // 4] = np.round(x[: n // 4], 3)
    x = np.concatenate([x, [lo, -lo, np.nextafter(hi, 0), 0.1, 0.2 + 0.1, 1 / 3, 123456789.123]])
    con = duckdb.connect()
    con.register("t", pa.table({"x": x}))
    got = con.sql(f"SELECT x, {number_text('x')} AS t, {spelled_alike_sql('x')} AS ok FROM t").pl()
    assert got["ok"].all()
    ours = got.select(canonical_number_text(pl.col("x"))).to_series()
    assert (ours == got["t"]).all()
    # just outside it they do differ: the band is not wider than it may be
    assert con.sql(f"SELECT {number_text('0.00005::DOUBLE')}").fetchall() == [("5e-05",)]


def test_a_changed_file_read_again_lists_its_quarantined_records_once(tmp_path: Path) -> None:
    adopted, rewritten = two_workspaces(tmp_path)
    ingest(adopted)
    # b.parquet grows (appended rows: the file changes, its old rows are read again)
    grown = pa.concat_tables([table(2, 2000, start=2500, prediction="str", tz=False),
                              table(4, 500, start=7000, prediction="str", tz=False)])
    for ws in (adopted, rewritten):
        pq.write_table(grown, ws / "logs" / "b.parquet")
    ingest(adopted)
    ingest(rewritten)
    base = "regexp_replace(source, '.*/', '') AS source"
    sql = f"SELECT kind, {base}, line, reason, raw FROM quarantine ORDER BY ALL"
    got = query(adopted, sql)
    assert got == query(rewritten, sql) and len(got) == len(set(got)) > 0
    status = ("SELECT regexp_replace(source, '.*/', ''), sum(rows), sum(quarantined), sum(duplicates) "
              "FROM ingest_status WHERE kind = 'predictions' GROUP BY ALL ORDER BY ALL")
    assert query(adopted, status) == query(rewritten, status)


def test_a_deleted_adopted_file_leaves_the_store_and_says_so(tmp_path: Path) -> None:
    adopted = write_workspace(tmp_path / "adopt", ADOPT)
    write_sources(adopted)
    ingest(adopted)
    kept = query(adopted, "SELECT count(*) FROM predictions WHERE source LIKE '%/b.parquet'")[0][0]
    quarantined = query(adopted, "SELECT count(*) FROM quarantine WHERE source LIKE '%/b.parquet'")[0][0]
    assert kept > 0 and quarantined > 0
    saved = (adopted / "logs" / "b.parquet").read_bytes()
    (adopted / "logs" / "b.parquet").unlink()
    result = Ingester(load_dir(adopted), sync=False).run_once(wait=5)
    assert result.errors == [f"{adopted / 'logs' / 'b.parquet'}: adopted file gone: {kept} records no longer readable"]
    assert query(adopted, "SELECT count(*) FROM predictions WHERE source LIKE '%/b.parquet'") == [(0,)]
    # what was rejected stays on record; the status row says where the records went
    assert query(adopted, "SELECT count(*) FROM quarantine WHERE source LIKE '%/b.parquet'") == [(quarantined,)]
    assert query(adopted, "SELECT rows, last_error FROM ingest_status WHERE source LIKE '%/b.parquet'") == [
        (0, f"adopted file gone: {kept} records no longer readable")]
    # its keys left the key set: the same records in another file are stored, not duplicates
    (adopted / "logs" / "b2.parquet").write_bytes(saved)
    assert ingest(adopted)["predictions"] == kept
    rows = query(adopted, "SELECT count(*), count(DISTINCT (model, version, request_id)) FROM predictions")
    assert rows[0][0] == rows[0][1]


def test_rules_left_out_by_the_footers_statistics_still_catch_a_lone_bad_record(tmp_path: Path) -> None:
    """``reason_sql`` leaves out a rule the statistics show no record breaks: a file of clean
    records with one record breaking one rule (each file read in a pass of its own, so its
    statistics alone decide) is quarantined exactly as when rewritten."""
    adopted, rewritten = two_workspaces(tmp_path)
    for ws in (adopted, rewritten):
        for p in (ws / "logs").iterdir():
            p.unlink()
    rng = np.random.default_rng(5)

    def clean(start: int, n: int = 200) -> dict:
        ids = np.arange(start, start + n)
        return {"ts": pa.array(1_762_000_000_000 + ids * 1000, type=pa.timestamp("ms", tz="UTC")),
                "model": pa.array(["m1"] * n), "version": pa.array(["1"] * n),
                "request_id": pa.array([f"r{i}" for i in ids]),
                "prediction": pa.array(rng.normal(10, 3, n).round(2)), "score": pa.array(rng.random(n)),
                "latency_ms": pa.array(rng.gamma(2.0, 20.0, n)), "status": pa.array(["ok"] * n),
                "income": pa.array(rng.normal(50_000, 9_000, n))}

    def bad(cols: dict, name: str, value, type_=None) -> dict:
        vals = cols[name].to_pylist()
        vals[7] = value
        return {**cols, name: pa.array(vals, type=type_ or cols[name].type)}

    cases = [("ts", None), ("ts", -2_500_000_000_000), ("ts", 4_102_444_800_000 + 10**9), ("model", None),
             ("model", ""), ("model", "m\x01"), ("model", "m" * 81), ("version", ""), ("request_id", None),
             ("prediction", None), ("prediction", float("nan")), ("score", 1.5), ("score", float("nan")),
             ("score", -0.5), ("latency_ms", -1.0), ("latency_ms", float("inf")), ("status", "weird")]
    for i, (name, value) in enumerate(cases):
        cols = clean(10_000 * (i + 1))
        if name == "ts" and value is not None:
            ms = cols["ts"].cast(pa.int64()).to_pylist()
            ms[7] = value
            cols["ts"] = pa.array(ms, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
        else:
            cols = bad(cols, name, value)
        for ws in (adopted, rewritten):
            pq.write_table(pa.table(cols), ws / "logs" / f"c{i:02d}.parquet")
        assert ingest(adopted) == ingest(rewritten), (name, value)
        got = query(adopted, "SELECT reason FROM quarantine WHERE kind = 'predictions' ORDER BY batch DESC LIMIT 1")
        assert got == query(rewritten, "SELECT reason FROM quarantine WHERE kind = 'predictions' "
                                       "ORDER BY batch DESC LIMIT 1"), (name, value)
        assert ingest(adopted)["quarantined"] == 0
    cp = read_checkpoint(StoreLayout(adopted / ".console").checkpoint_path)
    assert len(cp.adopted) == len(cases)
    same_everywhere(adopted, rewritten)


def test_a_feature_only_adopted_files_hold_is_read_beside_parts_that_lack_it(tmp_path: Path) -> None:
    """Parts (a rewritten JSONL file) and adopted files in one store: the parts' SELECT names
    only the feature columns some part holds; ``income`` comes from the adopted file alone."""
    from tests.test_ingest_formats import rec, write_jsonl

    adopted = write_workspace(tmp_path / "adopt", ADOPT)
    write_sources(adopted)
    write_jsonl(adopted / "logs" / "z.jsonl", [rec("z1", model="m1", features={"other": 1.5}),
                                               rec("z2", model="m1", features={"other": 2.5})])
    ingest(adopted)
    got = query(adopted, "SELECT count(*), count(f_income), count(f_other) FROM predictions")
    assert got[0][0] > 2 and got[0][1] > 0 and got[0][2] == 2


def test_a_checked_group_is_let_go_once_its_files_are_adopted(tmp_path: Path, monkeypatch) -> None:
    """What ``check_group`` found (keys, row numbers: ~50 bytes a record) is held only until its
    files are handled: kept to the end of the pass, it grew with the source (5 GB on 100M)."""
    import gc

    from console.ingest import adopt, engine

    ws = write_workspace(tmp_path / "ws", ADOPT)
    for i in range(24):
        pq.write_table(table(10 + i, 300, start=i * 300), ws / "logs" / f"f{i:02d}.parquet")
    live: list[int] = []
    handle = adopt.handle

    def counting(c, *a, **kw):
        gc.collect()
        live.append(sum(type(o) is adopt.Checked for o in gc.get_objects()))  # (isinstance: lazy-module proxies import on __class__)
        return handle(c, *a, **kw)

    monkeypatch.setattr(adopt, "handle", counting)
    got = Ingester(load_dir(ws), batch_rows=600, sync=False).run_once(wait=5)
    assert got.errors == []
    assert len(live) == 24
    # groups of two files (600 rows); the files queued ahead (``PREFETCH`` jobs) and the group
    # after theirs are checked meanwhile: a few groups at a time, never all 24 files
    assert max(live) <= 2 * (engine.PREFETCH + 1), live
    cp = read_checkpoint(StoreLayout(ws / ".console").checkpoint_path)
    assert len(cp.adopted) == 24


def test_adopted_records_weigh_a_sixteenth_toward_a_batch(tmp_path: Path) -> None:
    """An adopted record holds only its key until the commit: 16 count as one record toward
    ``batch_rows``, so a bulk adoption commits 16 times fewer batches (and the ``predictions``
    view has as many fewer SELECTs to bind); rows read into parts still commit every batch."""
    from console.ingest.batch import ADOPT_WEIGHT

    assert ADOPT_WEIGHT == 16
    ws = write_workspace(tmp_path / "ws", ADOPT)
    for i in range(8):
        pq.write_table(table(20 + i, 1200, start=1000 * i, prediction="int"), ws / "logs" / f"f{i}.parquet")
    got = Ingester(load_dir(ws), batch_rows=150, sync=False).run_once(wait=5)
    assert got.errors == []
    cp = read_checkpoint(StoreLayout(ws / ".console").checkpoint_path)
    batches = sorted({a.batch for a in cp.adopted.values()})
    assert len(cp.adopted) == 8 and len(batches) == 4  # 2 files (2,400 records: 150) a batch
    assert got.batches == 4


def test_files_adopted_in_many_batches_keep_each_its_batch_and_rows_under_any_filter(tmp_path: Path) -> None:
    """Each adopted file keeps the batch that adopted it, and a filter on the file name (which
    DuckDB uses to skip files) neither changes a row's batch nor lets an excluded row through.
    (DuckDB's ``file_index`` is renumbered among the files left after such a skip, so it cannot
    say which batch a file came from: one view keyed batches by it and showed every excluded
    row of a file filtered by name.)"""
    from console.store.db import open_store

    ws = write_workspace(tmp_path / "adopt", ADOPT)
    for i in range(4):  # one ingest each: four batches
        pq.write_table(table(10 + i, 400, start=1000 * i), ws / "logs" / f"p{i}.parquet")
        ingest(ws)
    cp = read_checkpoint(StoreLayout(ws / ".console").checkpoint_path)
    want = {Path(p).name: a.batch for p, a in cp.adopted.items()}
    assert len(set(want.values())) == 4
    db = open_store(load_dir(ws))
    try:
        cur = db.cursor()
        per_file = {f: (b, n) for f, b, n in cur.execute(
            "SELECT regexp_replace(source, '.*/', ''), min(batch), count(*) FROM predictions "
            "GROUP BY 1 HAVING min(batch) = max(batch)").fetchall()}
        assert {f: b for f, (b, _) in per_file.items()} == want
        assert all(n < 400 for _, n in per_file.values())  # each file has excluded rows
        for name, (batch, n) in per_file.items():
            got = cur.execute("SELECT count(*), min(batch), max(batch) FROM predictions WHERE source LIKE ?",
                              [f"%/{name}"]).fetchone()
            assert got == (n, batch, batch), name
        newer = cur.execute("SELECT count(*) FROM predictions WHERE batch > ?", [sorted(want.values())[1]]).fetchone()
        assert newer[0] == sum(n for b, n in per_file.values() if b > sorted(want.values())[1])
    finally:
        db.close()
