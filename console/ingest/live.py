"""Ingesting continuously: ``LiveIngester`` (the TUI's background ingest) and ``follow`` (the CLI).

Watchdog events only *wake* the loop early; every wake-up, and every ``interval`` seconds
regardless, runs a full pass that stats every source — the stat is the truth (inotify drops
events when its queue overflows and sees nothing on network filesystems). When watchdog
cannot watch a folder, the loop polls and says so in ``status.watching``/``status.note``.

Only one console ingests at a time: each pass takes the ingest lock without waiting; when
another console holds it, this one is a reader for that pass (``status.role == "reader"``)
and tries again next time. The lock is held only during a pass, so a one-shot ``ingest``
never waits long.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TextIO

from console import clock
from console.ingest.engine import Ingester, IngestResult, LockBusy
from console.store.checkpoint import CheckpointUnreadable, read_checkpoint
from console.workspace import Workspace


@dataclass
class LiveStatus:
    """What the live ingester is doing; read it from any thread (it is replaced, not mutated)."""

    running: bool = False
    role: str = "idle"  # "ingester" (held the lock last pass) | "reader" (another console did) | "idle"
    holder_pid: int | None = None  # who holds the lock when we are a reader
    watching: str = "polling"  # "watchdog" | "polling"
    note: str = ""  # why we poll, when we do
    rows_per_s: float = 0.0  # of the last pass that ingested anything
    lag_bytes: int = 0  # bytes in sources not ingested yet (as of the last pass)
    predictions: int = 0  # new rows since start
    labels: int = 0
    quarantined: int = 0
    duplicates: int = 0
    passes: int = 0
    batches: int = 0
    last_error: str | None = None
    last_pass: dt.datetime | None = None
    errors: list[str] = field(default_factory=list)


class LiveIngester:
    """Ingest in a background thread until ``stop()``.

    ``on_batch(batch_no, result)`` is called (in the ingest thread) after each committed
    batch: refresh your ``StoreDB`` then. ``on_pass(result, status)`` after every pass.
    """

    def __init__(
        self,
        ws: Workspace,
        on_batch: Callable[[int, IngestResult], None] | None = None,
        interval: float = 2.0,
        use_watchdog: bool = True,
        on_pass: Callable[[IngestResult, LiveStatus], None] | None = None,
        debounce: float = 0.1,
    ):
        self.ws = ws
        self.interval = interval
        self.debounce = debounce
        self.use_watchdog = use_watchdog
        self.on_pass = on_pass
        self.ingester = Ingester(ws, on_batch=on_batch)
        self._status = LiveStatus()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer = None

    @property
    def status(self) -> LiveStatus:
        return self._status

    def _set(self, **changes) -> None:
        self._status = LiveStatus(**{**asdict(self._status), **changes})

    def wake(self) -> None:
        """Run a pass now (also what watchdog events do)."""
        self._wake.set()

    def start(self) -> LiveIngester:
        if self._thread is not None:
            return self
        watching, note = self._start_watchdog()
        self._set(running=True, watching=watching, note=note)
        self._thread = threading.Thread(target=self._loop, name="mlops-console-ingest", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        self.ingester.halt.set()  # a pass under way ends after the file it is reading
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.ingester.close()
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(5)
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass
            self._observer = None
        self._set(running=False)

    # -- internals -----------------------------------------------------------------------
    def _start_watchdog(self) -> tuple[str, str]:
        if not self.use_watchdog:
            return "polling", f"watchdog disabled; polling every {self.interval:g}s"
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError as exc:  # pragma: no cover - watchdog is a dependency
            return "polling", f"watchdog unavailable ({exc}); polling every {self.interval:g}s"
        wake = self._wake

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:  # noqa: D401 - watchdog API
                wake.set()

        folders = []
        for p in [*self.ws.predictions, *self.ws.labels, self.ws.registry]:
            folder = p if p.is_dir() else p.parent
            if folder not in folders:
                folders.append(folder)
        observer = Observer()
        try:
            for folder in folders:
                observer.schedule(_Handler(), str(folder), recursive=True)
            observer.start()
        except Exception as exc:  # noqa: BLE001 - inotify limits, odd filesystems
            try:
                observer.stop()
            except Exception:  # noqa: BLE001
                pass
            return "polling", f"watchdog cannot watch ({exc}); polling every {self.interval:g}s"
        self._observer = observer
        return "watchdog", f"watchdog wakes ingest; every source is also stat'ed every {self.interval:g}s"

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._pass()
            self._wake.wait(self.interval)
            if self._stop.is_set():
                break
            if self._wake.is_set() and self.debounce:
                time.sleep(self.debounce)  # let a burst of writes settle into one pass
            self._wake.clear()

    def _pass(self) -> None:
        t0 = time.monotonic()
        try:
            result = self.ingester.run_once(wait=0)
        except LockBusy as exc:
            self._set(role="reader", holder_pid=exc.pid, passes=self._status.passes + 1,
                      last_pass=clock.now(), lag_bytes=self._lag())
            return
        except Exception as exc:  # noqa: BLE001 - keep the console alive; show the error
            self._set(last_error=f"{type(exc).__name__}: {exc}", passes=self._status.passes + 1)
            return
        elapsed = max(time.monotonic() - t0, 1e-6)
        s = self._status
        rows = result.predictions + result.labels + result.quarantined + result.duplicates
        self._set(
            role="ingester",
            holder_pid=None,
            rows_per_s=rows / elapsed if rows else s.rows_per_s,
            lag_bytes=self._lag(),
            predictions=s.predictions + result.predictions,
            labels=s.labels + result.labels,
            quarantined=s.quarantined + result.quarantined,
            duplicates=s.duplicates + result.duplicates,
            passes=s.passes + 1,
            batches=s.batches + result.batches,
            last_error=result.errors[-1] if result.errors else None,
            errors=(s.errors + result.errors)[-20:],
            last_pass=clock.now(),
        )
        if self.on_pass is not None:
            self.on_pass(result, self._status)

    def _lag(self) -> int:
        try:
            cp = read_checkpoint(self.ingester.layout.checkpoint_path)
        except CheckpointUnreadable:  # the ingesting console rebuilds it; the store's views say so
            return 0
        return sum(max(s.total - s.offset, 0) for s in cp.sources.values() if not s.gone and s.fmt not in ("parquet", "delta"))


def follow(ws: Workspace, fmt: str, interval: float = 2.0, out: TextIO | None = None,
           err: TextIO | None = None) -> int:
    """``ingest --follow``: ingest until SIGINT/SIGTERM. ``table``/``csv``: one line per pass that
    found something; ``json``: one JSON document with the totals when stopped. Warnings (a
    rebuilt store, a damaged file) go to ``err`` as ``ingest`` prints them, each once."""
    out = out or sys.stdout
    err = err or sys.stderr
    stop = threading.Event()

    warned: set[str] = set()

    def on_pass(result: IngestResult, status: LiveStatus) -> None:
        for warning in result.errors:  # as ``ingest`` prints them; each once (a failing stream retries every pass)
            if warning not in warned:
                warned.add(warning)
                err.write(f"mlops-console: warning: {warning}\n")
                err.flush()
        if not any(result.as_dict().values()):
            return
        line = " ".join(f"{k}={v}" for k, v in result.as_dict().items())
        target = err if fmt == "json" else out
        target.write(f"{clock.now().strftime('%H:%M:%SZ')} {line}\n")
        target.flush()

    live = LiveIngester(ws, interval=interval, on_pass=on_pass)
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        live.start()
        err.write(f"mlops-console: following {ws.root} ({live.status.note}); Ctrl-C to stop\n")
        err.flush()
        last_role = None
        while not stop.wait(0.2):
            st = live.status
            if st.role != last_role and st.role == "reader":
                err.write(f"mlops-console: another console (pid {st.holder_pid or '?'}) is ingesting; "
                          "waiting for the lock\n")
                err.flush()
            last_role = st.role
    finally:
        live.stop()
        for s, h in previous.items():
            signal.signal(s, h)
    st = live.status
    totals = {"predictions": st.predictions, "labels": st.labels, "quarantined": st.quarantined,
              "duplicates": st.duplicates}
    if fmt == "json":
        out.write(json.dumps(totals) + "\n")
    out.flush()
    return 0
