"""The analytics cache: results of closed windows, kept in memory per process and as small JSON
files under ``<workspace>/.console/cache/analytics/`` (safe to delete at any time).

A key is a dict naming everything a result depends on — report kind, model, version, window,
feature, the reference's fingerprint, the config fingerprint, and a *data fingerprint* of the
rows involved (row count, highest ingest batch, labelled count, latest label arrival). Late
data or a late label that touches a window changes its data fingerprint, so the stale entry is
simply never looked up again. Values that hold for one store snapshot only (a report of
this batch, registry and fleet) live in the snapshot's ``memo`` instead (``memoised``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.documents import read_json
from console.fsio import write_atomic
from console.store.snapshot import StoreSnapshot

_MEMORY: dict[str, Any] = {}
_LOCK = threading.Lock()
_MAX_MEMORY = 50_000


def key_hash(key: dict[str, Any]) -> str:
    raw = json.dumps(key, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


class Cache:
    """Memory + disk cache of JSON-serialisable results; ``root=None`` keeps it in memory only."""

    def __init__(self, root: Path | None, enabled: bool = True, namespace: str = ""):
        self.root = root
        self.enabled = enabled
        self.namespace = namespace or str(root)

    def get(self, key: dict[str, Any]) -> Any | None:
        if not self.enabled:
            return None
        h = key_hash({"ns": self.namespace, "key": key})
        with _LOCK:
            if h in _MEMORY:
                return _MEMORY[h]
        if self.root is None:
            return None
        path = self.root / h[:2] / f"{h}.json"
        try:
            value = read_json(path, max_bytes=None, allow_nan=True)
        except (OSError, ValueError):  # DocumentError is a ValueError: a bad entry is a miss
            return None
        with _LOCK:
            _MEMORY[h] = value
        return value

    def put(self, key: dict[str, Any], value: Any) -> None:
        if not self.enabled:
            return
        h = key_hash({"ns": self.namespace, "key": key})
        with _LOCK:
            if len(_MEMORY) > _MAX_MEMORY:
                _MEMORY.clear()
            _MEMORY[h] = value
        if self.root is None:
            return
        try:  # dumps uses the C encoder, dump does not; a lost entry is only recomputed: no fsync
            write_atomic(self.root / h[:2] / f"{h}.json", json.dumps(value, default=str).encode(), sync=False)
        except OSError:
            pass  # a cache that cannot write is just a slower report


def cache_for(db: StoreSnapshot, enabled: bool = True) -> Cache:
    """The analytics cache of a store snapshot: its ``cache_dir`` on disk (memory only when it
    has none), shared by every snapshot of the same store (``memo.namespace``)."""
    return Cache(db.cache_dir, enabled, namespace=db.memo.namespace)


def _memo_key(key: dict[str, Any]) -> tuple[str, str]:
    """Where ``per_batch`` keeps ``key``'s value in a snapshot's memo."""
    return ("per_batch", key_hash(key))


def _disk_key(db: StoreSnapshot, key: dict[str, Any]) -> dict[str, Any]:
    """Where ``per_batch_saved`` keeps ``key``'s value on disk: under the store's batch."""
    return {**key, "batch": db.batch}


def per_batch(db: StoreSnapshot, key: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """``compute()``, remembered (the value as it is) as long as the snapshot lives: until the
    store commits its next batch."""
    return db.memo.compute(_memo_key(key), compute)


def per_batch_saved(db: StoreSnapshot, key: dict[str, Any], compute: Callable[[], Any],
                    dump: Callable[[Any], Any] = lambda v: v, load: Callable[[Any], Any] = lambda v: v) -> Any:
    """``per_batch``, and also kept on disk (``cache_for``) under the store's batch: a scan of
    every row (the data's time range, the logged models: seconds on 100M rows) is done once
    per committed batch, not once per process. ``dump``/``load``: the value to and from JSON
    (never ``None``: that reads as a miss)."""
    def saved() -> Any:
        cache = cache_for(db)
        hit = cache.get(_disk_key(db, key))
        if hit is not None:
            return load(hit)
        value = compute()
        cache.put(_disk_key(db, key), dump(value))
        return value

    return per_batch(db, key, saved)


def per_batch_put(db: StoreSnapshot, key: dict[str, Any], value: Any, dump: Callable[[Any], Any] = lambda v: v) -> None:
    """Remember ``value`` as ``per_batch_saved(db, key, …)`` would have computed it (a caller
    that scanned the rows anyway)."""
    db.memo.put(_memo_key(key), value)
    cache_for(db).put(_disk_key(db, key), dump(value))


def memoised(db: StoreSnapshot, key: dict[str, Any], compute, enabled: bool = True) -> Any:
    """``compute()``, remembered as long as the snapshot lives — its store batch, registry and
    fleet never change. A hit is a fresh copy (callers may change what they get)."""
    if not enabled:
        return compute()
    mkey = ("report", key_hash(key))
    hit = db.memo.get(mkey)
    if hit is not None:
        return json.loads(hit)
    value = compute()
    db.memo.put(mkey, json.dumps(value, default=str))
    return value
