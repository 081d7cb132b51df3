"""``mlops-console query`` in real subprocesses: rows stream to stdout in bounded memory, a
statement timeout (``--timeout``, ``[query] timeout``) is one line and exit 2, and ctrl-C
(SIGINT) during a slow query is one line and exit 130 — never a traceback."""

from __future__ import annotations

import os
import select
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import write_workspace
from tests.frozen_time import CONSOLE

SLOW = "SELECT count(*) FROM range(1000000000000) t WHERE t.range % 7 = 3"


def start(ws: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_CONSOLE_DEBUG"}
    return subprocess.Popen([*CONSOLE, "query", *args, "--workspace", str(ws)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=ws)


@pytest.fixture(name="ws")
def ws_fixture(tmp_path: Path) -> Path:
    return write_workspace(tmp_path / "ws")


def peak_rss(ws: Path, rows: int) -> tuple[int, int, int]:
    """``(bytes printed, lines printed, the child's peak RSS in bytes)`` of ``rows`` generated
    rows as CSV, read as they come (the test keeps none of them)."""
    proc = start(ws, f"SELECT range AS i, range * 3 AS j, repeat('x', 40) AS pad FROM range({rows})",
                 "--format", "csv")
    size = lines = 0
    while chunk := proc.stdout.read(1 << 20):
        size += len(chunk)
        lines += chunk.count(b"\n")
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own resource usage
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, err
    return size, lines, usage.ru_maxrss * 1024  # kilobytes on Linux


def test_a_big_result_streams_in_bounded_memory(ws: Path) -> None:
    """5M generated rows as CSV (≈ 270 MiB of text): the child's peak RSS is its start-up
    (Python, DuckDB, pyarrow: the same command printing 1,000 rows) plus a few batches — far
    below the size of what it printed (collecting the rows first, as before, took GBs)."""
    rows = 5_000_000
    size, lines, peak = peak_rss(ws, rows)
    _, _, base = peak_rss(ws, 1000)
    print(f"peak RSS {peak / 2**20:.0f} MiB (1,000 rows: {base / 2**20:.0f} MiB) for {size / 2**20:.0f} MiB of CSV")
    assert lines == rows + 1 and size > 250 * 2**20
    assert peak - base < 64 * 2**20, (peak, base, size)


def test_json_and_table_stream_the_same_rows(ws: Path) -> None:
    import json

    sql = "SELECT range AS i, 'r' || range AS s, NULL AS n FROM range(25000)"
    out = subprocess.run([*CONSOLE, "query", sql, "--format", "json", "--workspace", str(ws)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and json.loads(out.stdout) == [{"i": i, "s": f"r{i}", "n": None} for i in range(25000)]
    table = subprocess.run([*CONSOLE, "query", sql, "--workspace", str(ws)],
                           capture_output=True, text=True, timeout=120).stdout.splitlines()
    assert table[0].split() == ["i", "s", "n"] and len(table) == 25002 and table[-1].split() == ["24999", "r24999"]
    empty = subprocess.run([*CONSOLE, "query", "SELECT 1 AS a WHERE false", "--format", "json",
                            "--workspace", str(ws)], capture_output=True, text=True, timeout=120)
    assert json.loads(empty.stdout) == []


def test_csv_keeps_every_digit_of_a_number(ws: Path) -> None:
    import csv
    import io

    sql = "SELECT 1/3 AS third, 1234567.891::DOUBLE AS big, 1e-12::DOUBLE AS tiny, 0.1::FLOAT AS f32"
    out = subprocess.run([*CONSOLE, "query", sql, "--format", "csv", "--workspace", str(ws)],
                         capture_output=True, text=True, timeout=120)
    row = next(csv.DictReader(io.StringIO(out.stdout)))
    assert out.returncode == 0 and float(row["third"]) == 1 / 3 and float(row["big"]) == 1234567.891
    assert float(row["tiny"]) == 1e-12 and row["f32"] == repr(float(__import__("numpy").float32(0.1)))
    table = subprocess.run([*CONSOLE, "query", sql, "--workspace", str(ws)], capture_output=True, text=True,
                           timeout=120).stdout.splitlines()
    assert table[2].split()[:2] == ["0.333333", "1.23457e+06"]  # a table is for reading


@pytest.mark.parametrize("how", ["flag", "config"])
def test_a_timed_out_query_is_one_line_and_exit_2(ws: Path, how: str) -> None:
    args = ["--timeout", "1s"] if how == "flag" else []
    if how == "config":
        with (ws / "console.toml").open("a") as f:
            f.write('\n[query]\ntimeout = "1s"\n')
    proc = start(ws, SLOW, *args)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert out == b"" and err.decode().count("\n") == 1 and "timed out after 1s" in err.decode()
    assert b"Traceback" not in err


def test_a_bad_timeout_is_one_line(ws: Path) -> None:
    proc = start(ws, "SELECT 1", "--timeout", "soon")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and err.decode().count("\n") == 1 and "bad --timeout" in err.decode()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("sql,fmt", [(SLOW, "table"), ("SELECT range FROM range(1000000000000)", "csv")])
def test_ctrl_c_during_a_query_is_one_line_and_exit_130(ws: Path, sql: str, fmt: str) -> None:
    """SIGINT while DuckDB computes (no row yet) and while rows stream out."""
    proc = start(ws, sql, "--format", fmt)
    if fmt == "csv":
        assert proc.stdout.readline() == b"range\n"  # streaming: the query is under way
    else:
        # nothing is printed before the count: wait until the child has spent CPU well past
        # its start-up (about a second), i.e. DuckDB is counting
        while cpu_seconds(proc.pid) < 3.0:
            ready, _, _ = select.select([proc.stderr], [], [], 0.1)  # a failure would speak here
            assert not ready and proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.decode() == "mlops-console: interrupted\n"
