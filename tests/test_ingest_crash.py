"""Exactly once across crashes: ingesters killed with SIGKILL at random moments, again and
again, then one that finishes — exactly the valid records, no duplicate, no loss."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.test_ingest_formats import query

CHILD = """
import sys
from console.ingest.engine import Ingester
from console.workspace import load_dir
from pathlib import Path
ing = Ingester(load_dir(Path(sys.argv[1])), batch_rows=int(sys.argv[2]), read_bytes=32768, compact_at=2,
               retire_grace_s=0.5, on_batch=lambda n, _r: print("batch", n, flush=True))
print("ready", flush=True)
r = ing.run_once(wait=60)
print("done", r.as_dict(), flush=True)
"""


def make_sources(ws: Path, seed: int, files: int = 4, per_file: int = 3000) -> tuple[set[tuple[str, str]], int, int]:
    """Seeded logs with bad lines and repeats; returns (valid ids, quarantined, duplicates)."""
    rnd = random.Random(seed)
    valid: set[tuple[str, str]] = set()
    bad = dups = 0
    for f in range(files):
        out = []
        for i in range(per_file):
            r = rnd.random()
            if r < 0.02:
                out.append('{"broken": ')
                bad += 1
                continue
            rid = f"{f}-{i}"
            model = f"m{f % 2}"
            if r < 0.04 and valid:
                model, rid = rnd.choice(sorted(valid)[-50:])
                dups += 1
            else:
                valid.add((model, rid))
            out.append(json.dumps({"ts": 1762000000 + i, "model": model, "version": "1", "request_id": rid,
                                   "prediction": rnd.random(), "features": {"x": rnd.random(), "c": rnd.choice("abc")}}))
        data = ("\n".join(out) + "\n").encode()
        if f == files - 1:
            with gzip.open(ws / "logs" / f"f{f}.jsonl.gz", "wb") as fh:
                fh.write(data)
        else:
            (ws / "logs" / f"f{f}.jsonl").write_bytes(data)
    return valid, bad, dups


def run_child(ws: Path, batch_rows: int, kill_after: float | None, after_commit: bool = False) -> int:
    """Run one ingester; SIGKILL it ``kill_after`` seconds after start, or (``after_commit``)
    that long after it committed its first batch of this run — surely mid-way while work
    remains, whatever the machine's speed."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(ws), str(batch_rows)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    if first != "ready":
        proc.wait(timeout=60)
        raise AssertionError(proc.stderr.read() if proc.stderr else first)
    if kill_after is not None:
        if after_commit:
            line = proc.stdout.readline()  # blocks until the first commit (or the end)
            if line.startswith("batch"):
                time.sleep(kill_after)
                proc.send_signal(signal.SIGKILL)
        else:
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
    proc.stdout.read()  # drain, so a chatty child never blocks on a full pipe
    proc.wait(timeout=120)
    return proc.returncode


def ingest_seconds(ws: Path, batch_rows: int) -> float:
    """How long one uninterrupted ingest of ``ws`` takes, from the child's start-up to done."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(ws), str(batch_rows)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    start = end = None
    for line in proc.stdout:  # the child prints as it goes: time its lines as they come
        if line.startswith("ready"):
            start = time.perf_counter()
        elif line.startswith("done"):
            end = time.perf_counter()
    proc.wait(timeout=120)
    assert proc.returncode == 0 and start is not None and end is not None, proc.stderr.read() if proc.stderr else ""
    return end - start


def test_sigkill_at_random_moments_then_finish(workspace_dir: Path, tmp_path: Path) -> None:
    valid, bad, dups = make_sources(workspace_dir, seed=7, files=3, per_file=2000)
    # how long a whole ingest takes on this machine (on a copy), so that the kills from
    # start-up land within the run however fast the ingester and the machine are
    calib = tmp_path / "calib"
    shutil.copytree(workspace_dir, calib)
    run_s = ingest_seconds(calib, batch_rows=500)
    rnd = random.Random(11)
    killed = 0
    for round_ in range(5):
        # even rounds: a random moment after this run's first commit (lands mid-way on any
        # machine); odd rounds: a random moment from start-up (recovery, first batch)
        after_commit = round_ % 2 == 0
        delay = rnd.uniform(0.0, 0.02) if after_commit else rnd.uniform(0.0, 0.5 * run_s)
        code = run_child(workspace_dir, batch_rows=500, kill_after=delay, after_commit=after_commit)
        killed += code == -signal.SIGKILL
    assert killed >= 3  # most runs really died mid-way
    assert run_child(workspace_dir, batch_rows=500, kill_after=None) == 0
    ids = query(workspace_dir, "SELECT model, request_id FROM predictions")
    assert len(ids) == len(set(ids)), "a record was stored twice"
    assert set(ids) == valid, "a record was lost"
    assert query(workspace_dir, "SELECT count(*) FROM quarantine") == [(bad,)]
    assert query(workspace_dir, "SELECT count(DISTINCT (source, line)) FROM quarantine") == [(bad,)]
    assert query(workspace_dir, "SELECT sum(rows), sum(quarantined), sum(duplicates) FROM ingest_status") == [
        (len(valid), bad, dups)]
    # and a further run adds nothing
    assert run_child(workspace_dir, batch_rows=1000, kill_after=None) == 0
    assert query(workspace_dir, "SELECT count(*) FROM predictions") == [(len(valid),)]
