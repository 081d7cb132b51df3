"""The fleet table's rows, gathered in stages so the cheap columns paint first:

1. ``base_rows``: versions and stages (files only) — the first paint, before any query.
2. ``add_summary``: traffic per bucket, requests, error rate and p95 latency (``ops_summary``:
   every model from two grouped queries, equal to each model's ``ops_report``), cost today
   (``cost_report``'s rows) and month-to-date against budget (``budget_status``) of every model,
   asked side by side — over all the data, ops and budget are read from the daily profiles
   when they are fresh (``console.profiles.glance``: O(days), the p95 within the sketch's 1 %);
   pending requests from governance — "populated".
3. ``metric_of`` (``performance_report``'s live value; from fresh profiles for a multiclass or
   regression model, ``glance.performance_live``), ``drift_of`` (``drift_report``) and the alerts
   (``check_alerts``, in the fleet screen): the slow reports, each in its own worker.

Runs in worker threads. Each part of a row has a state — ``loading`` (not computed yet),
``failed`` (the report raised, or reported errors; the reason kept in ``failures``) or ``ok``
— so a cell never shows a value it does not have: "… loading" and "✗ failed" are not "✓ none".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from console.analytics.metrics import PRIMARY_METRIC
from console.profiles import glance
from console.tui.window import TimeWindow


@dataclass
class FleetRow:
    model: str
    task: str
    production: str | None
    candidates: list[str]
    traffic: list[float] = field(default_factory=list)
    requests: int | None = None
    error_rate: float | None = None
    p95_ms: float | None = None
    drift: str = "none"  # ok | warn | drift | none
    drifted_features: int | None = None
    metric: str | None = None
    metric_value: float | None = None
    metric_offline: float | None = None
    metric_labelled: int | None = None  # the labelled rows the live value rests on
    metric_low: bool = False  # fewer than [performance] min_labelled: low-confidence
    metric_min: int | None = None  # that minimum
    ops_source: str | None = None  # "profiles" (p95 from the merged sketch) | "exact"
    metric_source: str | None = None  # "profiles" (the live metric from confusion counts, exact) | "exact"
    drift_source: str | None = None  # "profiles" (numeric drift on the merged sketch) | "exact"
    cost_today: float | None = None
    cost_mtd: float | None = None
    budget: float | None = None
    projected: float | None = None
    alerts: int = 0
    worst_alert: str | None = None
    alerts_skipped: str | None = None  # why check could not evaluate the model's rules (not "none")
    pending: int = 0
    problems: list[str] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)  # part -> "failed" | "ok"; absent: loading
    failures: dict[str, str] = field(default_factory=dict)  # part -> why it failed

    def state(self, part: str) -> str:
        """``loading``, ``failed`` or ``ok`` for a part: ops, cost, budget, metric, drift, alerts."""
        return self.states.get(part, "loading")

    def mark(self, part: str, failure: str | None) -> None:
        self.states[part] = "failed" if failure else "ok"
        if failure:
            self.failures[part] = failure
        else:
            self.failures.pop(part, None)


def primary_metric(task: str) -> str | None:
    """The task's one primary metric (``analytics.metrics.PRIMARY_METRIC``), the same the gates
    compare; a registry entry without it offline shows no offline value."""
    return PRIMARY_METRIC.get(task)


def base_rows(backend) -> list[FleetRow]:
    """Versions and stages only (files): the first paint."""
    reg = backend.registry
    rows = []
    for model in reg.models():
        versions = reg.versions_of(model)
        cands = [v.version for v in versions
                 if backend.fleet.stage(model, v.version) in ("candidate", "staging")]
        rows.append(FleetRow(model, versions[-1].task, backend.fleet.production.get(model), cands))
    return rows


def add_summary(backend, rows: list[FleetRow], window: TimeWindow, now: datetime,
                problems: list[str]) -> None:
    """The cheap columns of every row — traffic, requests, error rate, p95, cost today and
    month-to-date against budget — from the engine's reports, asked side by side (DuckDB runs
    each query outside the GIL, so the slowest call sets the time, not their sum)."""
    from concurrent.futures import ThreadPoolExecutor

    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    span = {"start": window.start, "end": window.end}
    calls: dict[str, Any] = {
        # cost_report's rows without its labels join (labels change no total_usd)
        "cost": lambda: backend.report("cost.cost_rows", model=None, version=None, by="model", start=today,
                                       end=today + timedelta(days=1), labels=False),
    }
    models = [row.model for row in rows]
    # every model's traffic per bucket, requests, errors and latency: over all the data from
    # the daily profiles when they are fresh, else from two grouped queries (profiles.glance)
    calls["ops"] = lambda: backend.report(glance.ops_summary, models=models, window=window.step, **span)
    # month-to-date as the engine reckons it (the month of each model's newest data): from
    # fresh profiles, else one query
    calls["budget"] = lambda: backend.report(glance.budget_status, model=None)
    with ThreadPoolExecutor(len(calls), thread_name_prefix="fleet") as pool:
        futures = {k: pool.submit(fn) for k, fn in calls.items()}
    got: dict[str, Any] = {}
    for what, fut in futures.items():
        try:
            got[what] = fut.result()
        except Exception as exc:
            got[what] = None
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
    per_model = {r.get("model"): r.get("total_usd") for r in got["cost"] or []}
    budgets = {b.get("model"): b for b in got.get("budget") or []}
    ops = {o.get("model"): o for o in got.get("ops") or []}
    for row in rows:
        for part in ("ops", "cost", "budget"):
            row.mark(part, None if got[part] is not None else next(
                (p for p in problems if p.startswith(f"{part}: ")), f"{part}: failed"))
        o = ops.get(row.model)
        if o:
            row.traffic = [w.get("requests") or 0 for w in o.get("windows", [])]
            row.requests = o.get("requests", 0)
            row.error_rate = o.get("error_rate")
            row.p95_ms = (o.get("latency_ms") or {}).get("p95")
            row.ops_source = o.get("source")
        if row.production is not None:
            info = backend.registry.get(row.model, row.production)
            offline = dict(info.metrics) if info else {}
            row.metric = primary_metric(row.task)
            row.metric_offline = offline.get(row.metric) if row.metric else None
        if got["cost"] is not None:
            row.cost_today = per_model.get(row.model, 0.0)
        b = budgets.get(row.model)
        if b:
            row.budget = b.get("budget_usd")
            row.cost_mtd = b.get("mtd_usd")
            row.projected = b.get("projected_usd")


def metric_of(backend, row: FleetRow, window: TimeWindow) -> dict[str, Any]:
    """The live value of the row's primary metric, the labelled rows behind it and whether they
    are too few to trust (``performance_report``'s ``live``, or the same from fresh profiles:
    ``glance.performance_live``; its exception propagates: the caller marks the part failed)."""
    if row.production is None or not row.metric:
        return {}
    live = backend.report(glance.performance_live, model=row.model,
                          window=window.step, start=window.start, end=window.end, exact=False)
    if live is None:  # the exact report: the very call of the performance tab (one scan for both,
        # the second waits for the first: console.analytics.runner), which the fleet asks for
        # the highlighted model at the same time (``warm_tabs``)
        live = glance.exact_live(backend.report("performance_report", model=row.model, version=None,
                                                window=window.step, start=window.start, end=window.end))
    return {"metric_value": live.get("value"), "metric_labelled": live.get("labelled"),
            "metric_low": bool(live.get("low_confidence")), "metric_min": live.get("min_labelled"),
            "metric_source": live.get("source")}


def drift_of(backend, row: FleetRow, window: TimeWindow) -> dict[str, Any]:
    """Dataset drift of the production version — over all data from fresh daily profiles, else
    ``drift_report`` (``profiles.glance.drift_report``): the row's drift fields (the row's own
    values where there is nothing to report; the report's exception propagates)."""
    out = {"drift": row.drift, "drifted_features": row.drifted_features, "drift_source": row.drift_source}
    if row.production is None:
        return out
    drift = backend.report(glance.drift_report, model=row.model, start=window.start, end=window.end)
    if drift and not (drift.get("current") or {}).get("rows"):
        out["drift"] = "none"  # no traffic in the window: nothing to call drifted or not
    elif drift:
        drifted = sum(1 for f in drift.get("features", []) if f.get("drifted"))
        ds = drift.get("dataset_drift", {})
        out = {"drift": "drift" if ds.get("drifted") else ("warn" if drifted else "ok"),
               "drifted_features": drifted, "drift_source": drift.get("source")}
    return out


def snapshot(rows: list[FleetRow]) -> list[FleetRow]:
    """A copy to hand to the main thread while the worker keeps filling its own rows."""
    return [copy.deepcopy(r) for r in rows]


SEVERITIES = ("critical", "high", "warning", "warn", "medium", "low", "info")  # most severe first


def severity_rank(sev: str) -> int:
    return SEVERITIES.index(sev) if sev in SEVERITIES else len(SEVERITIES)
