"""The TUI's only door to the engine: it opens the store, keeps governance state and the live
ingester, and calls ``console.analytics`` and ``console.governance`` on behalf of the screens.
Every method here runs in a worker thread (never on the event loop) and returns what the engine
returned — the TUI formats numbers, it never computes them, and it runs no SQL of its own.

``db`` is the store snapshot the screens read (``console.store.snapshot``); ``refresh()``
replaces it with a newer one when data, registry or governance state changed, and reports
run through the analytics ``Runner`` the command line uses (memo per snapshot, cancellation,
lowered thread priority).
"""

from __future__ import annotations

import threading
from typing import Any

from console import clock
from console.analytics.priority import background
from console.analytics.runner import Runner
from console.governance.state import FleetState, fleet_state
from console.identity import Identity
from console.store.registry import Registry, load_registry, registry_signature
from console.tui.status import Status
from console.tui.window import TimeWindow
from console.workspace import Workspace


class Backend:
    """Store, registry, governance state and live ingest for one console process."""

    def __init__(self, ws: Workspace, identity: Identity, live: bool = True):
        self.ws = ws
        self.identity = identity
        self.clock = clock.now  # the console's one clock (frozen in tests)
        self.live = live
        self.registry: Registry = Registry()
        self.fleet: FleetState = FleetState()
        self.db: Any = None  # the current store snapshot
        self._query_db: Any = None  # the query screen's own sandboxed connection
        self.ingester: Any = None
        self.runner = Runner()
        self._lock = threading.Lock()
        self._journal_sig: tuple | None = None

    # -- life cycle ------------------------------------------------------------------------
    def load_state(self) -> None:
        """Registry and governance state (cheap: files only)."""
        self.registry = load_registry(self.ws.registry, self.ws.root)
        self.fleet = fleet_state(self.ws, self.registry)

    def open(self) -> None:
        """Open the store (and start the live ingester when asked). DuckDB's thread pool starts
        here and inherits this thread's lowered priority (``console.analytics.priority``)."""
        background()
        self.load_state()
        from console.store.db import open_store

        self.db = open_store(self.ws, **self.fleet.overlay())
        _recall_ranges(self.db)
        self.ingest_problem: str | None = None
        if self.live:
            try:
                self.ingester = start_live_ingester(self.ws)
            except Exception as exc:  # the console still reads what is in the store
                self.ingest_problem = f"live ingest unavailable: {type(exc).__name__}: {exc}"

    def close(self) -> None:
        ing, self.ingester = self.ingester, None
        if ing is not None:
            stop = getattr(ing, "stop", None) or getattr(ing, "close", None)
            if stop:
                stop()
        self.runner.cancel()  # a report still running stops now
        for db in (self.db, self._query_db):
            if db is not None:
                try:
                    db.close()
                except Exception:
                    pass
        self.db = self._query_db = None

    def refresh(self) -> bool:
        """New parts, registry files or journal entries since last time? Reloads what changed."""
        changed = False
        db = self.db
        sig = (_file_sig(self.ws.journal_path), _file_sig(self.ws.serving_path),
               registry_signature(self.ws.registry))
        if sig != self._journal_sig:
            self._journal_sig = sig
            self.load_state()
            if db is not None:
                db = db.with_fleet(**self.fleet.overlay())
            changed = True
        if db is not None:
            db = db.refresh()
            if db is not self.db:
                _recall_ranges(db)
            changed = changed or db is not self.db
            self.db = db  # reports still running finish on the snapshot they started with
        return changed

    # -- header status ---------------------------------------------------------------------
    def status(self) -> Status:
        st = Status()
        if self.db is None:
            return st
        from console.analytics.status import store_status

        store = store_status(self.db)
        st.lag_bytes = store["lag_bytes"]
        st.quarantined = store["quarantined"]
        st.latest_ts = store["latest_ts"]
        st.future_rows = store["future_rows"]
        if self.ingester is None:
            st.ingest_state = "error" if getattr(self, "ingest_problem", None) else "off"
        else:
            stats = ingester_stats(self.ingester)
            st.ingest_state = stats["state"]
            st.rows_per_s = stats["rows_per_s"]
            if stats["state"] == "live":
                st.lag_bytes = stats["lag_bytes"]
        verdict = self.verify_journal()
        st.chain_ok = verdict.get("ok")
        st.chain_entries = verdict.get("entries", 0)
        st.chain_first_bad = verdict.get("first_bad_seq")
        from console.governance.trust import trust_problems

        st.untrusted = trust_problems(self.ws)
        return st

    def verify_journal(self) -> dict:
        from console.governance.audit import verdict

        return verdict(self.ws)

    # -- analytics -------------------------------------------------------------------------
    def report(self, name: str, **kwargs: Any) -> Any:
        """``console.analytics.<name>(db, **kwargs)`` (``"cost.cost_rows"``: a function of one of
        its modules) through the analytics ``Runner``: what the engine returned, untouched.
        Remembered with the current snapshot (until the store, registry or journal changes); a
        report another worker is computing right now is waited for, not computed twice (the
        model screen prefetches its tabs while the user may ask for one)."""
        return self.runner.run(self.db, name, tag=_current_worker(), **_screen_defaults(name, kwargs))

    def cancel_stale(self) -> int:
        """Interrupt the reports of workers that were cancelled (a newer load replaced them):
        their DuckDB queries stop instead of computing what nobody will show."""
        return self.runner.cancel(lambda worker: worker is not None and worker.is_cancelled)

    def remembered(self, name: str, **kwargs: Any) -> bool:
        """Whether ``report(name, **kwargs)`` would answer from the memo (nothing computed)."""
        return self.runner.remembered(self.db, name, **_screen_defaults(name, kwargs))

    # -- analysts' SQL -----------------------------------------------------------------------
    def query(self, sql: str, batch_rows: int | None = None):
        """Start an analyst's read-only ``sql`` (``console.analytics.query.stream_query``, as
        the CLI's ``query``): a ``QueryStream``. It runs on a store connection of its own,
        sandboxed for good (no file outside ``.console/``), never on the reports' ``db``; with
        ``[query] timeout`` from console.toml."""
        from console.analytics.query import (
            BATCH_ROWS,
            configured_timeout,
            ensure_read_only,
            stream_query,
        )

        ensure_read_only(sql)  # refused before anything is opened
        timeout = configured_timeout(self.ws.config)
        with self._lock:
            if self._query_db is None:
                from console.analytics.query import open_query_store

                self._query_db = open_query_store(self.ws, **self.fleet.overlay())
            qdb = self._query_db = self._query_db.with_fleet(**self.fleet.overlay()).refresh()
        return stream_query(qdb, sql, timeout=timeout, batch_rows=batch_rows or BATCH_ROWS)

    def view_columns(self, views) -> list[tuple[str, str, str]]:
        """``(view, column, type)`` of each of ``views`` (``analytics.query.view_columns``)."""
        from console.analytics.query import view_columns

        return view_columns(self.db, views)

    # -- governance ------------------------------------------------------------------------
    def requests(self) -> list:
        """Every request with its state as of the app's clock (``governance.engine``)."""
        from console.governance.engine import list_requests

        return list_requests(self.ws, now=self.clock())

    def pending_by_model(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for req in self.requests():
            if req.state == "pending" or (req.break_glass and req.review == "pending"):
                out[req.model] = out.get(req.model, 0) + 1
        return out

    # Every step below is ``governance.workflow``'s, as the CLI's: the same ingest pass before
    # gates, the same checks before them, the same execution after a decision.
    def create_request(self, action: str, model: str, version: str | None, reason: str,
                       break_glass: bool = False):
        """Journal a request as this console's identity; a break-glass rollback also executes."""
        from console.governance import workflow

        return workflow.request(self.ws, self.identity, action, model, version, reason,
                                break_glass=break_glass, registry=self.registry, now=self.clock()).request

    def decide(self, request_id: str, verdict: str, comment: str, override: bool = False):
        """Approve or reject as this console's identity (a promotion's gates evaluated afresh,
        after an ingest pass); an approval is then carried out."""
        from console.governance import workflow

        return workflow.decide(self.ws, self.identity, request_id, verdict, comment, override=override,
                               registry=self.registry, now=self.clock()).request

    def cancel(self, request_id: str):
        """Withdraw this identity's own pending request."""
        from console.governance import workflow

        return workflow.cancel(self.ws, self.identity, request_id, now=self.clock()).request

    def alerts(self) -> dict:
        """What ``check`` reports (``profiles.glance.check_alerts``: the drift rule from the daily
        profiles where they answer), through ``report``: the fleet's alerts column, the alerts
        screen and the lookups of ack and snooze."""
        from console.profiles import glance

        return self.report(glance.check_alerts)

    def ack_alert(self, alert_id: str, comment: str) -> dict:
        """Acknowledge a firing alert as this console's identity (``governance.workflow``, as the
        CLI's ``alerts ack``); the alert is looked up in the current ``check_alerts``."""
        from console.governance import workflow

        return workflow.ack_alert(self.ws, self.identity, alert_id, comment,
                                  lambda: self.alerts()["alerts"], now=self.clock())

    def snooze_alert(self, alert_id: str, until: str, comment: str | None) -> dict:
        """Snooze a firing alert until ``until`` (a duration from now or a time), as ``alerts snooze``."""
        from console.governance import workflow

        return workflow.snooze_alert(self.ws, self.identity, alert_id, until, comment,
                                     lambda: self.alerts()["alerts"], now=self.clock())

    def alert_states(self, report: dict) -> dict:
        """``report`` (``check_alerts``) with the alert history and each alert's lifecycle state
        (``governance.alert_acks.annotate``, as ``check``)."""
        from console.analytics import alert_history
        from console.governance.alert_acks import annotate

        return annotate(self.ws, report, alert_history.load(self.ws), now=self.clock())

    def gates(self, model: str, version: str) -> list[dict]:
        """The promotion gates of ``model`` ``version`` with their evidence, over a freshly
        ingested store (``governance.workflow.fresh_gates``, as the CLI's ``gates``)."""
        from console.governance import workflow

        return workflow.fresh_gates(self.ws, model, version, registry=self.registry)

    def rollback_choice(self, model: str):
        """Where a rollback of ``model`` may go, the default first (``governance.workflow``)."""
        from console.governance import workflow

        return workflow.rollback_choice(self.ws, model, registry=self.registry)

    def compare_versions(self, model: str, champion: str | None, challenger: str) -> dict:
        from console.tui.compare import compare_versions

        return compare_versions(self, model, champion, challenger)

    def drift_trend(self, model: str, version: str | None, window, buckets: int) -> list[dict]:
        """The drift score of every feature in each of the last ``buckets`` buckets of the
        window (epoch-aligned ``window.step`` buckets ending with the newest data, as the
        performance tab's), oldest first: ``[{"start": t, <feature>: score, ...}, ...]`` from
        one ``drift_windows`` call (the reference read once, each bucket cached; from fresh
        daily profiles when the buckets are whole days up to the newest data: ``profiles.glance``)."""
        from datetime import timedelta

        from console.analytics.windows import floor_to, parse_time, parse_window

        last = window.end - timedelta(microseconds=1) if window.end is not None else None
        if last is None:
            from console.analytics.source import Scope, data_range

            last = data_range(self.db, Scope(model, None))[1]  # the newest data of the model
            if last is None:
                return []
        size = int(parse_window(window.step))
        start = floor_to(last, size) - (buckets - 1) * timedelta(seconds=size)
        if window.start is not None and start < window.start:
            start = window.start
        from console.profiles import glance

        rep = self.report(glance.drift_windows, model=model, version=version, start=start,
                          end=window.end, window=window.step)
        points = []
        for w in rep.get("windows", []):
            start_text = (w.get("current") or {}).get("start")
            point: dict = {"start": parse_time(start_text) if start_text else None}
            if (w.get("current") or {}).get("rows"):
                for f in w.get("features", []):
                    point[f["feature"]] = f.get("score")
            points.append(point)
        return points[-buckets:]

    def journal_entries(self) -> list[dict]:
        from console.governance.engine import journal_of

        return journal_of(self.ws).entries()

    def window(self, window: TimeWindow, model: str | None = None) -> TimeWindow:
        """``window`` (the app's choice) resolved against the data: a span ends at the newest
        record of ``model`` — of the whole fleet when ``None`` — not at the clock
        (``console.tui.window.resolve``, ``analytics.status.data_span``)."""
        from console.analytics.status import data_span
        from console.tui.window import resolve

        oldest, newest = data_span(self.db, model) if self.db is not None else (None, None)
        return resolve(window, self.clock(), oldest, newest)

    @staticmethod
    def span(window: TimeWindow) -> dict[str, Any]:
        return {"start": window.start, "end": window.end}


def start_live_ingester(ws: Workspace) -> Any:
    """The ingest package's background ``LiveIngester``, started."""
    from console.ingest.live import LiveIngester

    return LiveIngester(ws).start()


def ingester_stats(ing: Any) -> dict:
    """The live ingester's status in the header's terms."""
    st = ing.status
    state = {"ingester": "live", "reader": "follower"}.get(st.role, "live" if st.running else "off")
    if st.last_error:
        state = "error"
    return {"state": state, "rows_per_s": st.rows_per_s, "lag_bytes": st.lag_bytes,
            "error": st.last_error}


def _recall_ranges(db: Any) -> None:
    """The data's ranges from the profiles' manifest, when it is of this snapshot's batch
    (``profiles.local.recall_ranges``): the header's newest record and the fleet's ranges
    without a scan of every row, even with the analytics cache deleted."""
    from console.profiles import local

    local.recall_ranges(db)


def _current_worker() -> Any:
    """The Textual worker this thread runs (``None`` outside one)."""
    from textual.worker import NoActiveWorker, get_current_worker

    try:
        return get_current_worker()
    except NoActiveWorker:
        return None


def _screen_defaults(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The screens' own defaults of a report call."""
    if name == "drift_report":
        # per-feature drift is what the screens show; the multivariate domain classifier
        # (seconds per call) is left to `drift` on the command line and to alerts
        return {"multivariate": False, **kwargs}
    return kwargs


def _file_sig(path) -> tuple | None:
    try:
        s = path.stat()
    except OSError:
        return None
    return (s.st_size, s.st_mtime_ns)

