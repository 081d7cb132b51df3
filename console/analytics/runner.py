"""One way to run a report, for the command line and the TUI alike: ``Runner``.

``Runner.run(db, "drift_report", model=...)`` calls ``console.analytics.<name>`` (or, for
``"cost.cost_rows"``, a function of one of its modules) on a store snapshot and returns what it
returned, untouched. Around the call it owns four things:

- **memo**: the result is kept in the snapshot's ``memo`` under the report's name and its
  arguments (defaults applied, so the same call spelled differently is one entry) — valid
  exactly as long as the snapshot. A report another thread is computing right now is waited
  for, not computed twice. A result with ``errors`` (a report that could not compute
  everything) is not kept: the next ask tries again.
- **cancellation**: ``cancel()`` interrupts the reports running now — DuckDB's
  ``interrupt()`` on each cursor they opened — and each raises ``Cancelled``. A caller tags a
  run (``tag=``: the TUI, its worker) and cancels only the runs whose tag is stale.
- **thread priority**: a report run off the main thread first lowers that thread's priority
  (``console.analytics.priority``), so an interactive caller's event loop runs first.
- **memory**: DuckDB's ``memory_limit`` is one pool for every query on the store, so two large
  label joins side by side (the TUI's alerts and the tabs it computes ahead) can run it out
  where either alone fits. A report that DuckDB stops with ``OutOfMemoryException`` runs once
  more **alone** (``_Gate``): it waits for the reports running now to finish, and holds back
  those that would start, until it is done. A report may ask for that itself around one part
  (``db.alone()``: the alert rules do, so that one rule's retry does not redo the others).
"""

from __future__ import annotations

import importlib
import inspect
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import duckdb

from console.analytics.priority import background
from console.errors import UsageError
from console.store.snapshot import StoreSnapshot


class Cancelled(UsageError):
    """A report stopped by ``Runner.cancel()``."""

    def __init__(self) -> None:
        super().__init__("report cancelled")


def resolve(name: str | Callable[..., Any]) -> Callable[..., Any]:
    """The analytics function called ``name`` (``"module.function"`` for one of a module's);
    a function given itself (a report of a layer above analytics, such as the profiles') is
    that function."""
    if callable(name):
        return name
    if "." in name:
        module, func = name.rsplit(".", 1)
        return getattr(importlib.import_module(f"console.analytics.{module}"), func)
    import console.analytics as analytics

    return getattr(analytics, name)


def call_key(name: str | Callable[..., Any], fn: Callable[..., Any], kwargs: dict[str, Any]) -> tuple:
    """The memo key of a call: the same call spelled differently (a default given or not) is
    one key."""
    if callable(name):
        name = f"{fn.__module__}.{fn.__qualname__}"
    try:
        bound = inspect.signature(fn).bind(None, **kwargs)
        bound.apply_defaults()
        args = dict(list(bound.arguments.items())[1:])
    except (TypeError, ValueError):
        args = kwargs
    return "report", name, repr(sorted(args.items()))


class _Job:
    """The cursors one running report opened (so ``cancel`` can interrupt them)."""

    def __init__(self, tag: Any = None) -> None:
        self.tag = tag
        self.cursors: weakref.WeakSet[Any] = weakref.WeakSet()  # a dropped cursor is gone
        self.cancelled = False
        self.lock = threading.Lock()

    def add(self, cur: Any) -> Any:
        with self.lock:
            if self.cancelled:
                cur.close()
                raise Cancelled()
            self.cursors.add(cur)
        return cur

    def cancel(self) -> None:
        with self.lock:
            self.cancelled = True
            cursors = list(self.cursors)
        for cur in cursors:
            try:
                cur.interrupt()
            except Exception:  # noqa: BLE001 - finished or closed already
                pass


class _Gate:
    """Reports run side by side, or one alone (module docstring, 'memory'). ``shared`` wraps
    every run; ``alone``, entered from inside one, lets that run go on only once no other is
    running, and keeps new ones waiting until it leaves (re-entered by the same run: already
    alone). A cancelled job stops waiting."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._owner: _Job | None = None  # the run going alone

    def _wait(self, ready: Callable[[], bool], job: _Job) -> None:
        while not ready():
            if job.cancelled:
                raise Cancelled()
            self._cond.wait()

    def wake(self) -> None:
        """Let waiting runs look again (a job was cancelled)."""
        with self._cond:
            self._cond.notify_all()

    @contextmanager
    def shared(self, job: _Job) -> Iterator[None]:
        with self._cond:
            self._wait(lambda: self._owner is None, job)
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextmanager
    def alone(self, job: _Job) -> Iterator[None]:
        with self._cond:
            if self._owner is job:
                again = True
            else:
                again = False
                self._active -= 1  # this run, waiting, holds nobody back
                self._cond.notify_all()
                try:
                    self._wait(lambda: self._owner is None, job)
                    self._owner = job
                    try:
                        self._wait(lambda: self._active == 0, job)
                    except BaseException:
                        self._owner = None
                        self._cond.notify_all()
                        raise
                finally:
                    self._active += 1
        try:
            yield
        finally:
            if not again:
                with self._cond:
                    self._owner = None
                    self._cond.notify_all()


class _Tracked:
    """``db`` as a report sees it through a runner: the same snapshot, with every cursor it
    opens known to the report's job."""

    def __init__(self, db: StoreSnapshot, job: _Job, gate: _Gate) -> None:
        self._db, self._job, self._gate = db, job, gate
        self.batch, self.registry, self.production = db.batch, db.registry, db.production
        self.config, self.store_dir, self.cache_dir, self.memo = db.config, db.store_dir, db.cache_dir, db.memo

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._job.add(self._db.cursor())

    def parts(self, model: str, start=None, end=None):
        return self._db.parts(model, start, end)

    def labelled_subset(self, cond: str) -> str:
        return self._db.labelled_subset(cond)

    def training_usd(self, model: str, version: str) -> float | None:
        return self._db.training_usd(model, version)

    def alone(self) -> AbstractContextManager[None]:
        return self._gate.alone(self._job)


class Runner:
    """Runs reports on store snapshots: memo, waiting for a twin, cancellation, priority."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple, threading.Event] = {}
        self._jobs: set[_Job] = set()
        self._gate = _Gate()

    def run(self, db: StoreSnapshot, name: str | Callable[..., Any], /, *, tag: Any = None,
            **kwargs: Any) -> Any:
        """``console.analytics.<name>(db, **kwargs)``, remembered with the snapshot; ``tag``
        names who asked (see ``cancel``)."""
        background()  # the engine's work never delays an event loop
        fn = resolve(name)
        key = call_key(name, fn, kwargs)
        flight = (id(db.memo), key)
        while True:
            with self._lock:
                hit = db.memo.get(key)
                if hit is not None:
                    return hit
                running = self._running.get(flight)
                if running is None:
                    running = self._running[flight] = threading.Event()
                    break
            running.wait()  # then the memo has it (or that run failed: compute it here)
        job = _Job(tag)
        with self._lock:
            self._jobs.add(job)
        try:
            with self._gate.shared(job):
                try:
                    result = self._call(fn, db, job, kwargs)
                except duckdb.OutOfMemoryException:
                    with self._gate.alone(job):  # once more, with no other report beside it
                        result = self._call(fn, db, job, kwargs)
            if job.cancelled:
                raise Cancelled()
            if not (isinstance(result, dict) and result.get("errors")):
                db.memo.put(key, result)
            return result
        finally:
            with self._lock:
                self._jobs.discard(job)
                self._running.pop(flight, None)
            running.set()

    def _call(self, fn: Callable[..., Any], db: StoreSnapshot, job: _Job, kwargs: dict[str, Any]) -> Any:
        try:
            return fn(_Tracked(db, job, self._gate), **kwargs)
        except duckdb.InterruptException:
            raise Cancelled() from None
        except Exception:
            if job.cancelled:
                raise Cancelled() from None
            raise

    def remembered(self, db: StoreSnapshot, name: str | Callable[..., Any], /, **kwargs: Any) -> bool:
        """Whether ``run(db, name, **kwargs)`` would answer from the memo (nothing computed)."""
        fn = resolve(name)
        return db.memo.get(call_key(name, fn, kwargs)) is not None

    def cancel(self, stale: Callable[[Any], bool] | None = None) -> int:
        """Interrupt every report running now — or those whose tag ``stale(tag)`` says is
        stale — and return how many; each raises ``Cancelled``. Never blocks."""
        with self._lock:
            jobs = [j for j in self._jobs if stale is None or stale(j.tag)]
        for job in jobs:
            job.cancel()
        self._gate.wake()  # a cancelled run waiting to go alone stops waiting
        return len(jobs)


def run_report(db: StoreSnapshot, name: str, /, **kwargs: Any) -> Any:
    """``Runner().run(db, name, **kwargs)``: one report, as the command line runs it."""
    return Runner().run(db, name, **kwargs)
