"""``checkpoint.json``: the one small file that says what the store holds.

It names the last committed batch (parts of later batches are not part of the store), the
position reached in every source stream (fingerprint, offset, line, CSV header), per-source
counters, and the feature catalogue (kind and column of every feature, its type-error
counter). It is replaced atomically after the parts of a batch are durable, so a crash at any
moment leaves either the old or the new checkpoint, never a mix.

An unreadable checkpoint (edited or damaged by hand: it is never half-written) is
``CheckpointUnreadable``, never an empty store: a reading command stops with one line saying
how to rebuild it, and the ingester (``store.writer.BatchWriter``) rebuilds the store from the
sources. Only a missing checkpoint means an empty store.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.documents import DocumentError, loads_json
from console.errors import UsageError
from console.fsio import write_atomic
from console.store.adopted import Adoption

FORMAT = 1


@dataclass
class SourceState:
    """Where one source stream (a log file followed across renames and gzip) stands."""

    path: str
    kind: str  # predictions | labels
    fmt: str  # jsonl | csv | parquet | delta
    fp: str = ""  # sha256 (hex) of the first fp_len bytes of the (decompressed) content; a Delta table's id
    fp_len: int = 0
    offset: int = 0  # bytes of (decompressed) content consumed; rows for Parquet (Delta: of ``target``'s new data)
    line: int = 0  # lines consumed (the CSV header included); rows for Parquet
    header: list[str] | None = None
    size: int = 0  # on-disk inode, size and mtime at the last look
    mtime_ns: int = 0
    ino: int = 0
    gz: bool = False
    total: int = 0  # on-disk size (plain files) or decompressed bytes seen (gzip) / rows (Parquet)
    rows: int = 0
    quarantined: int = 0
    duplicates: int = 0
    last_error: str | None = None
    last_ingest: str | None = None
    gone: bool = False
    gone_since: str | None = None  # when the console first saw it gone (pruned a week later)
    version: int = -1  # Delta: the table version whose data is all ingested (-1: none yet)
    target: int = -1  # Delta: the version being read (``offset`` rows of its new data done; -1: none)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SourceState:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class FeatureState:
    """One feature of one model: its kind, where the kind came from, its column, its errors."""

    kind: str | None
    kind_source: str  # registry | inferred
    column: str | None
    type_errors: int = 0
    written: bool = False


@dataclass
class Checkpoint:
    batch: int = 0
    hasher: str = ""
    sources: dict[str, SourceState] = field(default_factory=dict)
    features: dict[str, dict[str, FeatureState]] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)  # lower(column) -> [feature, kind]
    next_source: int = 1
    store_id: str = ""  # random, set by the first batch: tells a rebuilt store from the old one
    retired: dict[str, list] = field(default_factory=dict)  # part (relative path) -> [batch, retired at]
    skipped: dict[str, list] = field(default_factory=dict)  # link not followed (path) -> [kind, why]
    adopted: dict[str, Adoption] = field(default_factory=dict)  # Parquet file read in place (path) -> how
    # adopted files withdrawn and read again (path -> the batches of the withdrawn adoptions):
    # their quarantined records of those batches are superseded by the new read's
    withdrawn: dict[str, list[int]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "batch": self.batch,
            "hasher": self.hasher,
            "next_source": self.next_source,
            "store_id": self.store_id,
            "retired": self.retired,
            "skipped": self.skipped,
            # the same as dataclasses.asdict (every field is a plain value or a list of
            # strings), several times faster: the ingester serialises this every batch
            "sources": {k: dict(vars(v)) for k, v in self.sources.items()},
            "features": {m: {f: dict(vars(s)) for f, s in fs.items()} for m, fs in self.features.items()},
            "columns": self.columns,
        }
        if self.adopted:
            doc["adopted"] = {k: v.to_dict() for k, v in self.adopted.items()}
        if self.withdrawn:
            doc["withdrawn"] = {k: list(v) for k, v in self.withdrawn.items()}
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Checkpoint:
        doc = loads_json(raw, allow_nan=True)  # DocumentError (a ValueError) when unusable
        if not isinstance(doc, dict):
            raise ValueError(f"a JSON {type(doc).__name__}, not an object")
        cp = cls(
            batch=int(doc.get("batch", 0)),
            hasher=str(doc.get("hasher", "")),
            next_source=int(doc.get("next_source", 1)),
            store_id=str(doc.get("store_id", "")),
            retired={k: list(v) for k, v in doc.get("retired", {}).items()},
            skipped={k: list(v) for k, v in doc.get("skipped", {}).items()},
            columns={k: list(v) for k, v in doc.get("columns", {}).items()},
        )
        cp.sources = {k: SourceState.from_dict(v) for k, v in doc.get("sources", {}).items()}
        cp.adopted = {k: Adoption.from_dict(v) for k, v in doc.get("adopted", {}).items()}
        cp.withdrawn = {k: [int(b) for b in v] for k, v in doc.get("withdrawn", {}).items()}
        cp.features = {
            m: {f: FeatureState(**s) for f, s in fs.items()} for m, fs in doc.get("features", {}).items()
        }
        return cp


class CheckpointUnreadable(UsageError):
    """``checkpoint.json`` exists but cannot be used: what the store holds is unknown (exit 2
    for a reading command; ``ingest`` rebuilds the store from the sources)."""

    def __init__(self, path: Path, reason: str):
        self.path = path
        self.reason = " ".join(reason.split())[:200]
        super().__init__(f"{path}: unreadable checkpoint ({self.reason}); "
                         "run `mlops-console ingest` to rebuild the store from the sources")


def read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint at ``path``: an empty one when there is none yet, ``CheckpointUnreadable``
    when it is there but cannot be used (never half-written: it is replaced atomically, so
    it was edited or damaged by hand)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Checkpoint()
    except IsADirectoryError:
        raise CheckpointUnreadable(path, "not a regular file") from None
    try:
        return Checkpoint.from_json(raw)
    except DocumentError as exc:
        raise CheckpointUnreadable(path, exc.reason) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointUnreadable(path, f"not a checkpoint: {exc or type(exc).__name__}") from None


def write_checkpoint(path: Path, cp: Checkpoint, sync: bool = True) -> None:
    write_atomic(path, cp.to_json(), sync=sync)


def stat_key(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime_ns) of a file, to notice cheaply that it changed."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
