"""Performance per window with late labels (``performance``, docs/analytics.md, 'Performance').

Windows are epoch-aligned (``windows``); each window reports ``rows`` (successful predictions),
``labelled``, ``label_coverage`` and the task's metrics (``metrics``), and ``vs_offline`` — the
difference live − offline for every metric the registry's offline ``metrics`` also has. A label
that arrives late lands in its prediction's window; the cache recomputes just that window.
``live`` is the task's primary metric in the newest window that has it (``live_value``), with
the labelled rows behind it and whether they are too few to trust (``[performance] min_labelled``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from console.analytics import windows as W
from console.analytics.config import AnalyticsConfig, config_for
from console.analytics.incremental import windowed
from console.analytics.metrics import METRICS, PRIMARY_METRIC, compute_windows, labelled_relation
from console.analytics.source import (
    Scope,
    StoreLike,
    aware,
    data_range,
    report_range,
    resolve_version,
)


def task_of(db: StoreLike, model: str, version: str) -> str:
    info = db.registry.get(model, version)
    if info is not None:
        return info.task
    versions = db.registry.versions_of(model)
    return versions[-1].task if versions else "binary"


def registry_key(info: Any) -> list[Any]:
    if info is None:
        return [None]
    return [info.task, repr(info.positive_label), info.threshold]


def small_part(db: StoreLike, model: str, lo: dt.datetime, hi: dt.datetime) -> bool:
    """Whether ``[lo, hi)`` covers less than half of the time span the model has logged — then
    joining only those rows' labels beats deduplicating every label of the model."""
    dlo, dhi = data_range(db, Scope(model, None))
    if dlo is None or dhi is None or dhi <= dlo:
        return False
    covered = (min(hi, dhi) - max(lo, dlo)).total_seconds()
    return covered < 0.5 * (dhi - dlo).total_seconds()


def vs_offline(metrics: dict[str, Any], offline: dict[str, float]) -> dict[str, float]:
    return {k: metrics[k] - offline[k] for k in offline if metrics.get(k) is not None}


def live_value(windows: list[dict[str, Any]], metric: str | None, min_labelled: int) -> dict[str, Any]:
    """The live value of ``metric``: its value in the newest window that has one, with the
    labelled rows it rests on and ``low_confidence`` when they are fewer than ``min_labelled``
    (``[performance] min_labelled``). ``value`` is None (and ``labelled`` 0) when no window has one."""
    out: dict[str, Any] = {"metric": metric, "value": None, "labelled": 0, "start": None, "end": None,
                           "min_labelled": min_labelled, "low_confidence": False}
    for w in reversed(windows):
        value = (w.get("metrics") or {}).get(metric) if metric else None
        if w.get("labelled") and value is not None:
            out.update(value=value, labelled=w["labelled"], start=w.get("start"), end=w.get("end"),
                       low_confidence=w["labelled"] < min_labelled)
            break
    return out


def report_windows(db: StoreLike, scope: Scope, window: str | int | None, size: int | None
                   ) -> tuple[tuple[dt.datetime, dt.datetime] | None, int | None]:
    """The aligned ``[start, end)`` of a windowed report over ``scope`` and its window size:
    ``window=None`` widens the default (``windows.auto_size``); bounds the caller did not give
    are widened to whole windows. ``None`` for the range when there is no data."""
    rng = report_range(db, scope)
    if rng is not None:
        if window is None and size is not None:
            size = W.auto_size(size, rng[0], rng[1])
        rng = W.align_range(rng[0], rng[1], size, scope.start is not None, scope.end is not None)
    return rng, size


def performance_report(
    db: StoreLike,
    model: str,
    version: str | None = None,
    window: str | int | None = "1d",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    config: AnalyticsConfig | None = None,
) -> dict[str, Any]:
    """Per-window quality of one model version (default: the production version).

    ``window=None`` is the default ``1d``, widened (``windows.auto_size``) when the range would
    need more than ``windows.AUTO_MAX`` windows; ``"window"`` in the result names the size used."""
    start, end = aware(start), aware(end)
    version = resolve_version(db, model, version)
    if config is None:
        config = config_for(db, model)
    size = W.window_size(window)
    info = db.registry.get(model, version)
    task = task_of(db, model, version)
    offline = dict(info.metrics) if info is not None else {}
    scope = Scope(model, version, start, end)
    rng, size = report_windows(db, scope, window, size)
    out: dict[str, Any] = {
        "model": model, "version": version, "task": task, "metric_names": list(METRICS[task]),
        "window": W.size_label(size), "offline": offline, "start": W.iso(rng[0]) if rng else None,
        "end": W.iso(rng[1]) if rng else None, "windows": [],
        "live": live_value([], PRIMARY_METRIC.get(task), config.performance.min_labelled),
    }
    if rng is None:
        return out
    wins = W.split(rng[0], rng[1], size)
    cur = db.cursor()
    whole_cond = scope.where()[0]
    narrow = small_part(db, model, rng[0], rng[1])

    def compute(cond: str, params: list[Any], bucket: str) -> dict[int, Any]:
        # a few late windows, or a short report range: join only those rows' labels
        subset = narrow or cond != whole_cond
        return compute_windows(cur, task, info, cond, params, bucket,
                               labelled_relation(db, cond, params, subset))

    results = windowed(db, scope, wins, size, compute,
                       {"k": "performance", "reg": registry_key(info)}, config.cache)
    total = {"rows": 0, "labelled": 0}
    for w in wins:
        r = results.get(w.key)
        entry = {"start": W.iso(w.start), "end": W.iso(w.end),
                 "rows": 0, "labelled": 0, "label_coverage": None,
                 "metrics": dict.fromkeys(METRICS[task])}
        if r:
            entry.update({"rows": r["rows"], "labelled": r["labelled"], "metrics": r["metrics"]})
            entry["label_coverage"] = r["labelled"] / r["rows"] if r["rows"] else None
            total["rows"] += r["rows"]
            total["labelled"] += r["labelled"]
        entry["vs_offline"] = vs_offline(entry["metrics"], offline)
        out["windows"].append(entry)
    out["rows"] = total["rows"]
    out["labelled"] = total["labelled"]
    out["label_coverage"] = total["labelled"] / total["rows"] if total["rows"] else None
    out["live"] = live_value(out["windows"], PRIMARY_METRIC.get(task), config.performance.min_labelled)
    return out


def overall_metrics(
    db: StoreLike, model: str, version: str, start: dt.datetime | None, end: dt.datetime | None,
    config: AnalyticsConfig | None = None,
) -> dict[str, Any]:
    """One window over ``[start, end)`` (the whole data when both are None)."""
    rep = performance_report(db, model, version, "all", start, end, config)
    w = rep["windows"][0] if rep["windows"] else {"rows": 0, "labelled": 0, "metrics": {}}
    return {"rows": w["rows"], "labelled": w["labelled"], "metrics": w["metrics"],
            "offline": rep["offline"], "task": rep["task"], "start": rep["start"], "end": rep["end"]}
