"""Writing the store: every change the ingester makes under ``.console/`` goes through here.

``BatchWriter`` owns, for one ingester (under its ``ingest.lock``):

- the start of a pass (``begin``): read ``checkpoint.json``, delete the orphan parts of a
  batch a crashed ingester never committed, and bring the dedupe keys (``store.keys.KeySet``)
  up to the committed batch. An unreadable checkpoint means the store's content is unknown:
  its parts, saved keys and caches are discarded and the store is rebuilt from the sources
  (``begin`` returns the one-line warning saying so);
- writing a batch (``write_batch``): the rows the ingester decided to keep, as immutable
  Parquet parts (predictions per ``model``/``day`` folder, labels, quarantine) written and
  fsynced to hidden temp files by worker threads, then committed on the committer thread —
  renamed into place, folders fsynced, then the checkpoint naming the batch replaced. A crash
  before that last step leaves orphans the next ``begin`` deletes; ``wait`` waits for it;
- compaction (``compact``, see ``store.compact``) and the saved key index (``end``).

The ingester (``console.ingest.engine``) reads sources, normalises them and decides which rows
go into a batch and what the pending checkpoint says; it never touches a store file itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from pathlib import Path

import numpy as np
import polars as pl

from console import clock
from console.fsio import TempFile, fsync_dir, publish, write_atomic
from console.store import compact
from console.store.adopted import Adoption
from console.store.checkpoint import Checkpoint, CheckpointUnreadable, read_checkpoint
from console.store.keys import HASHER, KeySet, adopted_keys, load_index, save_index
from console.store.layout import PART_RE, StoreLayout
from console.store.schema import KEY_COLUMN, PREDICTION_COLUMNS

INDEX_MIN_NEW = 1_000_000  # save the key index once this many keys arrived since the last one

Submit = Callable[..., Future]


def run_on(pool: ThreadPoolExecutor, fn, *args) -> Future:
    """``fn(*args)`` on ``pool``; inline when no thread can be started (the result is the
    same, only slower)."""
    try:
        return pool.submit(fn, *args)
    except RuntimeError:  # "can't start new thread", or shut down
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - delivered through the future, like a worker
            fut.set_exception(exc)
        return fut


class BatchWriter:
    """Writes batches, checkpoints and compactions of one store; keeps its dedupe keys.
    Not thread-safe: used by one ingester (which holds the ingest lock while it writes).

    ``submit`` runs a function on the ingester's worker threads (parts are written there);
    the commit of a batch runs on this writer's own committer thread."""

    def __init__(
        self,
        layout: StoreLayout,
        submit: Submit,
        sync: bool = True,
        compact_at: int = compact.MAX_SMALL_PARTS,
        retire_grace_s: float = compact.RETIRE_GRACE_S,
        index_min_new: int = INDEX_MIN_NEW,
    ):
        self.layout = layout
        self.submit = submit
        self.sync = sync
        self.compact_at = compact_at
        self.retire_grace_s = retire_grace_s
        self.index_min_new = index_min_new
        self.keys: KeySet | None = None  # every committed key, as of ``keys_batch``
        self._keys_batch = 0
        self._keys_store = ""
        self._index_batch = 0
        self._index_size = 0
        self._committer: ThreadPoolExecutor | None = None
        self._commit: Future | None = None  # the batch being committed in the background
        self._committing: tuple[int, str, object] | None = None
        self._on_disk = b""  # the committed checkpoint, serialised

    # -- a pass --------------------------------------------------------------------------
    def begin(self) -> tuple[Checkpoint, str | None]:
        """The committed checkpoint, orphan parts deleted and the keys loaded up to it; and a
        warning when the checkpoint was unreadable (the store then starts empty, to be
        rebuilt from the sources: its old parts are discarded so no row is stored twice)."""
        warning = None
        try:
            cp = read_checkpoint(self.layout.checkpoint_path)
            self._on_disk = cp.to_json()
        except CheckpointUnreadable as exc:
            cp = Checkpoint()
            self._on_disk = b""  # the next batch (even an empty one) replaces it
            self._discard()
            warning = f"{exc.path}: unreadable checkpoint ({exc.reason}); the store is rebuilt from the sources"
        self.layout.remove_orphans(cp.batch)
        self._load_keys(cp)
        return cp, warning

    def _discard(self) -> None:
        """Forget what the store held: every part (all are of a batch above 0), the saved keys
        and the analytics caches (their keys are batch numbers, which restart)."""
        self.layout.remove_orphans(0)
        for derived in (self.layout.keys_dir, self.layout.cache_dir):
            shutil.rmtree(derived, ignore_errors=True)
        self.keys = None

    def _load_keys(self, cp: Checkpoint) -> None:
        rehash = bool(cp.hasher) and cp.hasher != HASHER

        def parts() -> list[Path]:
            return self.layout.parts("predictions", cp.batch, cp.retired)

        if self.keys is None or self._keys_batch > cp.batch or self._keys_store != cp.store_id:
            self.keys = KeySet()
            saved = None if rehash else load_index(self.layout.keys_dir, cp.batch, cp.store_id, cp.hasher)
            since = 0
            if saved is not None:
                self.keys.add_sorted_run(saved[0])
                since = saved[1]
            self._index_batch, self._index_size = since, (len(saved[0]) if saved is not None else 0)
            self.keys.load_parts([p for p in parts() if _batch_of(p) > since], rehash=rehash)
            self._load_adopted(cp, since, rehash)
        elif self._keys_batch < cp.batch:
            self.keys.load_parts([p for p in parts() if _batch_of(p) > self._keys_batch], rehash=rehash)
            self._load_adopted(cp, self._keys_batch, rehash)
        self._keys_batch = cp.batch
        self._keys_store = cp.store_id

    def _load_adopted(self, cp: Checkpoint, since: int, rehash: bool) -> None:
        """Add the keys of the files adopted after batch ``since`` (``store.adopted``): each
        batch's keys sidecar read once, for the files it still adopts."""
        assert self.keys is not None
        by_sidecar: dict[str, dict[str, Adoption]] = {}
        for path, a in cp.adopted.items():
            if a.batch > since:
                by_sidecar.setdefault(a.keys, {})[path] = a
        for adoptions in by_sidecar.values():
            self.keys.add(adopted_keys(self.layout.root, adoptions, rehash))

    def withdraw(self, cp: Checkpoint, paths: list[str]) -> dict[str, Adoption]:
        """Stop reading the adopted files ``paths`` (changed or gone): they leave the pending
        checkpoint ``cp`` (committed with the next batch), their sidecars are retired, and their
        keys leave the key set — in one pass over it, whatever their number (a folder of adopted
        files renamed at once costs one pass, not one per file). The saved key index may hold
        them: it is deleted (derived data). Returns path -> its adoption, for those adopted."""
        was = {p: a for p in paths if (a := cp.adopted.pop(p, None)) is not None}
        if not was:
            return was
        now = clock.now().isoformat()
        used = {rel for b in cp.adopted.values() for rel in (b.keys, b.excluded)}
        for a in was.values():
            for rel in (a.keys, a.excluded):
                if rel and rel not in used:  # a batch's sidecar goes with the last file it describes
                    cp.retired[rel] = [cp.batch, now]
        if self.keys is not None:
            by_sidecar: dict[str, dict[str, Adoption]] = {}
            for p, a in was.items():
                by_sidecar.setdefault(a.keys, {})[p] = a
            gone = [adopted_keys(self.layout.root, group, rehash=False) for group in by_sidecar.values()]
            self.keys.remove(np.concatenate(gone))
        shutil.rmtree(self.layout.keys_dir, ignore_errors=True)
        self._index_batch, self._index_size = 0, 0
        return was

    def unchanged(self, cp: Checkpoint) -> bool:
        """Is ``cp`` what the store's checkpoint already says (nothing to commit)?"""
        return cp.to_json() == self._on_disk

    def end(self, cp: Checkpoint, keys_suspect: bool) -> None:
        """The pass is over (``cp`` committed): forget the keys when some may be wrong (a
        failed block's keys may be in memory; they are reloaded from the parts next time),
        else save the key index when enough keys arrived since the last one."""
        if keys_suspect:
            self.keys = None
        else:
            self._maybe_save_index(cp)

    def forget(self) -> None:
        """In-memory state may be ahead of the store (a failed pass): reload it next time."""
        self.keys = None

    def settle(self) -> None:
        """No background commit may outlive the pass (and the lock): wait for it."""
        fut, self._commit = self._commit, None
        if fut is not None:
            try:
                fut.result()
            except BaseException:  # noqa: BLE001 - the pass already failed; the store is consistent
                self.keys = None

    def close(self) -> None:
        """Stop the committer thread (it also stops with the process)."""
        if self._committer is not None:
            self._committer.shutdown(wait=True)
        self._committer = None

    # -- a batch -------------------------------------------------------------------------
    def write_batch(
        self,
        cp: Checkpoint,
        preds: list[pl.DataFrame],
        labels: list[pl.DataFrame],
        quar: list[pl.DataFrame],
        token: object = None,
        adopt: list[tuple[str, Adoption, pl.DataFrame, pl.DataFrame | None, pl.DataFrame | None]] = (),
    ) -> int:
        """Write the next batch: ``preds`` (frames of one model each), ``labels`` and ``quar``
        as parts, then ``cp`` (its ``batch`` set to the new batch, serialised now) naming them.
        The parts are written by the worker threads, the commit happens in the background;
        ``wait`` returns ``(batch, token)`` once it is durable. Returns the batch number."""
        assert self._commit is None, "wait() for the previous batch first"
        layout = self.layout
        batch = cp.batch + 1
        dirs: set[Path] = set()
        jobs: list[tuple[pl.DataFrame, Path]] = []

        def write(df: pl.DataFrame, final_path: Path) -> None:
            jobs.append((df, final_path))
            dirs.add(final_path.parent)

        if preds:
            by_model: dict[str, list[pl.DataFrame]] = {}
            for fr in preds:
                by_model.setdefault(str(fr["model"][0]), []).append(fr)
            front = [c for c, _ in PREDICTION_COLUMNS]
            tail = ["source", "line", "batch", KEY_COLUMN]
            n = 0
            for model, frames in by_model.items():
                df = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
                feats = sorted(c for c in df.columns if c not in front and c not in tail)
                df = df.select(front + feats + tail)
                for day, part in split_by(df, "day"):
                    empty = [c for c in feats if part[c].null_count() == part.height]
                    if empty:
                        part = part.drop(empty)
                    write(part, layout.prediction_dir(model, day.isoformat()) / f"b{batch}-{n}.parquet")
                    n += 1
        if labels:
            write(pl.concat(labels, how="diagonal_relaxed"), layout.kind_dir("labels") / f"b{batch}-0.parquet")
        if adopt:
            # adopted Parquet files (``store.adopted``): one keys and one excluded-rows sidecar for
            # the batch (``source`` says whose rows: categorical, a path per record would be 170 MB
            # more at the peak of a batch of 9M keys), and the checkpoint names each adoption
            keys_path = layout.adopted_dir / "keys" / f"b{batch}-0.parquet"
            ex_path = layout.adopted_dir / "excluded" / f"b{batch}-0.parquet"
            write(pl.concat([k.with_columns(pl.lit(path, pl.String).cast(pl.Categorical).alias("source"))
                             for path, _, k, _, _ in adopt]), keys_path)
            excluded = [e for _, _, _, e, _ in adopt if e is not None and e.height]
            if excluded:
                write(pl.concat(excluded).with_columns(pl.lit(batch, pl.Int64).alias("batch")), ex_path)
            quar = list(quar) + [q for _, _, _, _, q in adopt if q is not None and q.height]
            for path, a, _, e, _ in adopt:
                a.batch = batch
                a.keys = layout.rel(keys_path)
                a.excluded = layout.rel(ex_path) if e is not None and e.height else None
                cp.adopted[path] = a
        if quar:
            q = pl.concat(quar, how="diagonal_relaxed").with_columns(pl.lit(batch, pl.Int64).alias("batch"))
            write(q, layout.kind_dir("quarantine") / f"b{batch}-0.parquet")
        # polars releases the GIL while encoding: write (and fsync) the parts two at a time.
        # The batch is then committed in the background (rename the parts, fsync each folder
        # once, then the checkpoint) while the ingester reads on; the next batch, and the end
        # of the pass, wait for it. The checkpoint is this moment's, serialised now.
        futures = [self.submit(_write_part, df, final_path, self.sync) for df, final_path in jobs]
        finals = [final_path for _, final_path in jobs]
        cp.batch = batch
        cp_bytes = cp.to_json()
        if self._committer is None:
            self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlops-console-ingest-commit")
        self._commit = run_on(self._committer, _commit, futures, finals, dirs, layout, cp_bytes, self.sync)
        self._committing = (batch, cp.store_id, token)
        self._on_disk = cp_bytes
        return batch

    @property
    def committing(self) -> bool:
        """Is a batch being committed in the background?"""
        return self._commit is not None

    def wait(self) -> tuple[int, object] | None:
        """Wait for the batch being committed: ``(batch, token)`` once it is durable, None when
        there was none. Raises what the commit raised (the store is then as it was before the
        batch; the caller's in-memory state is ahead of it and must stop)."""
        fut, self._commit = self._commit, None
        if fut is None:
            return None
        try:
            fut.result()
        except BaseException:
            self.keys = None
            raise
        assert self._committing is not None
        batch, store_id, token = self._committing
        self._keys_batch, self._keys_store = batch, store_id
        return batch, token

    # -- compaction ----------------------------------------------------------------------
    def compact(self, cp: Checkpoint) -> None:
        """Merge folders of many small parts (a batch of its own, committed with ``cp``);
        delete long-retired parts. Call after the last batch of a pass is durable."""
        layout = self.layout
        now = clock.now()
        expired = compact.delete_expired(layout, cp, now, self.retire_grace_s)
        todo = compact.plan(layout, cp, self.compact_at)
        if not todo and not expired:
            return
        if todo:
            batch = cp.batch + 1
            # merged on the worker threads, two at once, in chunks (100M records' 50M labels were
            # one folder of 1.5 GB of small parts: 43 s on one thread)
            jobs = [(folder, chunk) for folder, parts in sorted(todo.items()) for chunk in compact.chunks(parts)]
            futs = [self.submit(compact.write_merged, folder, chunk, batch, i, self.sync)
                    for i, (folder, chunk) in enumerate(jobs)]
            wait_all(futs)  # (all done before any failure is raised: none writes on behind the pass)
            written = [fut.result() for fut in futs]
            for tmp, final in written:
                publish(tmp, final, sync=self.sync)
            for parts in todo.values():
                compact.retire(layout, cp, parts, batch, now)
            cp.batch = batch
            self._keys_batch = batch
        cp_bytes = cp.to_json()
        write_atomic(layout.checkpoint_path, cp_bytes, sync=self.sync)
        self._on_disk = cp_bytes

    # -- the saved key index -------------------------------------------------------------
    def _maybe_save_index(self, cp: Checkpoint) -> None:
        """Save the sorted key set when enough keys arrived since the last saved index, so
        the next process loads one array instead of every part's keys (and a sort)."""
        if self.keys is None or cp.batch == self._index_batch:
            return
        n = len(self.keys)
        if n - self._index_size < max(self.index_min_new, self._index_size // 4):
            return
        if save_index(self.layout.keys_dir, self.keys, cp.batch, cp.store_id, cp.hasher) is not None:
            self._index_batch, self._index_size = cp.batch, n


def split_by(df: pl.DataFrame, col: str) -> list[tuple[object, pl.DataFrame]]:
    """``df`` split by the value of ``col`` (in order of first appearance, rows in order), as
    ``partition_by(maintain_order=True)`` does. Rows arrive file by file, so each value is
    usually one contiguous run: then the parts are zero-copy slices, not copies."""
    if df.height == 0:
        return []
    s = df[col]
    starts = (s.ne_missing(s.shift(1))).arg_true() if df.height > 1 else pl.Series([0], dtype=pl.UInt32)
    if df.height > 1 and (len(starts) == 0 or starts[0] != 0):
        starts = pl.concat([pl.Series([0], dtype=starts.dtype), starts])
    firsts = s.gather(starts)
    if firsts.n_unique() == len(firsts):
        bounds = [*starts.to_list(), df.height]
        return [(firsts[i], df.slice(bounds[i], bounds[i + 1] - bounds[i])) for i in range(len(firsts))]
    return [(k[0], v) for k, v in df.partition_by(col, as_dict=True, maintain_order=True).items()]


def _batch_of(path: Path) -> int:
    m = PART_RE.match(path.name)
    return int(m.group(1)) if m else 0


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


def _commit(futures: list[Future], finals: list[Path], dirs: set[Path], layout: StoreLayout, cp_bytes: bytes,
            sync: bool) -> None:
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
