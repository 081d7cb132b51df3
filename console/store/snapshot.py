"""The store's read boundary: ``StoreSnapshot``, everything a reader may use of one committed
state of the store, and ``Memo``, where values computed from that state are kept.

``console.store.db.open_store`` returns a snapshot; ``console.analytics`` is written against
this Protocol only (a test checks its modules touch no other attribute), so a test can hand it
any object with this surface — a DuckDB over plain tables, a view of a store through another
registry — and the store is free to change how it keeps its views.

A snapshot is immutable: its batch, registry and production map never change, and its
``cursor()`` reads the views of exactly that batch. Reading newer data means asking the store
for a new snapshot (``Snapshot.refresh()``); a report already running on the old one finishes
on the old one, consistently.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Hashable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb

from console.store.layout import PartFile
from console.store.registry import Registry

T = TypeVar("T")


class Memo:
    """Values computed from one snapshot, kept while the snapshot lives (thread-safe).

    ``namespace`` names the store the snapshot reads (its folder and that folder's identity, or
    a unique name for a store without one): caches that outlive a snapshot key on it."""

    MAX_ENTRIES = 50_000

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._values: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value remembered for ``key`` (``default`` when there is none)."""
        with self._lock:
            return self._values.get(key, default)

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            if len(self._values) >= self.MAX_ENTRIES:
                self._values.clear()
            self._values[key] = value

    def compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value remembered for ``key``, else ``compute()`` (remembered from then on; an
        exception is not). Two threads asking at once may both compute; both get a value."""
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = compute()
        self.put(key, value)
        return value

    def keys(self) -> list[Hashable]:
        """The keys remembered now."""
        with self._lock:
            return list(self._values)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)


class StoreSnapshot(Protocol):
    """What a reader may use of one committed state of the store."""

    @property
    def batch(self) -> int:
        """The committed batch the views show."""
        ...

    @property
    def registry(self) -> Registry:
        """The model registry as read with this batch."""
        ...

    @property
    def production(self) -> Mapping[str, str | None]:
        """The production version of each model (from governance), ``None`` when it has none."""
        ...

    @property
    def config(self) -> Mapping[str, Any]:
        """The workspace's console.toml (empty for a store without a workspace)."""
        ...

    @property
    def store_dir(self) -> Path | None:
        """The store's folder (``.console/``): the only files its SQL reads (``None``: no files)."""
        ...

    @property
    def cache_dir(self) -> Path | None:
        """Where analytics may keep derived files (``None``: keep them in memory only)."""
        ...

    @property
    def memo(self) -> Memo:
        """Values computed from this snapshot (they are valid exactly as long as it is)."""
        ...

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB cursor over this snapshot's views, for use in one thread."""
        ...

    def parts(self, model: str, start: dt.datetime | None = None,
              end: dt.datetime | None = None) -> list[PartFile] | None:
        """The committed prediction parts of ``model`` whose day meets ``[start, end)`` (every
        day when open), by day; ``None`` when the rows are not kept as parts (use SQL)."""
        ...

    def labelled_subset(self, cond: str) -> str:
        """A relation: the rows of ``predictions_labelled`` matching ``cond`` (literal SQL over
        ``predictions``' columns), computed as cheaply as this store can."""
        ...

    def training_usd(self, model: str, version: str) -> float | None:
        """The version's training cost in USD: what its retrain hook reported (governance), else
        its registry entry's ``cost.training_usd``; ``None`` when unknown."""
        ...

    def alone(self) -> AbstractContextManager[None]:
        """A context in which this report's queries run with no other report's beside them:
        DuckDB's ``memory_limit`` is one pool for every query on the store, so two large label
        joins side by side can exhaust it where either alone fits. Through a runner
        (``analytics.runner``) it waits for the others to finish and holds new ones back; a
        snapshot used directly runs one report at a time, so it does nothing."""
        ...


PROTOCOL_MEMBERS = frozenset(
    name for name in vars(StoreSnapshot) if not name.startswith("_")
)
