"""Compaction: many small parts of one folder merged into one, without ever breaking a reader.

``ingest --follow`` commits a small batch every few seconds, which leaves many small files per
``model/day`` folder; every query pays for each file it opens. When a folder holds more than
``MAX_SMALL_PARTS`` parts smaller than ``SMALL_BYTES``, they are merged into one new part of a
new batch. The checkpoint that commits the new batch also lists the merged parts as *retired*:
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

import polars as pl

from console.fsio import TempFile
from console.store.checkpoint import Checkpoint
from console.store.layout import KINDS, StoreLayout

MAX_SMALL_PARTS = 16
SMALL_BYTES = 16 << 20
RETIRE_GRACE_S = 600


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


def write_merged(folder: Path, parts: list[Path], batch: int, n: int, sync: bool = True) -> tuple[Path, Path]:
    """Merge ``parts`` into a (fsynced, closed) temp file for part ``b<batch>-<n>``; returns
    (temp, final)."""
    frames = [pl.read_parquet(p) for p in parts]
    merged = pl.concat(frames, how="diagonal_relaxed")
    final = folder / f"b{batch}-{n}.parquet"
    tmp = TempFile(final)
    try:
        merged.write_parquet(tmp.target, compression="lz4", statistics=True)
        return tmp.close(sync), final
    except BaseException:
        tmp.discard()
        raise


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
