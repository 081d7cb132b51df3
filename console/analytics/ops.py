"""Operations per window (``ops``, docs/analytics.md, 'Operations'): requests, errors, error rate and latency
percentiles, all computed in DuckDB.

``requests`` counts every logged request (``ok`` and ``error``), ``errors`` those with status
``error``; latency percentiles are linear-interpolated (``quantile_cont`` = numpy's default)
over every request that logged ``latency_ms``. Without a version, every version of the model.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from console.analytics import windows as W
from console.analytics.config import AnalyticsConfig, config_for
from console.analytics.incremental import bucket_of, windowed
from console.analytics.source import (
    Scope,
    StoreLike,
    aware,
    check_model,
    range_where,
    report_range,
    resolve_version,
)


def ops_sql(cond: str, bucket: str) -> str:
    return f"""
SELECT {bucket} AS w, count(*) AS requests, count(*) FILTER (WHERE status = 'error') AS errors,
  quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE isfinite(latency_ms)) AS q,
  avg(latency_ms) FILTER (WHERE isfinite(latency_ms)) AS mean,
  max(latency_ms) AS max
FROM predictions WHERE {cond} GROUP BY 1
"""


def ops_report(
    db: StoreLike,
    model: str,
    version: str | None = None,
    window: str | int | None = "1h",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    config: AnalyticsConfig | None = None,
) -> dict[str, Any]:
    """Requests, errors and latency per window of one model (every version unless given).

    ``window=None`` is the default ``1h``, widened (``windows.auto_size``) when the range would
    need more than ``windows.AUTO_MAX`` windows; ``"window"`` in the result names the size used."""
    start, end = aware(start), aware(end)
    if version is not None:
        version = resolve_version(db, model, version)
    else:
        check_model(db, model)
    if config is None:
        config = config_for(db, model)
    size = W.parse_window(window, "1h") if isinstance(window, str) or window is None else window
    scope = Scope(model, version, start, end)
    rng = report_range(db, scope)
    out: dict[str, Any] = {"model": model, "version": version, "window": W.size_label(size),
                           "windows": [], "start": None, "end": None}
    if rng is None:
        return out
    if window is None and size is not None:
        size = W.auto_size(size, rng[0], rng[1])
        out["window"] = W.size_label(size)
    rng = W.align_range(rng[0], rng[1], size, start is not None, end is not None)
    out["start"], out["end"] = W.iso(rng[0]), W.iso(rng[1])
    wins = W.split(rng[0], rng[1], size)
    cur = db.cursor()

    def compute(cond: str, params: list[Any], bucket: str) -> dict[int, Any]:
        res = {}
        for w, req, err, q, mean, mx in cur.execute(ops_sql(cond, bucket), params).fetchall():
            q = q or [None, None, None]
            res[w] = {"requests": int(req), "errors": int(err),
                      "latency_ms": {"p50": q[0], "p95": q[1], "p99": q[2], "mean": mean, "max": mx}}
        return res

    results = windowed(db, scope, wins, size, compute, {"k": "ops"}, config.cache)
    for w in wins:
        r = results.get(w.key) or {"requests": 0, "errors": 0,
                                   "latency_ms": {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}}
        out["windows"].append({
            "start": W.iso(w.start), "end": W.iso(w.end), "requests": r["requests"], "errors": r["errors"],
            "error_rate": r["errors"] / r["requests"] if r["requests"] else None,
            "latency_ms": r["latency_ms"],
        })
    return out


def ops_summary(
    db: StoreLike,
    models: list[str] | None = None,
    window: str | int | None = "1d",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Every model's ops at a glance, from two grouped queries over all of them (the fleet's
    cheap columns): per model the whole range's ``requests``, ``errors``, ``error_rate`` and
    ``latency_ms`` — equal to ``ops_report(model, window="all", start, end)``'s window — and
    ``windows`` of ``window`` with ``requests`` and ``errors`` — equal to the same fields of
    ``ops_report(model, window=window, start, end)``. Every version of each model; no cache (both
    queries are cheap: they read three columns)."""
    from console.analytics.incremental import bucket_sql

    start, end = aware(start), aware(end)
    if models is None:
        models = sorted(set(db.registry.models()))
    for m in models:
        check_model(db, m)
    size = W.parse_window(window, "1d") if isinstance(window, str) or window is None else window
    out: list[dict[str, Any]] = []
    if not models:
        return out
    rconds, rparams = range_where(start, end)
    cond = " AND ".join(["model IN (SELECT unnest(?))", *rconds])
    params = [list(models), *rparams]
    cur = db.cursor()
    totals = {m: (int(req), int(err), q or [None, None, None], mean, mx) for m, req, err, q, mean, mx in
              cur.execute(ops_sql(cond, "model"), params).fetchall()}
    counts: dict[tuple[str, int], tuple[int, int]] = {}
    bucket = bucket_sql(size)
    for m, b, req, err in cur.execute(
            f"SELECT model, {bucket} AS b, count(*), count(*) FILTER (WHERE status = 'error') "
            f"FROM predictions WHERE {cond} GROUP BY ALL", params).fetchall():
        counts[(m, int(b))] = (int(req), int(err))
    for m in models:
        entry: dict[str, Any] = {"model": m, "requests": 0, "errors": 0, "error_rate": None,
                                 "latency_ms": {"p50": None, "p95": None, "p99": None, "mean": None,
                                                "max": None},
                                 "start": None, "end": None, "windows": []}
        out.append(entry)
        rng = report_range(db, Scope(m, None, start, end))
        if rng is None:
            continue
        if m in totals:
            req, err, q, mean, mx = totals[m]
            entry.update(requests=req, errors=err, error_rate=err / req if req else None,
                         latency_ms={"p50": q[0], "p95": q[1], "p99": q[2], "mean": mean, "max": mx})
        rng = W.align_range(rng[0], rng[1], size, start is not None, end is not None)
        entry["start"], entry["end"] = W.iso(rng[0]), W.iso(rng[1])
        for w in W.split(rng[0], rng[1], size):
            req, err = counts.get((m, bucket_of(w, size)), (0, 0))
            entry["windows"].append({"start": W.iso(w.start), "end": W.iso(w.end), "requests": req,
                                     "errors": err})
    return out
