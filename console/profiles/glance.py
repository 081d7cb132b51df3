"""What the TUI reads from the daily profiles, when they can be trusted: every model's
requests, errors and latency (``ops_summary``), month-to-date spend against budget
(``budget_status``), a version's drift (``drift_report``, ``drift_windows``: the fleet's
drift column, the drift tab and its trend, the sign-off view), and the live value of the
primary metric where the profiles' confusion counts give it exactly (``performance_live``: the
fleet's metric column for multiclass ``macro_f1`` and regression ``rmse``; a binary model's
``roc_auc`` needs the scores), in the shapes of the exact functions of ``console.analytics`` —
which each one falls back to.

**When profiles answer.** Only for all of the data (no ``start``/``end``), in buckets of whole
days, and only when ``local.profiles_fresh`` says the profiles are up to date for the store's
current batch — a check that reads no row — and their day files read (a damaged one,
``local.ProfilesUnreadable``: the exact function answers, and ``profile`` writes it again). Nothing here computes profiles: that is
``mlops-console profile``'s job (a cron after ingest), which takes minutes on a large store;
between a new batch and the next ``profile`` run, the exact functions answer.

**What differs from the exact answer.** Counts, error rates, spend and the live metric are equal. The latency
quantiles come from the merged DDSketch, within ``core.ALPHA`` relative error of the order
statistic (the exact path interpolates between two); the mean latency is not profiled
(``None``). A numeric feature's drift is the report's own Wasserstein on the merged sketch,
within its ``score_bound`` (``reader``; binned on the reference's edges where the report would
use KS); the output drift and the domain classifier are left out. Each answer says
``"source": "profiles"`` or ``"exact"``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from console.analytics import cost as cost_mod
from console.analytics import ops as ops_mod
from console.analytics import windows as W
from console.analytics.source import (
    Scope,
    aware,
    check_model,
    data_range,
    report_range,
    resolve_version,
)
from console.profiles import core, local

# (``reader``, and with it scipy, is imported by the drift functions only: 1.1 s the TUI's first
# paint does not wait for)
DAY = 86400
OPS_STATS = ("rows", "errors", "min", "max", "sketch")
SPEND_STATS = ("rows", "labelled", "sum")


def _models(db: Any, models: list[str] | None) -> list[str]:
    models = sorted(set(db.registry.models())) if models is None else list(models)
    for m in models:
        check_model(db, m)
    return models


def ops_summary(db: Any, models: list[str] | None = None, window: str | int | None = "1d",
                start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[dict[str, Any]]:
    """``analytics.ops.ops_summary`` from profiles when they answer (module docstring), else
    that function; each entry with ``"source"``."""
    size = W.parse_window(window, "1d") if isinstance(window, str) or window is None else window
    models = _models(db, models)
    whole = start is None and end is None and size is not None and size % DAY == 0
    if models and whole and local.profiles_fresh(db, models):
        try:
            return _ops_profiles(db, models, size)
        except local.ProfilesUnreadable:  # a damaged day file: the rows answer (``profile`` rewrites it)
            pass
    return [{**e, "source": "exact"} for e in ops_mod.ops_summary(db, models, window, start, end)]


def _ops_profiles(db: Any, models: list[str], size: int) -> list[dict[str, Any]]:
    """``ops_summary`` of ``models`` from their profiles (``ProfilesUnreadable``: a damaged day)."""
    out = []
    for m in models:
        entry: dict[str, Any] = {"model": m, "requests": 0, "errors": 0, "error_rate": None,
                                 "latency_ms": {"p50": None, "p95": None, "p99": None, "mean": None, "max": None},
                                 "start": None, "end": None, "windows": [], "source": "profiles"}
        out.append(entry)
        rng = report_range(db, Scope(m, None))
        if rng is None:
            continue
        day_counts: dict[tuple[dt.date, str], int] = {
            (d, s): int(c) for d, s, c, _ in local.sums_by(db, m, ("day", "stat"), ("rows", "errors")) if c is not None}
        lat = local.merge_days(db, m, OPS_STATS, (core.LATENCY,))
        q = core.quantiles(lat, core.LATENCY, (0.5, 0.95, 0.99))
        req = sum(c for (_, s), c in day_counts.items() if s == "rows")
        err = sum(c for (_, s), c in day_counts.items() if s == "errors")
        entry.update(requests=req, errors=err, error_rate=err / req if req else None,
                     latency_ms={"p50": q[0], "p95": q[1], "p99": q[2], "mean": None,
                                 "max": lat.value.get(("max", core.LATENCY, ""))})
        lo, hi = W.align_range(rng[0], rng[1], size, False, False)
        entry["start"], entry["end"] = W.iso(lo), W.iso(hi)
        for w in W.split(lo, hi, size):
            d, r, e = w.start.date(), 0, 0
            while d < w.end.date():
                r += day_counts.get((d, "rows"), 0)
                e += day_counts.get((d, "errors"), 0)
                d += dt.timedelta(days=1)
            entry["windows"].append({"start": W.iso(w.start), "end": W.iso(w.end), "requests": r, "errors": e})
    return out


def budget_status(db: Any, model: str | None = None) -> list[dict[str, Any]]:
    """``analytics.cost.budget_status`` from profiles when they answer, else that function: a
    model's month-to-date spend is the sum of its days' profiled spend (each day's ``fsum``, as
    the exact query groups it), from the 1st to the day of its latest record — so only when
    no record of the model is stamped after that one (a future stamp would share its day)."""
    plans = cost_mod.budget_plans(db, model)
    models = [p[0] for p in plans]
    if models and local.profiles_fresh(db, models):
        try:
            base = _spend_profiles(db, plans)
        except local.ProfilesUnreadable:  # a damaged day file: the rows answer
            base = None
        if base is not None:
            return cost_mod.budget_rows(db, plans, base)
    return cost_mod.budget_status(db, model)


def _spend_profiles(db: Any, plans: list[tuple]) -> dict[str, list[tuple]] | None:
    """Each model's per-version, per-day spend rows from the profiles (``None``: a record
    after the clock, which the exact query must see)."""
    base: dict[str, list[tuple]] = {}
    for m, _budget, last, month_start in plans:
        if last is None:
            continue
        if data_range(db, Scope(m, None))[1] != last:  # a record after the clock
            return None
        g = local.sums_by(db, m, ("version", "day", "stat"), SPEND_STATS, ("", core.COST),
                          month_start.date(), last.date() + dt.timedelta(days=1))
        acc: dict[tuple[str, dt.date], list] = {}
        for v, d, s, c, val in g:
            a = acc.setdefault((v, d), [0, 0.0, 0, 0])  # rows, logged usd, logged rows, labelled
            if s == "rows":
                a[0] = int(c)
            elif s == "sum":
                a[1], a[2] = float(val or 0.0), int(c)
            elif s == "labelled":
                a[3] = int(c)
        # the _BASE_SQL columns; budget uses the spend and the first record's day only
        base[m] = [(m, v, d, n, usd, n_usd, lab, 0, 0.0, 0, dt.datetime.combine(d, dt.time(), dt.UTC), None)
                   for (v, d), (n, usd, n_usd, lab) in sorted(acc.items())]
    return base


def _profiled_drift(db: Any, model: str, version: str | None, wins: list[W.Window]) -> list[dict[str, Any]] | None:
    """``analytics.drift_report``'s shape for each of ``wins`` (whole days) from the profiles as
    they are — ``None`` when they cannot say (no reference: the exact report says why)."""
    from console.analytics.drift import plan_drift
    from console.profiles import reader

    try:
        rows = reader.windows_from_profiles(db, model, version, wins, fresh=False, plots=True)
    except local.ProfilesUnreadable:  # a damaged day file: the exact report answers
        return None
    if any("drift" not in r for r in rows):
        return None
    plan = plan_drift(db, model, version, None, None, None, None)
    try:
        ref_rows = plan.reference_data().rows  # (read once per process: the reader just did)
    finally:
        plan.reference.ready()
    return [{"model": model, "version": version, "reference": {"rows": ref_rows},
             "current": {"rows": r["requests"], "start": r["start"], "end": r["end"]},
             "features": (r["drift"] or {}).get("features", []),
             "dataset_drift": (r["drift"] or {}).get("dataset_drift", {}), "source": "profiles"} for r in rows]


def drift_report(db: Any, model: str, version: str | None = None, start: dt.datetime | None = None,
                 end: dt.datetime | None = None) -> dict[str, Any]:
    """``analytics.drift_report`` of ``version`` (production when ``None``) plus ``"source"``:
    over all the data, from fresh profiles (one window of the version's whole days; each
    feature's ``stats.histogram`` for the plot), else that report — per feature, as the screens
    show it: without the domain classifier (seconds per call; ``drift`` and alerts run it)."""
    from console.analytics.drift import drift_report as exact

    if start is None and end is None and local.profiles_fresh(db, [model]):
        v = resolve_version(db, model, version)
        rng = report_range(db, Scope(model, v))
        if rng is None:
            return {"model": model, "version": v, "current": {"rows": 0}, "features": [], "dataset_drift": {},
                    "source": "profiles"}
        got = _profiled_drift(db, model, v, W.split(*W.align_range(rng[0], rng[1], DAY, False, False), None))
        if got is not None:
            return got[0]
    return {**exact(db, model, version, start=start, end=end, multivariate=False), "source": "exact"}


def drift_windows(db: Any, model: str, version: str | None = None, start: dt.datetime | None = None,
                  end: dt.datetime | None = None, window: str = "1d") -> dict[str, Any]:
    """``analytics.drift_windows`` plus ``"source"``: from fresh profiles when the windows run
    from a midnight ``start`` to the newest data (no ``end``) in whole days, else that function."""
    from console.analytics.drift import drift_windows as exact
    from console.profiles import reader

    size = W.parse_window(window, "1d")
    whole = start is not None and end is None and size is not None and reader.day_aligned(size, start, start) is None
    if whole and local.profiles_fresh(db, [model]):
        v = resolve_version(db, model, version)
        rng = report_range(db, Scope(model, v, aware(start), None))
        wins = W.split(*W.align_range(rng[0], rng[1], size, True, False), size) if rng is not None else []
        got = _profiled_drift(db, model, v, wins)
        if got is not None:
            return {"model": model, "version": v, "window": window, "windows": got, "source": "profiles"}
    return {**exact(db, model, version, start=start, end=end, window=window), "source": "exact"}


# the tasks whose primary metric (``analytics.metrics.PRIMARY_METRIC``) the merged confusion
# counts give exactly (``reader.metrics_of``): not binary, whose roc_auc needs the scores
PROFILED_TASKS = frozenset({"multiclass", "regression"})


def performance_live(db: Any, model: str, window: str | int | None = "1d", start: dt.datetime | None = None,
                     end: dt.datetime | None = None, exact: bool = True) -> dict[str, Any] | None:
    """``analytics.performance_report(...)["live"]`` of the production version plus ``"source"``:
    from fresh profiles over all the data, in windows of whole days, when the task's primary
    metric is one the profiles give exactly (``PROFILED_TASKS``; the same windows and the
    same ``live_value`` rule), else from that report — or, with ``exact=False``, ``None``: the
    caller asks for the report itself (the TUI, so that the fleet's metric and the performance
    tab share one scan)."""
    from console.analytics.config import config_for
    from console.analytics.metrics import PRIMARY_METRIC
    from console.analytics.performance import (
        live_value,
        performance_report,
        report_windows,
        task_of,
    )

    if start is None and end is None and local.profiles_fresh(db, [model]):
        from console.profiles import reader

        v = resolve_version(db, model, None)
        task = task_of(db, model, v)
        metric = PRIMARY_METRIC.get(task)
        # the report's own windows (its default size widened as it widens it)
        size = W.window_size(window)
        rng, size = report_windows(db, Scope(model, v), window, size)
        if metric is not None and task in PROFILED_TASKS and size is not None and size % DAY == 0:
            wins = W.split(rng[0], rng[1], size) if rng is not None else []
            try:
                prof = local.read_profiles(local.profiles_dir(db), model=model, version=v, ordered=False)
            except local.ProfilesUnreadable:  # a damaged day file: the report answers
                prof = None
            if prof is not None:
                least = config_for(db, model).performance.min_labelled
                for w in reversed(wins):  # the newest window with a live value is the answer
                    m = core.merge(reader.days_in(prof, w.start, w.end))
                    # the report's labelled rows are those it scores: status ok (``labelled_ok``)
                    row = {"start": W.iso(w.start), "end": W.iso(w.end), "labelled": m.get("labelled_ok"),
                           "metrics": reader.metrics_of(m, task) if m.get("labelled_ok") else {}}
                    live = live_value([row], metric, least)
                    if live["value"] is not None:
                        return {**live, "source": "profiles"}
                return {**live_value([], metric, least), "source": "profiles"}
    if not exact:
        return None
    return exact_live(performance_report(db, model, window=window, start=start, end=end))


def check_alerts(db: Any, model: str | None = None) -> dict[str, Any]:
    """``analytics.check_alerts``, whose drift and data-quality rules read the daily profiles
    where they answer (``alert_source``: whole days, fresh profiles; else the rows, as before):
    what ``check``, ``alerts ack``/``snooze``, ``metrics`` and the TUI evaluate."""
    from console.analytics.alerts import check_alerts as check
    from console.profiles.alert_source import window_source

    return check(db, model, source=window_source)


def exact_live(report: dict[str, Any]) -> dict[str, Any]:
    """``performance_live``'s answer from the exact ``performance_report``."""
    return {**report["live"], "source": "exact"}


__all__ = ["budget_status", "check_alerts", "drift_report", "drift_windows", "exact_live", "ops_summary", "performance_live"]
