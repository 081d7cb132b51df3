"""Damaged and unreadable sources (docs/formats.md, 'When a record is wrong' and 'The ingest command'): a truncated or corrupt ``.gz``, a
corrupt Parquet file, Parquet with a repeated column name, a folder or file the account cannot
read. Each is reported (``ingest_status.last_error`` and a warning line), never a traceback;
every readable record before the damage is stored, the next file is still ingested, and memory
follows the batch, not the file (a gzip bomb of empty lines)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import console.ingest.engine as engine
from console.ingest.engine import Ingester
from console.store.db import open_store
from console.workspace import load_dir
from tests.conftest import write_workspace
from tests.frozen_time import CONSOLE


def run(ws: Path, **kw) -> engine.IngestResult:
    return Ingester(load_dir(ws), sync=False, **kw).run_once(wait=5)


def query(ws: Path, sql: str) -> list[tuple]:
    db = open_store(load_dir(ws))
    try:
        return db.cursor().execute(sql).fetchall()
    finally:
        db.close()


def status(ws: Path) -> dict[str, tuple]:
    rows = query(ws, 'SELECT source, "rows", quarantined, duplicates, last_error FROM ingest_status')
    return {Path(r[0]).name: r[1:] for r in rows}


def line(rid: str) -> bytes:
    return (json.dumps({"ts": "2026-11-01T12:00:00Z", "model": "m", "version": "1", "request_id": rid,
                        "prediction": 1, "features": {"x": 1.5}}) + "\n").encode()


def complete_lines_in(gz_bytes: bytes) -> int:
    """How many complete lines a (possibly cut short) gzip holds: zlib, independently."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    return d.decompress(gz_bytes).count(b"\n")


# -- gzip ---------------------------------------------------------------------------------------


def test_truncated_gzip_yields_every_complete_line_then_continues_once_completed(workspace_dir: Path) -> None:
    logs = workspace_dir / "logs"
    content = b"".join(line(f"r{i:05d}") for i in range(3000))
    whole = gzip.compress(content, compresslevel=6, mtime=0)
    cut = whole[: len(whole) * 2 // 5]
    k = complete_lines_in(cut)
    assert 1000 < k < 3000
    (logs / "a.jsonl.gz").write_bytes(cut)
    (logs / "b.jsonl").write_bytes(line("next"))  # the next file is still ingested
    r = run(workspace_dir)
    assert r.as_dict() == {"predictions": k + 1, "labels": 0, "quarantined": 0, "duplicates": 0}
    st = status(workspace_dir)
    assert st["a.jsonl.gz"][:3] == (k, 0, 0)
    assert st["a.jsonl.gz"][3].startswith("incomplete gzip: the file ends before its end-of-stream marker")
    assert st["b.jsonl"] == (1, 0, 0, None)
    assert [e for e in r.errors if "a.jsonl.gz" in e] and len(r.errors) == 1
    # the half-written last line waits: lag is what was decompressed past the last newline
    lag = query(workspace_dir, "SELECT lag_bytes FROM ingest_status WHERE source LIKE '%a.jsonl.gz'")[0][0]
    assert 0 < lag < len(line("r00000"))
    # unchanged: nothing again, no repeated warning
    again = run(workspace_dir)
    assert again.as_dict()["predictions"] == 0 and again.errors == []
    # completed later (gzip finished writing it): the rest, each line once
    (logs / "a.jsonl.gz").write_bytes(whole)
    done = run(workspace_dir)
    assert done.as_dict() == {"predictions": 3000 - k, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert done.errors == []
    assert status(workspace_dir)["a.jsonl.gz"] == (3000, 0, 0, None)
    assert query(workspace_dir, "SELECT count(*), count(DISTINCT request_id) FROM predictions") == [(3001, 3001)]


def test_corrupt_gzip_keeps_the_lines_before_the_damage(workspace_dir: Path) -> None:
    logs = workspace_dir / "logs"
    first = b"".join(line(f"a{i}") for i in range(500))
    member1 = gzip.compress(first, mtime=0)
    member2 = bytearray(gzip.compress(b"".join(line(f"b{i}") for i in range(500)), mtime=0))
    member2[10] = 0xFF  # the second member's first deflate block: an invalid block type
    (logs / "a.jsonl.gz").write_bytes(member1 + bytes(member2))
    (logs / "b.jsonl").write_bytes(line("next"))
    r = run(workspace_dir)
    st = status(workspace_dir)
    assert st["a.jsonl.gz"][:3] == (500, 0, 0)  # the whole first member
    assert st["a.jsonl.gz"][3] == (f"corrupt gzip: unreadable data after {len(first)} bytes "
                                   "of content (Error -3 while decompressing data: invalid block type); every "
                                   "complete line before it is ingested")
    assert st["b.jsonl"] == (1, 0, 0, None)
    assert r.as_dict() == {"predictions": 501, "labels": 0, "quarantined": 0, "duplicates": 0}


# -- Parquet ------------------------------------------------------------------------------------


def pred_table(ids: list[str]) -> pa.Table:
    n = len(ids)
    return pa.table({"ts": ["2026-11-01T12:00:00Z"] * n, "model": ["m"] * n, "version": ["1"] * n,
                     "request_id": ids, "prediction": [1] * n})


def test_corrupt_parquet_is_reported_and_the_next_file_ingested(workspace_dir: Path) -> None:
    logs = workspace_dir / "logs"
    (logs / "a-garbage.parquet").write_bytes(b"PAR1 this is not a parquet file at all PAR1")
    pq.write_table(pred_table([f"p{i}" for i in range(50)]), logs / "b-pages.parquet", compression="snappy")
    raw = bytearray((logs / "b-pages.parquet").read_bytes())
    raw[8:60] = b"\x00" * 52  # a data page destroyed, the footer intact
    (logs / "b-pages.parquet").write_bytes(bytes(raw))
    pq.write_table(pred_table(["ok1", "ok2"]), logs / "c-good.parquet")
    r = run(workspace_dir)
    assert r.as_dict() == {"predictions": 2, "labels": 0, "quarantined": 0, "duplicates": 0}
    st = status(workspace_dir)
    assert st["c-good.parquet"] == (2, 0, 0, None)
    for name in ("a-garbage.parquet", "b-pages.parquet"):
        assert st[name][:3] == (0, 0, 0)
        assert st[name][3].startswith("unreadable Parquet (waiting for it to change): "), st[name]
        assert any(e.startswith(str(logs / name) + ": unreadable Parquet") for e in r.errors)
    # unchanged: not re-read, not re-reported; the error stays in ingest_status
    again = run(workspace_dir)
    assert again.errors == [] and status(workspace_dir)["a-garbage.parquet"][3] is not None
    # replaced by a good file: read, and the error is gone
    pq.write_table(pred_table(["fixed"]), logs / "a-garbage.parquet")
    fixed = run(workspace_dir)
    assert fixed.as_dict()["predictions"] == 1 and status(workspace_dir)["a-garbage.parquet"] == (1, 0, 0, None)


def test_parquet_with_a_repeated_column_is_quarantined(workspace_dir: Path) -> None:
    logs = workspace_dir / "logs"
    t = pa.Table.from_arrays(
        [pa.array(["2026-11-01T12:00:00Z"] * 3), pa.array(["m"] * 3), pa.array(["1"] * 3),
         pa.array(["d1", "d2", "d3"]), pa.array([1, 0, 1]), pa.array([0, 1, 0])],
        names=["ts", "model", "version", "request_id", "prediction", "prediction"])
    pq.write_table(t, logs / "a-dup.parquet")
    pq.write_table(pred_table(["ok"]), logs / "b-good.parquet")
    # in a labels file only label fields count: a repeated other column is ignored
    lt = pa.Table.from_arrays([pa.array(["d1"]), pa.array([1]), pa.array(["x"]), pa.array(["y"])],
                              names=["request_id", "label", "note", "note"])
    pq.write_table(lt, workspace_dir / "labels" / "l.parquet")
    r = run(workspace_dir)
    assert r.errors == []
    assert r.as_dict() == {"predictions": 1, "labels": 1, "quarantined": 3, "duplicates": 0}
    assert status(workspace_dir)["a-dup.parquet"] == (0, 3, 0, None)
    rows = query(workspace_dir, "SELECT line, byte_offset, reason, raw FROM quarantine ORDER BY line")
    assert [r[:3] for r in rows] == [(i, None, "column 'prediction' appears more than once") for i in (1, 2, 3)]
    assert json.loads(rows[1][3])[-2:] == [["prediction", 0], ["prediction", 1]]  # both values shown


# -- unreadable folders and files (a real non-root account) --------------------------------------


@pytest.fixture
def team_ws():
    from tests.test_governance_helpers import can_make_users, ensure_os_users, share_with_team

    why = can_make_users()
    if why:
        pytest.skip(why)
    users = ensure_os_users()
    base = Path(tempfile.mkdtemp(prefix="mlc-ingest-"))
    base.chmod(0o755)
    root = write_workspace(base / "ws")
    share_with_team(root)
    yield root, users[0]
    shutil.rmtree(base, ignore_errors=True)


def test_unreadable_folder_and_file_are_reported(team_ws) -> None:
    from tests.test_governance_helpers import run_as

    root, user = team_ws
    logs = root / "logs"
    (logs / "secret").mkdir()
    (logs / "secret" / "s.jsonl").write_bytes(line("s1"))
    (logs / "private.jsonl").write_bytes(line("p1"))
    (logs / "public.jsonl").write_bytes(line("ok"))
    os.chmod(logs / "secret", 0o700)  # owned by root: the account cannot list it
    os.chmod(logs / "private.jsonl", 0o600)  # nor read this
    p = run_as(user, root, "ingest", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"predictions": 1, "labels": 0, "quarantined": 0, "duplicates": 0}
    assert "Traceback" not in p.stderr
    warnings = sorted(p.stderr.splitlines())
    assert warnings == [f"mlops-console: warning: {logs / 'private.jsonl'}: permission denied",
                        f"mlops-console: warning: {logs / 'secret'}: permission denied"]
    st = status(root)
    assert st["secret"] == (0, 0, 0, "permission denied")
    assert st["private.jsonl"] == (0, 0, 0, "permission denied")
    assert st["public.jsonl"] == (1, 0, 0, None)
    # readable again: both are read, the folder's row is gone, the file's error cleared
    os.chmod(logs / "secret", 0o2775)
    os.chmod(logs / "private.jsonl", 0o664)
    p = run_as(user, root, "ingest", "--format", "json")
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert json.loads(p.stdout)["predictions"] == 2
    st = status(root)
    assert "secret" not in st and st["s.jsonl"] == (1, 0, 0, None) and st["private.jsonl"] == (1, 0, 0, None)


# -- memory -------------------------------------------------------------------------------------


def test_quarantine_is_committed_in_bounded_batches(workspace_dir: Path, monkeypatch) -> None:
    """Quarantined records carry up to 1 KiB of raw text each: the batch is committed once they
    hold ``QUARANTINE_BYTES``, however few records that is (and small blocks waiting to be
    validated together are validated once they hold ``PENDING_BYTES`` of source)."""
    monkeypatch.setattr(engine, "QUARANTINE_BYTES", 1 << 20, raising=False)
    monkeypatch.setattr(engine, "PENDING_BYTES", 1 << 18, raising=False)  # small blocks wait together up to this
    junk = b"".join(b"{" + b"x" * 1500 + b"%d\n" % i for i in range(3000))  # 3000 bad lines, 1 KiB raw each
    (workspace_dir / "logs" / "a.jsonl").write_bytes(junk)
    batches: list[int] = []
    r = run(workspace_dir, read_bytes=1 << 17, on_batch=lambda b, res: batches.append(res.quarantined))
    assert r.as_dict()["quarantined"] == 3000
    # a batch stops at QUARANTINE_BYTES, overshooting by at most what one drain of waiting blocks
    # (PENDING_BYTES) and one more block add: (1 MiB + 256 KiB + 128 KiB) / 1 KiB of raw + a row
    assert len(batches) >= 3 and max(batches) <= 1350, batches
    assert query(workspace_dir, "SELECT count(*), min(line), max(line) FROM quarantine") == [(3000, 1, 3000)]


PEAK = """
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": p.returncode, "out": p.stdout, "err": p.stderr,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def test_gzip_bomb_of_empty_lines_stays_in_bounded_memory(workspace_dir: Path) -> None:
    """4 MiB of newlines in a 4 KiB .gz: 4M quarantined empty lines. Before the bound, one read
    block held all of them at once (over 1 GB); now a block holds at most ``BLOCK_LINES``."""
    n = 4 << 20
    with gzip.open(workspace_dir / "logs" / "bomb.jsonl.gz", "wb") as fh:
        for _ in range(n >> 20):
            fh.write(b"\n" * (1 << 20))
    (workspace_dir / "logs" / "z.jsonl").write_bytes(line("after"))
    assert (workspace_dir / "logs" / "bomb.jsonl.gz").stat().st_size < 16 << 10
    # a parent of its own: RUSAGE_CHILDREN is then the peak of exactly this ingest process (a
    # child's own maxrss would include pytest's: Linux carries the RSS at the fork over the exec)
    done = subprocess.run([sys.executable, "-c", PEAK, *CONSOLE, "ingest", "--format", "json",
                           "--workspace", str(workspace_dir)], capture_output=True, text=True, check=True)
    doc = json.loads(done.stdout)
    assert doc["rc"] == 0 and doc["err"] == "", doc["err"]
    assert json.loads(doc["out"]) == {"predictions": 1, "labels": 0, "quarantined": n, "duplicates": 0}
    assert doc["peak_mb"] < 600, doc["peak_mb"]
    assert query(workspace_dir, "SELECT reason, count(*), max(line) FROM quarantine GROUP BY reason") == [
        ("empty line", n, n)]


MERGE = """
import resource, sys
from pathlib import Path
from console.store import compact
parts = sorted(Path(sys.argv[1]).glob("b*.parquet"), key=lambda p: int(p.name[1:].split("-")[0]))
tmp, final = compact.write_merged(Path(sys.argv[1]), parts, 99, 0, sync=False)
print(tmp)
"""


def test_compaction_streams_instead_of_reading_every_part(tmp_path: Path) -> None:
    """Quarantine parts of empty lines are a few KiB on disk and tens of MB in memory: merging
    12 of them (6M rows) must not hold them all at once (over 500 MB when it did)."""
    import numpy as np
    import polars as pl

    n = 500_000
    for b in range(1, 13):
        pl.DataFrame({"line": np.arange(n) + b * n}).select(
            pl.lit("predictions").alias("kind"), pl.lit("/srv/logs/app.jsonl.gz").alias("source"), "line",
            pl.col("line").alias("byte_offset"), pl.lit("empty line").alias("reason"), pl.lit("").alias("raw"),
            pl.lit(b, pl.Int64).alias("batch"),
        ).write_parquet(tmp_path / f"b{b}-0.parquet", compression="lz4")
    # through PEAK's small parent: a child's own maxrss counts its parent's at the fork (pytest's)
    done = subprocess.run([sys.executable, "-c", PEAK, sys.executable, "-c", MERGE, str(tmp_path)],
                          capture_output=True, text=True, check=True)
    doc = json.loads(done.stdout)
    assert doc["rc"] == 0, doc["err"]
    merged, peak_mb = doc["out"].strip(), doc["peak_mb"]
    line = pl.col("line")
    got = pl.scan_parquet(merged).select(pl.len(), line.min().alias("lo"), line.max().alias("hi"),
                                            (line.diff() == 1).all().alias("in_order")).collect().row(0)
    assert got == (12 * n, n, 13 * n - 1, True)  # every row, in order
    assert peak_mb < 400, peak_mb
