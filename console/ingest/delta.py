"""Delta Lake tables as a source: finding them, noticing a new version, and what it added.

A folder holding a ``_delta_log/`` folder is a Delta table, wherever it sits below a
``[sources]`` folder (or named there itself): it is one source, never a folder of Parquet
files (its data files include removed ones, and its partition columns are not in them).
Whether it changed is told from its log folder alone — the highest ``<version>.json`` commit
in ``_delta_log/``, the folder's inode and mtime — without the ``deltalake`` package, so a
workspace without Delta tables never needs it.

A table is read by version with ``deltalake`` (an optional extra, ``mlops-console[delta]``):
the new data of version ``T`` since the version ``V`` already ingested is every data file of
snapshot ``T`` that is not in snapshot ``V`` (``changes``), read through the table's own
Arrow dataset (partition values filled in), in path order. A version that rewrote files
(OPTIMIZE, DELETE, UPDATE, MERGE, an overwrite) makes its rewritten rows new files: they are
read again and count as duplicates (the store's dedupe keys), none is stored twice; rows a
version removed stay in the store (it keeps history). When such a version removed rows (not
only compacted them) ``changes`` says so in a note the ingester prints as a warning.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

LOG_DIR = "_delta_log"
INSTALL_HINT = "reading a Delta Lake table needs the deltalake package: pip install 'mlops-console[delta]'"
_COMMIT = re.compile(r"^(\d{20})\.json$")
# operations that change no rows (OPTIMIZE rewrites files with the same rows: they come back
# as duplicates), or only add them; any other operation in a range that removed files
# deleted or replaced rows, which the ingester warns about
_QUIET = {"OPTIMIZE", "VACUUM START", "VACUUM END", "CREATE TABLE", "SET TBLPROPERTIES",
          "ADD COLUMNS", "ADD CONSTRAINT", "DROP CONSTRAINT", "UPGRADE PROTOCOL", "CHECKPOINT"}
_APPENDS = {"WRITE", "STREAMING UPDATE", "CREATE TABLE AS SELECT"}


class DeltaUnavailable(Exception):
    """The ``deltalake`` package is not installed (the message says how to install it)."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


def is_table(path: Path) -> bool:
    """Does ``path`` hold a Delta table (a ``_delta_log`` folder)?"""
    return os.path.isdir(os.path.join(path, LOG_DIR))


def log_state(path: Path) -> tuple[int, int, int]:
    """``(inode, latest version + 1, mtime_ns)`` of a table's log folder: what changes with
    every commit (0 versions: no commit yet, nothing to read). ``OSError`` when unreadable."""
    log = os.path.join(path, LOG_DIR)
    st = os.stat(log)
    latest = -1
    with os.scandir(log) as it:
        for entry in it:
            m = _COMMIT.match(entry.name)
            if m is not None:
                latest = max(latest, int(m.group(1)))
    return st.st_ino, latest + 1, st.st_mtime_ns


@dataclass
class Changes:
    """What a table's version ``version`` added since version ``since`` (-1: since nothing)."""

    since: int
    version: int
    schema: object  # pyarrow.Schema of the table at ``version``
    files: list = field(default_factory=list)  # pyarrow dataset fragments, by path
    notes: list[str] = field(default_factory=list)


def _deltalake():
    try:
        import deltalake
    except ImportError:
        raise DeltaUnavailable() from None
    return deltalake


def table_id(path: Path) -> tuple[str, int]:
    """``(id, latest version)`` of the table at ``path`` (its ``metaData`` id tells a table
    recreated at the same path from the one that was there)."""
    dt = _deltalake().DeltaTable(str(path))
    return dt.metadata().id, dt.version()


def _fragments(dl, path: Path, version: int) -> tuple[dict, object]:
    ds = dl.DeltaTable(str(path), version=version).to_pyarrow_dataset()
    return {fr.path: fr for fr in ds.get_fragments()}, ds.schema


def changes(path: Path, since: int, version: int) -> Changes:
    """The data files of snapshot ``version`` that are not in snapshot ``since``, by path.

    Rows a version in between added and a later one removed are not in either snapshot: they
    are not read (the table no longer holds them when the console looks). When snapshot
    ``since`` can no longer be loaded (its log was cleaned up), every file of
    ``version`` is new (a note says so; the rows already stored count as duplicates)."""
    dl = _deltalake()
    frags, schema = _fragments(dl, path, version)
    out = Changes(since, version, schema)
    old: set[str] = set()
    if since >= 0:
        try:
            old = set(_fragments(dl, path, since)[0])
        except Exception as exc:  # noqa: BLE001 - deltalake raises its own types for a missing version
            out.notes.append(f"version {since} of the table can no longer be loaded ({_one_line(exc)}); "
                             f"every row of version {version} is read again (rows already stored count as duplicates)")
        else:
            if old - set(frags):
                removing = _removing(dl, path, since, version)
                if removing:
                    out.notes.append(
                        f"{', '.join(removing)} deleted or replaced rows: they stay in the store; "
                        "rows rewritten are read again and count as duplicates")
    out.files = [frags[p] for p in sorted(set(frags) - old)]
    return out


def _removing(dl, path: Path, since: int, version: int) -> list[str]:
    """"version N (OPERATION)" for each commit in ``(since, version]`` that may have removed
    rows (not an append, not a compaction)."""
    found = []
    try:
        history = dl.DeltaTable(str(path), version=version).history(limit=version - since)
    except Exception:  # noqa: BLE001 - no history: say the range
        return [f"versions {since + 1}–{version}"]
    for h in sorted(history, key=lambda h: h.get("version", 0)):
        v = h.get("version")
        if not isinstance(v, int) or not since < v <= version:
            continue
        op = str(h.get("operation", "?"))
        mode = str((h.get("operationParameters") or {}).get("mode", "Append"))
        if op in _QUIET or (op in _APPENDS and mode.lower() in ("append", "errorifexists", "ignore")):
            continue
        found.append(f"version {v} ({op}{' ' + mode.lower() if op in _APPENDS else ''})")
    return found


def read_batches(fragment, schema, batch_size: int):
    """Record batches of one data file, with the table's partition columns filled in."""
    import pyarrow.dataset as pds

    return pds.Scanner.from_fragment(fragment, schema=schema, batch_size=batch_size).to_batches()


def read_whole(fragment, schema):
    """A data file whole, as a ``pyarrow.Table`` (partition columns filled in)."""
    import pyarrow.dataset as pds

    return pds.Scanner.from_fragment(fragment, schema=schema).to_table()


def delta_problem(exc: BaseException) -> str:
    """``last_error`` of a table that cannot be read."""
    if isinstance(exc, DeltaUnavailable):
        return INSTALL_HINT
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"unreadable Delta table (waiting for a new version): {_one_line(exc)}"[:500]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
