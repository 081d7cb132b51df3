"""Slices and fairness (``slices``, docs/analytics.md, 'Slices and fairness').

For each slice feature (the version's registry ``slices``, or ``by``) and each of its values:
rows, labelled, the task's metrics, a 95% Wilson interval for accuracy (classification),
the difference from the whole (slice − overall), and ``flagged`` when the slice is *reliably*
worse than the rest of the traffic:

- classification: one-sided pooled two-proportion Z-test of "accuracy of the slice < accuracy
  of the rest"; regression: one-sided Welch t-test of "mean absolute error of the slice > the
  rest's";
- only values with at least ``min_labelled`` scored rows are tested (default 30);
- p-values are corrected across *every* value tested in the report (all slice features at
  once) with Holm's step-down method (``correction = "bh"`` for Benjamini–Hochberg);
- flagged when the corrected p-value < ``alpha`` (0.05) and the gap is at least
  ``min_effect`` (0.05 absolute accuracy; for regression a relative MAE increase of 5%).

Numeric slice features are cut at their quintiles. At most ``max_values`` most frequent values
per feature are reported; the rest are pooled as ``(other)``; nulls are ``(null)``.

Fairness (binary models; multiclass one-vs-rest, the worst class reported), per slice feature
over values with ≥ ``min_labelled`` rows: demographic-parity difference (max − min rate of
positive predictions) and equal-opportunity difference (max − min recall among labelled
positives); computed in console/analytics/fairness.py.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from scipy import stats as sst

from console.analytics import stats
from console.analytics import windows as W
from console.analytics.cache import memoised
from console.analytics.config import AnalyticsConfig, SlicesConfig, config_for
from console.analytics.fairness import fairness_gaps
from console.analytics.incremental import windowed
from console.analytics.metrics import METRICS, compute_windows, labelled_relation
from console.analytics.performance import registry_key, small_part, task_of
from console.analytics.source import (
    Scope,
    StoreLike,
    aware,
    model_features,
    report_range,
    resolve_version,
)
from console.errors import UsageError
from console.store.sql import ident, literal

NULL_VALUE = "(null)"
OTHER_VALUE = "(other)"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _bucket_expr(cur, col: str, kind: str, cond: str, params: list[Any], max_values: int) -> str:
    qc = ident(col)
    if kind == "numeric":
        row = cur.execute(
            f"SELECT quantile_disc({qc}, [0.2, 0.4, 0.6, 0.8]) FROM predictions "
            f"WHERE {cond} AND isfinite({qc})", params).fetchall()[0]
        edges = sorted(set(row[0] or [])) if row else []
        if not edges:
            return f"CASE WHEN {qc} IS NULL THEN {literal(NULL_VALUE)} ELSE {literal('all')} END"
        parts = [f"WHEN {qc} IS NULL OR NOT isfinite({qc}) THEN {literal(NULL_VALUE)}",
                 f"WHEN {qc} < {edges[0]!r} THEN {literal('< ' + _fmt(edges[0]))}"]
        for lo, hi in zip(edges, edges[1:], strict=False):
            parts.append(f"WHEN {qc} < {hi!r} THEN {literal(f'[{_fmt(lo)}, {_fmt(hi)})')}")
        parts.append(f"ELSE {literal('≥ ' + _fmt(edges[-1]))}")
        return "CASE " + " ".join(parts) + " END"
    top = cur.execute(
        f"SELECT {qc}::VARCHAR, count(*) AS n FROM predictions WHERE {cond} AND {qc} IS NOT NULL "
        f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT {int(max_values) + 1}", params).fetchall()
    values = [r[0] for r in top]
    if len(values) <= max_values:
        return f"coalesce({qc}::VARCHAR, {literal(NULL_VALUE)})"
    keep = ", ".join(literal(v) for v in values[:max_values])
    return (f"CASE WHEN {qc} IS NULL THEN {literal(NULL_VALUE)} WHEN {qc}::VARCHAR IN ({keep}) "
            f"THEN {qc}::VARCHAR ELSE {literal(OTHER_VALUE)} END")


def _test_value(task: str, s: dict[str, Any], total: dict[str, Any], cfg: SlicesConfig) -> tuple[float | None, float | None]:
    """(one-sided p-value, effect) of "this slice is worse than the rest", or (None, None)."""
    c = s.get("counts") or {}
    t = total.get("counts") or {}
    if task == "regression":
        n1 = c.get("scored", 0)
        n2 = t.get("scored", 0) - n1
        if n1 < max(cfg.min_labelled, 2) or n2 < 2:
            return None, None
        m1 = c["sae"] / n1
        m2 = (t["sae"] - c["sae"]) / n2
        v1 = max((c["sse"] - n1 * m1 * m1) / (n1 - 1), 0.0)
        v2 = max(((t["sse"] - c["sse"]) - n2 * m2 * m2) / (n2 - 1), 0.0)
        effect = (m1 - m2) / m2 if m2 > 0 else (math.inf if m1 > 0 else 0.0)
        if v1 == 0 and v2 == 0:
            return (0.0 if m1 > m2 else 1.0), effect
        res = sst.ttest_ind_from_stats(m1, math.sqrt(v1), n1, m2, math.sqrt(v2), n2,
                                       equal_var=False, alternative="greater")
        return float(res.pvalue), effect
    n1 = c.get("scored", 0)
    n2 = t.get("scored", 0) - n1
    if n1 < cfg.min_labelled or n2 <= 0:
        return None, None
    x1 = c.get("correct", 0)
    x2 = t.get("correct", 0) - x1
    effect = x2 / n2 - x1 / n1
    return stats.two_proportion_less_pvalue(x1, n1, x2, n2), effect


def _adjust(pvalues: list[float], method: str) -> list[float]:
    if method == "holm":
        return stats.holm_adjust(pvalues)
    if method == "bh":
        m = len(pvalues)
        order = sorted(range(m), key=lambda i: pvalues[i], reverse=True)
        out = [1.0] * m
        running = 1.0
        for rank_from_top, i in enumerate(order):
            k = m - rank_from_top
            running = min(running, pvalues[i] * m / k)
            out[i] = min(running, 1.0)
        return out
    return list(pvalues)


def slices_report(
    db: StoreLike,
    model: str,
    version: str | None = None,
    by: list[str] | str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    config: AnalyticsConfig | None = None,
) -> dict[str, Any]:
    """Per slice value quality, flags and fairness gaps of one model version."""
    start, end = aware(start), aware(end)
    version = resolve_version(db, model, version)
    if config is None:
        config = config_for(db, model)
    key = {"k": "slices", "m": model, "v": version, "by": by, "start": str(start), "end": str(end),
           "cfg": config.fingerprint()}
    return memoised(db, key, lambda: _slices(db, model, version, by, start, end, config), config.cache)


def _slices(db: StoreLike, model: str, version: str, by, start, end, config: AnalyticsConfig) -> dict[str, Any]:
    cfg = config.slices
    info = db.registry.get(model, version)
    task = task_of(db, model, version)
    feats = {name: (col, kind) for name, col, kind in model_features(db, model, version)}
    if isinstance(by, str):
        by = [b for b in by.split(",") if b]
    names = list(by) if by else list(info.slices if info is not None else [])
    for name in names:
        if name not in feats:
            raise UsageError(f"unknown slice feature {name!r} of model {model!r} "
                             f"(features: {', '.join(sorted(feats)) or 'none'})")
    scope = Scope(model, version, start, end)
    rng = report_range(db, scope)
    out: dict[str, Any] = {
        "model": model, "version": version, "task": task,
        "start": W.iso(rng[0]) if rng else None, "end": W.iso(rng[1]) if rng else None,
        "rule": {"metric": "mae" if task == "regression" else "accuracy", "min_labelled": cfg.min_labelled,
                 "alpha": cfg.alpha, "correction": cfg.correction, "min_effect": cfg.min_effect},
        "overall": None, "slices": [], "fairness": [],
    }
    if rng is None or not names:
        return out
    cur = db.cursor()
    rscope = Scope(model, version, rng[0], rng[1])
    cond, params = rscope.where()
    # every slice feature's buckets, computed in ONE grouped query over the joined rows (the label
    # join runs once); the whole range is performance's "all" window, shared with its cache: on a
    # miss the same query also yields it (one more grouping), on a hit only the slices are computed
    exprs = [_bucket_expr(cur, feats[name][0], feats[name][1], cond, params, cfg.max_values)
             for name in names]
    whole = W.Window(rng[0], rng[1], rng[0])
    groups: dict[Any, dict[str, Any]] = {}
    relation = labelled_relation(db, cond, params, small_part(db, model, rng[0], rng[1]))

    def compute_all(c: str, p: list[Any], b: str) -> dict[int, Any]:
        groups.update(compute_windows(cur, task, info, c, p, [*exprs, b], relation))
        overall = groups.pop((len(exprs), "0"), None)
        return {0: overall} if overall else {}

    total = windowed(db, rscope, [whole], None, compute_all,
                     {"k": "performance", "reg": registry_key(info)}, config.cache).get(whole.key)
    if not total:
        return out
    if not groups:
        groups = compute_windows(cur, task, info, cond, params, exprs, relation)
    out["overall"] = {"rows": total["rows"], "labelled": total["labelled"], "metrics": total["metrics"]}
    entries: list[dict[str, Any]] = []
    tested: list[tuple[int, float]] = []
    for i, name in enumerate(names):
        mine = {w: g for (gi, w), g in groups.items() if gi == i}
        feature_entries = []
        for value in sorted(mine, key=lambda v: (-mine[v]["rows"], str(v))):
            g = mine[value]
            c = g.get("counts") or {}
            entry: dict[str, Any] = {
                "feature": name, "value": value, "rows": g["rows"], "labelled": g["labelled"],
                "metrics": g["metrics"],
                "diff": {k: (g["metrics"][k] - total["metrics"][k])
                         for k in METRICS[task]
                         if g["metrics"].get(k) is not None and total["metrics"].get(k) is not None},
                "accuracy_ci": None, "p_value": None, "p_adjusted": None, "flagged": False,
            }
            if task != "regression" and c.get("scored"):
                ci = stats.wilson_interval(c["correct"], c["scored"])
                entry["accuracy_ci"] = list(ci) if ci else None
            p, effect = _test_value(task, g, total, cfg)
            entry["effect"] = effect
            if p is not None:
                entry["p_value"] = p
                tested.append((len(entries), p))
            entry["_counts"] = c
            entries.append(entry)
            feature_entries.append(entry)
        if task in ("binary", "multiclass"):
            out["fairness"].append(fairness_gaps(name, feature_entries, cfg.min_labelled, task))
    adjusted = _adjust([p for _, p in tested], cfg.correction)
    for (i, _), pa_ in zip(tested, adjusted, strict=True):
        e = entries[i]
        e["p_adjusted"] = pa_
        e["flagged"] = bool(pa_ < cfg.alpha and e["effect"] is not None and e["effect"] >= cfg.min_effect)
    for e in entries:
        e.pop("_counts", None)
    out["slices"] = entries
    out["flagged"] = sum(1 for e in entries if e["flagged"])
    return out


SLICE_ROWS = 50  # predictions ``slice_predictions`` lists by default


def slice_predictions(db: StoreLike, model: str, feature: str, value: str, version: str | None = None,
                      start: dt.datetime | None = None, end: dt.datetime | None = None,
                      limit: int = SLICE_ROWS, config: AnalyticsConfig | None = None) -> dict[str, Any]:
    """The successful predictions of one slice — ``feature`` = ``value`` exactly as
    ``slices_report`` buckets it over the same range (a numeric feature's quintile, ``(other)``,
    ``(null)``) — worst first: classification the wrong labelled ones (label ≠ prediction), then
    the other labelled, then the unlabelled; regression the largest absolute error first; each
    group newest first. Up to ``limit`` rows, with the slice's counts (for the explain view)."""
    start, end = aware(start), aware(end)
    version = resolve_version(db, model, version)
    if config is None:
        config = config_for(db, model)
    task = task_of(db, model, version)
    feats = {name: (col, kind) for name, col, kind in model_features(db, model, version)}
    if feature not in feats:
        raise UsageError(f"unknown slice feature {feature!r} of model {model!r} "
                         f"(features: {', '.join(sorted(feats)) or 'none'})")
    rng = report_range(db, Scope(model, version, start, end))
    out: dict[str, Any] = {"model": model, "version": version, "task": task, "feature": feature, "value": value,
                           "start": W.iso(rng[0]) if rng else None, "end": W.iso(rng[1]) if rng else None,
                           "rows_in_slice": 0, "wrong_in_slice": None if task == "regression" else 0, "rows": []}
    if rng is None:
        return out
    cond, params = Scope(model, version, rng[0], rng[1]).where()
    cur = db.cursor()
    try:
        expr = _bucket_expr(cur, feats[feature][0], feats[feature][1], cond, params, config.slices.max_values)
        relation = labelled_relation(db, cond, params, small_part(db, model, rng[0], rng[1]))
        worst = ("abs(label_num - prediction_num) DESC NULLS LAST" if task == "regression"
                 else "wrong DESC, labelled DESC")
        res = cur.execute(
            f"SELECT request_id, ts, prediction, score, CASE WHEN labelled THEN label END AS label, "
            f"labelled AND label IS DISTINCT FROM prediction AS wrong, "
            f"CASE WHEN labelled THEN abs(label_num - prediction_num) END AS abs_error, "
            f"count(*) OVER () AS n, count(*) FILTER (WHERE labelled AND label IS DISTINCT FROM prediction) OVER () "
            f"FROM {relation} WHERE {cond} AND coalesce(status, 'ok') = 'ok' AND ({expr}) = ? "
            f"ORDER BY {worst}, ts DESC, request_id LIMIT ?", [*params, value, int(limit)]).fetchall()
    finally:
        cur.close()
    if res:
        out["rows_in_slice"] = int(res[0][7])
        if task != "regression":
            out["wrong_in_slice"] = int(res[0][8])
    out["rows"] = [{"request_id": r[0], "ts": W.iso(aware(r[1])), "prediction": r[2], "score": r[3], "label": r[4],
                    "wrong": None if task == "regression" or r[4] is None else bool(r[5]),
                    "abs_error": r[6] if task == "regression" else None} for r in res]
    return out
