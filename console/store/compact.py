"""Compaction: many small parts of one folder merged into one, without ever breaking a reader.

``ingest --follow`` commits a small batch every few seconds, which leaves many small files per
``model/day`` folder; every query pays for each file it opens. When a folder holds more than
``MAX_SMALL_PARTS`` parts smaller than ``SMALL_BYTES``, they are merged into new parts of a
new batch (one per ``MERGED_BYTES`` of them, written side by side). The checkpoint that commits the new batch also lists the merged parts as *retired*:
views stop reading them at their next ``refresh()``, and the files are deleted by an ingester
``RETIRE_GRACE_S`` seconds later, so a console that has not refreshed yet still finds them.
A crash before the checkpoint leaves the merged part an orphan (deleted next time); rows keep
their original ``batch`` column, so nothing a view shows changes.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from console.fsio import TempFile
from console.store.checkpoint import Checkpoint
from console.store.layout import KINDS, StoreLayout, part_name

MAX_SMALL_PARTS = 16
SMALL_BYTES = 16 << 20
RETIRE_GRACE_S = 600
MERGE_ROWS = 65_536  # rows in memory at once while merging (and per row group of the merged part)
MERGED_BYTES = 128 << 20  # at most this much of a folder's small parts (on disk) merged into one new part
DICTIONARY_SHARE = 8  # a column is dictionary-encoded in a merged part when it repeats (``dictionary_columns``)


def plan(layout: StoreLayout, cp: Checkpoint, max_small: int = MAX_SMALL_PARTS) -> dict[Path, list[Path]]:
    """Folder → the small committed parts to merge (only folders over the threshold)."""
    out: dict[Path, list[Path]] = {}
    for kind in KINDS:
        by_dir: dict[Path, list[Path]] = defaultdict(list)
        for path in layout.parts(kind, cp.batch, cp.retired):
            try:
                if path.stat().st_size < SMALL_BYTES:
                    by_dir[path.parent].append(path)
            except FileNotFoundError:
                continue
        for folder, parts in by_dir.items():
            if len(parts) > max_small:
                out[folder] = parts
    return out


def chunks(parts: list[Path], max_bytes: int | None = None) -> list[list[Path]]:
    """``parts`` (in order) in runs of at most ``max_bytes`` on disk (each at least one part), each
    merged into a part of its own: the merges run side by side on the worker threads, and a big
    pass's small parts (100 batches of labels, 1.5 GB) are not rewritten into one file by one
    thread. ``max_bytes``: ``MERGED_BYTES`` unless given. A part gone meanwhile counts as empty
    (its merge reports it)."""
    limit = MERGED_BYTES if max_bytes is None else max_bytes
    out: list[list[Path]] = []
    size = 0
    for p in parts:
        try:
            n = p.stat().st_size
        except OSError:
            n = 0
        if not out or size + n > limit:
            out.append([])
            size = 0
        out[-1].append(p)
        size += n
    return out


def write_merged(folder: Path, parts: list[Path], batch: int, n: int, sync: bool = True) -> tuple[Path, Path]:
    """Merge ``parts`` into a (fsynced, closed) temp file for part ``b<batch>-<n>``; returns
    (temp, final).

    Streamed, ``MERGE_ROWS`` rows at a time: memory does not grow with the rows merged. Parts
    are small on disk but not in memory (a quarantine part of 300k bad lines is a few MiB on
    disk and ~100 MiB read), so reading every part at once grew with the files ingested.
    Columns a part lacks are null; column types are unified (an integer column meeting a float
    one becomes float), as a diagonal concat does."""
    schema = pa.unify_schemas([pq.read_schema(p) for p in parts], promote_options="permissive").remove_metadata()
    final = folder / part_name(batch, n)
    tmp = TempFile(final)
    try:
        with pq.ParquetWriter(tmp.target, schema, compression="lz4", write_statistics=True,
                              use_dictionary=dictionary_columns(parts, schema)) as out:
            for part in parts:
                for rb in pq.ParquetFile(part, pre_buffer=False).iter_batches(batch_size=MERGE_ROWS, use_threads=False):
                    out.write_batch(_conform(rb, schema))
        return tmp.close(sync), final
    except BaseException:
        tmp.discard()
        raise


def dictionary_columns(parts: list[Path], schema: pa.Schema) -> list[str]:
    """The columns of a merged part worth a dictionary: those with at most one distinct value in
    ``DICTIONARY_SHARE`` rows of the first part's first ``MERGE_ROWS`` (model, source, a class
    label). Parquet writers try a dictionary for every column and fall back, row group by row
    group, when it outgrows its page — on request ids, timestamps and line numbers that was
    wasted work: 16 of the 100M bench store's label parts (8.3M rows) merge in 3.2–3.4 s of CPU
    instead of 4.4–5.0, into 196 MiB instead of 232."""
    first = next((p for p in parts if os.path.exists(p)), None)
    if first is None:
        return []
    rb = next(pq.ParquetFile(first, pre_buffer=False).iter_batches(batch_size=MERGE_ROWS, use_threads=False), None)
    if rb is None or rb.num_rows == 0:
        return []
    limit = max(1, rb.num_rows // DICTIONARY_SHARE)
    return [f.name for f in schema if (i := rb.schema.get_field_index(f.name)) >= 0
            and pc.count_distinct(rb.column(i)).as_py() <= limit]


def _conform(rb: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``rb`` with ``schema``'s columns, in its order: missing ones null, others cast."""
    cols = []
    for fld in schema:
        i = rb.schema.get_field_index(fld.name)
        col = rb.column(i) if i >= 0 else pa.nulls(rb.num_rows, fld.type)
        cols.append(col if col.type == fld.type else col.cast(fld.type))
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def retire(layout: StoreLayout, cp: Checkpoint, parts: list[Path], batch: int, now: dt.datetime) -> None:
    for p in parts:
        cp.retired[layout.rel(p)] = [batch, now.isoformat()]


def delete_expired(layout: StoreLayout, cp: Checkpoint, now: dt.datetime, grace_s: float = RETIRE_GRACE_S) -> int:
    """Delete retired parts older than the grace period; drop them from ``cp.retired``."""
    done = 0
    for rel, (_batch, at) in list(cp.retired.items()):
        try:
            when = dt.datetime.fromisoformat(at)
        except ValueError:
            when = now
        if (now - when).total_seconds() < grace_s:
            continue
        try:
            os.unlink(layout.root / rel)
        except FileNotFoundError:
            pass
        del cp.retired[rel]
        done += 1
    return done
