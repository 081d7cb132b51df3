"""A ``checkpoint.json`` that cannot be read means "what the store holds is unknown", never "an
empty store": every command that reads the store stops with exit 2 and one line naming the
file and the fix, and ``ingest`` rebuilds the store from the sources (one warning line; the old
parts are discarded, so no row is stored twice). Real sample workspace, real command line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.frozen_time import CONSOLE

GARBAGE = {
    "not json": b"this is not a checkpoint\n",
    "a json list": b"[1, 2, 3]",
    "wrong types": b'{"batch": "many", "sources": {}}',
    "a source that is not an object": b'{"batch": 3, "sources": {"s1": 5}}',
}

COUNTS = ("SELECT (SELECT count(*) FROM predictions) AS p, "
          "(SELECT count(DISTINCT (model, version, request_id)) FROM predictions) AS keys, "
          "(SELECT count(*) FROM labels) AS l, (SELECT count(*) FROM quarantine) AS q")


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLOPS_CONSOLE_WORKSPACE", "MLOPS_CONSOLE_DEBUG")}
    return subprocess.run([*CONSOLE, *args, "--workspace", str(root)], capture_output=True, text=True,
                          env=env, cwd=root, timeout=300)


def counts(root: Path) -> dict:
    res = run(root, "query", COUNTS, "--format", "json")
    assert res.returncode == 0, res.stderr
    (row,) = json.loads(res.stdout)
    return row


def rounded(doc):
    """``doc`` with every float rounded to 9 significant digits (DuckDB sums in any order)."""
    if isinstance(doc, float):
        return float(f"{doc:.9g}")
    if isinstance(doc, dict):
        return {k: rounded(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [rounded(v) for v in doc]
    return doc


LIFECYCLE = ("state", "states", "ack", "opened", "changes", "cleared", "notifications")


def verdict(doc):
    """A ``check`` report without its lifecycle (a second check finds the first one's alerts
    ``ongoing``): what the rules found."""
    if isinstance(doc, dict):
        return {k: verdict(v) for k, v in doc.items() if k not in LIFECYCLE}
    if isinstance(doc, list):
        return [verdict(v) for v in doc]
    return doc


def rows_on_disk(root: Path, kind: str) -> int:
    """Rows in every Parquet file under the store's ``parts/<kind>`` folder, committed or not."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in (root / ".console" / "parts" / kind).rglob("*.parquet"))


@pytest.mark.parametrize("garbage", ["not json", "a json list"])
def test_reading_commands_stop_with_one_line_naming_the_checkpoint(sample_ws: Path, garbage: str) -> None:
    checkpoint = sample_ws / ".console" / "checkpoint.json"
    checkpoint.write_bytes(GARBAGE[garbage])
    for args in (["check"], ["check", "--format", "json"], ["drift", "--model", "credit-risk"],
                 ["ops", "--model", "credit-risk"], ["query", "SELECT count(*) FROM predictions"]):
        res = run(sample_ws, *args)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2, (args, res.returncode, res.stdout[-2000:], res.stderr)
        assert len(lines) == 1 and "Traceback" not in res.stderr, (args, res.stderr)
        assert str(checkpoint) in lines[0] and "run `mlops-console ingest`" in lines[0], (args, lines[0])
        assert "no alerts" not in res.stdout, args


def test_ingest_rebuilds_the_store_once_from_the_sources(sample_ws: Path) -> None:
    before = counts(sample_ws)
    check_before = run(sample_ws, "check", "--format", "json")
    assert before["p"] > 0 and before["p"] == before["keys"]
    checkpoint = sample_ws / ".console" / "checkpoint.json"
    checkpoint.write_bytes(GARBAGE["not json"])

    res = run(sample_ws, "ingest", "--format", "json")
    assert res.returncode == 0, res.stderr
    warnings = res.stderr.strip().splitlines()
    assert len(warnings) == 1, res.stderr
    assert warnings[0].startswith("mlops-console: warning: ") and str(checkpoint) in warnings[0]
    assert "rebuilt from the sources" in warnings[0]
    new = json.loads(res.stdout)
    assert new["predictions"] == before["p"]  # every row read again, once

    after = counts(sample_ws)
    assert after == before  # nothing twice, nothing lost
    # the old parts are gone: every row on disk is one the views show
    assert rows_on_disk(sample_ws, "predictions") == after["p"]
    assert rows_on_disk(sample_ws, "quarantine") == after["q"]
    check_after = run(sample_ws, "check", "--format", "json")
    assert (check_after.returncode, rounded(verdict(json.loads(check_after.stdout)))) == (
        check_before.returncode, rounded(verdict(json.loads(check_before.stdout))))  # sums: any order

    again = run(sample_ws, "ingest", "--format", "json")  # the warning was said once; nothing new
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert json.loads(again.stdout) == {"predictions": 0, "labels": 0, "quarantined": 0, "duplicates": 0}


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
def test_read_checkpoint_raises_for_any_garbage(tmp_path: Path, garbage: str) -> None:
    from console.errors import UsageError
    from console.store.checkpoint import CheckpointUnreadable, read_checkpoint

    path = tmp_path / "checkpoint.json"
    assert read_checkpoint(path).batch == 0  # missing: an empty store, not an error
    path.write_bytes(GARBAGE[garbage])
    with pytest.raises(CheckpointUnreadable) as info:
        read_checkpoint(path)
    assert isinstance(info.value, UsageError)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_ingest_follow_rebuilds_with_one_warning(sample_ws: Path) -> None:
    import signal
    import threading

    before = counts(sample_ws)
    checkpoint = sample_ws / ".console" / "checkpoint.json"
    checkpoint.write_bytes(GARBAGE["a json list"])
    env = {k: v for k, v in os.environ.items() if k not in ("MLOPS_CONSOLE_WORKSPACE", "MLOPS_CONSOLE_DEBUG")}
    follower = subprocess.Popen([*CONSOLE, "ingest", "--follow", "--format", "json", "--interval", "0.3",
                                 "--workspace", str(sample_ws)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, cwd=sample_ws)
    guard = threading.Timer(240, follower.kill)  # a hung follower fails the test instead of hanging it
    guard.start()
    try:
        assert follower.stderr is not None
        seen: list[str] = []
        for line in follower.stderr:  # json: warnings and one line per pass that found something
            seen.append(line)
            if " predictions=" in line:  # the pass that rebuilt the store is committed
                break
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=120)
    finally:
        guard.cancel()
    assert follower.returncode == 0, "".join(seen) + err
    warnings = [x for x in [*seen, *err.splitlines()] if "warning:" in x]
    assert len(warnings) == 1 and str(checkpoint) in warnings[0] and "rebuilt from the sources" in warnings[0]
    assert json.loads(out)["predictions"] == before["p"]
    assert counts(sample_ws) == before
