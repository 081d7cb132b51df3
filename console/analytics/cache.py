"""The analytics cache: results of closed windows, kept in memory per process and as small JSON
files under ``<workspace>/.console/cache/analytics/`` (safe to delete at any time).

A key is a dict naming everything a result depends on — report kind, model, version, window,
feature, the reference's fingerprint, the config fingerprint, and a *data fingerprint* of the
rows involved (row count, highest ingest batch, labelled count, latest label arrival). Late
data or a late label that touches a window changes its data fingerprint, so the stale entry is
simply never looked up again. ``store_generation`` (the store checkpoint's identity) lets a
report skip even the fingerprint query when nothing at all was ingested since.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.documents import read_json
from console.fsio import write_atomic

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


def cache_for(db: Any, enabled: bool = True) -> Cache:
    """The cache of a StoreDB's workspace (memory only when the store has no workspace)."""
    ws = getattr(db, "ws", None)
    root = getattr(ws, "store_dir", None) if ws is not None else None
    if root is None:
        ns = getattr(db, "_analytics_cache_ns", None)
        if ns is None:  # not id(db): ids are reused once an object is freed
            import uuid

            ns = f"mem:{uuid.uuid4().hex}"
            try:
                db._analytics_cache_ns = ns
            except AttributeError:
                return Cache(None, False)
        return Cache(None, enabled, namespace=ns)
    try:  # a rebuilt store (.console deleted) is a new namespace: batch numbers restart
        ino = os.stat(root).st_ino
    except OSError:
        ino = 0
    return Cache(Path(root) / "cache" / "analytics", enabled, namespace=f"{root}:{ino}")


def per_batch(db: Any, key: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """``compute()``, remembered in this process's memory (the value as it is) until the store
    commits its next batch; computed every time when the store has no batch number."""
    batch = getattr(db, "batch", None)
    memo = Cache(None, isinstance(batch, int), namespace=cache_for(db).namespace)
    full = {**key, "batch": batch}
    hit = memo.get(full)
    if hit is not None:
        return hit
    value = compute()
    memo.put(full, value)
    return value


def store_generation(db: Any) -> str | None:
    """An identity of the store's committed state (changes whenever a batch is committed)."""
    for attr in ("generation", "batch", "last_batch"):
        value = getattr(db, attr, None)
        if value is not None and not callable(value):
            return f"{attr}:{value}"
    ws = getattr(db, "ws", None)
    if ws is None:
        return None
    try:
        st = (Path(ws.store_dir) / "checkpoint.json").stat()
    except OSError:
        return None
    return f"ckpt:{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"


def state_key(db: Any) -> dict[str, Any] | None:
    """What a whole report depends on besides its arguments: the store batch, the registry
    files and the production versions (``None`` when the store has no batch number)."""
    batch = getattr(db, "batch", None)
    if not isinstance(batch, int):
        return None
    reg = getattr(db, "registry", None)
    versions = getattr(reg, "versions", {}) or {}
    return {
        "batch": batch,
        "registry": sorted((m, v, getattr(i, "mtime_ns", 0)) for (m, v), i in versions.items()),
        "production": sorted((db.production or {}).items(), key=lambda kv: kv[0]),
    }


def memoised(db: Any, key: dict[str, Any], compute, enabled: bool = True) -> Any:
    """``compute()``, remembered in this process until the store, registry or fleet changes."""
    state = state_key(db)
    if state is None or not enabled:
        return compute()
    memo = Cache(None, True, namespace=cache_for(db).namespace)
    full = {"report": key, "state": state}
    hit = memo.get(full)
    if hit is not None:
        return json.loads(hit)
    value = compute()
    memo.put(full, json.dumps(value, default=str))
    return value
