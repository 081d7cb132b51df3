"""Every contract format and bad-input rule (docs/formats.md, sections 2–5), on real files in a real workspace."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from console.ingest.engine import Ingester
from console.ingest.reader import read_records
from console.store.db import open_store
from console.workspace import load_dir
from tests.frozen_time import CONSOLE


def ingest(ws_dir: Path, **kw) -> dict:
    result = Ingester(load_dir(ws_dir), sync=False, **kw).run_once(wait=5)
    assert result.errors == [], result.errors  # no source may fail to read in these tests
    return result.as_dict()


def query(ws_dir: Path, sql: str) -> list[tuple]:
    db = open_store(load_dir(ws_dir))
    try:
        return db.cursor().execute(sql).fetchall()
    finally:
        db.close()


def rec(rid: str, **kw) -> dict:
    base = {"ts": "2026-11-01T12:00:00Z", "model": "m", "version": "1", "request_id": rid, "prediction": 1}
    base.update(kw)
    return base


def write_jsonl(path: Path, records: list, mode: str = "w") -> None:
    with open(path, mode) as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")


def test_jsonl_nested_and_flat_features_and_types(workspace_dir: Path) -> None:
    write_jsonl(workspace_dir / "logs" / "a.jsonl", [
        rec("a", version=3, features={"income": 10.5, "region": "eu"}, score=0.7, latency_ms=12, cost_usd=0.001),
        rec("b", income=20, region="us", label=1, status="ok"),
        rec("c", features={"income": "oops", "region": 5}),
        rec("d", ts=1762000000.25, prediction="cat"),
        rec("e", ts="2026-11-01T13:00:00.5+01:00"),
        rec("f", ts="2026-11-01 12:00:00"),
    ])
    assert ingest(workspace_dir) == {"predictions": 6, "labels": 0, "quarantined": 0, "duplicates": 0}
    rows = query(workspace_dir, "SELECT request_id, version, ts::VARCHAR, f_income, f_region, prediction, "
                 "prediction_num, score, label FROM predictions ORDER BY request_id")
    assert rows == [
        ("a", "3", "2026-11-01 12:00:00", 10.5, "eu", "1", 1.0, 0.7, None),
        ("b", "1", "2026-11-01 12:00:00", 20.0, "us", "1", 1.0, None, "1"),
        ("c", "1", "2026-11-01 12:00:00", None, "5", "1", 1.0, None, None),
        ("d", "1", "2025-11-01 12:26:40.25", None, None, "cat", None, None, None),
        ("e", "1", "2026-11-01 12:00:00.5", None, None, "1", 1.0, None, None),
        ("f", "1", "2026-11-01 12:00:00", None, None, "1", 1.0, None, None),
    ]
    feats = query(workspace_dir, "SELECT feature, kind, kind_source, type_errors FROM features ORDER BY feature")
    assert feats == [("income", "numeric", "inferred", 1), ("region", "categorical", "inferred", 0)]


def test_registry_kinds_win_over_inference(workspace_dir: Path) -> None:
    (workspace_dir / "registry" / "m").mkdir()
    (workspace_dir / "registry" / "m" / "1.json").write_text(json.dumps(
        {"model": "m", "version": "1", "task": "binary", "features": {"zip": "categorical"}}))
    write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec("a", zip=1234), rec("b", zip="01234")])
    ingest(workspace_dir)
    assert query(workspace_dir, "SELECT f_zip FROM predictions ORDER BY request_id") == [("1234",), ("01234",)]
    assert query(workspace_dir, "SELECT kind, kind_source FROM features") == [("categorical", "registry")]


def test_bad_records_are_quarantined_with_reason_line_and_offset(workspace_dir: Path) -> None:
    lines = [
        json.dumps(rec("ok1")),
        "not json",
        json.dumps(rec("s", score=1.5)),
        json.dumps(rec("l", latency_ms=-1)),
        json.dumps(rec("c", cost_usd=-0.1)),
        json.dumps({k: v for k, v in rec("t").items() if k != "ts"}),
        json.dumps(rec("u", ts="yesterday")),
        json.dumps({k: v for k, v in rec("p").items() if k != "prediction"}),
        json.dumps({k: v for k, v in rec("e", status="error", error="boom").items() if k != "prediction"}),
        "[1, 2]",
        "",
        json.dumps(rec("st", status="maybe")),
    ]
    path = workspace_dir / "logs" / "a.jsonl"
    write_jsonl(path, lines)
    assert ingest(workspace_dir) == {"predictions": 2, "labels": 0, "quarantined": 10, "duplicates": 0}
    q = query(workspace_dir, "SELECT line, byte_offset, reason FROM quarantine ORDER BY line")
    data = path.read_bytes()
    offsets = [0]
    for line in data.split(b"\n")[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    assert [r[0] for r in q] == [2, 3, 4, 5, 6, 7, 8, 10, 11, 12]
    assert all(r[1] == offsets[r[0] - 1] for r in q)
    reasons = {r[0]: r[2] for r in q}
    assert reasons[3] == "'score' outside [0, 1]"
    assert reasons[4] == "negative 'latency_ms'"
    assert reasons[5] == "negative 'cost_usd'"
    assert reasons[6] == "missing required field 'ts'"
    assert reasons[7] == "unreadable 'ts'"
    assert reasons[8] == "missing required field 'prediction'"
    assert reasons[10] == "not a JSON object"
    assert reasons[11] == "empty line"
    assert reasons[2].startswith("not valid JSON")
    assert query(workspace_dir, "SELECT request_id, status, error FROM predictions ORDER BY 1") == [
        ("e", "error", "boom"), ("ok1", "ok", None)]


def test_duplicates_counted_once_across_files_and_runs(workspace_dir: Path) -> None:
    write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec("a"), rec("b"), rec("a", prediction=0)])
    write_jsonl(workspace_dir / "logs" / "b.jsonl", [rec("b"), rec("b", version="2")])
    assert ingest(workspace_dir) == {"predictions": 3, "labels": 0, "quarantined": 0, "duplicates": 2}
    assert ingest(workspace_dir) == {"predictions": 0, "labels": 0, "quarantined": 0, "duplicates": 0}
    write_jsonl(workspace_dir / "logs" / "c.jsonl", [rec("a"), rec("z")])
    assert ingest(workspace_dir) == {"predictions": 1, "labels": 0, "quarantined": 0, "duplicates": 1}
    assert query(workspace_dir, "SELECT request_id, prediction FROM predictions WHERE request_id='a'") == [("a", "1")]


def test_csv_keeps_request_id_text_and_gz_variants(workspace_dir: Path) -> None:
    rows = [["ts", "model", "version", "request_id", "prediction", "score", "income", "region"],
            ["2026-11-01T00:00:00Z", "m", "3", "0042", "1", "0.25", "12.5", "eu"],
            ["1762000000", "m", "3", "007", "0", "", "abc", "us"],
            ["2026-11-01T00:00:00Z", "m", "3", "008", "0", "2"]]
    with open(workspace_dir / "logs" / "a.csv", "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    with gzip.open(workspace_dir / "logs" / "b.csv.gz", "wt", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([rows[0], ["2026-11-01T00:00:00Z", "m", "3", "0099", "1", "", "", ""]])
    with gzip.open(workspace_dir / "logs" / "c.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(rec("gz1")) + "\n")
    assert ingest(workspace_dir) == {"predictions": 4, "labels": 0, "quarantined": 1, "duplicates": 0}
    assert query(workspace_dir, "SELECT request_id, version, score, f_income, f_region FROM predictions ORDER BY 1") == [
        ("0042", "3", 0.25, 12.5, "eu"), ("007", "3", None, None, "us"), ("0099", "3", None, None, None),
        ("gz1", "1", None, None, None)]
    assert query(workspace_dir, "SELECT line, reason FROM quarantine") == [(4, "expected 8 fields, got 6")]
    assert query(workspace_dir, "SELECT type_errors FROM features WHERE feature='income'") == [(1,)]


def test_parquet_with_timestamp_column(workspace_dir: Path) -> None:
    import datetime as dt

    table = pa.table({
        "ts": pa.array([dt.datetime(2026, 11, 1, 12), dt.datetime(2026, 11, 2, 8)], pa.timestamp("ms", "UTC")),
        "model": ["m", "m"], "version": pa.array([2, 2]), "request_id": ["r1", "r2"],
        "prediction": [0.5, 1.5], "score": [0.1, 7.0], "age": [30, 40],
    })
    pq.write_table(table, workspace_dir / "logs" / "p.parquet")
    assert ingest(workspace_dir) == {"predictions": 1, "labels": 0, "quarantined": 1, "duplicates": 0}
    assert query(workspace_dir, "SELECT ts::VARCHAR, version, prediction, f_age FROM predictions") == [
        ("2026-11-01 12:00:00", "2", "0.5", 30.0)]
    assert query(workspace_dir, "SELECT line, byte_offset, reason FROM quarantine") == [(2, None, "'score' outside [0, 1]")]
    assert ingest(workspace_dir)["predictions"] == 0


def test_labels_late_early_relabel_and_modelless(workspace_dir: Path) -> None:
    write_jsonl(workspace_dir / "labels" / "l1.jsonl", [
        {"request_id": "a", "label": 0},
        {"request_id": "early", "model": "m", "label": 1},
        {"request_id": "b", "model": "other", "label": 1},
    ])
    write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec("a", label=1), rec("b")])
    assert ingest(workspace_dir) == {"predictions": 2, "labels": 3, "quarantined": 0, "duplicates": 0}
    got = query(workspace_dir, "SELECT request_id, label, labelled FROM predictions_labelled ORDER BY 1")
    assert got == [("a", "0", True), ("b", None, False)]
    write_jsonl(workspace_dir / "logs" / "b.jsonl", [rec("early")])
    write_jsonl(workspace_dir / "labels" / "l2.jsonl", [{"request_id": "a", "model": "m", "label": 1, "ts": "2026-11-03T00:00:00Z"}])
    ingest(workspace_dir)
    got = query(workspace_dir, "SELECT request_id, label, label_num, label_ts::VARCHAR FROM predictions_labelled ORDER BY 1")
    assert got == [("a", "1", 1.0, "2026-11-03 00:00:00"), ("b", None, None, None), ("early", "1", 1.0, None)]
    write_jsonl(workspace_dir / "labels" / "l3.csv", ["request_id,label", "a,0"])
    ingest(workspace_dir)
    assert query(workspace_dir, "SELECT label FROM predictions_labelled WHERE request_id='a'") == [("0",)]
    cov = query(workspace_dir, "SELECT day, count(*), count(*) FILTER (WHERE labelled) FROM predictions_labelled GROUP BY day")
    assert cov[0][1:] == (3, 2)


def test_read_records_reference_file(tmp_path: Path) -> None:
    path = tmp_path / "ref.jsonl"
    write_jsonl(path, [rec("a", income=1.5), rec("b", income="x"), "garbage"])
    table = read_records(path, {"income": "numeric", "unused": "categorical"})
    assert table.num_rows == 2
    assert table.column("f_income").to_pylist() == [1.5, None]
    assert table.column("f_unused").to_pylist() == [None, None]
    assert table.schema.metadata[b"quarantined"] == b"1"


def test_cli_ingest_json_and_table(workspace_dir: Path) -> None:
    write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec("a"), "bad"])
    cmd = [*CONSOLE, "-w", str(workspace_dir), "ingest", "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"predictions": 1, "labels": 0, "quarantined": 1, "duplicates": 0}
    out = subprocess.run(cmd[:-2], capture_output=True, text=True, check=True)
    assert "predictions" in out.stdout and "0" in out.stdout


def test_small_files_validated_together_keep_their_own_sources_and_raw(workspace_dir: Path) -> None:
    for i in range(5):
        write_jsonl(workspace_dir / "logs" / f"f{i}.jsonl", [rec(f"a{i}"), f"bad{i}", rec(f"b{i}", score=2)])
    write_jsonl(workspace_dir / "labels" / "l.jsonl", [{"request_id": "a1", "label": 1}, {"label": 0}])
    assert ingest(workspace_dir) == {"predictions": 5, "labels": 1, "quarantined": 11, "duplicates": 0}
    q = query(workspace_dir, "SELECT source, line, raw, reason FROM quarantine WHERE kind = 'predictions' ORDER BY source, line")
    for i in range(5):
        (src1, line1, raw1, _), (src2, line2, raw2, why2) = q[2 * i], q[2 * i + 1]
        assert Path(src1).name == Path(src2).name == f"f{i}.jsonl"
        assert (line1, raw1) == (2, f"bad{i}")
        assert line2 == 3 and json.loads(raw2)["request_id"] == f"b{i}" and why2 == "'score' outside [0, 1]"
    got = query(workspace_dir, "SELECT request_id, source FROM predictions ORDER BY 1")
    assert [(r, Path(s).name) for r, s in got] == [(f"a{i}", f"f{i}.jsonl") for i in range(5)]
    status = query(workspace_dir, "SELECT source, rows, quarantined FROM ingest_status WHERE kind = 'predictions' ORDER BY 1")
    assert [(Path(s).name, r, qn) for s, r, qn in status] == [(f"f{i}.jsonl", 1, 2) for i in range(5)]


def test_blocks_validated_together_do_not_lend_fields_to_each_other(workspace_dir: Path) -> None:
    # found by the property test: a field present in one small file but absent in the other
    # must still count as missing there
    write_jsonl(workspace_dir / "logs" / "f0.jsonl", [rec("r0", prediction=0, score=0.5)])
    bad = {k: v for k, v in rec("r0", prediction=0).items() if k != "model"}
    write_jsonl(workspace_dir / "logs" / "f1.jsonl", [bad])
    write_jsonl(workspace_dir / "labels" / "a.jsonl", [{"request_id": "x", "label": 1, "model": "m"}])
    write_jsonl(workspace_dir / "labels" / "b.jsonl", [{"request_id": "y"}])
    assert ingest(workspace_dir) == {"predictions": 1, "labels": 1, "quarantined": 2, "duplicates": 0}
    assert query(workspace_dir, "SELECT reason FROM quarantine ORDER BY kind") == [
        ("missing required field 'label'",), ("missing required field 'model'",)]


def test_usual_timestamps_read_fast_exactly_as_the_general_parser_reads_them() -> None:
    import polars as pl

    from console.ingest.normalize import parse_ts_strings

    usual = ["2026-11-01T12:00:00Z", "2026-11-01T12:00:00.5Z", "2026-11-01T12:00:00.123Z",
             "2024-02-29T23:59:59.999999Z", "1900-01-01T00:00:00Z", "2299-12-31T23:59:59.000001Z"]
    # the same values with one odd spelling among them: no fast path, the general parser reads all
    general = parse_ts_strings(pl.Series("ts", [*usual, "2026-11-01 12:00:00+01:00"]))
    assert parse_ts_strings(pl.Series("ts", usual)).to_list() == general.to_list()[:-1]
    assert general.to_list()[-1] == dt.datetime(2026, 11, 1, 11, 0)
    # spelled the usual way but not a valid instant (or a precision the fast path refuses):
    # whatever they read as, it is what the general parser makes of them alone
    for odd in ["2026-02-29T00:00:00Z", "2026-01-01T24:00:00Z", "2026-12-31T23:59:60Z",
                "2026-01-01T00:00:00.1234567Z", "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z"]:
        alone = parse_ts_strings(pl.Series("ts", [odd]))
        mixed = parse_ts_strings(pl.Series("ts", [odd, "2026-11-01 12:00:00+01:00"]))
        assert alone.cast(pl.Int64).to_list()[0] == mixed.cast(pl.Int64).to_list()[0], odd


def test_many_small_files_in_tiny_batches_store_what_one_big_batch_stores(tmp_path: Path) -> None:
    # blocks of many files are parsed ahead, validated together and committed in the
    # background: none of that may change what is stored, whatever the batch size
    import shutil

    from tests.conftest import write_workspace

    a = write_workspace(tmp_path / "a")
    for i in range(12):
        rows = [rec(f"r{i}-{j}", features={"x": j, "c": "abc"[j % 3]}) for j in range(6)]
        rows += [f"bad{i}", rec(f"r{(i + 1) % 12}-0"), rec(f"r{i}-s", score=3)]  # junk, a repeat, out of range
        write_jsonl(a / "logs" / f"f{i:02d}.jsonl", rows)
        write_jsonl(a / "labels" / f"l{i:02d}.jsonl", [{"request_id": "r0-0", "label": i}, {"request_id": f"r{i}-1", "label": 1}])
    b = tmp_path / "b"
    shutil.copytree(a, b)
    one = ingest(a)
    assert one == {"predictions": 72, "labels": 24, "quarantined": 24, "duplicates": 12}
    assert ingest(b, batch_rows=5, read_bytes=300) == one
    assert ingest(b, batch_rows=5, read_bytes=300) == {"predictions": 0, "labels": 0, "quarantined": 0, "duplicates": 0}
    for sql in ["SELECT model, request_id, f_x, f_c, replace(source, '{ws}', '') FROM predictions ORDER BY 2",
                "SELECT request_id, label FROM predictions_labelled WHERE labelled ORDER BY 1",
                "SELECT kind, replace(source, '{ws}', ''), line, byte_offset, reason, raw FROM quarantine ORDER BY 2, 3",
                "SELECT replace(source, '{ws}', ''), rows, quarantined, duplicates FROM ingest_status ORDER BY 1"]:
        assert query(a, sql.format(ws=a)) == query(b, sql.format(ws=b)), sql
    assert query(b, "SELECT label FROM predictions_labelled WHERE request_id = 'r0-0'") == [("11",)]


def test_a_halted_pass_commits_what_it_read_and_the_next_pass_finishes(workspace_dir: Path, monkeypatch) -> None:
    """``Ingester.halt`` (a console shutting down, e.g. on SIGHUP) ends a pass after the file it
    is reading: that much is committed, the files not reached keep their place, and the next
    pass reads exactly the rest — no record lost, none twice."""
    from console.ingest import engine

    for i in range(4):
        write_jsonl(workspace_dir / "logs" / f"f{i}.jsonl",
                    [rec(f"r{i}-{j}", features={"x": j}) for j in range(25)] + [rec(f"r{i}-0")])  # one duplicate each
    ing = Ingester(load_dir(workspace_dir), sync=False)
    read_stream = engine._Run.read_stream

    def then_halt(self, f, st):
        read_stream(self, f, st)
        ing.halt.set()  # as if the console were told to stop while reading the first file

    monkeypatch.setattr(engine._Run, "read_stream", then_halt)
    first = ing.run_once(wait=5)
    assert (first.predictions, first.duplicates, first.errors) == (25, 1, [])
    monkeypatch.setattr(engine._Run, "read_stream", read_stream)
    ing.halt.clear()
    rest = ing.run_once(wait=5)
    assert (rest.predictions, rest.duplicates, rest.errors) == (75, 3, [])
    assert ing.run_once(wait=5).predictions == 0
    ing.close()
    got = query(workspace_dir, "SELECT count(*), count(DISTINCT request_id) FROM predictions")
    assert got == [(100, 100)]
