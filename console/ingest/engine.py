"""The ingester: one pass over every source, exactly once across crashes.

A pass (``Ingester.run_once``), under the ingest lock:

1. the store's writer (``store.writer.BatchWriter.begin``) reads ``checkpoint.json``, deletes
   orphan parts of an uncommitted batch (a crashed run) and loads the dedupe keys of committed
   parts (kept in memory between passes of one process);
2. match source files to streams (``sources``) and read each from where its stream stopped,
   in blocks of complete lines (a last line without ``\\n`` waits) or Parquet record batches
   (``blocks``; a Delta table: the record batches of the data files its new versions added,
   ``delta``), parsed by worker threads and handled strictly in order;
3. parse, validate, quarantine, dedupe, convert features — buffered into a ``batch.Batch``;
4. when the batch is full (or the pass ends): hand it, with the pending checkpoint (the new
   stream positions), to the writer, which writes its parts durably and then the checkpoint
   naming the batch. Only then does the batch exist. At the end of the pass the writer
   compacts folders of small parts.

This module decides what is read and what goes into a batch; it never writes a store file
itself. A ``kill -9`` anywhere leaves either the old checkpoint (the batch's parts are
orphans, and the next pass re-reads the same bytes) or the new one: nothing lost, nothing twice.
"""
from __future__ import annotations

import copy
import datetime as dt
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from console import clock
from console.errors import WorkspaceError
from console.ingest import adopt, delta, formats
from console.ingest.batch import Batch, IngestResult, Pending
from console.ingest.blocks import (
    READ_BYTES,
    Oversized,
    iter_blocks,
    parquet_problem,
    parquet_raw,
    parquet_whole,
    pos,
    skip,
    tag_parquet,
)
from console.ingest.formats import RAW_KEEP, LineBlock
from console.ingest.gzstream import GzipReader
from console.ingest.limits import limits_from
from console.ingest.lock import IngestLock
from console.ingest.normalize import FeatureCatalog
from console.ingest.sources import (
    FP_BYTES,
    SourceFile,
    assign_streams,
    discover,
    fingerprint,
    follow_links_setting,
    read_prefix,
)
from console.store import compact, duck
from console.store.checkpoint import Checkpoint, SourceState
from console.store.keys import HASHER
from console.store.layout import StoreLayout
from console.store.registry import Registry, load_registry, registry_signature
from console.store.writer import INDEX_MIN_NEW, BatchWriter, run_on
from console.workspace import Workspace

QUARANTINE_BYTES = 64 << 20  # the batch is committed once its quarantined records hold this much raw text


class LockBusy(Exception):
    """Another console holds the ingest lock."""

    def __init__(self, pid: int | None):
        super().__init__(f"another console (pid {pid or '?'}) is ingesting")
        self.pid = pid


@dataclass
class _Job:
    """One queued unit of reading: a parsed block (its parse running in a worker), an
    over-long line, a Parquet record batch, a Delta record batch, the end of a Delta version's
    new data (``item``: the version), or the end of a file (``item``: content size)."""

    f: SourceFile
    st: SourceState
    what: str  # block | oversized | parquet | delta | delta_end | end
    item: object
    fut: Future | None = None
    rows: int = 0  # records it holds (to bound the read-ahead)
    error: str | None = None  # end: why reading stopped before the end of the file (its last_error)


PREFETCH = 4  # jobs queued ahead of the one being handled (parsing in the workers meanwhile)
PREFETCH_ROWS = 200_000  # ... and records in them, beyond the next two jobs
PARQUET_ROWS = 262_144  # rows per Parquet record batch (and the largest file read whole)
SMALL_FRAME = 65_536  # blocks with fewer rows wait to be validated together
PENDING_ROWS = 131_072
PENDING_BYTES = 32 << 20  # ... or blocks holding this many source bytes
ADOPT_GROUP_ROWS = 200_000  # records of Parquet files to adopt checked by one worker job (two run at once)


class Ingester:
    """Reads the sources of a workspace into its store. Not thread-safe: one per thread."""

    def __init__(
        self,
        ws: Workspace,
        batch_rows: int = 500_000,
        sync: bool = True,
        on_batch: Callable[[int, IngestResult], None] | None = None,
        read_bytes: int = READ_BYTES,
        compact_at: int = compact.MAX_SMALL_PARTS,
        retire_grace_s: float = compact.RETIRE_GRACE_S,
        index_min_new: int = INDEX_MIN_NEW,
    ):
        self.ws = ws
        self.layout = StoreLayout(ws.store_dir)
        self.lock = IngestLock(self.layout.lock_path)
        self.batch_rows = batch_rows
        self.on_batch = on_batch
        self.read_bytes = read_bytes
        self.writer = BatchWriter(self.layout, self.submit, sync=sync, compact_at=compact_at,
                                  retire_grace_s=retire_grace_s, index_min_new=index_min_new)
        self._pool: ThreadPoolExecutor | None = None
        self._registry: Registry | None = None
        self._reg_sig: tuple | None = None
        self.follow_links = follow_links_setting(ws)
        self._links_reported: set[str] = set()
        self.limits = limits_from(ws.section("ingest"), str(ws.config_path))
        self.adopt_parquet = adopt_setting(ws.section("ingest"), str(ws.config_path))
        # set (from any thread) to end the running pass early: it commits what it has read and
        # leaves the streams it has not reached for the next pass (a console shutting down)
        self.halt = threading.Event()

    def submit(self, fn, *args) -> Future:
        """Run ``fn`` on this ingester's two worker threads (parsing ahead, writing parts);
        inline when no thread can be started (the result is the same, only slower)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mlops-console-ingest-io")
        return run_on(self._pool, fn, *args)

    def close(self) -> None:
        """Stop the worker threads (they also stop with the process)."""
        self.writer.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._pool = None

    # -- the pass ------------------------------------------------------------------------
    def run_once(self, wait: float = 0.0) -> IngestResult:
        """One pass over all sources; ``LockBusy`` when another console holds the lock."""
        if not self.lock.acquire(wait):
            raise LockBusy(self.lock.holder_pid())
        try:
            return self._pass()
        except BaseException:
            self.writer.forget()  # in-memory state may be ahead of the store: rebuild next time
            raise
        finally:
            self.writer.settle()  # no background commit may outlive the pass (and the lock)
            self.lock.release()

    def _load_registry(self) -> Registry:
        sig = registry_signature(self.ws.registry)
        if self._registry is None or sig != self._reg_sig:
            self._registry = load_registry(self.ws.registry, self.ws.root)
            self._reg_sig = sig
        return self._registry

    def _discover(self, cp: Checkpoint, result: IngestResult) -> list:
        """The source files of this pass; links not followed, and folders or files that cannot
        be read (``permission denied``), go into ``cp.skipped`` (the ``ingest_status`` rows
        saying why) and, the first time this ingester sees them, into ``result.errors`` (the
        warnings ``ingest`` prints)."""
        roots = [*self.ws.predictions, *self.ws.labels]
        skipped: dict[str, dict[str, str]] = {"predictions": {}, "labels": {}}
        files = [f for kind, kroots in (("predictions", self.ws.predictions), ("labels", self.ws.labels))
                 for f in discover(kroots, kind, self.follow_links, roots, skipped[kind])]
        cp.skipped = {p: [kind, why] for kind, links in skipped.items() for p, why in links.items()}
        for path, (_kind, why) in sorted(cp.skipped.items()):
            if path not in self._links_reported:
                result.errors.append(f"{path}: {why}")
        self._links_reported = set(cp.skipped)
        return files

    def _pass(self) -> IngestResult:
        committed, warning = self.writer.begin()
        registry = self._load_registry()
        pending = copy.deepcopy(committed)
        # ``hasher`` names the hash in the parts' ``_key`` columns. It stays what the first
        # batch used: when polars changes its hash, keys are recomputed from the stored
        # strings on every load (slower, never wrong) — delete .console/ to start afresh.
        pending.hasher = committed.hasher or HASHER
        pending.store_id = committed.store_id or uuid.uuid4().hex
        run = _Run(self, pending, FeatureCatalog(pending, registry))
        if warning is not None:
            run.result.errors.append(warning)
        files = self._discover(pending, run.result)
        assigned = assign_streams(pending, files)
        run.plan_adoption(assigned)
        for f, sid in assigned:
            if self.halt.is_set():
                break  # the streams not reached keep their place: the next pass reads them
            st = pending.sources[sid]
            try:
                run.read_stream(f, st)
            except Exception as exc:  # noqa: BLE001 - no input may stop the pass
                if exc is run.fatal:
                    raise
                run.fail(f, st, exc)
        run.pump()
        run.flush(final=True)
        if not self.halt.is_set():
            self.writer.compact(run.cp)  # merge folders of many small parts; delete long-retired ones
        self.writer.end(run.cp, run.keys_suspect)
        return run.result


class _Run:
    """The state of one pass: the pending checkpoint and the batch being filled."""

    def __init__(self, ing: Ingester, cp: Checkpoint, catalog: FeatureCatalog):
        self.ing = ing
        self.cp = cp
        self.catalog = catalog
        self.result = IngestResult()
        self.keys_suspect = False
        self.pending: list[Pending] = []
        self.pending_rows = 0
        self.pending_bytes = 0
        self.halted: set[int] = set()  # streams whose pending block failed validation
        self.failed: set[int] = set()  # streams that raised while being read or handled
        self.stopped: dict[int, str] = {}  # streams whose file is damaged from a point on: why
        self.queue: deque[_Job] = deque()
        self.queued_rows = 0
        self.fatal: BaseException | None = None  # a failed commit: the pass stops
        self.adopted: list[adopt.Adopted] = []  # Parquet files adopted in place in this batch
        self.adopt_plan: dict[str, tuple[int, str, int]] = {}
        self.reread: set[str] = set()
        self._reset_batch()

    def _reset_batch(self) -> None:
        self.batch = Batch(self.cp.batch + 1)

    def _process(self, entries: list[Pending]) -> None:
        """Validate, dedupe and buffer parsed blocks of one kind (all or nothing)."""
        self.batch.add(entries, known=self.cp.features, keys=self.ing.writer.keys, catalog=self.catalog,
                       limits=self.ing.limits)

    # -- reading -------------------------------------------------------------------------
    # Reading only queues work: every block (of any file) is parsed by a worker thread while
    # the main thread reads the next blocks and handles the oldest parsed one. The queue is
    # handled strictly in order, so streams advance and labels arrive in file order, exactly
    # as if each block were read, parsed and handled one after the other.
    def read_stream(self, f: SourceFile, st: SourceState) -> None:
        if str(f.path) in self.adopt_plan and self._adopt(f, st):
            return
        if str(f.path) in self.reread and f.fmt == "parquet":
            self._read_parquet(f, st)  # withdrawn and no longer well-formed: rewritten from its first row
            return
        if (f.ino, f.size, f.mtime_ns) == (st.ino, st.size, st.mtime_ns) and (st.fp_len or st.fp and f.fmt == "delta"):
            return  # unchanged since we last looked
        if f.fmt == "delta":
            self._read_delta(f, st)
        elif f.fmt == "parquet":
            self._read_parquet(f, st)
        else:
            self._read_lines(f, st)

    def _enqueue(self, job: _Job) -> None:
        self.queue.append(job)
        self.queued_rows += job.rows
        # bounded read-ahead: a few jobs, and not too many rows (memory follows the batch
        # size, not the size of the files), but always the next job parsing while one is handled
        while len(self.queue) > PREFETCH or (len(self.queue) > 2 and self.queued_rows > PREFETCH_ROWS):
            self._handle_next()

    def pump(self) -> None:
        """Handle every queued job, oldest first."""
        while self.queue:
            self._handle_next()

    def _handle_next(self) -> None:
        job = self.queue.popleft()
        self.queued_rows -= job.rows
        self._handle(job)

    def _handle(self, job: _Job) -> None:
        f, st = job.f, job.st
        if id(st) in self.failed:
            return  # an earlier job of this stream failed: it stops here for this pass
        if job.what == "end":
            self._end_of_file(job)
            return
        if id(st) in self.halted or id(st) in self.stopped:
            return  # a pending block of this file failed, or the file is damaged here: stop
        if job.what == "delta_end":
            self._end_of_version(job)
            return
        try:
            if job.what == "oversized":
                self.batch.add_oversized(f, st, job.item)
                return
            if job.what == "adopt":
                self._adopted(job)
                return
            if job.what == "block":
                block = job.item
                self._ingest_block(f, st, block, job.fut.result())
                if id(st) in self.halted:
                    return
                st.offset = block.base + len(block.data)
                st.line += block.n
            elif job.what == "delta":  # a record batch of a data file of a Delta table
                target, row, file_row, part, total = job.item
                try:
                    df, tbl = job.fut.result()
                except (pa.ArrowException, OSError) as exc:  # a damaged data file: wait for a new version
                    self.stopped[id(st)] = delta.delta_problem(exc)
                    return
                # ``source`` and ``line`` of its rows: the data file and the row in it
                self._ingest_frame(part, st, df, parquet_raw(tbl, file_row), (row, row), tbl.nbytes)
                if id(st) in self.halted:
                    return
                st.target, st.total = target, total
                st.offset = st.line = row + tbl.num_rows
            else:  # a Parquet record batch
                row = job.item
                try:
                    df, tbl = job.fut.result()
                except (pa.ArrowException, OSError) as exc:  # the file is damaged here (others: fail below)
                    self.stopped[id(st)] = parquet_problem(exc, row)
                    return

                self._ingest_frame(f, st, df, parquet_raw(tbl, row), (row, row), tbl.nbytes)
                if id(st) in self.halted:
                    return
                st.offset = st.line = row + tbl.num_rows
            if self.batch.size() + self.pending_rows >= self.ing.batch_rows or self.batch.quar_bytes >= QUARANTINE_BYTES:
                self.flush()
        except Exception as exc:  # noqa: BLE001 - no input may stop the pass
            if exc is self.fatal:
                raise
            self.fail(f, st, exc)

    def fail(self, f: SourceFile, st: SourceState, exc: Exception) -> None:
        """This stream stops for this pass (not marked as seen: the next pass retries it)."""
        st.last_error = _describe(exc)
        self.result.errors.append(f"{f.path}: {st.last_error}")
        self.keys_suspect = True
        self.failed.add(id(st))

    def _end_of_file(self, job: _Job) -> None:
        """The file has been read as far as it goes: it is "seen" (read again once it changes),
        and its ``last_error`` says why reading stopped short of its end (None: it did not)."""
        f, st = job.f, job.st
        if job.item is not None:  # lines: how far the content goes
            if f.gz:
                st.total = max(st.offset, job.item)
            else:
                st.total = f.size
        if id(st) in self.halted:
            return  # not marked as seen: the next pass retries from where it stopped
        st.ino, st.size, st.mtime_ns = f.ino, f.size, f.mtime_ns
        error = self.stopped.get(id(st)) or job.error
        if error is not None and error != st.last_error:
            self.result.errors.append(f"{f.path}: {error}")
        st.last_error = error

    def _end_of_version(self, job: _Job) -> None:
        """Every new row of a Delta table's version has been read: once they validate (the
        pending blocks are processed now), that version is the one ingested."""
        st = job.st
        self.drain()
        if id(st) in self.halted or id(st) in self.failed:
            return  # the rows from where validation failed are read again next pass
        st.version, st.target = job.item[0], -1
        st.offset = st.line = st.total = job.item[1]  # (the size of that version's new data, in rows)

    def _read_delta(self, f: SourceFile, st: SourceState) -> None:
        """A Delta table (docs/formats.md, 'Delta Lake tables'): the rows of the data files each
        version added since the one ingested, read once — a version part-read when the last
        pass stopped is finished first (its files, in path order, from the row it reached)."""
        try:
            tid, latest = delta.table_id(f.path)
        except delta.DeltaUnavailable as exc:
            # not marked as seen: read as soon as the package is installed
            if st.last_error != str(exc):
                self.result.errors.append(f"{f.path}: {exc}")
            st.last_error = str(exc)
            return
        except Exception as exc:  # noqa: BLE001 - deltalake raises its own types for a bad log
            self._enqueue(_Job(f, st, "end", None, error=delta.delta_problem(exc)))
            return
        if st.fp and st.fp != tid:
            self.result.errors.append(f"{f.path}: another Delta table than before (its id changed): read from its "
                                      "first version (rows already stored count as duplicates)")
            st.version = st.target = -1
            st.offset = st.line = st.total = 0
        st.fp = tid
        plans: list[tuple[int, int, int]] = []  # (since, version, rows of its new data done)
        since = st.version
        if st.target >= 0:
            plans.append((st.version, st.target, st.offset))
            since = st.target
        if latest > since:
            plans.append((since, latest, 0))
        step = min(self.ing.batch_rows, PARQUET_ROWS)
        for since, version, done in plans:
            try:
                ch = delta.changes(f.path, since, version)
                sizes = [fr.count_rows() for fr in ch.files]
            except Exception as exc:  # noqa: BLE001 - deltalake and pyarrow raise many types
                self._enqueue(_Job(f, st, "end", None, error=delta.delta_problem(exc)))
                return
            self.result.errors += [f"{f.path}: {note}" for note in ch.notes]
            total, row = sum(sizes), 0
            try:
                for fr, n in zip(ch.files, sizes, strict=True):
                    if row + n <= done:
                        row += n
                        continue
                    part = SourceFile(_data_path(f.path, fr.path), f.kind, "delta", False, 0, 0, 0)
                    if n <= step:  # a small data file: read and tagged whole in a worker
                        skip_rows = max(done - row, 0)
                        fut = self.ing.submit(_delta_whole, fr, ch.schema, f.kind, skip_rows)
                        self._enqueue(_Job(f, st, "delta", (version, row + skip_rows, skip_rows, part, total), fut,
                                           n - skip_rows))
                        row += n
                        continue
                    file_row = 0
                    for batch in delta.read_batches(fr, ch.schema, step):
                        if row + batch.num_rows <= done:
                            row += batch.num_rows
                            file_row += batch.num_rows
                            continue
                        if row < done:
                            batch = batch.slice(done - row)
                            file_row += done - row
                            row = done
                        fut = self.ing.submit(tag_parquet, batch, f.kind, file_row)
                        self._enqueue(_Job(f, st, "delta", (version, row, file_row, part, total), fut, batch.num_rows))
                        row += batch.num_rows
                        file_row += batch.num_rows
            except Exception as exc:  # noqa: BLE001 - a damaged data file: the rows before it are still read
                self._enqueue(_Job(f, st, "end", None, error=delta.delta_problem(exc)))
                return
            self._enqueue(_Job(f, st, "delta_end", (version, total)))
        self._enqueue(_Job(f, st, "end", None))

    def _touch_fp(self, f: SourceFile, st: SourceState) -> None:
        if st.fp_len < FP_BYTES:
            prefix = f.prefix or read_prefix(f)
            if len(prefix) > st.fp_len:
                st.fp, st.fp_len = fingerprint(prefix), len(prefix)

    def _read_lines(self, f: SourceFile, st: SourceState) -> None:
        f.prefix = read_prefix(f)
        fh = GzipReader(f.path) if f.gz else open(f.path, "rb")  # noqa: SIM115 - closed below
        with fh:
            if st.fp_len and not f.gz:
                # the file we opened must still be the stream we matched (no rotation since)
                head = os.pread(fh.fileno(), st.fp_len, 0)
                if fingerprint(head) != st.fp:
                    self._enqueue(_Job(f, st, "end", None))
                    return
            self._touch_fp(f, st)
            if st.offset:
                if f.gz:
                    if not skip(fh, st.offset):
                        why = fh.problem or "incomplete gzip: its content is shorter than what was read before"
                        self._enqueue(_Job(f, st, "end", pos(fh, 0), error=why))
                        return
                else:
                    fh.seek(st.offset)
            offset, line, header = st.offset, st.line, st.header
            # (a .gz reader stops by itself where the file is cut short or damaged: see gzstream)
            for item in iter_blocks(fh, offset, line + 1, self.ing.read_bytes):
                if isinstance(item, Oversized):
                    self._enqueue(_Job(f, st, "oversized", item))
                    continue
                block, _end = item
                if f.fmt == "csv" and header is None:
                    # the first line is the header, not a record
                    first_end = int(block.ends[0]) + 1
                    header = st.header = formats.csv_header(block.data[:first_end])
                    st.offset, st.line = block.base + first_end, st.line + 1
                    rest = block.data[first_end:]
                    if not rest:
                        continue
                    block = LineBlock(rest, st.offset, st.line + 1)
                fut = self.ing.submit(formats.parse_block, block, f.kind, f.fmt, header, self.ing.limits.max_features_per_model)
                self._enqueue(_Job(f, st, "block", block, fut, block.n))
            problem = fh.problem if isinstance(fh, GzipReader) else None
            why = None if problem is None else f"{problem}; every complete line before it is ingested"
            self._enqueue(_Job(f, st, "end", pos(fh, offset) if f.gz else -1, error=why))

    def _ingest_block(self, f: SourceFile, st: SourceState, block: LineBlock, df: pl.DataFrame) -> None:

        def raw_of(lines: pl.Series) -> list[str]:
            idx = lines.to_numpy() - block.first_line
            starts = block.starts[idx]
            ends = np.minimum(block.ends[idx], starts + RAW_KEEP)
            data = block.data
            return [
                data[a:b].decode("utf-8", errors="replace") if b > a else ""
                for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
            ]

        self._ingest_frame(f, st, df, raw_of, (block.base, block.first_line - 1), len(block.data))

    # -- adopting Parquet files in place (``console.ingest.adopt``) ---------------------
    # Before reading, the files to adopt are planned from their footers and put in groups of
    # one column layout (up to a batch of rows each); a group is checked by one worker job,
    # two groups ahead of the file being handled. Each file is then handled in source order.
    def plan_adoption(self, assigned: list) -> None:
        self.adopt_plan: dict[str, tuple[int, str, int]] = {}  # path -> (group, fingerprint, records)
        self.groups: list[tuple[list[str], list[int], adopt.Plan]] = []
        self.group_futs: dict[int, Future] = {}
        self.reread: set[str] = set()  # withdrawn adoptions: read from the first row, this pass
        self.adopt_left = 0  # records of the planned files not handled yet (the key set's bitmap is sized for them)
        self.limit = duck.DEFAULT_LIMIT  # DuckDB's memory in ``adopt.check_group``
        if not self.ing.adopt_parquet:
            return
        self.limit = duck.checked(duck.memory_limit(self.ing.ws.config))  # (one line now, not an error per group)
        ts_max = None
        if self.ing.limits.max_future_skew_s is not None:
            ts_max = clock.now_naive() + dt.timedelta(seconds=self.ing.limits.max_future_skew_s)
        self.ts_max = ts_max
        files = [(f, sid) for f, sid in assigned if f.fmt == "parquet" and f.kind == "predictions"]
        self._withdraw_changed(files)
        open_group: dict[str, tuple[int, int]] = {}  # layout -> (group, rows)
        for f, sid in files:
            st = self.cp.sources[sid]
            path = str(f.path)
            if path not in self.reread:
                if (f.ino, f.size, f.mtime_ns) == (st.ino, st.size, st.mtime_ns) and st.fp_len:
                    continue
                if path in self.cp.adopted or st.offset:
                    continue  # adopted as it is (another inode); or read (partly) the usual way before
            try:
                fp = adopt.file_fingerprint(f.path)
                md = pq.ParquetFile(f.path).metadata
                p = adopt.plan(md.schema.to_arrow_schema())
            except Exception:  # noqa: BLE001 - unreadable: the usual path reports why
                continue
            if isinstance(p, str):
                continue
            gi, rows = open_group.get(p.schema, (-1, 0))
            if gi < 0 or rows + md.num_rows > min(self.ing.batch_rows, ADOPT_GROUP_ROWS):
                gi, rows = len(self.groups), 0
                self.groups.append(([], [], p))
            self.groups[gi][0].append(path)
            self.groups[gi][1].append(md.num_rows)
            open_group[p.schema] = (gi, rows + md.num_rows)
            self.adopt_plan[path] = (gi, fp, md.num_rows)
            self.adopt_left += md.num_rows

    def _withdraw_changed(self, files: list) -> None:
        """Withdraw, before reading anything, every adoption whose file changed or was renamed
        (its stream now at another path) — and every adoption of the same or a later batch that
        dropped duplicates (they may be duplicates of a withdrawn file's rows): their rows leave
        the store and each is read again from its first row, in source order, this pass (its
        quarantined records of the withdrawn batch are superseded by the new read's:
        ``checkpoint.withdrawn``). A deleted file is withdrawn too, and not read: its records
        leave the store with it (the store held them only there), its keys leave the key set,
        and its stream's ``last_error`` and a warning say so."""
        adopted = self.cp.adopted
        if not adopted:
            return
        by_sid = {a.sid: p for p, a in adopted.items()}
        gone: set[str] = set()
        seen = {str(f.path) for f, _ in files}
        deleted = set()
        for path in adopted:
            if path not in seen:
                try:
                    os.lstat(path)
                except FileNotFoundError:
                    deleted.add(path)  # (a file that exists but was not discovered is kept)
                except OSError:
                    pass
        gone |= deleted
        for f, sid in files:
            path = str(f.path)
            was = by_sid.get(sid)
            if was is not None and was != path:
                gone |= {was, path}  # renamed (rotated): adopted again where it is now
            a = adopted.get(path)
            if a is not None:
                try:
                    if adopt.file_fingerprint(f.path) != a.fp:
                        gone.add(path)
                except OSError:
                    gone.add(path)
        gone &= set(adopted)
        if not gone:
            return
        first = min(adopted[p].batch for p in gone)
        gone |= {p for p, a in adopted.items() if a.duplicates and a.batch >= first}
        withdrawn = self.ing.writer.withdraw(self.cp, sorted(gone))
        for path, was in withdrawn.items():
            st = self.cp.sources.get(was.sid)
            if st is not None:
                st.rows -= was.kept
                st.duplicates -= was.duplicates
            if path in deleted and (st is None or st.path == path):
                if st is not None:  # should it come back, it is read from its first row
                    st.last_error = f"adopted file gone: {was.kept} records no longer readable"
                    st.offset = st.line = st.ino = st.size = st.mtime_ns = 0
                self.result.errors.append(f"{path}: adopted file gone: {was.kept} records no longer readable")
                continue
            if st is not None:
                st.quarantined -= was.quarantined  # quarantined again by the new read
                st.offset = st.line = 0
                self.reread.add(st.path)
            self.cp.withdrawn.setdefault(path, []).append(was.batch)
            self.reread.add(path)

    def _group(self, gi: int) -> Future:
        for k in (gi, gi + 1):
            if k < len(self.groups) and k not in self.group_futs:
                paths, rows, p = self.groups[k]
                self.group_futs[k] = self.ing.submit(adopt.check_group, paths, rows, p, self.ts_max, self.limit)
        return self.group_futs[gi]

    def _adopt(self, f: SourceFile, st: SourceState) -> bool:
        """Queue the adoption of a planned Parquet prediction file; False when it is to be read
        the usual way."""
        planned = self.adopt_plan.get(str(f.path))
        if planned is None:
            return False
        gi, fp, rows = planned
        f.prefix = f.prefix or read_prefix(f)
        st.fp, st.fp_len = fingerprint(f.prefix), len(f.prefix)
        # (its records bound the read-ahead: a checked file waiting holds ~20 bytes a record)
        self._enqueue(_Job(f, st, "adopt", fp, self._group(gi), rows))
        return True

    def _adopted(self, job: _Job) -> None:
        """A checked file: adopted (with the batch being filled), or read the usual way."""
        f, st = job.f, job.st
        # taken out of its group's result: once handled, nothing holds what was checked (~50
        # bytes a record of keys and row numbers; kept to the end, 5 GB on 100M records)
        checked = job.fut.result().pop(str(f.path))
        self.drain()  # blocks before it dedupe first, as they would when read in order
        sid = next((k for k, v in self.cp.sources.items() if v is st), "")
        writer = self.ing.writer
        assert writer.keys is not None
        writer.keys.reserve(len(writer.keys) + self.adopt_left)  # (once: then it is large enough)
        self.adopt_left -= job.rows
        got = adopt.handle(checked, sid, writer.keys, self.catalog, self.cp.features,
                           self.ing.limits.max_features_per_model)
        if isinstance(got, str):
            # read the usual way, now: its blocks are handled before those of the files after
            # it (already queued), as if it had never been planned for adoption
            later, self.queue = self.queue, deque()
            try:
                self._read_parquet(f, st)
                self.pump()
            finally:
                self.queue.extend(later)
            return
        got.adoption.fp = job.item
        writer.keys.add(got.new_keys, presorted=True)
        self.adopted.append(got)
        res = self.batch.result
        res.predictions += got.kept
        res.duplicates += got.duplicates
        res.quarantined += got.quarantined
        st.rows += got.kept
        st.duplicates += got.duplicates
        st.quarantined += got.quarantined
        st.fp, st.fp_len = fingerprint(f.prefix), len(f.prefix)
        st.offset = st.line = st.total = checked.rows
        st.last_ingest = clock.now_naive().isoformat()
        self.batch.rows += checked.rows
        self.batch.adopted_rows += checked.rows
        self._end_of_file(_Job(f, st, "end", None))
        if self.batch.size() + self.pending_rows >= self.ing.batch_rows:
            self.flush()

    def _read_parquet(self, f: SourceFile, st: SourceState) -> None:
        f.prefix = read_prefix(f)
        try:
            pf = pq.ParquetFile(f.path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
            self._enqueue(_Job(f, st, "end", None, error=parquet_problem(exc, None)))
            return
        st.fp, st.fp_len = fingerprint(f.prefix), len(f.prefix)
        n_rows = st.total = pf.metadata.num_rows
        step = min(self.ing.batch_rows, PARQUET_ROWS)
        if st.offset < n_rows <= step:
            # a small file: read and tagged whole in a worker
            fut = self.ing.submit(parquet_whole, f.path, f.kind, st.offset)
            self._enqueue(_Job(f, st, "parquet", st.offset, fut, n_rows - st.offset))
        elif st.offset < n_rows:
            row = 0
            try:
                for batch in pf.iter_batches(batch_size=step):
                    n = batch.num_rows
                    if row + n <= st.offset:
                        row += n
                        continue
                    if row < st.offset:
                        batch = batch.slice(st.offset - row)
                        row = st.offset
                    fut = self.ing.submit(tag_parquet, batch, f.kind, row)
                    self._enqueue(_Job(f, st, "parquet", row, fut, batch.num_rows))
                    row += batch.num_rows
            except Exception as exc:  # noqa: BLE001 - damaged from here: the batches before it are still read
                self._enqueue(_Job(f, st, "end", None, error=parquet_problem(exc, row)))
                return
        self._enqueue(_Job(f, st, "end", None))

    # -- validating and buffering --------------------------------------------------------
    def _ingest_frame(
        self, f: SourceFile, st: SourceState, df: pl.DataFrame, raw_of, start: tuple[int, int], nbytes: int
    ) -> None:
        """Validate and buffer one parsed block. Small blocks (a small file, a few new lines)
        wait in ``pending`` and are validated together: the per-call cost of validation is
        larger than its per-row cost. ``nbytes``: the source bytes the block keeps in memory
        while it waits (its raw text is quarantined from them)."""
        if df.height == 0:
            return
        entry = Pending(f, st, df, raw_of, start)
        if df.height >= SMALL_FRAME:
            self.drain()
            self._process([entry])
            return
        self.pending.append(entry)
        self.pending_rows += df.height
        self.pending_bytes += nbytes
        if self.pending_rows >= PENDING_ROWS or self.pending_bytes >= PENDING_BYTES:
            self.drain()

    def drain(self) -> None:
        """Process the pending small blocks (together; one by one if that fails)."""
        if not self.pending:
            return
        pending, self.pending, self.pending_rows, self.pending_bytes = self.pending, [], 0, 0
        for kind in ("predictions", "labels"):
            group = [e for e in pending if e.f.kind == kind]
            if not group:
                continue
            try:
                self._process(group)
                continue
            except Exception:  # noqa: BLE001 - isolate the block that fails, below
                pass
            for e in group:
                if id(e.st) in self.halted:
                    continue
                try:
                    self._process([e])
                except Exception as exc:  # noqa: BLE001 - this stream stops here for this pass
                    e.st.offset, e.st.line = e.start
                    e.st.ino = e.st.size = e.st.mtime_ns = 0  # not "seen": retried next pass
                    e.st.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    self.result.errors.append(f"{e.f.path}: {e.st.last_error}")
                    self.halted.add(id(e.st))
                    self.keys_suspect = True

    # -- committing ----------------------------------------------------------------------
    def flush(self, final: bool = False) -> None:
        """Hand the batch to the store's writer: its parts, then the checkpoint naming it,
        committed in the background while this thread reads on (``final``: wait for it)."""
        self.drain()
        self.wait_commit()
        writer = self.ing.writer
        batch = self.batch
        if batch.rows == 0 and writer.unchanged(self.cp):
            return
        batch.result.batches = 1
        adopted, self.adopted = self.adopted, []
        writer.write_batch(self.cp, batch.preds, batch.labels, batch.quar, token=batch.result,
                           adopt=[(a.path, a.adoption, a.keys, a.excluded, a.quarantine) for a in adopted])
        self._reset_batch()
        if final:
            self.wait_commit()

    def wait_commit(self) -> None:
        """Wait for the batch being committed in the background. Should that fail, the pass
        stops (the in-memory state is ahead of the store; the next pass re-reads from it)."""
        try:
            done = self.ing.writer.wait()
        except BaseException as exc:
            self.fatal = exc
            raise
        if done is None:
            return
        batch, result = done
        self.result.add(result)
        if self.ing.on_batch is not None:
            self.ing.on_batch(batch, result)


def _delta_whole(fragment, schema, kind: str, skip_rows: int) -> tuple[pl.DataFrame, object]:
    """A small data file of a Delta table from row ``skip_rows`` on, read and tagged (in a worker)."""
    tbl = delta.read_whole(fragment, schema)
    if skip_rows:
        tbl = tbl.slice(skip_rows)
    return tag_parquet(tbl, kind, skip_rows)


def _data_path(table: Path, rel: str) -> Path:
    """The path of a Delta table's data file (the ``source`` of its rows)."""
    p = Path(rel)
    return p if p.is_absolute() else Path(table) / p


def adopt_setting(section: dict, where: str) -> bool:
    """``[ingest] adopt_parquet`` (default false): adopt well-formed Parquet prediction files in
    place instead of rewriting them (``console.ingest.adopt``)."""
    value = section.get("adopt_parquet", False)
    if not isinstance(value, bool):
        raise WorkspaceError(f"{where}: [ingest] adopt_parquet must be true or false, not {value!r}")
    return value


def _describe(exc: BaseException) -> str:
    """A source's ``last_error`` for an exception: one line, without the path (the row has it)."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:500]
    return f"{type(exc).__name__}: {exc}"[:500]
