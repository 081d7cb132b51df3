"""The fleet table's rows, gathered from the engine for every model: versions and stages from
governance, traffic / errors / p95 from ``ops_report``, drift from ``drift_report``, the latest
labelled metric from ``performance_report`` against the registry's offline value, cost from
``cost_report``, open alerts from ``check_alerts`` and pending requests from governance.
Runs in a worker thread. A report that fails leaves its cells at "—" and names the problem.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from console.tui.window import TimeWindow

PRIMARY = {"binary": ("roc_auc", "accuracy"), "multiclass": ("accuracy", "macro_f1"),
           "regression": ("rmse", "mae")}


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
    cost_today: float | None = None
    cost_mtd: float | None = None
    budget: float | None = None
    projected: float | None = None
    alerts: int = 0
    worst_alert: str | None = None
    pending: int = 0
    problems: list[str] = field(default_factory=list)


def primary_metric(task: str, offline: dict[str, float]) -> str | None:
    for name in PRIMARY.get(task, ()):
        if name in offline:
            return name
    return PRIMARY.get(task, (None,))[0]


def _try(row: FleetRow, what: str, fn, *args, **kwargs) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # keep the rest of the row; say what failed
        row.problems.append(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return None


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


def add_fast(backend, row: FleetRow, window: TimeWindow, now: datetime) -> None:
    """Traffic, errors, latency, latest labelled metric and cost: the quick reports."""
    span = {"start": window.start, "end": window.end}
    model = row.model
    ops = _try(row, "ops", backend.report, "ops_report", model=model, window=window.step, **span)
    if ops:
        row.traffic = [w.get("requests") or 0 for w in ops.get("windows", [])]
    total = _try(row, "ops", backend.report, "ops_report", model=model, window="all", **span)
    if total and total.get("windows"):
        w = total["windows"][-1]
        row.requests = w.get("requests")
        row.error_rate = w.get("error_rate")
        row.p95_ms = (w.get("latency_ms") or {}).get("p95")
    if row.production is not None:
        info = backend.registry.get(model, row.production)
        offline = dict(info.metrics) if info else {}
        row.metric = primary_metric(row.task, offline)
        row.metric_offline = offline.get(row.metric) if row.metric else None
        perf = _try(row, "performance", backend.report, "performance_report", model=model,
                    window=window.step, **span)
        if perf and row.metric:
            for w in reversed(perf.get("windows", [])):
                if w.get("labelled") and (w.get("metrics") or {}).get(row.metric) is not None:
                    row.metric_value = w["metrics"][row.metric]
                    break
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + timedelta(days=1)
    c_today = _try(row, "cost", backend.report, "cost_report", model=model, start=today, end=tomorrow)
    row.cost_today = _total(c_today)
    budget = next((b for b in (c_today or {}).get("budget") or [] if b.get("model") == model), None)
    if budget:  # month-to-date as the engine reckons it (the month of the newest data)
        row.budget = budget.get("budget_usd")
        row.cost_mtd = budget.get("mtd_usd")
        row.projected = budget.get("projected_usd")
    else:
        c_month = _try(row, "cost", backend.report, "cost_report", model=model,
                       start=today.replace(day=1), end=tomorrow)
        row.cost_mtd = _total(c_month)


def add_drift(backend, row: FleetRow, window: TimeWindow) -> None:
    """Dataset drift of the production version (the slow report)."""
    if row.production is None:
        return
    drift = _try(row, "drift", backend.report, "drift_report", model=row.model,
                 start=window.start, end=window.end)
    if drift and not (drift.get("current") or {}).get("rows"):
        row.drift = "none"  # no traffic in the window: nothing to call drifted or not
    elif drift:
        feats = drift.get("features", [])
        row.drifted_features = sum(1 for f in feats if f.get("drifted"))
        ds = drift.get("dataset_drift", {})
        row.drift = "drift" if ds.get("drifted") else ("warn" if row.drifted_features else "ok")


def add_alerts(rows: list[FleetRow], alerts: list[dict] | None, pending: dict[str, int]) -> None:
    for row in rows:
        mine = [a for a in (alerts or []) if a.get("model") == row.model]
        row.alerts = len(mine)
        row.worst_alert = min((a.get("severity") or "info" for a in mine), key=severity_rank) if mine else None
        row.pending = pending.get(row.model, 0)


def snapshot(rows: list[FleetRow]) -> list[FleetRow]:
    """A copy to hand to the main thread while the worker keeps filling its own rows."""
    return [copy.deepcopy(r) for r in rows]


def _total(report: dict | None) -> float | None:
    """The engine's per-row ``total_usd`` of a one-model cost report (one row, or one per version)."""
    if not report:
        return None
    rows = report.get("rows", [])
    if len(rows) == 1:
        return rows[0].get("total_usd")
    if not rows:
        return 0.0
    return None


SEVERITIES = ("critical", "high", "warning", "warn", "medium", "low", "info")  # most severe first


def severity_rank(sev: str) -> int:
    return SEVERITIES.index(sev) if sev in SEVERITIES else len(SEVERITIES)
