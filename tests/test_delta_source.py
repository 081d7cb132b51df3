"""Delta Lake tables as a source (docs/formats.md, 'Delta Lake tables'): an example workspace
whose predictions are a real Delta table written with ``deltalake.write_deltalake``, read by
version — each new version's rows once, none twice, bad rows quarantined with their data file
and row, a crash between reading and committing re-reads nothing twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from console.ingest.engine import Ingester
from console.store.checkpoint import read_checkpoint
from console.workspace import load_dir
from tests.conftest import write_workspace
from tests.frozen_time import CONSOLE
from tests.test_ingest_formats import query

deltalake = pytest.importorskip("deltalake")

TS0 = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


def preds(ids: list[str], start: int = 0, score=None, day: str = "2026-11-01") -> pa.Table:
    """Prediction records (model ``churn``, version 1), one per id, with two features."""
    n = len(ids)
    return pa.table({
        "ts": pa.array([TS0 + dt.timedelta(minutes=start + i) for i in range(n)], pa.timestamp("us", "UTC")),
        "model": ["churn"] * n,
        "version": ["1"] * n,
        "request_id": ids,
        "prediction": [float((start + i) % 2) for i in range(n)],
        "score": score if score is not None else [0.1 + 0.8 * ((start + i) % 10) / 10 for i in range(n)],
        "tenure": [float(start + i) for i in range(n)],
        "plan": ["basic" if (start + i) % 3 else "pro" for i in range(n)],
        "day": [day] * n,
    })


@pytest.fixture
def lake_ws(tmp_path: Path) -> Path:
    """The example workspace: console.toml whose predictions are a folder holding a Delta
    table (partitioned by day), and a registry with the model's card."""
    root = write_workspace(tmp_path / "ws")
    toml = (root / "console.toml").read_text().replace('predictions = ["logs"]', 'predictions = ["lake"]')
    (root / "console.toml").write_text(toml)
    (root / "lake").mkdir()
    (root / "registry" / "churn").mkdir()
    (root / "registry" / "churn" / "1.json").write_text(json.dumps({
        "model": "churn", "version": "1", "task": "binary",
        "features": {"tenure": "numeric", "plan": "categorical"},
    }))
    return root


def table(ws: Path) -> str:
    return str(ws / "lake" / "predictions")


def ingest(ws: Path, **kw) -> dict:
    ing = Ingester(load_dir(ws), sync=False, **kw)
    try:
        result = ing.run_once(wait=5)
    finally:
        ing.close()
    assert result.errors == [], result.errors
    return result.as_dict()


def stored(ws: Path) -> list[str]:
    return [r for (r,) in query(ws, "SELECT request_id FROM predictions ORDER BY request_id")]


def delta_state(ws: Path) -> tuple[int, int]:
    (st,) = [s for s in read_checkpoint(ws / ".console" / "checkpoint.json").sources.values() if s.fmt == "delta"]
    return st.version, st.target


def test_versions_are_read_once_each(lake_ws: Path) -> None:
    deltalake.write_deltalake(table(lake_ws), preds([f"a{i}" for i in range(5)]), partition_by=["day"])
    assert ingest(lake_ws) == {"predictions": 5, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert delta_state(lake_ws) == (0, -1)
    got = query(lake_ws, "SELECT request_id, ts::VARCHAR, f_tenure, f_plan FROM predictions ORDER BY request_id")
    assert got[:2] == [("a0", "2026-11-01 12:00:00", 0.0, "pro"), ("a1", "2026-11-01 12:01:00", 1.0, "basic")]
    # the table's data files are not also read as Parquet files: one source, the table
    assert query(lake_ws, "SELECT source, kind, rows FROM ingest_status") == [(table(lake_ws), "predictions", 5)]
    sources = {s for (s,) in query(lake_ws, "SELECT DISTINCT source FROM predictions")}
    assert all(s.startswith(table(lake_ws) + "/day=2026-11-01/") and s.endswith(".parquet") for s in sources)

    assert ingest(lake_ws)["predictions"] == 0  # unchanged table: nothing

    # an append (version 1, another partition) and another (version 2): only their rows
    deltalake.write_deltalake(table(lake_ws), preds(["b0", "b1", "b2"], start=5, day="2026-11-02"),
                              mode="append", partition_by=["day"])
    assert ingest(lake_ws) == {"predictions": 3, "labels": 0, "quarantined": 0, "duplicates": 0}
    deltalake.write_deltalake(table(lake_ws), preds(["c0"], start=8), mode="append", partition_by=["day"])
    deltalake.write_deltalake(table(lake_ws), preds(["c1"], start=9), mode="append", partition_by=["day"])
    assert ingest(lake_ws) == {"predictions": 2, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert delta_state(lake_ws) == (3, -1)
    assert ingest(lake_ws)["predictions"] == 0
    assert stored(lake_ws) == ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "c0", "c1"]
    assert query(lake_ws, "SELECT count(*), count(DISTINCT request_id) FROM predictions") == [(10, 10)]
    assert query(lake_ws, "SELECT sum(rows), sum(duplicates) FROM ingest_status") == [(10, 0)]


def test_bad_rows_are_quarantined_with_their_data_file_and_row(lake_ws: Path) -> None:
    deltalake.write_deltalake(table(lake_ws), preds(["a0", "a1", "a2"], score=[0.5, 7.0, 0.2]))
    assert ingest(lake_ws) == {"predictions": 2, "labels": 0, "quarantined": 1, "duplicates": 0}
    ((source, line, offset, reason, raw),) = query(lake_ws, "SELECT source, line, byte_offset, reason, raw FROM quarantine")
    assert (line, offset, reason) == (2, None, "'score' outside [0, 1]")
    assert source.startswith(table(lake_ws) + "/part-") and Path(source).is_file()
    assert json.loads(raw)["request_id"] == "a1"
    # a record already stored, appended again in a new version: a duplicate, not stored twice
    deltalake.write_deltalake(table(lake_ws), preds(["a0", "z9"]), mode="append")
    assert ingest(lake_ws) == {"predictions": 1, "labels": 0, "quarantined": 0, "duplicates": 1}
    assert stored(lake_ws) == ["a0", "a2", "z9"]


def test_overwrite_and_delete_keep_history_and_say_so(lake_ws: Path) -> None:
    deltalake.write_deltalake(table(lake_ws), preds(["a0", "a1", "a2"]))
    ingest(lake_ws)
    # an overwrite: its new rows are read, the rows it replaced stay in the store; a warning says so
    deltalake.write_deltalake(table(lake_ws), preds(["a0", "n0"]), mode="overwrite")
    result = Ingester(load_dir(lake_ws), sync=False).run_once(wait=5)
    assert result.as_dict() == {"predictions": 1, "labels": 0, "quarantined": 0, "duplicates": 1}
    assert result.errors == [f"{table(lake_ws)}: version 1 (WRITE overwrite) deleted or replaced rows: they stay "
                             "in the store; rows rewritten are read again and count as duplicates"]
    assert stored(lake_ws) == ["a0", "a1", "a2", "n0"]
    # a delete rewrites what remains of its file (n0): a duplicate; nothing new
    deltalake.DeltaTable(table(lake_ws)).delete("request_id = 'a0'")
    result = Ingester(load_dir(lake_ws), sync=False).run_once(wait=5)
    assert result.as_dict() == {"predictions": 0, "labels": 0, "quarantined": 0, "duplicates": 1}
    assert len(result.errors) == 1 and "version 2 (DELETE) deleted or replaced rows" in result.errors[0]
    # compaction (OPTIMIZE) changes no rows: no warning, its rewritten rows are duplicates
    deltalake.write_deltalake(table(lake_ws), preds(["o1"]), mode="append")
    deltalake.write_deltalake(table(lake_ws), preds(["o2"]), mode="append")
    deltalake.DeltaTable(table(lake_ws)).optimize.compact()
    assert ingest(lake_ws) == {"predictions": 2, "labels": 0, "quarantined": 0, "duplicates": 1}
    assert delta_state(lake_ws) == (5, -1)
    assert stored(lake_ws) == ["a0", "a1", "a2", "n0", "o1", "o2"]


def test_a_table_recreated_at_the_same_path_is_read_from_its_start(lake_ws: Path) -> None:
    import shutil

    deltalake.write_deltalake(table(lake_ws), preds(["a0", "a1"]))
    deltalake.write_deltalake(table(lake_ws), preds(["a2"]), mode="append")
    ingest(lake_ws)
    shutil.rmtree(table(lake_ws))
    deltalake.write_deltalake(table(lake_ws), preds(["a0", "x1"]))  # version 0 of another table
    result = Ingester(load_dir(lake_ws), sync=False).run_once(wait=5)
    assert result.as_dict() == {"predictions": 1, "labels": 0, "quarantined": 0, "duplicates": 1}
    assert "another Delta table than before" in result.errors[0]
    assert stored(lake_ws) == ["a0", "a1", "a2", "x1"]


CHILD = """
import os, sys
from pathlib import Path
from console import clock
from console.ingest.engine import Ingester
from console.workspace import load_dir
from tests.frozen_time import FROZEN
clock.freeze(FROZEN)  # the clock every test runs on
ing = Ingester(load_dir(Path(sys.argv[1])), batch_rows=int(sys.argv[2]))
real = ing.writer.write_batch
n = 0
def write_batch(*a, **kw):  # killed (SIGKILL) right before the second batch is committed
    global n
    n += 1
    if n == 2:
        os.kill(os.getpid(), 9)
    return real(*a, **kw)
ing.writer.write_batch = write_batch
ing.run_once(wait=30)
"""


def test_killed_between_reading_and_committing_nothing_is_ingested_twice(lake_ws: Path) -> None:
    deltalake.write_deltalake(table(lake_ws), preds([f"a{i:03d}" for i in range(300)]))
    ingest(lake_ws)
    deltalake.write_deltalake(table(lake_ws), preds([f"b{i:03d}" for i in range(300)], start=300), mode="append")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(lake_ws), "100"], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    assert delta_state(lake_ws) == (0, 1)  # version 1 part-read: its first batch committed
    assert len(stored(lake_ws)) == 400
    # meanwhile version 2: the next pass finishes version 1 from its row, then reads version 2
    deltalake.write_deltalake(table(lake_ws), preds(["c0", "c1"], start=600), mode="append")
    assert ingest(lake_ws) == {"predictions": 202, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert query(lake_ws, "SELECT count(*), count(DISTINCT request_id) FROM predictions") == [(602, 602)]
    assert delta_state(lake_ws) == (2, -1)
    assert ingest(lake_ws)["predictions"] == 0


def test_a_version_whose_log_was_cleaned_up_is_read_again_whole(lake_ws: Path) -> None:
    deltalake.write_deltalake(table(lake_ws), preds(["a0", "a1"]))
    ingest(lake_ws)
    deltalake.write_deltalake(table(lake_ws), preds(["b0"]), mode="append")
    deltalake.write_deltalake(table(lake_ws), preds(["b1"]), mode="append")
    deltalake.DeltaTable(table(lake_ws)).create_checkpoint()  # at version 2; then its log cleaned up
    for v in (0, 1):
        (Path(table(lake_ws)) / "_delta_log" / f"{v:020d}.json").unlink()
    result = Ingester(load_dir(lake_ws), sync=False).run_once(wait=5)
    assert result.as_dict() == {"predictions": 2, "labels": 0, "quarantined": 0, "duplicates": 2}
    assert len(result.errors) == 1 and "version 0 of the table can no longer be loaded" in result.errors[0]
    assert stored(lake_ws) == ["a0", "a1", "b0", "b1"]


def test_ingest_command_on_the_example_workspace(lake_ws: Path) -> None:
    deltalake.write_deltalake(table(lake_ws), preds(["a0", "a1"]))
    run = subprocess.run([*CONSOLE, "ingest", "--workspace", str(lake_ws), "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["predictions"] == 2 and run.stderr == ""


def test_without_deltalake_one_line_says_how_to_install(lake_ws: Path, tmp_path: Path) -> None:
    deltalake.write_deltalake(table(lake_ws), preds(["a0"]))
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # a `deltalake` that cannot be imported, as when the package is not installed
    (blocker / "sitecustomize.py").write_text(
        "import sys\nclass _No:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'deltalake' or name.startswith('deltalake.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'deltalake'\")\n"
        "sys.meta_path.insert(0, _No())\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(Path(__file__).resolve().parents[1])])}
    run = subprocess.run([*CONSOLE, "ingest", "--workspace", str(lake_ws), "--format", "json"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0
    assert run.stderr == (f"mlops-console: warning: {table(lake_ws)}: reading a Delta Lake table needs the "
                          "deltalake package: pip install 'mlops-console[delta]'\n")
    assert json.loads(run.stdout)["predictions"] == 0
    # installed (here: not blocked any more), the table is read at once
    assert ingest(lake_ws)["predictions"] == 1


def test_labels_table_named_in_console_toml(lake_ws: Path) -> None:
    """A Delta table may be named in ``[sources]`` itself; a labels table joins like label files."""
    toml = (lake_ws / "console.toml").read_text().replace('labels = ["labels"]', 'labels = ["label_table"]')
    (lake_ws / "console.toml").write_text(toml)
    deltalake.write_deltalake(table(lake_ws), preds(["a0", "a1", "a2"]))
    labels = pa.table({"request_id": ["a0", "a1"], "model": ["churn", "churn"], "label": ["1", "0"]})
    deltalake.write_deltalake(str(lake_ws / "label_table"), labels)
    assert ingest(lake_ws) == {"predictions": 3, "labels": 2, "quarantined": 0, "duplicates": 0}
    deltalake.write_deltalake(str(lake_ws / "label_table"), pa.table({"request_id": ["a2"], "model": ["churn"],
                                                                       "label": ["1"]}), mode="append")
    assert ingest(lake_ws) == {"predictions": 0, "labels": 1, "quarantined": 0, "duplicates": 0}
    assert query(lake_ws, "SELECT request_id, label FROM predictions_labelled ORDER BY 1") == [
        ("a0", "1"), ("a1", "0"), ("a2", "1")]
    assert [k for (k,) in query(lake_ws, "SELECT kind FROM ingest_status ORDER BY source")] == ["labels", "predictions"]


def test_a_table_the_reader_cannot_read_is_one_line_and_the_rest_is_ingested(lake_ws: Path) -> None:
    """Deletion vectors: a reader feature deltalake's Arrow datasets do not support."""
    deltalake.write_deltalake(table(lake_ws), preds(["a0"]), configuration={"delta.enableDeletionVectors": "true"})
    (lake_ws / "lake" / "app.jsonl").write_text(json.dumps({
        "ts": "2026-11-01T12:00:00Z", "model": "churn", "version": "1", "request_id": "j0", "prediction": 1}) + "\n")
    result = Ingester(load_dir(lake_ws), sync=False).run_once(wait=5)
    assert result.as_dict()["predictions"] == 1  # the log file
    (err,) = result.errors
    assert err.startswith(f"{table(lake_ws)}: unreadable Delta table (waiting for a new version): ")
    assert "deletionVectors" in err and "\n" not in err
    assert query(lake_ws, "SELECT source, last_error FROM ingest_status WHERE last_error IS NOT NULL") == [
        (table(lake_ws), err.split(": ", 1)[1])]
    # unchanged: not read again, not reported again
    again = Ingester(load_dir(lake_ws), sync=False).run_once(wait=5)
    assert again.as_dict()["predictions"] == 0 and again.errors == []
