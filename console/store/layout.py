"""The on-disk layout of ``<workspace>/.console/``.

Parts are immutable Parquet files named ``b<batch>-<n>.parquet``: written to a hidden temp
name in the same folder, fsynced, ``os.replace``d into place, then the folder is fsynced (the
one way the console replaces a file: ``console.fsio``). A part belongs to the store only once ``checkpoint.json`` names a committed batch at least as large as
its batch number; parts of a later (uncommitted) batch are orphans of a crashed ingester and
are deleted by the next one (``remove_orphans``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from console.fsio import is_temp_name

KINDS = ("predictions", "labels", "quarantine")
PART_RE = re.compile(r"^b(\d+)-(\d+)\.parquet$")
_DAY_RE = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class PartFile:
    """One committed prediction part of one model and day: its path, its path relative to
    ``.console/`` (how ``checkpoint.json`` names it), size and mtime (what identifies its bytes)."""

    day: dt.date
    path: str
    rel: str
    size: int
    mtime_ns: int


def part_name(batch: int, n: int) -> str:
    """The file name of part ``n`` of ``batch`` (what ``PART_RE`` matches)."""
    return f"b{int(batch)}-{int(n)}.parquet"


class StoreLayout:
    """Paths under ``.console/``."""

    def __init__(self, store_dir: Path):
        self.root = Path(store_dir)

    @property
    def lock_path(self) -> Path:
        return self.root / "ingest.lock"

    @property
    def checkpoint_path(self) -> Path:
        return self.root / "checkpoint.json"

    @property
    def parts_dir(self) -> Path:
        return self.root / "parts"

    @property
    def keys_dir(self) -> Path:
        """Saved sorted dedupe keys (derived from the parts; safe to delete)."""
        return self.root / "keys"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def analytics_cache_dir(self) -> Path:
        """Results of closed analytics windows and reference copies (safe to delete)."""
        return self.cache_dir / "analytics"

    @property
    def adopted_dir(self) -> Path:
        """Sidecars of adopted Parquet sources (``store.adopted``): ``keys/`` and ``excluded/``."""
        return self.parts_dir / "adopted"

    def kind_dir(self, kind: str) -> Path:
        return self.parts_dir / kind

    def prediction_dir(self, model: str, day: str) -> Path:
        return self.kind_dir("predictions") / f"model={quote(model, safe='')}" / f"day={day}"

    def rel(self, path: Path | str) -> str:
        return os.path.relpath(path, self.root)

    def parts(self, kind: str, max_batch: int | None = None, retired: dict | set | None = None) -> list[Path]:
        """Committed parts of ``kind`` (batch ≤ ``max_batch``, not retired by compaction), by batch."""
        found = sorted(self._committed(_walk(self.kind_dir(kind)), max_batch, retired))
        return [Path(p) for _, _, p in found]

    def model_parts(self, model: str, max_batch: int | None = None,
                    retired: dict | set | None = None) -> list[PartFile]:
        """Committed prediction parts of ``model`` (as ``parts``), by day then name."""
        folder = self.prediction_dir(model, "2000-01-01").parent
        out: list[PartFile] = []
        try:
            days = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return out
        for d in days:
            m = _DAY_RE.match(d.name)
            if not m or not d.is_dir(follow_symlinks=False):
                continue
            day = dt.date.fromisoformat(m.group(1))
            files = (f.path for f in os.scandir(d.path) if not f.is_dir(follow_symlinks=False))
            for _, _, path in self._committed(files, max_batch, retired):
                st = os.stat(path)
                out.append(PartFile(day, path, self.rel(path), st.st_size, st.st_mtime_ns))
        out.sort(key=lambda p: (p.day, p.rel))
        return out

    def _committed(self, paths, max_batch: int | None, retired) -> Iterator[tuple[int, int, str]]:
        """``(batch, n, path)`` of each committed part among ``paths``: the one place that says
        which files are parts of the store."""
        for path in paths:
            m = PART_RE.match(os.path.basename(path))
            if not m:
                continue
            batch = int(m.group(1))
            if max_batch is not None and batch > max_batch:
                continue
            if retired and self.rel(path) in retired:
                continue
            yield batch, int(m.group(2)), path

    def remove_orphans(self, committed_batch: int) -> int:
        """Delete temp files and parts of batches after ``committed_batch``; return how many."""
        removed = 0
        for folder in [*(self.kind_dir(kind) for kind in KINDS), self.adopted_dir]:
            for path in _walk(folder):
                name = os.path.basename(path)
                m = PART_RE.match(name)
                if is_temp_name(name) or (m and int(m.group(1)) > committed_batch):
                    try:
                        os.unlink(path)
                        removed += 1
                    except FileNotFoundError:
                        pass
        return removed


def _walk(top: Path) -> Iterator[str]:
    try:
        entries = list(os.scandir(top))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        else:
            yield entry.path
