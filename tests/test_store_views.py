"""The store's views exist with the documented columns, even on an empty store."""

from __future__ import annotations

import json
from pathlib import Path

from console.store.db import open_store
from console.workspace import load_dir

EXPECTED = {
    "predictions": ["ts", "day", "model", "version", "request_id", "prediction", "prediction_num", "score",
                    "label", "label_num", "latency_ms", "status", "error", "cost_usd", "source", "line", "batch"],
    "labels": ["model", "request_id", "label", "label_num", "ts", "arrived_at", "source", "line"],
    "quarantine": ["kind", "source", "line", "byte_offset", "reason", "raw", "batch"],
    "features": ["model", "feature", "column", "kind", "kind_source", "type_errors"],
    "ingest_status": ["source", "kind", "offset", "size", "rows", "quarantined", "duplicates", "last_error",
                      "last_ingest", "lag_bytes"],
    "versions": ["model", "version", "task", "stage", "registry_stage", "created_at", "created_by", "reference",
                 "metrics", "slices", "positive_label", "threshold", "lineage", "per_1k_predictions_usd",
                 "training_usd", "monthly_budget_usd", "path"],
}


def columns(db, view: str) -> list[str]:
    cur = db.cursor()
    cur.execute(f"SELECT * FROM {view}")
    assert cur.fetchall() == []
    return [d[0] for d in cur.description]


def test_views_on_empty_store_have_documented_columns(workspace_dir: Path) -> None:
    db = open_store(load_dir(workspace_dir))
    for view, cols in EXPECTED.items():
        assert columns(db, view) == cols, view
    pl_cols = columns(db, "predictions_labelled")
    assert pl_cols == EXPECTED["predictions"] + ["label_ts", "labelled"]
    assert db.refresh() is db  # nothing changed: the same snapshot


def test_registry_version_appears_on_refresh_with_features(workspace_dir: Path) -> None:
    db = open_store(load_dir(workspace_dir))
    assert db.cursor().execute("SELECT count(*) FROM versions").fetchone() == (0,)
    (workspace_dir / "registry" / "m").mkdir()
    (workspace_dir / "registry" / "m" / "1.json").write_text(
        json.dumps({"model": "m", "version": 1, "task": "binary", "stage": "production",
                    "features": {"income": "numeric", "region": "categorical"}, "metrics": {"auc": 0.9}})
    )
    (workspace_dir / "registry" / "m" / "2.json").write_text("{not json")
    old, db = db, db.refresh()
    assert db is not old and old.cursor().execute("SELECT count(*) FROM versions").fetchone() == (0,)
    cur = db.cursor()
    assert cur.execute("SELECT model, version, stage, metrics->>'auc' FROM versions").fetchall() == [
        ("m", "1", "production", "0.9")
    ]
    assert [e.path.name for e in db.registry.errors] == ["2.json"]
    cur.execute("SELECT f_income, f_region FROM predictions")
    assert [d[1] for d in cur.description] == ["DOUBLE", "VARCHAR"]


def test_compaction_merges_small_parts_and_readers_never_lose_rows(workspace_dir: Path) -> None:
    from console.ingest.engine import Ingester
    from tests.test_ingest_formats import rec, write_jsonl

    ws = load_dir(workspace_dir)
    ing = Ingester(ws, sync=False, compact_at=4, retire_grace_s=3600)
    stale = None
    for i in range(6):  # six passes, six small parts in one model/day folder
        write_jsonl(workspace_dir / "logs" / f"f{i}.jsonl", [rec(f"r{i}"), "bad"])
        ing.run_once()
        if i == 3:
            stale = open_store(ws)  # sees b1..b4 and will not refresh for a while
    assert stale is not None
    folder = workspace_dir / ".console" / "parts" / "predictions" / "model=m" / "day=2026-11-01"
    # pass 5 merged b1..b5 into b6-0 (b1..b5 retired, kept for the grace period); pass 6 wrote b7-0
    assert sorted(p.name for p in folder.glob("*.parquet")) == [f"b{i}-0.parquet" for i in range(1, 8)]
    reader = open_store(ws)
    assert [p.name for p in reader.layout.parts("predictions", reader.batch, reader.checkpoint.retired)] == [
        "b6-0.parquet", "b7-0.parquet"]
    cur = reader.cursor()
    assert cur.execute("SELECT count(*), count(DISTINCT request_id) FROM predictions").fetchone() == (6, 6)
    assert cur.execute("SELECT count(*) FROM quarantine").fetchone() == (6,)
    assert stale.cursor().execute("SELECT count(*) FROM predictions").fetchone() == (4,)
    Ingester(ws, sync=False, compact_at=4, retire_grace_s=0).run_once()  # deletes retired parts
    assert sorted(p.name for p in folder.glob("*.parquet")) == ["b6-0.parquet", "b7-0.parquet"]
    stale = stale.refresh()
    assert stale.cursor().execute("SELECT count(*) FROM predictions").fetchone() == (6,)
    # and ingest still dedupes against the merged part
    write_jsonl(workspace_dir / "logs" / "again.jsonl", [rec("r0"), rec("r5")])
    assert Ingester(ws, sync=False).run_once().duplicates == 2


def test_compaction_merges_a_folders_many_small_parts_into_several_side_by_side(workspace_dir: Path,
                                                                               monkeypatch) -> None:
    """Small parts adding up to more than ``MERGED_BYTES`` become several merged parts (each of at
    most that much), written by the worker threads; the views show every row once, and ingest
    still dedupes against them."""
    from console.ingest.engine import Ingester
    from console.store import compact
    from tests.test_ingest_formats import rec, write_jsonl

    ws = load_dir(workspace_dir)
    folder = workspace_dir / ".console" / "parts" / "predictions" / "model=m" / "day=2026-11-01"
    ing = Ingester(ws, sync=False, compact_at=4, retire_grace_s=0)
    for i in range(4):
        write_jsonl(workspace_dir / "logs" / f"f{i}.jsonl", [rec(f"r{i}-{j}") for j in range(20)])
        ing.run_once()
    sizes = [p.stat().st_size for p in sorted(folder.glob("*.parquet"))]
    assert len(sizes) == 4
    monkeypatch.setattr(compact, "MERGED_BYTES", sizes[0] + sizes[1])  # two parts to a merged one
    write_jsonl(workspace_dir / "logs" / "f4.jsonl", [rec(f"r4-{j}") for j in range(20)])
    ing.run_once()  # five small parts: merged in three
    Ingester(ws, sync=False, compact_at=4, retire_grace_s=0).run_once()  # deletes the retired ones
    assert sorted(p.name for p in folder.glob("*.parquet")) == ["b6-0.parquet", "b6-1.parquet", "b6-2.parquet"]
    reader = open_store(ws)
    cur = reader.cursor()
    assert cur.execute("SELECT count(*), count(DISTINCT request_id) FROM predictions").fetchone() == (100, 100)
    assert cur.execute("SELECT list_sort(list(DISTINCT batch)) FROM predictions").fetchone()[0] == [1, 2, 3, 4, 5]
    write_jsonl(workspace_dir / "logs" / "again.jsonl", [rec("r0-0"), rec("r4-19"), rec("new")])
    assert Ingester(ws, sync=False).run_once().as_dict() == {"predictions": 1, "labels": 0, "quarantined": 0,
                                                              "duplicates": 2}


def test_a_merged_part_keeps_a_dictionary_only_where_values_repeat(tmp_path: Path) -> None:
    """``compact.write_merged``: the merged part holds every row of its parts, in order, with
    their values; the columns that repeat (a model, a source) are dictionary-encoded and the
    ones that do not (request ids, timestamps) are not, so no writer builds a dictionary only to
    drop it row group by row group."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from console.store import compact

    t0 = dt.datetime(2026, 11, 1)
    parts = []
    for i in range(3):
        n = 1000
        tbl = pa.table({"model": ["m"] * n, "request_id": [f"r{i}-{j}" for j in range(n)],
                        "ts": [t0 + dt.timedelta(seconds=i * n + j) for j in range(n)],
                        "source": [f"logs/f{j % 3}.jsonl" for j in range(n)],
                        **({"extra": [1.5] * n} if i == 2 else {})})
        parts.append(tmp_path / f"b{i + 1}-0.parquet")
        pq.write_table(tbl, parts[-1])
    tmp, final = compact.write_merged(tmp_path, parts, 9, 0, sync=False)
    assert compact.dictionary_columns(parts, pq.read_schema(parts[2])) == ["model", "source"]
    merged = pq.read_table(tmp)
    assert merged.num_rows == 3000 and merged.column("request_id").to_pylist()[999:1001] == ["r0-999", "r1-0"]
    assert merged.column("extra").null_count == 2000
    md = pq.ParquetFile(tmp).metadata
    names = [md.schema.column(i).name for i in range(md.num_columns)]
    dictionary = {n: md.row_group(0).column(i).has_dictionary_page for i, n in enumerate(names)}
    assert dictionary == {"model": True, "request_id": False, "ts": False, "source": True, "extra": False}
    assert final.name == "b9-0.parquet"
    assert compact.dictionary_columns([tmp_path / "gone.parquet"], merged.schema) == []


def test_edited_registry_file_shows_up_on_refresh(workspace_dir: Path) -> None:
    path = workspace_dir / "registry" / "m" / "1.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"model": "m", "version": "1", "task": "binary", "stage": "candidate"}))
    db = open_store(load_dir(workspace_dir))
    assert db.cursor().execute("SELECT stage, threshold FROM versions").fetchall() == [("candidate", None)]
    path.write_text(json.dumps({"model": "m", "version": "1", "task": "binary", "stage": "staging",
                                "threshold": 0.7, "cost": {"per_1k_predictions_usd": 0.04}}))
    old, db = db, db.refresh()
    assert db is not old
    assert db.cursor().execute("SELECT stage, threshold, per_1k_predictions_usd FROM versions").fetchall() == [
        ("staging", 0.7, 0.04)]
    db = db.with_fleet({("m", "1"): "production"}, {"m": "1"})
    assert db.cursor().execute("SELECT stage, registry_stage FROM versions").fetchall() == [("production", "staging")]
    path.write_text("{broken")
    old, db = db, db.refresh()
    assert db is not old
    assert db.cursor().execute("SELECT count(*) FROM versions").fetchone() == (0,)
    assert [(e.path.name, e.reason.split(":")[0]) for e in db.registry.errors] == [("1.json", "not valid JSON")]


def test_labelled_subset_is_the_view_restricted(workspace_dir: Path) -> None:
    """``Snapshot.labelled_subset(cond)`` (labels semi-joined to the selected predictions before the
    dedupe) gives exactly ``predictions_labelled WHERE cond``: relabels across batches, model-less
    labels later or earlier than the model's own, labels before predictions, inline labels, and a
    request id shared by two models."""
    from console.ingest.engine import Ingester

    def jl(path: Path, rows: list[dict]) -> None:
        with path.open("a") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)

    def rec(rid: str, model: str, day: int, **kw) -> dict:
        return {"ts": f"2026-11-0{day}T12:00:00Z", "model": model, "version": "1", "request_id": rid,
                "prediction": 1, "score": 0.7, **kw}

    ws = workspace_dir
    jl(ws / "labels" / "l1.jsonl", [{"request_id": "early", "model": "m", "label": 0},
                                    {"request_id": "a", "label": 1},
                                    {"request_id": "b", "model": "m", "label": 0}])
    jl(ws / "logs" / "p1.jsonl", [rec("a", "m", 1), rec("b", "m", 1), rec("c", "m", 2, label=1),
                                  rec("a", "k", 2), rec("shared", "m", 3), rec("shared", "k", 3)])
    Ingester(load_dir(ws)).run_once()
    jl(ws / "logs" / "p2.jsonl", [rec("early", "m", 3), rec("d", "m", 4)])
    jl(ws / "labels" / "l2.jsonl", [{"request_id": "a", "model": "m", "label": 0},
                                    {"request_id": "b", "label": 1},
                                    {"request_id": "shared", "model": "k", "label": 1},
                                    {"request_id": "d", "model": "m", "label": 1},
                                    {"request_id": "d", "model": "m", "label": 0}])
    Ingester(load_dir(ws)).run_once()
    db = open_store(load_dir(ws))
    cur = db.cursor()
    order = "ORDER BY model, request_id"
    conds = ["true", "model = 'm'", "model = 'k'", "ts >= TIMESTAMP '2026-11-02' AND ts < TIMESTAMP '2026-11-04'",
             "model = 'm' AND ts < TIMESTAMP '2026-11-02'", "request_id = 'nobody'"]
    for cond in conds:
        want = cur.execute(f"SELECT * FROM predictions_labelled WHERE {cond} {order}").fetchall()
        got = cur.execute(f"SELECT * FROM {db.labelled_subset(cond)} {order}").fetchall()
        assert got == want, cond
    labels = dict(cur.execute("SELECT model || '/' || request_id, label FROM predictions_labelled").fetchall())
    assert labels == {"m/a": "0", "m/b": "1", "m/c": "1", "k/a": "1", "m/shared": None, "k/shared": "1",
                      "m/early": "0", "m/d": "0"}


def test_opening_the_store_does_not_import_pandas(ingested_sample: Path) -> None:
    """Every command opens the store: its small tables (versions, features, ingest_status) are
    loaded without pyarrow's conversion of Python values, which imports pandas when it is
    installed (0.4 s on each command and each TUI launch)."""
    import importlib.util
    import subprocess
    import sys

    import pytest

    if importlib.util.find_spec("pandas") is None:
        pytest.skip("pandas is not installed here: nothing could import it")
    code = ("import sys\nfrom pathlib import Path\nfrom console.store.db import open_store\n"
            f"from console.workspace import load_dir\ndb = open_store(load_dir(Path({str(ingested_sample)!r})))\n"
            "cur = db.cursor()\n"
            "print(cur.execute('SELECT count(*) FROM versions').fetchone()[0],"
            " cur.execute('SELECT count(*) FROM ingest_status').fetchone()[0],"
            " cur.execute('SELECT count(*) FROM features').fetchone()[0], 'pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    versions, sources, features, pandas = out.stdout.split()
    assert int(versions) > 0 and int(sources) > 0 and int(features) > 0
    assert pandas == "False"


def test_the_small_tables_have_their_documented_types(ingested_sample: Path) -> None:
    db = open_store(load_dir(ingested_sample))
    cur = db.cursor()
    types = {v: dict(cur.execute(f"SELECT column_name, column_type FROM (DESCRIBE {v})").fetchall())
             for v in ("versions", "features", "ingest_status")}
    assert types["versions"]["created_at"] == "TIMESTAMP" and types["versions"]["slices"] == "VARCHAR[]"
    assert types["versions"]["threshold"] == types["versions"]["training_usd"] == "DOUBLE"
    assert types["versions"]["metrics"] == types["versions"]["lineage"] == "JSON"
    assert types["features"]["type_errors"] == "BIGINT"
    assert types["ingest_status"]["last_ingest"] == "TIMESTAMP" and types["ingest_status"]["offset"] == "BIGINT"
    rows = cur.execute("SELECT model, version, slices, metrics->>'$.roc_auc' FROM versions "
                       "WHERE model = 'credit-risk' ORDER BY version").fetchall()
    assert rows and all(isinstance(r[2], list) for r in rows)
    assert rows[0][3] is not None
