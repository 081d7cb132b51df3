"""``connect``: every in-memory DuckDB the console opens, with its memory bounded.

DuckDB's default memory limit is 80 % of the machine's RAM, and a console on a box that several
people share must not take that: on the 100M benchmark store, the TUI's exact live metric held
5 GB at launch. Each connection gets ``memory_limit`` (``[workspace] memory_limit`` in
console.toml, DuckDB's size syntax such as ``"1GB"`` or ``"512MB"``; default ``DEFAULT_LIMIT``)
and spills what does not fit to a folder of its own: made by ``tempfile.mkdtemp`` (mode 0700,
created exclusively, so nobody else can read the predictions spilled there or plant a link in
its place) under the system's temporary folder, and removed when the process exits — or, should
the process be killed first (``kill -9`` leaves what it spilled, gigabytes perhaps), by the next
console of the same account: the folder's name carries its process id (``sweep``). A query
that needs more than the limit runs slower, not out of memory; one whose operator cannot
spill fails with DuckDB's out-of-memory error, said in one line like any other failure.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import stat
import tempfile
import threading
from typing import Any

import duckdb

from console.errors import UsageError
from console.store.sql import literal

DEFAULT_LIMIT = "1GB"
PREFIX = "mlops-console-spill-"  # then the process id, "-", and mkdtemp's random letters

_SPILL: str | None = None
_LOCK = threading.Lock()


def spill_dir() -> str:
    """This process's private spill folder (made on first use, removed at exit; those of this
    account's dead consoles are removed first)."""
    global _SPILL
    with _LOCK:
        if _SPILL is None:
            sweep(tempfile.gettempdir())
            _SPILL = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
            atexit.register(shutil.rmtree, _SPILL, True)
        return _SPILL


def discard_spill() -> None:
    """Remove this process's spill folder now (a process about to end without its exit
    functions, ``console.tui.hangup``); a later query makes a new one."""
    global _SPILL
    with _LOCK:
        folder, _SPILL = _SPILL, None
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def sweep(root: str) -> list[str]:
    """Remove the spill folders in ``root`` left by consoles of this account that are gone (killed
    before their exit could): folders — not links — owned by this account, named for a process
    that no longer runs. Another account's, or a live process's, are left alone. Returns the
    folders removed."""
    gone = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return gone
    for entry in entries:
        pid = entry.name[len(PREFIX):].split("-", 1)[0] if entry.name.startswith(PREFIX) else ""
        if not pid.isdigit():
            continue  # (folders of the earlier naming, without a process id: left to the system)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or _alive(int(pid)):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        gone.append(entry.path)
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (another account's process: it runs)
        return True
    return True


@functools.cache
def checked(limit: str) -> str:
    """``limit``, once DuckDB has read it (tried once per process): a ``UsageError`` before any
    work starts, rather than one per connection made on a worker thread."""
    connect(limit).close()
    return limit


def memory_limit(config: Any) -> str:
    """``[workspace] memory_limit`` of a parsed console.toml, else ``DEFAULT_LIMIT``."""
    section = (config or {}).get("workspace") or {}
    return section.get("memory_limit") or DEFAULT_LIMIT


def connect(limit: str = DEFAULT_LIMIT) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB in UTC with ``limit`` of memory and a private spill folder."""
    conn = duckdb.connect(":memory:")
    conn.execute("SET TimeZone = 'UTC'")
    try:
        conn.execute(f"SET memory_limit = {literal(limit)}")
    except duckdb.Error as exc:
        conn.close()
        raise UsageError(f"[workspace] memory_limit {limit!r} is not a size DuckDB knows (say \"1GB\" or \"512MB\")") from exc
    conn.execute(f"SET temp_directory = {literal(spill_dir())}")
    return conn
