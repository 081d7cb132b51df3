"""Cost (``cost``, docs/analytics.md, 'Cost'): predictions, serving, training and total USD per model, version
or day, cost per 1000 predictions, cost per correct prediction, and month-to-date budget burn.

Attribution rules (docs/analytics.md):

- serving: a record's own ``cost_usd`` when logged, else the version's registry rate
  ``per_1k_predictions_usd / 1000``; records with neither count as 0 and as ``unpriced``.
  Every logged request counts, errors included (they were served).
- training: each version's training cost (``db.training_usd``: what its retrain hook reported,
  else its registry ``training_usd``) counts once, on the UTC day of its
  ``created_at``. A report over all the data (no ``--start/--end``) includes every version's
  training cost; a report over ``[start, end)`` includes it when ``created_at`` falls inside.
  A version without ``created_at`` is attributed to the day of its first prediction.
- ``usd_per_1k`` = total_usd / predictions × 1000 (``serving_usd_per_1k`` is serving only).
- ``usd_per_correct`` = serving cost of labelled predictions / correct labelled predictions
  (label equals prediction), where labels exist; not defined for regression models.
- budget: per model, ``monthly_budget_usd`` from the registry (the production version's, else
  the newest version's that has one); month-to-date spend is the model's total cost in the
  calendar month (UTC) of the report's end — the latest record, not the wall clock — from the
  1st up to that record; ``burn`` = mtd / budget; ``projected_usd`` extrapolates linearly to
  the month's end.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from typing import Any

from console.analytics import windows as W
from console.analytics.cache import memoised
from console.analytics.source import (
    Scope,
    StoreLike,
    aware,
    check_model,
    latest_ts,
    naive,
    range_where,
)
from console.errors import UsageError
from console.store.registry import version_sort_key

BY = ("model", "version", "day")


def _created_day(info: Any) -> dt.date | None:
    raw = getattr(info, "created_at", None)
    if not raw:
        return None
    try:
        return W.parse_time(str(raw)).date()
    except UsageError:
        return None


def served_rows(db: StoreLike, model: str | None, version: str | None,
          start: dt.datetime | None, end: dt.datetime | None, labels: bool = True) -> list[tuple]:
    """Per (model, version, day): counts and logged cost — every grouping (model, version, day)
    is summed from these rows, so they are remembered per store batch (the TUI asks for the same
    range by day and by version)."""
    from console.analytics.cache import per_batch
    from console.analytics.metrics import labelled_relation
    from console.analytics.performance import small_part

    def compute() -> list[tuple]:
        conds, params = ["true"], []
        if model is not None:
            conds.append("model = ?")
            params.append(model)
        if version is not None:
            conds.append("version = ?")
            params.append(version)
        rconds, rparams = range_where(start, end)
        cond = " AND ".join(conds + rconds)
        params += rparams
        if labels:
            # a short range of one model: join only those rows' labels
            subset = (model is not None and start is not None and end is not None
                      and small_part(db, model, start, end))
            relation = labelled_relation(db, cond, params, subset)
        else:
            relation = "(SELECT *, false AS labelled FROM predictions)"
        return db.cursor().execute(_BASE_SQL.format(relation=relation, cond=cond), params).fetchall()

    key = {"k": "cost-base", "m": model, "v": version, "start": str(start), "end": str(end), "labels": labels}
    return per_batch(db, key, compute)


_BASE_SQL = """
SELECT model, version, ts::DATE AS day, count(*) AS n,
  coalesce(fsum(cost_usd), 0) AS logged_usd, count(cost_usd) AS n_logged,
  count(*) FILTER (WHERE labelled) AS labelled,
  count(*) FILTER (WHERE labelled AND label = prediction) AS correct,
  coalesce(fsum(cost_usd) FILTER (WHERE labelled), 0) AS logged_usd_lab,
  count(cost_usd) FILTER (WHERE labelled) AS n_logged_lab,
  min(ts) AS first_ts, max(ts) AS last_ts
FROM {relation}
WHERE {cond} GROUP BY 1, 2, 3"""


def budget_of(db: StoreLike, model: str) -> float | None:
    prod = (db.production or {}).get(model)
    info = db.registry.get(model, prod) if prod else None
    if info is not None and info.cost.get("monthly_budget_usd") is not None:
        return float(info.cost["monthly_budget_usd"])
    for v in sorted(db.registry.versions_of(model), key=lambda v: version_sort_key(v.version), reverse=True):
        if v.cost.get("monthly_budget_usd") is not None:
            return float(v.cost["monthly_budget_usd"])
    return None


def cost_report(
    db: StoreLike,
    model: str | None = None,
    version: str | None = None,
    by: str = "model",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    labels: bool = True,
) -> dict[str, Any]:
    """Cost rows grouped ``by`` model, version or day, and the month-to-date budget burn.
    ``labels=False`` skips the label join: ``labelled``/``correct`` are then 0 and
    ``usd_per_correct`` None (for views that do not show cost per correct prediction)."""
    start, end = aware(start), aware(end)

    def compute() -> dict[str, Any]:
        rows = cost_rows(db, model, version, by, start, end, labels=labels)
        return {"by": by, "start": W.iso(start), "end": W.iso(end), "rows": rows,
                "budget": budget_status(db, model)}

    key = {"k": "cost", "m": model, "v": version, "by": by, "start": str(start), "end": str(end),
           "labels": labels}
    from console.analytics.config import config_for

    enabled = config_for(db).cache
    return memoised(db, key, compute, enabled)


def cost_rows(
    db: StoreLike, model: str | None, version: str | None, by: str,
    start: dt.datetime | None, end: dt.datetime | None, labels: bool = True,
) -> list[dict[str, Any]]:
    if by not in BY:
        raise UsageError(f"bad --by {by!r}: use one of {', '.join(BY)}")
    W.check_range(start, end)
    if model is not None:
        check_model(db, model)
    elif version is not None:
        raise UsageError("--version needs --model")
    return _group(db, served_rows(db, model, version, start, end, labels), model, version, by, start, end)


def serving_unit(info: Any) -> float | None:
    """USD per prediction from a version's registry rate (None: the version has no rate)."""
    rate = info.cost.get("per_1k_predictions_usd") if info is not None else None
    return rate / 1000.0 if rate is not None else None


def _group(db: StoreLike, base: list[tuple], model: str | None, version: str | None, by: str,
           start: dt.datetime | None, end: dt.datetime | None) -> list[dict[str, Any]]:
    """Report rows from the base rows (see ``served_rows``), training cost attributed."""
    all_time = start is None and end is None

    groups: dict[tuple, dict[str, Any]] = defaultdict(lambda: {
        "predictions": 0, "serving_usd": 0.0, "training_usd": 0.0, "unpriced": 0, "labelled": 0,
        "correct": 0, "serving_usd_labelled": 0.0})

    def gkey(m: str, v: str, day: dt.date | None) -> tuple:
        return {"model": (m,), "version": (m, v), "day": (m, day)}[by]

    first_day: dict[tuple[str, str], dt.date] = {}
    seen_versions: set[tuple[str, str]] = set()
    for m, v, day, n, logged, n_logged, labelled, correct, logged_lab, n_logged_lab, first_ts, _ in base:
        info = db.registry.get(m, v)
        unit = serving_unit(info)
        g = groups[gkey(m, v, day)]
        g["predictions"] += n
        g["serving_usd"] += logged + (n - n_logged) * (unit or 0.0)
        g["unpriced"] += 0 if unit is not None else n - n_logged
        g["labelled"] += labelled
        classification = info is None or info.task != "regression"
        g["correct"] += correct if classification else 0
        g["regression"] = g.get("regression", False) or not classification
        if classification:
            g["serving_usd_labelled"] += logged_lab + (labelled - n_logged_lab) * (unit or 0.0)
        seen_versions.add((m, v))
        d = aware(first_ts).date()
        first_day[(m, v)] = min(first_day.get((m, v), d), d)
    # training: once per version, on its created_at day (see module docstring)
    for (m, v), info in db.registry.versions.items():
        if model is not None and m != model or version is not None and v != version:
            continue
        usd = db.training_usd(m, v)
        if not usd:
            continue
        day = _created_day(info) or first_day.get((m, v))
        if all_time:
            if day is None and (m, v) not in seen_versions:
                continue
        else:
            if day is None:
                continue
            t = dt.datetime.combine(day, dt.time(), dt.UTC)
            if (start is not None and t < W.floor_to(start, 86400)) or (end is not None and t >= end):
                continue
        groups[gkey(m, v, day)]["training_usd"] += float(usd)

    rows = []
    for key in sorted(groups, key=lambda k: tuple("" if x is None else str(x) for x in k)):
        g = groups[key]
        row: dict[str, Any] = {"model": key[0]}
        if by == "version":
            row["version"] = key[1]
        if by == "day":
            row["day"] = key[1].isoformat() if key[1] else None
        total = g["serving_usd"] + g["training_usd"]
        row.update({
            "predictions": g["predictions"], "serving_usd": g["serving_usd"],
            "training_usd": g["training_usd"], "total_usd": total,
            "usd_per_1k": total / g["predictions"] * 1000 if g["predictions"] else None,
            "serving_usd_per_1k": g["serving_usd"] / g["predictions"] * 1000 if g["predictions"] else None,
            "labelled": g["labelled"], "correct": g["correct"] if not g.get("regression") or g["correct"] else None,
            "usd_per_correct": g["serving_usd_labelled"] / g["correct"] if g["correct"] else None,
            "unpriced": g["unpriced"],
        })
        rows.append(row)
    return rows


BudgetPlan = tuple[str, float, "dt.datetime | None", "dt.datetime | None"]  # model, budget, last, month start


def budget_plans(db: StoreLike, model: str | None = None) -> list[BudgetPlan]:
    """Per model with a budget: ``(model, budget_usd, latest record, 1st of its month)``."""
    models = [model] if model else sorted(set(db.registry.models()))
    plans = []
    for m in models:
        budget = budget_of(db, m)
        if budget is None:
            continue
        last = latest_ts(db, Scope(m, None))  # newest record not after the clock
        month_start = (dt.datetime(last.year, last.month, 1, tzinfo=dt.UTC) if last is not None else None)
        plans.append((m, budget, last, month_start))
    return plans


def budget_rows(db: StoreLike, plans: list[BudgetPlan], base: dict[str, list[tuple]]) -> list[dict[str, Any]]:
    """``budget_status``'s rows from the plans and each model's base rows of its month (the
    ``_BASE_SQL`` columns; only the spend and the first record's day are used)."""
    out = []
    for m, budget, last, month_start in plans:
        if last is None:
            out.append({"model": m, "budget_usd": budget, "month": None, "mtd_usd": 0.0,
                        "burn": 0.0, "projected_usd": None, "as_of": None})
            continue
        days = calendar.monthrange(last.year, last.month)[1]
        mtd = sum(r["total_usd"] for r in
                  _group(db, base.get(m, []), m, None, "model", month_start, last + dt.timedelta(microseconds=1)))
        elapsed = (last - month_start).total_seconds()
        frac = max(elapsed / (days * 86400), 1 / (days * 86400))
        out.append({
            "model": m, "budget_usd": budget, "month": f"{last.year:04d}-{last.month:02d}",
            "mtd_usd": mtd, "burn": mtd / budget if budget else None,
            "projected_usd": mtd / frac, "as_of": W.iso(last),
        })
    return out


def budget_status(db: StoreLike, model: str | None = None) -> list[dict[str, Any]]:
    """Month-to-date spend against ``monthly_budget_usd`` per model (month of its latest record);
    every model's month comes from one query."""
    plans = budget_plans(db, model)
    ranges = [(m, ms, last + dt.timedelta(microseconds=1)) for m, _, last, ms in plans if last is not None]
    base: dict[str, list[tuple]] = defaultdict(list)
    if ranges:  # spend needs no labels: no label join
        cond = " OR ".join("(model = ? AND ts >= ? AND ts < ?)" for _ in ranges)
        params = [x for m, lo, hi in ranges for x in (m, naive(lo), naive(hi))]
        sql = _BASE_SQL.format(relation="(SELECT *, false AS labelled FROM predictions)", cond=cond)
        for row in db.cursor().execute(sql, params).fetchall():
            base[row[0]].append(row)
    return budget_rows(db, plans, base)
