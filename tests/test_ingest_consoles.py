"""Several consoles on one workspace: one ingesting (``ingest --follow``), others reading — with
real processes. Plus the in-process ``LiveIngester`` the TUI uses (watchdog wake-up, polling
fallback, reader role while another console holds the lock)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from console.ingest.live import LiveIngester
from console.ingest.lock import IngestLock
from console.store.layout import StoreLayout
from console.workspace import load_dir
from tests.frozen_time import CONSOLE
from tests.test_ingest_formats import query, rec, write_jsonl

READER = """
import sys, time
from pathlib import Path
from console.store.db import open_store
from console.workspace import load_dir
target = int(sys.argv[2])
db = open_store(load_dir(Path(sys.argv[1])))
print("open", flush=True)
deadline = time.monotonic() + 60
seen = -1
while time.monotonic() < deadline:
    db = db.refresh()
    n = db.cursor().execute("SELECT count(*) FROM predictions").fetchone()[0]
    if n != seen:
        print(n, flush=True)
        seen = n
    if n >= target:
        sys.exit(0)
    time.sleep(0.05)
sys.exit(3)
"""


def wait_for(predicate, timeout: float = 20.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met before the deadline")


def test_one_follower_many_readers_real_processes(workspace_dir: Path) -> None:
    follower = subprocess.Popen(
        [*CONSOLE, "-w", str(workspace_dir), "ingest", "--follow", "--format", "json",
         "--interval", "0.3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(workspace_dir), "30"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for r in readers:
            assert r.stdout is not None and r.stdout.readline().strip() == "open"
        write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec(str(i)) for i in range(10)])
        wait_for(lambda: query(workspace_dir, "SELECT count(*) FROM predictions") == [(10,)])
        # a one-shot ingest meanwhile gets its turn (the follower holds the lock only per pass)
        one = subprocess.run([*CONSOLE, "-w", str(workspace_dir), "ingest", "--format",
                              "json"], capture_output=True, text=True, timeout=60)
        assert one.returncode == 0, one.stderr
        assert json.loads(one.stdout)["duplicates"] == 0
        write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec(str(i)) for i in range(10, 30)], mode="a")
        for r in readers:
            assert r.wait(timeout=60) == 0, r.stderr.read() if r.stderr else ""
            seen = [int(x) for x in r.stdout.read().split()] if r.stdout else []
            assert seen[-1] == 30
    finally:
        for r in readers:
            if r.poll() is None:
                r.kill()
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    totals = json.loads(out)
    assert totals["duplicates"] == 0 and totals["quarantined"] == 0
    assert query(workspace_dir, "SELECT count(*), count(DISTINCT request_id) FROM predictions") == [(30, 30)]


def test_live_ingester_woken_by_watchdog(workspace_dir: Path) -> None:
    batches: list[int] = []
    live = LiveIngester(load_dir(workspace_dir), on_batch=lambda b, r: batches.append(b), interval=60.0).start()
    try:
        wait_for(lambda: live.status.passes >= 1)
        write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec("w1"), rec("w2")])
        if live.status.watching == "watchdog":
            wait_for(lambda: live.status.predictions == 2)  # the 60 s timer cannot be what woke it
        else:
            live.wake()
            wait_for(lambda: live.status.predictions == 2)
        assert batches and live.status.role == "ingester"
    finally:
        live.stop()
    assert not live.status.running


def test_live_ingester_polls_and_is_reader_while_another_holds_the_lock(workspace_dir: Path) -> None:
    other = IngestLock(StoreLayout(workspace_dir / ".console").lock_path)
    assert other.try_acquire()
    live = LiveIngester(load_dir(workspace_dir), interval=0.1, use_watchdog=False).start()
    try:
        assert live.status.watching == "polling" and "polling" in live.status.note
        write_jsonl(workspace_dir / "logs" / "a.jsonl", [rec("p1")])
        wait_for(lambda: live.status.role == "reader")
        assert live.status.predictions == 0
        other.release()
        wait_for(lambda: live.status.predictions == 1)
        assert live.status.role == "ingester" and live.status.lag_bytes == 0
    finally:
        live.stop()
        other.release()
