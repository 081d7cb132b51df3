"""Timestamps leave an analyst's query with their zone: ``mlops-console query --format csv/json``
and the TUI's exports share one function (``analytics.query.zoned``)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
from pathlib import Path

import pyarrow as pa

from console.analytics.query import zoned
from tests.conftest import write_workspace

SQL = ("SELECT TIMESTAMP '2026-11-12 10:00:00' AS naive, TIMESTAMPTZ '2026-11-12 12:00:00.5+02' AS aware, "
       "CAST('2026-11-12 10:00:00' AS TIMESTAMP_NS) AS ns, 1 AS n")


def query(ws: Path, fmt: str) -> str:
    from console.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["query", SQL, "--workspace", str(ws), "--format", fmt])
    assert code == 0, err.getvalue()
    return out.getvalue()


def test_cli_query_stamps_every_timestamp_with_z(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    want = {"naive": "2026-11-12T10:00:00Z", "aware": "2026-11-12T10:00:00.500000Z", "ns": "2026-11-12T10:00:00Z"}
    (row,) = json.loads(query(ws, "json"))
    assert {k: row[k] for k in want} == want and row["n"] == 1
    (line,) = list(csv.DictReader(io.StringIO(query(ws, "csv"))))
    assert {k: line[k] for k in want} == want


def test_zoned_marks_naive_as_utc_and_converts_aware() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    batch = pa.RecordBatch.from_arrays(
        [pa.array([dt.datetime(2026, 1, 1, 10), None], pa.timestamp("us")),
         pa.array([dt.datetime(2026, 1, 1, 12, tzinfo=plus2), None], pa.timestamp("ms", tz="+02:00")),
         pa.array([1, 2])], names=["a", "b", "c"])
    typed = zoned(batch)
    assert typed.schema.field("a").type == pa.timestamp("us", tz="UTC")
    assert typed.schema.field("b").type == pa.timestamp("ms", tz="UTC")
    assert typed.column(0).to_pylist()[0] == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert typed.column(1).to_pylist()[0] == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert zoned(batch, text=True).to_pylist() == [{"a": "2026-01-01T10:00:00Z", "b": "2026-01-01T10:00:00Z", "c": 1},
                                                   {"a": None, "b": None, "c": 2}]
    plain = pa.RecordBatch.from_arrays([pa.array([1])], names=["x"])
    assert zoned(plain) is plain
