"""The ingester: one pass over every source, exactly once across crashes.

A pass (``Ingester.run_once``), under the ingest lock:

1. read ``checkpoint.json``; delete orphan parts of an uncommitted batch (a crashed run);
2. load the dedupe keys of committed parts (kept in memory between passes of one process);
3. match source files to streams (``sources``) and read each from where its stream stopped,
   in blocks of complete lines (a last line without ``\\n`` waits);
4. parse, validate, quarantine, dedupe, convert features — buffered into a batch;
5. when the batch is full (or the pass ends): write its parts durably, then the checkpoint
   naming the batch and the new stream positions. Only then does the batch exist.

A ``kill -9`` anywhere leaves either the old checkpoint (the batch's parts are orphans, and
the next pass re-reads the same bytes) or the new one: nothing lost, nothing twice.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from console import clock
from console.fsio import TempFile, fsync_dir, publish, write_atomic
from console.ingest import formats
from console.ingest.formats import MAX_LINE, RAW_KEEP, LineBlock
from console.ingest.gzstream import GzipReader
from console.ingest.limits import limits_from
from console.ingest.lock import IngestLock
from console.ingest.normalize import (
    FeatureCatalog,
    apply_features,
    split_by,
    validate_labels,
    validate_predictions,
)
from console.ingest.sources import (
    FP_BYTES,
    SourceFile,
    assign_streams,
    discover,
    fingerprint,
    follow_links_setting,
    read_prefix,
)
from console.store import compact
from console.store.checkpoint import Checkpoint, SourceState, read_checkpoint, write_checkpoint
from console.store.keys import HASHER, KeySet, key_expr, load_index, save_index
from console.store.layout import PART_RE, StoreLayout
from console.store.registry import Registry, load_registry, registry_signature
from console.store.schema import KEY_COLUMN, LABEL_FIELDS, PREDICTION_COLUMNS
from console.workspace import Workspace

READ_BYTES = 8 << 20
BLOCK_LINES = 65_536  # lines per parsed block, at most
QUARANTINE_BYTES = 64 << 20  # the batch is committed once its quarantined records hold this much raw text
INDEX_MIN_NEW = 1_000_000  # save the key index once this many keys arrived since the last one


@dataclass
class IngestResult:
    """New rows of one pass (docs/formats.md, 'The ingest command')."""

    predictions: int = 0
    labels: int = 0
    quarantined: int = 0
    duplicates: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "predictions": self.predictions,
            "labels": self.labels,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
        }

    def add(self, other: IngestResult) -> None:
        self.predictions += other.predictions
        self.labels += other.labels
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates
        self.batches += other.batches
        self.errors += other.errors


class LockBusy(Exception):
    """Another console holds the ingest lock."""

    def __init__(self, pid: int | None):
        super().__init__(f"another console (pid {pid or '?'}) is ingesting")
        self.pid = pid


@dataclass
class _Oversized:
    offset: int
    line: int
    raw: str
    end: int


@dataclass
class _Pending:
    """A parsed block waiting to be validated with others; ``start`` = (offset, line) before it."""

    f: SourceFile
    st: SourceState
    df: pl.DataFrame
    raw_of: Callable[[pl.Series], list[str]]
    start: tuple[int, int]


@dataclass
class _Job:
    """One queued unit of reading: a parsed block (its parse running in a worker), an
    over-long line, a Parquet record batch, or the end of a file (``item``: content size)."""

    f: SourceFile
    st: SourceState
    what: str  # block | oversized | parquet | end
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
        self.sync = sync
        self.on_batch = on_batch
        self.read_bytes = read_bytes
        self.compact_at = compact_at
        self.retire_grace_s = retire_grace_s
        self.index_min_new = index_min_new
        self._keys: KeySet | None = None
        self._keys_batch = 0
        self._keys_store = ""
        self._pool: ThreadPoolExecutor | None = None
        self._committer: ThreadPoolExecutor | None = None
        self._run: _Run | None = None
        self._index_batch = 0
        self._index_size = 0
        self._registry: Registry | None = None
        self._reg_sig: tuple | None = None
        self.follow_links = follow_links_setting(ws)
        self._links_reported: set[str] = set()
        self.limits = limits_from(ws.section("ingest"), str(ws.config_path))

    def submit(self, fn, *args) -> Future:
        """Run ``fn`` on this ingester's two worker threads (parsing ahead, writing parts);
        inline when no thread can be started (the result is the same, only slower)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mlops-console-ingest-io")
        try:
            return self._pool.submit(fn, *args)
        except RuntimeError:  # "can't start new thread", or shut down
            fut: Future = Future()
            try:
                fut.set_result(fn(*args))
            except Exception as exc:  # noqa: BLE001 - delivered through the future, like a worker
                fut.set_exception(exc)
            return fut

    def commit_later(self, fn, *args) -> Future:
        """Run ``fn`` on this ingester's committer thread (inline when none can be started)."""
        if self._committer is None:
            self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlops-console-ingest-commit")
        try:
            return self._committer.submit(fn, *args)
        except RuntimeError:
            fut: Future = Future()
            try:
                fut.set_result(fn(*args))
            except Exception as exc:  # noqa: BLE001 - delivered through the future
                fut.set_exception(exc)
            return fut

    def close(self) -> None:
        """Stop the worker threads (they also stop with the process)."""
        for pool in (self._committer, self._pool):
            if pool is not None:
                pool.shutdown(wait=True)
        self._pool = self._committer = None

    # -- the pass ------------------------------------------------------------------------
    def run_once(self, wait: float = 0.0) -> IngestResult:
        """One pass over all sources; ``LockBusy`` when another console holds the lock."""
        if not self.lock.acquire(wait):
            raise LockBusy(self.lock.holder_pid())
        try:
            return self._pass()
        except BaseException:
            self._keys = None  # in-memory state may be ahead of the store: rebuild next time
            raise
        finally:
            self._settle()
            self.lock.release()

    def _settle(self) -> None:
        """No background commit may outlive the pass (and the lock): wait for it."""
        run, self._run = self._run, None
        if run is not None and run.commit is not None:
            try:
                run.commit.result()
            except BaseException:  # noqa: BLE001 - the pass already failed; the store is consistent
                self._keys = None

    def _load_state(self) -> Checkpoint:
        cp = read_checkpoint(self.layout.checkpoint_path)
        self.layout.remove_orphans(cp.batch)
        rehash = bool(cp.hasher) and cp.hasher != HASHER
        if self._keys is None or self._keys_batch > cp.batch or self._keys_store != cp.store_id:
            self._keys = KeySet()
            saved = None if rehash else load_index(self.layout.keys_dir, cp.batch, cp.store_id, cp.hasher)
            since = 0
            if saved is not None:
                self._keys.add_sorted_run(saved[0])
                since = saved[1]
            self._index_batch, self._index_size = since, (len(saved[0]) if saved is not None else 0)
            parts = [p for p in self.layout.parts("predictions", cp.batch, cp.retired) if _batch_of(p) > since]
            self._keys.load_parts(parts, rehash=rehash)
        elif self._keys_batch < cp.batch:
            newer = [p for p in self.layout.parts("predictions", cp.batch, cp.retired) if _batch_of(p) > self._keys_batch]
            self._keys.load_parts(newer, rehash=rehash)
        self._keys_batch = cp.batch
        self._keys_store = cp.store_id
        sig = registry_signature(self.ws.registry)
        if self._registry is None or sig != self._reg_sig:
            self._registry = load_registry(self.ws.registry, self.ws.root)
            self._reg_sig = sig
        return cp

    def _maybe_save_index(self, cp: Checkpoint) -> None:
        """Save the sorted key set when enough keys arrived since the last saved index, so
        the next process loads one array instead of every part's keys (and a sort)."""
        if self._keys is None or cp.batch == self._index_batch:
            return
        n = len(self._keys)
        if n - self._index_size < max(self.index_min_new, self._index_size // 4):
            return
        if save_index(self.layout.keys_dir, self._keys, cp.batch, cp.store_id, cp.hasher) is not None:
            self._index_batch, self._index_size = cp.batch, n

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
        committed = self._load_state()
        pending = copy.deepcopy(committed)
        # ``hasher`` names the hash in the parts' ``_key`` columns. It stays what the first
        # batch used: when polars changes its hash, keys are recomputed from the stored
        # strings on every load (slower, never wrong) — delete .console/ to start afresh.
        pending.hasher = committed.hasher or HASHER
        pending.store_id = committed.store_id or uuid.uuid4().hex
        assert self._registry is not None
        run = _Run(self, pending, FeatureCatalog(pending, self._registry))
        files = self._discover(pending, run.result)
        for f, sid in assign_streams(pending, files):
            st = pending.sources[sid]
            try:
                run.read_stream(f, st)
            except Exception as exc:  # noqa: BLE001 - no input may stop the pass
                if exc is run.fatal:
                    raise
                run.fail(f, st, exc)
        run.pump()
        run.flush(final=True)
        run.compact()
        if run.keys_suspect:
            self._keys = None  # keys of a failed block may be in memory: reload from parts
        else:
            self._maybe_save_index(run.cp)
        return run.result


def _batch_of(path: Path) -> int:
    m = PART_RE.match(path.name)
    return int(m.group(1)) if m else 0




class _Run:
    """The state of one pass: the pending checkpoint and the batch being filled."""

    def __init__(self, ing: Ingester, cp: Checkpoint, catalog: FeatureCatalog):
        self.ing = ing
        self.cp = cp
        self.catalog = catalog
        self.result = IngestResult()
        self.keys_suspect = False
        self.pending: list[_Pending] = []
        self.pending_rows = 0
        self.pending_bytes = 0
        self.halted: set[int] = set()  # streams whose pending block failed validation
        self.failed: set[int] = set()  # streams that raised while being read or handled
        self.stopped: dict[int, str] = {}  # streams whose file is damaged from a point on: why
        self.queue: deque[_Job] = deque()
        self.queued_rows = 0
        self.commit: Future | None = None  # the batch being committed in the background
        self.committing: tuple[int, str, IngestResult] | None = None
        self.fatal: BaseException | None = None  # a failed commit: the pass stops
        ing._run = self
        self._reset_batch()

    def _reset_batch(self) -> None:
        self.preds: list[pl.DataFrame] = []
        self.labels: list[pl.DataFrame] = []
        self.quar: list[pl.DataFrame] = []
        self.quar_bytes = 0  # about what ``quar`` holds: its raw text, and a little per row
        self.rows = 0
        self.batch_result = IngestResult()
        self.label_ord = 0

    @property
    def batch_no(self) -> int:
        return self.cp.batch + 1

    # -- reading -------------------------------------------------------------------------
    # Reading only queues work: every block (of any file) is parsed by a worker thread while
    # the main thread reads the next blocks and handles the oldest parsed one. The queue is
    # handled strictly in order, so streams advance and labels arrive in file order, exactly
    # as if each block were read, parsed and handled one after the other.
    def read_stream(self, f: SourceFile, st: SourceState) -> None:
        if (f.ino, f.size, f.mtime_ns) == (st.ino, st.size, st.mtime_ns) and st.fp_len:
            return  # unchanged since we last looked
        if f.fmt == "parquet":
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
        try:
            if job.what == "oversized":
                self._process_oversized(f, st, job.item)
                return
            if job.what == "block":
                block = job.item
                self._ingest_block(f, st, block, job.fut.result())
                if id(st) in self.halted:
                    return
                st.offset = block.base + len(block.data)
                st.line += block.n
            else:  # a Parquet record batch
                row = job.item
                try:
                    df, tbl = job.fut.result()
                except (pa.ArrowException, OSError) as exc:  # the file is damaged here (others: fail below)
                    self.stopped[id(st)] = _parquet_problem(exc, row)
                    return

                def raw_of(lines: pl.Series, tbl=tbl, base=row) -> list[str]:
                    names = tbl.column_names
                    unique = len(set(names)) == len(names)
                    cols = tbl.take(pa.array(lines.to_numpy() - 1 - base)).columns
                    return [
                        json.dumps(dict(zip(names, r, strict=True)) if unique else list(zip(names, r, strict=True)),
                                   default=str)[:RAW_KEEP]
                        for r in zip(*(c.to_pylist() for c in cols), strict=True)
                    ]

                self._ingest_frame(f, st, df, raw_of, (row, row), tbl.nbytes)
                if id(st) in self.halted:
                    return
                st.offset = st.line = row + tbl.num_rows
            if self.rows + self.pending_rows >= self.ing.batch_rows or self.quar_bytes >= QUARANTINE_BYTES:
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
                    if not _skip(fh, st.offset):
                        why = fh.problem or "incomplete gzip: its content is shorter than what was read before"
                        self._enqueue(_Job(f, st, "end", _pos(fh, 0), error=why))
                        return
                else:
                    fh.seek(st.offset)
            offset, line, header = st.offset, st.line, st.header
            # (a .gz reader stops by itself where the file is cut short or damaged: see gzstream)
            for item in _iter_blocks(fh, offset, line + 1, self.ing.read_bytes):
                if isinstance(item, _Oversized):
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
            self._enqueue(_Job(f, st, "end", _pos(fh, offset) if f.gz else -1, error=why))

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

    def _process_oversized(self, f: SourceFile, st: SourceState, item: _Oversized) -> None:
        q = pl.DataFrame(
            {
                "kind": [f.kind],
                "source": [str(f.path)],
                "line": pl.Series([item.line], dtype=pl.Int64),
                "byte_offset": pl.Series([item.offset], dtype=pl.Int64),
                "reason": [f"line longer than {MAX_LINE} bytes"],
                "raw": [item.raw],
            }
        )
        self.quar.append(q)
        self.quar_bytes += len(item.raw) + 64
        self.rows += 1
        st.quarantined += 1
        self.batch_result.quarantined += 1
        st.line = item.line
        st.offset = item.end
        st.last_ingest = clock.now_naive().isoformat()

    def _read_parquet(self, f: SourceFile, st: SourceState) -> None:
        f.prefix = read_prefix(f)
        try:
            pf = pq.ParquetFile(f.path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
            self._enqueue(_Job(f, st, "end", None, error=_parquet_problem(exc, None)))
            return
        st.fp, st.fp_len = fingerprint(f.prefix), len(f.prefix)
        n_rows = st.total = pf.metadata.num_rows
        step = min(self.ing.batch_rows, PARQUET_ROWS)
        if st.offset < n_rows <= step:
            # a small file: read and tagged whole in a worker
            fut = self.ing.submit(_parquet_whole, f.path, f.kind, st.offset)
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
                    fut = self.ing.submit(_tag_parquet, batch, f.kind, row)
                    self._enqueue(_Job(f, st, "parquet", row, fut, batch.num_rows))
                    row += batch.num_rows
            except Exception as exc:  # noqa: BLE001 - damaged from here: the batches before it are still read
                self._enqueue(_Job(f, st, "end", None, error=_parquet_problem(exc, row)))
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
        entry = _Pending(f, st, df, raw_of, start)
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

    def _process(self, entries: list[_Pending]) -> None:
        kind = entries[0].f.kind
        after: list[Callable[[], None]] = []
        if len(entries) == 1:
            df = entries[0].df
        else:
            df = pl.concat(
                [e.df.with_columns(pl.lit(i, pl.Int32).alias("_src")) for i, e in enumerate(entries)],
                how="diagonal_relaxed",
            )
            # a field one block lacks is missing there (tag 0), not unknown (null)
            df = df.with_columns(pl.col(r"^.*\|t$").fill_null(0))
        paths = pl.Series("source", [str(e.f.path) for e in entries], dtype=pl.String)

        def sources(frame: pl.DataFrame) -> pl.Series:
            if "_src" not in frame.columns:
                return pl.repeat(paths[0], frame.height, dtype=pl.String, eager=True).alias("source")
            return paths.gather(frame["_src"]).alias("source")

        def per_entry(frame: pl.DataFrame, mask: np.ndarray | None = None) -> np.ndarray:
            if "_src" not in frame.columns:
                return np.array([frame.height if mask is None else int(mask.sum())])
            idx = frame["_src"].to_numpy()
            if mask is not None:
                idx = idx[mask]
            return np.bincount(idx, minlength=len(entries))

        limits = self.ing.limits
        ts_max = None
        if limits.max_future_skew_s is not None:
            ts_max = clock.now_naive() + dt.timedelta(seconds=limits.max_future_skew_s)
        if kind == "predictions":
            known = self.cp.features
            v = validate_predictions(df, ts_max, limits.max_features_per_model, lambda m: known.get(m, {}))
            good = v.good.with_columns(key_expr().alias(KEY_COLUMN))
            keys = good[KEY_COLUMN].to_numpy()
            order = np.argsort(keys, kind="stable")
            first = _first_occurrence(keys, order)
            assert self.ing._keys is not None
            seen = self.ing._keys.contains(keys, order)
            keep = first & ~seen
            kept = per_entry(good, keep)
            dup = per_entry(good, ~keep)
            good = good.filter(pl.Series(keep)) if not keep.all() else good
            good = good.with_columns(sources(good), pl.lit(self.batch_no, pl.Int64).alias("batch"))
            if "_src" in good.columns:
                good = good.drop("_src")
            frames = apply_features(good, v.features, self.catalog)
            new_keys = keys[keep]

            def commit_predictions() -> None:
                assert self.ing._keys is not None
                self.ing._keys.add(new_keys)
                self.preds.extend(frames)
                for e, n_ok, n_dup in zip(entries, kept, dup, strict=True):
                    e.st.rows += int(n_ok)
                    e.st.duplicates += int(n_dup)
                self.batch_result.predictions += int(kept.sum())
                self.batch_result.duplicates += int(dup.sum())

            after.append(commit_predictions)
        else:
            v = validate_labels(df, ts_max)
            good = v.good
            kept = per_entry(good)
            if good.height:
                good = good.with_columns(
                    pl.lit(clock.now_naive()).cast(pl.Datetime("us")).alias("arrived_at"),
                    sources(good),
                    pl.lit(self.batch_no, pl.Int64).alias("batch"),
                    pl.Series("ord", np.arange(self.label_ord, self.label_ord + good.height, dtype=np.int64)),
                )
                if "_src" in good.columns:
                    good = good.drop("_src")
            labels = good

            def commit_labels() -> None:
                if labels.height:
                    self.label_ord += labels.height
                    self.labels.append(labels)
                for e, n_ok in zip(entries, kept, strict=True):
                    e.st.rows += int(n_ok)
                self.batch_result.labels += int(kept.sum())

            after.append(commit_labels)
        bad = v.bad
        if bad.height:
            raws: list[str] = []
            src_idx = bad["_src"].to_numpy() if "_src" in bad.columns else np.zeros(bad.height, dtype=np.int64)
            lines = bad["_line"]
            for i in range(len(entries)):
                sel = np.flatnonzero(src_idx == i)
                if len(sel):
                    got = entries[i].raw_of(lines.gather(sel))
                    raws.extend(got)
            # raws are grouped by entry; put them back in the rows' order
            if len(entries) == 1:
                raw_col = raws
            else:
                back = np.empty(bad.height, dtype=object)
                back[np.argsort(src_idx, kind="stable")] = raws
                raw_col = back.tolist()
            q = bad.select(
                pl.lit(kind).alias("kind"),
                sources(bad),
                pl.col("_line").alias("line"),
                pl.col("_offset").alias("byte_offset"),
                pl.col("reason"),
            ).with_columns(pl.Series("raw", raw_col, dtype=pl.String))
            raw_bytes = int(q["raw"].str.len_bytes().sum() or 0) + 64 * q.height
            nbad = per_entry(bad)

            def commit_quarantine() -> None:
                self.quar.append(q)
                self.quar_bytes += raw_bytes
                for e, n in zip(entries, nbad, strict=True):
                    e.st.quarantined += int(n)
                self.batch_result.quarantined += bad.height

            after.append(commit_quarantine)
        # Everything above only computes; the buffers and counters change here, all at once,
        # so a failure above leaves no trace and the blocks can be retried one by one.
        for commit in after:
            commit()
        self.rows += df.height
        now = clock.now_naive().isoformat()
        for e in entries:
            e.st.last_ingest = now

    # -- compaction ----------------------------------------------------------------------
    def compact(self) -> None:
        """Merge folders of many small parts (a batch of its own); delete long-retired parts."""
        layout = self.ing.layout
        now = clock.now()
        expired = compact.delete_expired(layout, self.cp, now, self.ing.retire_grace_s)
        todo = compact.plan(layout, self.cp, self.ing.compact_at)
        if not todo and not expired:
            return
        if todo:
            batch = self.cp.batch + 1
            written = [compact.write_merged(folder, parts, batch, i, sync=self.ing.sync)
                       for i, (folder, parts) in enumerate(sorted(todo.items()))]
            for tmp, final in written:
                publish(tmp, final, sync=self.ing.sync)
            for parts in todo.values():
                compact.retire(layout, self.cp, parts, batch, now)
            self.cp.batch = batch
            self.ing._keys_batch = batch
        write_checkpoint(layout.checkpoint_path, self.cp, sync=self.ing.sync)

    # -- committing ----------------------------------------------------------------------
    def flush(self, final: bool = False) -> None:
        """Write the batch's parts durably, then the checkpoint naming it."""
        self.drain()
        self.wait_commit()
        layout = self.ing.layout
        if self.rows == 0 and self.cp.to_json() == read_checkpoint_bytes(layout):
            return
        batch = self.batch_no
        sync = self.ing.sync
        dirs: set[Path] = set()
        jobs: list[tuple[pl.DataFrame, Path]] = []

        def write(df: pl.DataFrame, final_path: Path) -> None:
            jobs.append((df, final_path))
            dirs.add(final_path.parent)

        if self.preds:
            by_model: dict[str, list[pl.DataFrame]] = {}
            for fr in self.preds:
                by_model.setdefault(str(fr["model"][0]), []).append(fr)
            front = [c for c, _ in PREDICTION_COLUMNS]
            tail = ["source", "line", "batch", KEY_COLUMN]
            n = 0
            for model, frames in by_model.items():
                preds = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
                feats = sorted(c for c in preds.columns if c not in front and c not in tail)
                preds = preds.select(front + feats + tail)
                for day, part in split_by(preds, "day"):
                    empty = [c for c in feats if part[c].null_count() == part.height]
                    if empty:
                        part = part.drop(empty)
                    write(part, layout.prediction_dir(model, day.isoformat()) / f"b{batch}-{n}.parquet")
                    n += 1
        if self.labels:
            labels = pl.concat(self.labels, how="diagonal_relaxed")
            write(labels, layout.kind_dir("labels") / f"b{batch}-0.parquet")
        if self.quar:
            quar = pl.concat(self.quar, how="diagonal_relaxed").with_columns(pl.lit(batch, pl.Int64).alias("batch"))
            write(quar, layout.kind_dir("quarantine") / f"b{batch}-0.parquet")
        # polars releases the GIL while encoding: write (and fsync) the parts two at a time.
        # The batch is then committed in the background (rename the parts, fsync each folder
        # once, then the checkpoint) while this thread reads on; the next flush, and the end
        # of the pass, wait for it. The checkpoint is this moment's, serialised now.
        futures = [self.ing.submit(_write_part, df, final_path, sync) for df, final_path in jobs]
        finals = [final_path for _, final_path in jobs]
        self.cp.batch = batch
        cp_bytes = self.cp.to_json()
        self.batch_result.batches = 1
        done = (batch, self.cp.store_id, self.batch_result)
        self.commit = self.ing.commit_later(_commit, futures, finals, dirs, layout, cp_bytes, sync)
        self.committing = done
        self._reset_batch()
        if final:
            self.wait_commit()

    def wait_commit(self) -> None:
        """Wait for the batch being committed in the background. Should that fail, the pass
        stops (the in-memory state is ahead of the store; the next pass re-reads from it)."""
        fut, self.commit = self.commit, None
        if fut is None:
            return
        try:
            fut.result()
        except BaseException as exc:
            self.fatal = exc
            raise
        batch, store_id, result = self.committing
        self.ing._keys_batch = batch
        self.ing._keys_store = store_id
        self.result.add(result)
        if self.ing.on_batch is not None:
            self.ing.on_batch(batch, result)


def _commit(futures: list[Future], finals: list[Path], dirs: set[Path], layout: StoreLayout, cp_bytes: bytes, sync: bool) -> None:
    """Make a batch part of the store: its parts (written to temp files by ``futures``) under
    their names, the folders fsynced, then the checkpoint naming the batch. A crash before the
    checkpoint is replaced leaves orphan parts (and temps) that the next ingester deletes."""
    temps = [fut.result() for fut in futures]
    for tmp, final_path in zip(temps, finals, strict=True):
        publish(tmp, final_path, sync=False)  # each folder is fsynced once, below
    if sync:
        for d in dirs:
            fsync_dir(d)
    layout.root.mkdir(parents=True, exist_ok=True)
    write_atomic(layout.checkpoint_path, cp_bytes, sync=sync)


def _tag_parquet(batch, kind: str, row: int) -> tuple[pl.DataFrame, object]:
    return _tag_checked(batch, kind, row), batch


def _parquet_whole(path: Path, kind: str, offset: int) -> tuple[pl.DataFrame, object]:
    """A small Parquet file from row ``offset`` on, read and tagged (in a worker thread)."""
    tbl = pq.ParquetFile(path).read()
    if offset:
        tbl = tbl.slice(offset)
    return _tag_checked(tbl, kind, offset), tbl


def _tag_checked(batch, kind: str, row: int) -> pl.DataFrame:
    """Tagged rows of a Parquet batch; every row quarantined when a column it would be read
    from appears twice (which one holds the record's value cannot be known)."""
    names = [
        fld.name for fld in batch.schema
        if not (pa.types.is_binary(fld.type) or pa.types.is_large_binary(fld.type))
        and (kind == "predictions" or fld.name in LABEL_FIELDS)
    ]
    twice = sorted({n for n in names if names.count(n) > 1})
    if not twice:
        every = batch.schema.names
        ignored = {n for n in every if every.count(n) > 1}  # repeated, but not read (bytes; not a label field)
        if ignored:
            batch = batch.select([i for i, n in enumerate(every) if n not in ignored])
        return formats.tag_parquet_batch(batch, kind, row)
    n = batch.num_rows
    return pl.DataFrame({
        "_line": pl.Series(np.arange(row + 1, row + 1 + n, dtype=np.int64)),
        "_offset": pl.Series([None] * n, dtype=pl.Int64),
        "_reason": pl.Series([f"column '{twice[0]}' appears more than once"] * n, dtype=pl.String),
    })


def _write_part(df: pl.DataFrame, final_path: Path, sync: bool) -> Path:
    """Write a part to a new temp file next to ``final_path`` (created exclusively, never
    through a link), fsync and close it; returns the temp file's path."""
    tmp = TempFile(final_path)
    try:
        df.write_parquet(tmp.target, compression="lz4", statistics=True)
        return tmp.close(sync)
    except BaseException:
        tmp.discard()
        raise


def _first_occurrence(keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of every key (in order); ``order`` is a stable argsort."""
    first = np.ones(len(keys), dtype=bool)
    if len(keys) > 1:
        sk = keys[order]
        repeat = np.concatenate(([False], sk[1:] == sk[:-1]))
        first[order[repeat]] = False
    return first


def read_checkpoint_bytes(layout: StoreLayout) -> bytes:
    try:
        return read_checkpoint(layout.checkpoint_path).to_json()
    except OSError:
        return b""


def _skip(fh, n: int) -> bool:
    """Read past the first ``n`` bytes of ``fh``; False when its content is shorter."""
    left = n
    while left > 0:
        chunk = fh.read(min(left, READ_BYTES))
        if not chunk:
            return False
        left -= len(chunk)
    return True


def _describe(exc: BaseException) -> str:
    """A source's ``last_error`` for an exception: one line, without the path (the row has it)."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def _parquet_problem(exc: BaseException, row: int | None) -> str:
    """``last_error`` of a Parquet file that cannot be read (from ``row`` on: None = at all)."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    where = "" if not row else f" from row {row + 1}"
    return f"unreadable Parquet{where} (waiting for it to change): {exc}"[:500]


def _pos(fh, default: int) -> int:
    try:
        return fh.tell()
    except (OSError, ValueError):
        return default


def _iter_blocks(
    fh, offset: int, first_line: int, read_bytes: int = READ_BYTES
) -> Iterator[tuple[LineBlock, int] | _Oversized]:
    """Blocks of complete lines from ``fh`` (positioned at ``offset``); a line longer than
    ``MAX_LINE`` without a newline in sight is skipped in pieces and reported as ``_Oversized``
    once its newline arrives. An incomplete last line is left for the next pass."""
    carry = b""
    line = first_line
    pos = offset  # absolute offset of carry[0]
    while True:
        chunk = fh.read(read_bytes)
        if not chunk:
            return
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) <= MAX_LINE:
                carry = data
                continue
            # an over-long line: keep its start, skip to its newline
            raw = data[:RAW_KEEP].decode("utf-8", errors="replace")
            start = pos
            skipped = len(data)
            while True:
                more = fh.read(READ_BYTES)
                if not more:
                    return  # incomplete: wait for its newline
                nl = more.find(b"\n")
                if nl >= 0:
                    skipped += nl + 1
                    rest = more[nl + 1 :]
                    break
                skipped += len(more)
            yield _Oversized(start, line, raw, start + skipped)
            line += 1
            pos = start + skipped
            carry = rest
            # continue with the remainder as the next data
            if carry:
                cut2 = carry.rfind(b"\n")
                if cut2 >= 0:
                    for block in _line_blocks(carry[: cut2 + 1], pos, line):
                        yield block, block.base + len(block.data)
                        line += block.n
                    pos += cut2 + 1
                    carry = carry[cut2 + 1 :]
            continue
        for block in _line_blocks(data if cut + 1 == len(data) else data[: cut + 1], pos, line):
            yield block, block.base + len(block.data)
            line += block.n
        pos += cut + 1
        carry = data[cut + 1 :]


def _line_blocks(data: bytes, pos: int, line: int) -> Iterator[LineBlock]:
    """``data`` (complete lines) as blocks of at most ``BLOCK_LINES`` lines: the records of
    a block are in memory at once (parsed, tagged, quarantined), so however short its lines
    (a gzip bomb of empty lines), a block holds at most that many."""
    if data.count(b"\n") <= BLOCK_LINES:
        yield LineBlock(data, pos, line)
        return
    nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    start = 0
    for i in range(BLOCK_LINES - 1, len(nl) + BLOCK_LINES - 1, BLOCK_LINES):
        end = int(nl[min(i, len(nl) - 1)]) + 1
        block = LineBlock(data[start:end], pos + start, line)
        yield block
        line += block.n
        start = end

