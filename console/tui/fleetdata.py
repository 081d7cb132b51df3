"""The fleet table's rows, gathered in stages so the cheap columns paint first:

1. ``base_rows``: versions and stages (files only) — the first paint, before any query.
2. ``add_summary``: traffic per bucket, requests, error rate and p95 latency of every model from
   ONE grouped query over the store (``summary``, the definitions of ``ops_report``:
   ``status = 'error'``, ``quantile_cont`` over finite latencies), cost today from
   ``cost_report``'s rows and month-to-date against budget from ``budget_status`` (all models at once),
   pending requests from governance — "populated".
3. ``metric_of`` (``performance_report``), ``drift_of`` (``drift_report``) and ``add_alerts``
   (``check_alerts``): the slow reports, each in its own worker, filled in as they finish.

Runs in worker threads. A report that fails leaves its cells at "—" and names the problem.
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


TRAFFIC_SQL = """
SELECT model, floor(epoch(ts) / {size})::BIGINT AS bucket, count(*) AS requests,
  count(*) FILTER (WHERE status = 'error') AS errors
FROM predictions WHERE {cond} GROUP BY ALL
"""
P95_SQL = """
SELECT model, quantile_cont(latency_ms, 0.95) FILTER (WHERE isfinite(latency_ms)) AS p95
FROM predictions WHERE {cond} GROUP BY ALL
"""


def _query(backend, sql: str, params: list[Any]) -> list[tuple]:
    cur = backend.db.cursor()
    try:
        return cur.execute(sql, params).fetchall()
    finally:
        cur.close()


def _condition(window: TimeWindow) -> tuple[str, list[Any]]:
    from console.analytics.source import naive

    conds, params = ["true"], []
    if window.start is not None:
        conds.append("ts >= ?")
        params.append(naive(window.start))
    if window.end is not None:
        conds.append("ts < ?")
        params.append(naive(window.end))
    return " AND ".join(conds), params


def traffic(backend, window: TimeWindow) -> dict[str, dict[str, Any]]:
    """Every model's requests per ``window.step`` bucket (zeros included, oldest first) and its
    requests and errors over the window (every version, as ``ops_report`` without one)."""
    from console.analytics.windows import parse_window

    size = int(parse_window(window.step))
    cond, params = _condition(window)
    buckets: dict[str, dict[int, int]] = {}
    out: dict[str, dict[str, Any]] = {}
    for model, bucket, requests, errors in _query(backend, TRAFFIC_SQL.format(size=size, cond=cond), params):
        buckets.setdefault(model, {})[int(bucket)] = int(requests)
        tot = out.setdefault(model, {"requests": 0, "errors": 0})
        tot["requests"] += int(requests)
        tot["errors"] += int(errors)
    lo_all = _bucket_of(window.start, size)
    hi_all = _bucket_of(window.end, size, end=True)
    for model, got in buckets.items():
        lo = lo_all if lo_all is not None else min(got)
        hi = hi_all if hi_all is not None else max(got)
        out[model]["traffic"] = [got.get(b, 0) for b in range(lo, hi + 1)]
    return out


def p95(backend, window: TimeWindow) -> dict[str, float | None]:
    """Every model's p95 latency over the window (``ops_report``'s ``quantile_cont``)."""
    cond, params = _condition(window)
    return {model: q for model, q in _query(backend, P95_SQL.format(cond=cond), params)}


def _bucket_of(t: datetime | None, size: int, end: bool = False) -> int | None:
    """The bucket holding ``t`` (for an exclusive end: holding the last instant before it)."""
    if t is None:
        return None
    us = int(t.timestamp() * 1_000_000) - (1 if end else 0)
    return us // (size * 1_000_000)


def add_summary(backend, rows: list[FleetRow], window: TimeWindow, now: datetime,
                problems: list[str]) -> None:
    """The cheap columns of every row — traffic, requests, error rate, p95, cost today and
    month-to-date against budget — from calls run side by side (DuckDB runs each query outside
    the GIL, so the slowest one sets the time, not their sum): traffic, p95, cost today, and
    ``budget_status`` per model."""
    from concurrent.futures import ThreadPoolExecutor

    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    calls = {
        "traffic": lambda: traffic(backend, window),
        "p95": lambda: p95(backend, window),
        # cost_report's rows without its labels join (labels change no total_usd)
        "cost": lambda: backend.report("cost.cost_rows", model=None, version=None, by="model", start=today,
                                       end=today + timedelta(days=1), labels=False),
    }
    for row in rows:  # month-to-date as the engine reckons it (the month of the model's newest data)
        calls[f"budget {row.model}"] = lambda m=row.model: backend.report("budget_status", model=m)
    with ThreadPoolExecutor(len(calls), thread_name_prefix="fleet") as pool:
        futures = {k: pool.submit(fn) for k, fn in calls.items()}
    got: dict[str, Any] = {}
    for what, fut in futures.items():
        try:
            got[what] = fut.result()
        except Exception as exc:
            got[what] = None
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
    ops, lat = got["traffic"] or {}, got["p95"] or {}
    per_model = {r.get("model"): r.get("total_usd") for r in got["cost"] or []}
    budgets = {b.get("model"): b for k, v in got.items() if k.startswith("budget ") for b in v or []}
    for row in rows:
        s = ops.get(row.model)
        if got["traffic"] is not None:
            row.requests = 0
        if s:
            row.traffic = s.get("traffic", [])
            row.requests = s["requests"]
            row.error_rate = s["errors"] / s["requests"] if s["requests"] else None
        row.p95_ms = lat.get(row.model)
        if row.production is not None:
            info = backend.registry.get(row.model, row.production)
            offline = dict(info.metrics) if info else {}
            row.metric = primary_metric(row.task, offline)
            row.metric_offline = offline.get(row.metric) if row.metric else None
        if got["cost"] is not None:
            row.cost_today = per_model.get(row.model, 0.0)
        b = budgets.get(row.model)
        if b:
            row.budget = b.get("budget_usd")
            row.cost_mtd = b.get("mtd_usd")
            row.projected = b.get("projected_usd")


def metric_of(backend, row: FleetRow, window: TimeWindow) -> dict[str, Any]:
    """The latest labelled value of the row's primary metric (``performance_report``)."""
    if row.production is None or not row.metric:
        return {}
    perf = _try(row, "performance", backend.report, "performance_report", model=row.model,
                window=window.step, start=window.start, end=window.end)
    for w in reversed((perf or {}).get("windows", [])):
        if w.get("labelled") and (w.get("metrics") or {}).get(row.metric) is not None:
            return {"metric_value": w["metrics"][row.metric]}
    return {"metric_value": None}


def drift_of(backend, row: FleetRow, window: TimeWindow) -> dict[str, Any]:
    """Dataset drift of the production version (``drift_report``): the row's drift fields."""
    before = (row.drift, row.drifted_features)
    add_drift(backend, row, window)
    out = {"drift": row.drift, "drifted_features": row.drifted_features}
    row.drift, row.drifted_features = before
    return out


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


def snapshot(rows: list[FleetRow]) -> list[FleetRow]:
    """A copy to hand to the main thread while the worker keeps filling its own rows."""
    return [copy.deepcopy(r) for r in rows]


SEVERITIES = ("critical", "high", "warning", "warn", "medium", "low", "info")  # most severe first


def severity_rank(sev: str) -> int:
    return SEVERITIES.index(sev) if sev in SEVERITIES else len(SEVERITIES)
