"""Read-only SQL over the store's views (``mlops-console query`` and the TUI's query screen).

There is one way to run an analyst's SQL — ``stream_query`` (``run_query`` is it, collected) —
and both the command line and the TUI call it. It is read-only by construction, in two layers:

1. ``ensure_read_only`` parses the text with DuckDB's own parser (``duckdb.extract_statements``)
   and accepts exactly one statement of type SELECT — which covers ``SELECT``, ``WITH``,
   FROM-first queries, ``VALUES``, ``SHOW``, ``DESCRIBE`` and ``SUMMARIZE`` — or an ``EXPLAIN``
   of one. Everything else (INSERT, UPDATE, DELETE, COPY, ATTACH, DETACH, INSTALL, LOAD, CREATE,
   DROP, ALTER, SET/RESET/USE, PRAGMA, CALL, EXPORT, VACUUM, transactions, ...) is refused with
   one line.
2. ``sandbox(db)`` then restricts DuckDB itself: file access only below the store's
   ``.console/`` folder (``allowed_directories``; and the prediction source folders when the
   store reads adopted Parquet files there: ``store.adopted.read_dirs``), no other external access (so no
   ``read_text('/etc/shadow')``), and ``lock_configuration`` so no statement can undo it.
   ``stream_query`` sandboxes the connection it is given before running anything, so a
   connection that ran an analyst's query is sandboxed for good: the TUI gives it a store
   connection of its own (``open_query_store``), never the one its reports use.

Results stream: ``stream_query`` hands out Arrow record batches as DuckDB produces them
(``to_arrow_reader``), so a 10M-row result is printed or exported in bounded memory; a caller
that keeps rows (the TUI) decides how many. ``timeout`` (seconds; ``[query] timeout`` in
console.toml, ``--timeout`` on the command line) interrupts the query from a timer with
DuckDB's ``interrupt()``: a timed-out query is one ``UsageError`` line.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator
from typing import Any

import duckdb

from console import durations
from console.errors import UsageError
from console.store.adopted import read_dirs
from console.store.snapshot import StoreSnapshot
from console.store.sql import literal

_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+ANALY[SZ]E)?\b", re.IGNORECASE)
_SECONDS_ONLY = re.compile(r"\s*\d+(?:\.\d+)?\s*")  # a timeout may also be a plain number of seconds
BATCH_ROWS = 10_000  # rows per streamed batch


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


def parse_timeout(value: Any, what: str = "timeout") -> float | None:
    """Seconds from a duration (``"30s"``, ``"2m"``, ``"500ms"``, ``console.durations``) or a
    number of seconds (``30``, ``"30"``); ``None`` for no limit (``0``, ``"0"``, ``"none"``,
    ``"off"``, or nothing given)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off")):
        return None
    if isinstance(value, bool):
        raise UsageError(f"bad {what} {value!r}: {durations.HINT}, or 0 for none")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif _SECONDS_ONLY.fullmatch(str(value)):
        seconds = float(value)
    else:
        seconds = durations.seconds(value, what)
    if seconds < 0:
        raise UsageError(f"bad {what} {value!r}: must not be negative")
    return seconds or None


def configured_timeout(config: dict[str, Any] | None) -> float | None:
    """``[query] timeout`` of a console.toml (``None``: no limit)."""
    section = (config or {}).get("query", {})
    if not isinstance(section, dict):
        raise UsageError("console.toml: [query] must be a table")
    return parse_timeout(section.get("timeout"), "[query] timeout in console.toml")


def _sandboxed(cur: Any) -> bool:
    ((locked, external),) = cur.execute(
        "SELECT current_setting('lock_configuration'), current_setting('enable_external_access')").fetchall()
    return bool(locked) and not external


def sandbox(db: StoreSnapshot) -> None:
    """Restrict the store's DuckDB to reading its own files, irreversibly for this process."""
    cur = db.cursor()  # the settings below are the database's, whichever cursor sets them
    try:
        if _sandboxed(cur):
            return
        try:
            if db.store_dir is not None:
                dirs = [str(db.store_dir).rstrip("/") + "/", *read_dirs(db.store_dir, db.config)]  # adopted sources
                cur.execute(f"SET allowed_directories = [{', '.join(literal(d) for d in dirs)}]")
            cur.execute("SET enable_external_access = false")
            cur.execute("SET lock_configuration = true")
        except duckdb.Error:
            pass  # already locked
        if not _sandboxed(cur):  # never run an analyst's SQL on a connection that is not sandboxed
            raise UsageError("the query connection could not be sandboxed; refusing to run SQL")
    finally:
        cur.close()


def view_columns(db: StoreSnapshot, views) -> list[tuple[str, str, str]]:
    """``(view, column, DuckDB type)`` of each of the snapshot's ``views``, in column order."""
    names = list(views)
    cur = db.cursor()
    try:
        return [tuple(r) for r in cur.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND list_contains(?, table_name) "
            "ORDER BY table_name, ordinal_position", [names]).fetchall()]
    finally:
        cur.close()


def open_query_store(ws: Any, stages=None, production=None, training=None) -> StoreSnapshot:
    """A store connection of its own for analysts' SQL, sandboxed (see ``sandbox``)."""
    from console.store.db import open_store

    db = open_store(ws, stages=stages, production=production, training=training)
    sandbox(db)
    return db


def _unique(cols: list[str]) -> list[str]:
    names: list[str] = []
    for c in cols:  # SELECT 1 AS a, 2 AS a: keep both columns
        name, k = c, 1
        while name in names:
            k += 1
            name = f"{c}_{k}"
        names.append(name)
    return names


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class QueryStream:
    """A running read-only query: ``columns`` (unique names), ``types`` (DuckDB type names),
    and ``batches()`` — pyarrow ``RecordBatch``es as DuckDB produces them. ``cancel()`` (any
    thread) interrupts it; ``close()`` releases it. Use it as a context manager."""

    def __init__(self, db: StoreSnapshot, sql: str, timeout: float | None = None, batch_rows: int = BATCH_ROWS):
        stmt = ensure_read_only(sql)
        sandbox(db)
        self.timeout = timeout
        self.timed_out = False
        self.cancelled = False
        self._db = db  # the snapshot stays (and its views with it) while the query streams
        self._cur = db.cursor()
        self._timer: threading.Timer | None = None
        if timeout:
            self._timer = threading.Timer(timeout, self._expire)
            self._timer.daemon = True
            self._timer.start()
        self._batch_rows = batch_rows
        self._stop = threading.Event()  # the producer thread of batches(), stopped by close()
        self._producer: threading.Thread | None = None
        try:
            self._rel = self._cur.sql(stmt)  # binds the query (names, types); runs nothing yet
            self.columns = _unique(list(self._rel.columns)) if self._rel is not None else []
            self.types = [str(t) for t in self._rel.types] if self._rel is not None else []
        except Exception as exc:
            self.close()
            raise self._error(exc) from None

    def _expire(self) -> None:
        self.timed_out = True
        self._interrupt()

    def _interrupt(self) -> None:
        try:
            self._cur.interrupt()
        except Exception:  # noqa: BLE001 - already finished or closed
            pass

    def cancel(self) -> None:
        self.cancelled = True
        self._interrupt()

    def _error(self, exc: BaseException) -> UsageError:
        if self.timed_out:
            return UsageError(f"query timed out after {self.timeout:g}s (raise [query] timeout in "
                              "console.toml or --timeout)")
        if self.cancelled:
            return UsageError("query cancelled")
        if isinstance(exc, UsageError):
            return exc
        return UsageError(f"query failed: {_first_line(exc)}")

    def batches(self) -> Iterator[Any]:
        """The result's record batches, renamed to ``columns`` (``UsageError`` on failure).

        DuckDB runs the query in a producer thread that hands at most two batches ahead to
        this generator (bounded memory); the caller's thread only waits on a queue, so a
        ctrl-C (``KeyboardInterrupt``) reaches it at once — and stopping early, failing or
        being interrupted cancels the query (``interrupt()``) before the generator ends."""
        if self._rel is None:
            return
        import pyarrow as pa

        handoff: queue.Queue = queue.Queue(maxsize=2)
        stop = self._stop

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for batch in self._rel.to_arrow_reader(self._batch_rows):
                    if batch.num_rows and not put(("batch", batch)):
                        return
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                put(("error", exc))
            else:
                put(("done", None))

        producer = self._producer = threading.Thread(target=produce, name="query-stream", daemon=True)
        producer.start()
        finished = False
        try:
            while True:
                kind, item = handoff.get()
                if kind == "done":
                    finished = True
                    break
                if kind == "error":
                    finished = True
                    raise self._error(item) from None
                yield pa.RecordBatch.from_arrays(item.columns, names=self.columns)
        finally:
            stop.set()
            if not finished:
                self.cancel()
            producer.join()
        if self.timed_out or self.cancelled:  # interrupted between two batches
            raise self._error(RuntimeError("interrupted"))

    def close(self) -> None:
        """Stop the query and its producer thread, then release the cursor. A ``with`` block
        left by an exception (ctrl-C while rows are written) may close the stream before its
        ``batches()`` generator is finalized: the producer is stopped here, so no thread is
        still inside DuckDB when the interpreter exits (that aborts the process)."""
        if self._timer is not None:
            self._timer.cancel()
        producer = self._producer
        if producer is not None and producer.is_alive():
            self._stop.set()
            self._interrupt()
            producer.join()
        try:
            self._cur.close()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> QueryStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def zoned(batch: Any, text: bool = False) -> Any:
    """``batch`` (a pyarrow ``RecordBatch``) with every timestamp column stamped with its zone,
    never naive: a ``TIMESTAMP`` (the store keeps UTC) is marked UTC, a ``TIMESTAMPTZ`` converted
    to UTC. ``text=True`` writes them as ISO 8601 text with ``Z`` (``2026-11-12T10:00:00Z``,
    as ``windows.iso``) — what a CSV or JSON export holds; otherwise they stay timestamps with
    the zone UTC (Parquet's "adjusted to UTC"). Every export of an analyst's query goes through
    it: ``mlops-console query --format csv/json`` and the TUI's CSV and Parquet exports."""
    import pyarrow as pa

    from console.analytics.windows import iso

    arrays, changed = [], False
    for col in batch.columns:
        t = col.type
        if pa.types.is_timestamp(t):
            if t.unit == "ns":  # Python's datetime stops at microseconds
                col, t = col.cast(pa.timestamp("us", tz=t.tz), safe=False), pa.timestamp("us", tz=t.tz)
            utc = col.cast(pa.timestamp(t.unit, tz="UTC"))  # naive: taken as UTC; aware: converted
            col = pa.array([iso(v) for v in utc.to_pylist()], pa.string()) if text else utc
            changed = True
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names) if changed else batch


def stream_query(db: StoreSnapshot, sql: str, timeout: float | None = None, batch_rows: int = BATCH_ROWS) -> QueryStream:
    """Start the read-only ``sql`` on ``db`` (sandboxing it first): a ``QueryStream``.
    ``UsageError`` (one line) on refusal, SQL error, timeout or cancel."""
    return QueryStream(db, sql, timeout=timeout, batch_rows=batch_rows)


def run_query(db: StoreSnapshot, sql: str, max_rows: int | None = None, timeout: float | None = None) -> list[dict[str, Any]]:
    """Rows of a read-only query as a list of dicts (``stream_query``, collected; at most
    ``max_rows``)."""
    rows: list[dict[str, Any]] = []
    with stream_query(db, sql, timeout=timeout) as q:
        for batch in q.batches():
            rows += batch.to_pylist()
            if max_rows is not None and len(rows) >= max_rows:
                del rows[max_rows:]
                break
    return rows
