"""Each console's DuckDB takes at most ``[workspace] memory_limit`` (default 1GB, never DuckDB's
80 % of the machine) and spills past it to a private folder of its own: a query larger than the
limit still answers, the same; a limit DuckDB cannot read is one line, exit 2."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from console.errors import UsageError
from console.store import duck
from console.store.db import open_store
from console.workspace import load_dir

from .conftest import write_workspace


def _ws(tmp_path: Path, limit: str | None) -> Path:
    ws = write_workspace(tmp_path / "ws")
    if limit is not None:
        toml = ws / "console.toml"
        toml.write_text(toml.read_text().replace('name = "test-ws"', f'name = "test-ws"\nmemory_limit = "{limit}"'))
    return ws


def _setting(db, name: str) -> str:
    cur = db.cursor()
    try:
        return cur.execute(f"SELECT current_setting('{name}')").fetchone()[0]
    finally:
        cur.close()


def _mib(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def test_the_store_takes_the_configured_memory_and_spills_to_a_private_folder(tmp_path) -> None:
    default = open_store(load_dir(_ws(tmp_path / "a", None)))
    assert _mib(_setting(default, "memory_limit")) == pytest.approx(1000 ** 3 / 1024 ** 2, rel=0.01)  # 1GB
    small = open_store(load_dir(_ws(tmp_path / "b", "64MB")))
    assert _mib(_setting(small, "memory_limit")) == pytest.approx(61.0, rel=0.02)  # 64 MB in MiB
    spill = Path(_setting(small, "temp_directory"))
    st = spill.lstat()
    assert stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode)
    assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700
    assert spill == Path(duck.spill_dir())


def test_a_query_larger_than_the_limit_spills_and_answers_the_same(tmp_path) -> None:
    small = duck.connect("64MB")
    free = duck.connect("4GB")
    q = ("SELECT count(*), sum(n), max(n) FROM (SELECT k, count(*) AS n FROM "
         "(SELECT hash(i) % 3000000 AS k FROM range(6000000) t(i)) GROUP BY k)")
    assert small.execute(q).fetchone() == free.execute(q).fetchone()
    assert small.execute("SELECT max(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] <= 64 * 1000 ** 2


def test_a_limit_duckdb_cannot_read_is_one_line(tmp_path) -> None:
    with pytest.raises(UsageError, match=r"memory_limit 'lots'"):
        duck.connect("lots")
    ws = _ws(tmp_path, "lots")
    r = subprocess.run([sys.executable, "-m", "console", "check", "--workspace", str(ws)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "memory_limit 'lots'" in r.stderr and "Traceback" not in r.stderr


def test_adoption_takes_the_workspaces_memory_limit(tmp_path) -> None:
    """Adopting Parquet in place checks its files with DuckDB under the same bound: a limit DuckDB
    cannot read stops ``ingest`` with one line and exit 2 before anything is read or written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ws = _ws(tmp_path, "lots")
    with open(ws / "console.toml", "a") as f:
        f.write("\n[ingest]\nadopt_parquet = true\n")
    pq.write_table(pa.table({"ts": pa.array([1_762_000_000_000], type=pa.timestamp("ms", tz="UTC")),
                             "model": ["m"], "version": ["1"], "request_id": ["r1"], "prediction": [1]}),
                   ws / "logs" / "a.parquet")
    r = subprocess.run([sys.executable, "-m", "console", "ingest", "--workspace", str(ws)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "memory_limit 'lots'" in r.stderr and "Traceback" not in r.stderr
    assert not (ws / ".console" / "checkpoint.json").exists()


def test_a_killed_consoles_spill_folder_is_removed_by_the_next_one(tmp_path) -> None:
    """``kill -9`` leaves a console's spill folder (no exit handler runs); the next console of the
    account removes it before making its own, which goes at its normal exit."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    code = ("import sys, time; from console.store import duck; d = duck.spill_dir(); "
            "open(d + '/spilled', 'w').write('x'); print(d, flush=True); time.sleep(float(sys.argv[1]))")
    child = subprocess.Popen([sys.executable, "-c", code, "60"], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    assert left.parent == tmp_path and left.name.startswith(f"{duck.PREFIX}{child.pid}-")
    child.kill()
    child.wait(timeout=30)
    assert (left / "spilled").exists()  # killed: its folder stays, with what it spilled
    r = subprocess.run([sys.executable, "-c", code, "0"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not left.exists()  # removed by the next console
    assert not Path(r.stdout.strip()).exists()  # and that one's own went at its exit
    assert list(tmp_path.iterdir()) == []


def test_the_sweep_removes_only_this_accounts_folders_of_processes_that_are_gone(tmp_path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = tmp_path / f"{duck.PREFIX}{dead.pid}-abc"
        running = tmp_path / f"{duck.PREFIX}{live.pid}-abc"
        unnamed = tmp_path / f"{duck.PREFIX}abcdef"  # the earlier naming: no process id
        plain_file = tmp_path / f"{duck.PREFIX}{dead.pid}-file"
        target = tmp_path / "elsewhere"
        link = tmp_path / f"{duck.PREFIX}{dead.pid}-link"
        for d in (gone, running, unnamed, target):
            d.mkdir()
            (d / "data").write_text("x")
        plain_file.write_text("x")
        link.symlink_to(target)
        assert duck.sweep(str(tmp_path)) == [str(gone)]
        assert not gone.exists()
        for kept in (running, unnamed, target):
            assert (kept / "data").exists()
        assert plain_file.exists() and link.is_symlink() and (target / "data").exists()
    finally:
        live.kill()
        live.wait(timeout=30)
