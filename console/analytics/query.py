"""Read-only SQL over the store's views (CONTRACT §5 ``query``).

Read-only by construction, in two layers:

1. ``ensure_read_only`` parses the text with DuckDB's own parser (``duckdb.extract_statements``)
   and accepts exactly one statement of type SELECT — which covers ``SELECT``, ``WITH``,
   FROM-first queries, ``VALUES``, ``SHOW``, ``DESCRIBE`` and ``SUMMARIZE`` — or an ``EXPLAIN``
   of one. Everything else (INSERT, UPDATE, DELETE, COPY, ATTACH, DETACH, INSTALL, LOAD, CREATE,
   DROP, ALTER, SET/RESET/USE, PRAGMA, CALL, EXPORT, VACUUM, transactions, ...) is refused with
   one line.
2. ``sandbox(db)`` (used by the CLI, which owns its process) then restricts DuckDB itself:
   file access only below the store's ``.console/`` folder (``allowed_directories``), no other
   external access, and ``lock_configuration`` so no statement can undo it.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from console.errors import UsageError

_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+ANALY[SZ]E)?\b", re.IGNORECASE)


def _kind(stmt: Any) -> str:
    return str(getattr(stmt.type, "name", stmt.type)).upper()


def ensure_read_only(sql: str) -> str:
    """The single read statement in ``sql``; ``UsageError`` (one line) for anything else."""
    if not sql or not sql.strip():
        raise UsageError("empty query")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(f"SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise UsageError(f"one statement at a time, got {len(statements)}")
    stmt = statements[0]
    kind = _kind(stmt)
    if kind == "EXPLAIN":
        inner = _EXPLAIN.sub("", stmt.query, count=1)
        try:
            inner_st = duckdb.extract_statements(inner)
        except duckdb.Error:
            inner_st = []
        if len(inner_st) != 1 or _kind(inner_st[0]) != "SELECT":
            raise UsageError("refused: only EXPLAIN of a read (SELECT) is allowed; the console's SQL is read-only")
        return stmt.query
    if kind != "SELECT":
        raise UsageError(f"refused: {kind} statements are not allowed; the console's SQL is read-only "
                         "(SELECT, WITH, FROM, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN)")
    return stmt.query


def sandbox(db: Any) -> None:
    """Restrict the store's DuckDB to reading its own files, irreversibly for this process."""
    ws = getattr(db, "ws", None)
    conn = db.conn
    dirs = []
    if ws is not None:
        dirs.append(str(ws.store_dir).rstrip("/") + "/")
    try:
        if dirs:
            conn.execute("SET allowed_directories = " + "[" + ", ".join(
                "'" + d.replace("'", "''") + "'" for d in dirs) + "]")
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
    except duckdb.Error:
        pass  # already locked


def run_query(db: Any, sql: str, max_rows: int | None = None) -> list[dict[str, Any]]:
    """Rows of a read-only query as a list of dicts (``UsageError`` on refusal or SQL error)."""
    stmt = ensure_read_only(sql)
    cur = db.cursor()
    try:
        res = cur.execute(stmt)
        cols = [d[0] for d in res.description] if res.description else []
        rows = res.fetchmany(max_rows) if max_rows is not None else res.fetchall()
    except duckdb.Error as exc:
        raise UsageError(f"query failed: {str(exc).splitlines()[0]}") from None
    names: list[str] = []
    for c in cols:  # SELECT 1 AS a, 2 AS a: keep both columns
        name, k = c, 1
        while name in names:
            k += 1
            name = f"{c}_{k}"
        names.append(name)
    return [dict(zip(names, r, strict=True)) for r in rows]
