"""Answers from the daily profiles (docs/analytics.md, 'Answers from profiles'): per-window
summaries, drift and the fleet overview as merges of days — O(days), not O(rows) — with the
exact path one flag away.

**Freshness.** Every answer first brings the asked models' profiles up to date
(``local.profile_store``: a day is recomputed only when its store parts, the label parts or the
versions' specs changed since it was profiled), so an answer never rests on a stale day.

**When profiles answer.** Profiles are per UTC day, so only windows made of whole UTC days
(``--window 1d``/``7d``/... or ``all``, bounds at midnight) are answered from them; any other
window (``1h``, a bound at 12:00) goes to the exact path, and the answer says so:
``"source": "exact"`` with ``"why"``.

**What is exact, what is approximate** (checked by tests/test_profiles_reader.py against the
exact path on the same data):

- ``requests``, ``errors``, ``error_rate``, ``labelled``, ``cost_usd``, ``missing_share`` and the
  metrics from confusion counts (binary ``accuracy precision recall f1``, multiclass
  ``accuracy``, regression ``mae mse rmse``) are the exact figures of the window's rows;
- ``latency_ms`` quantiles come from the merged DDSketch: within ``core.ALPHA`` relative error
  of the order statistic (the exact path's ``quantile_cont`` interpolates between two of them);
- drift: where the drift report would use Wasserstein (a reference of more than 1000 values,
  more than 5 distinct), a numeric feature gets that test on the merged sketch's points
  (``core.sketch_wasserstein``), with ``score_bound``: the exact score is within it. Otherwise
  (the report's KS needs the rows; a binned method configured) it is scored on the
  **reference's own bins** (its Sturges edges, with an under/over bin each side) with PSI — or
  Jensen–Shannon / chi-square when that is the feature's configured method — exactly the score
  of the raw values on those bins. ``drift`` and ``--exact`` keep the report's own tests.
  A categorical feature gets the drift report's own method and score (chi-square, Z or
  Jensen–Shannon over category counts), equal to the exact one whenever each day's values fit
  the profile's top ``core.TOP_K`` (``"exact_counts": false`` when some were pooled). The
  model's output drift is not profiled (the exact path has it).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from console.analytics import stats
from console.analytics import windows as W
from console.analytics.source import Scope, aware, check_model, logged_models, report_range
from console.profiles import core, local

DAY = 86400
QS = (0.5, 0.95, 0.99)
BINNED = ("psi", "jensenshannon", "chisquare")  # what a numeric feature can be scored with from bins


# -- freshness and reading ----------------------------------------------------------------------


def refresh(db: Any, models: list[str] | None = None, out: Path | None = None) -> dict[str, Any]:
    """Bring the profiles of ``models`` (every logged model when ``None``) up to date."""
    return local.profile_store(db, models, out=out)


def day_aligned(size: int | None, lo: dt.datetime, hi: dt.datetime) -> str | None:
    """``None`` when windows of ``size`` over ``[lo, hi)`` are whole UTC days, else why not."""
    if size is not None and size % DAY:
        return f"a {W.size_label(size)} window is not whole days (profiles are daily)"
    for t, name in ((lo, "start"), (hi, "end")):
        if W.to_epoch_us(t) % (DAY * 1_000_000):
            return f"the {name} {W.iso(t)} is not a midnight UTC (profiles are daily)"
    return None


def days_in(t: pa.Table, start: dt.datetime, end: dt.datetime) -> pa.Table:
    """The profile rows of the days in ``[start, end)``."""
    lo, hi = pa.scalar(start.date(), pa.date32()), pa.scalar(end.date(), pa.date32())
    return t.filter(pc.and_(pc.greater_equal(t["day"], lo), pc.less(t["day"], hi)))


# -- one window's figures ---------------------------------------------------------------------


def metrics_of(m: core.Merged, task: str | None) -> dict[str, float | None]:
    """The quality metrics a merged confusion table gives exactly, with the performance report's
    own formulas (``analytics.metrics``; ``None``: no row to score)."""
    import json

    from console.analytics import metrics

    table = m.keyed("metric")
    if task == "regression":
        n = m.get("metric", "", "n")
        sq = m.value.get(("metric", "", "sq"))
        mse = sq / n if n and sq is not None else None
        return {"mae": m.value.get(("metric", "", "abs"), 0.0) / n if n else None, "mse": mse,
                "rmse": math.sqrt(mse) if mse is not None else None}
    if task == "binary":
        full = metrics.binary_metrics(table)
        return {k: full[k] for k in ("accuracy", "precision", "recall", "f1")}
    pairs: dict[tuple[str, str], int] = {}
    for key, c in table.items():
        label, prediction = json.loads(key)
        pairs[(label, prediction)] = pairs.get((label, prediction), 0) + c
    return metrics.multiclass_metrics(pairs)


def summary(m: core.Merged, features: list[str], task: str | None) -> dict[str, Any]:
    """Volume, errors, latency quantiles (sketch), cost, labelled rows, missing shares, metrics."""
    rows, errors = m.get("rows"), m.get("errors")
    q = core.quantiles(m, core.LATENCY, QS)
    cost_n = m.get("sum", core.COST)
    return {
        "requests": rows, "errors": errors, "error_rate": errors / rows if rows else None,
        "labelled": m.get("labelled"),
        "latency_ms": {"p50": q[0], "p95": q[1], "p99": q[2], "max": m.value.get(("max", core.LATENCY, ""))},
        "cost_usd": m.value.get(("sum", core.COST, ""), 0.0) if cost_n else 0.0,
        "missing_share": {f: (m.get("missing", f) + m.get("type_error", f)) / rows if rows else None
                          for f in features},
        "metrics": metrics_of(m, task) if m.get("labelled") and task is not None else {},
    }


# -- drift --------------------------------------------------------------------------------------


def reference_bins(ref: Any, name: str, edges: list[float]) -> list[int]:
    """The reference column's counts on its edges, ``[under, bin 0, …, over]`` (remembered on
    the column: every window of a call bins the same reference)."""
    def count() -> list[int]:
        under, body, over = core.histogram(ref.values, tuple(edges))
        return [under, *body.tolist(), over]

    return ref.memo(f"profile-bins:{edges!r}", count)


def plot_shares(m: core.Merged, name: str, kind: str, ref: Any) -> dict[str, Any] | None:
    """Reference and current shares for the TUI's distribution plot (the drift report's
    ``stats.histogram`` shape): a numeric feature on the reference's bins, with ``< x``/``> y``
    bins when either side has values there; a categorical one's most common values."""
    from console.analytics.bins import compact
    from console.analytics.drift import distribution

    if kind != "numeric":
        ref_counts = {core.text_of(k): int(c) for k, c in (ref.counts or {}).items()}
        cur_counts = m.keyed("category", name)
        return distribution(ref_counts, cur_counts) if ref_counts and cur_counts else None
    edges, cur = core.hist_counts(m, name)
    if len(edges) < 2 or not sum(cur) or not ref.values.size:
        return None
    refc = reference_bins(ref, name, edges)
    labels = [f"< {compact(edges[0])}", *(compact(e) for e in edges[:-1]), f"> {compact(edges[-1])}"]
    keep = [i for i in range(len(labels)) if 0 < i < len(labels) - 1 or refc[i] or cur[i]]
    n_ref, n_cur = sum(refc), sum(cur)
    return {"labels": [labels[i] for i in keep], "reference": [refc[i] / n_ref for i in keep],
            "current": [cur[i] / n_cur for i in keep]}


def _feature_drift(m: core.Merged, name: str, kind: str, ref: Any, rule: Any, rows: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"feature": name, "kind": kind, "method": None, "score": None, "threshold": None,
                             "drifted": False,
                             "missing_share_current": (m.get("missing", name) + m.get("type_error", name)) / rows
                             if rows else None}
    if ref is None:
        entry["note"] = "not in the reference"
        return entry
    if kind == "numeric":
        edges, cur = core.hist_counts(m, name)
        if len(edges) < 2:
            entry["note"] = "no reference bins (the reference has no finite value)"
            return entry
        if not sum(cur):
            entry["note"] = "no values in the current data"
            return entry
        a = ref.values
        method = rule.method
        if method == "auto" and a.size:  # the drift report's choice, when the reference decides it
            distinct = ref.memo("distinct", lambda: stats.n_distinct_sorted(a))
            method = stats.default_method("numeric", int(a.size), distinct) if distinct > 5 else "auto"
        got = core.sketch_wasserstein(a, m, name, ref.memo("cdf-integral", lambda: core.cdf_integral(a))) \
            if method == "wasserstein" else None
        if got is not None:
            # the report's own test, on the sketch's points: within ``score_bound`` of its score
            norm = max(ref.memo("std", lambda: float(np.std(a))), stats.WASSERSTEIN_STD_FLOOR)
            score, bound = got[0] / norm, got[1] / norm
            threshold = rule.threshold if rule.threshold is not None else stats.DEFAULT_THRESHOLDS[method]
            entry["score_bound"] = bound
        else:
            refc = reference_bins(ref, name, edges)
            method = rule.method if rule.method in BINNED else "psi"
            threshold = rule.threshold if rule.method in BINNED and rule.threshold is not None \
                else stats.DEFAULT_THRESHOLDS[method]
            score = core.binned_drift(refc, cur, method)
            entry.update(bins="reference", edges=[float(e) for e in edges])
    else:
        cur_counts = m.keyed("category", name)
        ref_counts = {core.text_of(k): int(c) for k, c in (ref.counts or {}).items()}
        if not ref_counts or not cur_counts:
            entry["note"] = "no values in the " + ("reference" if not ref_counts else "current data")
            return entry
        entry["exact_counts"] = core.OTHER not in cur_counts
        n_distinct = len(set(ref_counts) | set(cur_counts))
        method = rule.method if rule.method not in ("auto", "ks", "wasserstein") else \
            stats.default_method("categorical", sum(ref_counts.values()), n_distinct)
        threshold = rule.threshold if rule.threshold is not None else stats.DEFAULT_THRESHOLDS[method]
        if method == "chisquare":
            score = stats.chisquare_test(ref_counts, cur_counts)
        elif method == "z":
            score = stats.z_test(ref_counts, cur_counts)
        else:
            _, r, c = stats.category_shares(ref_counts, cur_counts)
            score = stats.psi(r, c) if method == "psi" else stats.jensenshannon(r, c)
    entry.update(method=method, score=float(score), threshold=threshold,
                 drifted=bool(stats.is_drift(method, score, threshold)))
    return entry


def _drift(plan: Any, ref: Any, m: core.Merged, plots: bool = False) -> dict[str, Any]:
    rows = m.get("rows")
    feats = []
    for name, _col, kind, rule, rc in plan.feats:
        column = ref.columns.get(rc) if rc is not None else None
        f = _feature_drift(m, name, kind, column, rule, rows)
        if plots and column is not None:
            f["stats"] = {"histogram": plot_shares(m, name, kind, column)}
        feats.append(f)
    tested = [f for f in feats if f["method"] is not None]
    drifted = sum(1 for f in tested if f["drifted"])
    share = drifted / len(tested) if tested else 0.0
    return {"features": feats, "dataset_drift": {
        "share": share, "threshold": plan.config.drift.share, "drifted": bool(tested) and share >= plan.config.drift.share,
        "drifted_features": drifted, "tested_features": len(tested)}}


# -- windows --------------------------------------------------------------------------------------


def _version_of(db: Any, model: str, version: str | None) -> tuple[str | None, str | None]:
    """The version asked (or production, else none: every version) and its task."""
    from console.analytics.source import resolve_version

    if version is None:
        try:
            version = resolve_version(db, model, None)
        except Exception:  # noqa: BLE001 - no production version: every version, no drift
            version = None
    else:
        version = resolve_version(db, model, version)
    info = db.registry.get(model, version) if version is not None else None
    return version, info.task if info is not None else None


def _has_reference(db: Any, model: str, version: str | None) -> bool:
    """Drift needs a version with a registered reference; without one there is none to report."""
    info = db.registry.get(model, version) if version is not None else None
    return info is not None and info.reference is not None


def _plan(db: Any, model: str, version: str | None, features: list[str] | None):
    from console.analytics.drift import plan_drift

    if not _has_reference(db, model, version):
        return None, None
    plan = plan_drift(db, model, version, None, features, None, None)
    try:
        ref = plan.reference_data()
    finally:
        plan.reference.ready()
    return plan, ref


def windows_from_profiles(db: Any, model: str, version: str | None, wins: list[W.Window],
                          drift: bool = True, features: list[str] | None = None,
                          fresh: bool = True, plots: bool = False) -> list[dict[str, Any]]:
    """One row per whole-day window (``day_aligned``): ``summary`` plus, for a version with a
    reference, ``drift`` (``plots``: each feature's ``stats.histogram``, ``plot_shares``).
    Profiles are refreshed first unless ``fresh=False``."""
    if fresh:
        refresh(db, [model])
    version, task = _version_of(db, model, version)
    plan, ref = _plan(db, model, version, features) if drift else (None, None)
    names = [f[0] for f in plan.feats] if plan is not None else None
    if not wins:
        return []
    prof = local.read_profiles(local.profiles_dir(db), model=model, version=version,
                               start=wins[0].start.date(), end=wins[-1].end.date(), ordered=False)
    if version is None:  # every version: their reference bins differ, so no histogram is merged
        prof = prof.filter(pc.invert(pc.is_in(prof["stat"], pa.array(["edge", "hist"]))))
    if names is None:
        names = sorted(c for c in pc.unique(prof["column"]).to_pylist() if c and c not in (core.LATENCY, core.COST))
    out = []
    for w in wins:
        m = core.merge(days_in(prof, w.start, w.end))
        row: dict[str, Any] = {"start": W.iso(w.start), "end": W.iso(w.end), **summary(m, names, task)}
        if plan is not None:
            row["drift"] = _drift(plan, ref, m, plots) if m.get("rows") else None
        out.append(row)
    return out


def _exact_windows(db: Any, model: str, version: str | None, size: int | None, lo, hi, wins: list[W.Window],
                   drift: bool, features: list[str] | None) -> list[dict[str, Any]]:
    """The same rows from the store's rows: ``ops_report`` (latency linear-interpolated), one
    SQL for cost and labelled rows, ``performance_report`` and ``drift_windows`` (the drift
    report's own methods on raw values)."""
    from console.analytics.drift import drift_windows
    from console.analytics.ops import ops_report
    from console.analytics.performance import performance_report

    version, task = _version_of(db, model, version)
    label = W.size_label(size)  # "all" for one window
    ops = ops_report(db, model, version, window=label, start=lo, end=hi)["windows"]
    perf = performance_report(db, model, version, window=label, start=lo, end=hi)["windows"] if version else []
    dw = drift_windows(db, model, version, bounds=[(w.start, w.end) for w in wins], features=features)["windows"] \
        if drift and _has_reference(db, model, version) else []
    cur = db.cursor()
    out = []
    for i, w in enumerate(wins):
        cond, params = Scope(model, version, w.start, w.end).where()
        cost, labelled = cur.execute(
            f"SELECT coalesce(fsum(cost_usd) FILTER (WHERE isfinite(cost_usd)), 0), count(*) FILTER (WHERE labelled) "
            f"FROM predictions_labelled WHERE {cond}", params).fetchone()
        o = ops[i]
        lat = o["latency_ms"]
        row: dict[str, Any] = {"start": W.iso(w.start), "end": W.iso(w.end), "requests": o["requests"],
                               "errors": o["errors"], "error_rate": o["error_rate"], "labelled": int(labelled),
                               "latency_ms": {"p50": lat["p50"], "p95": lat["p95"], "p99": lat["p99"], "max": lat["max"]},
                               "cost_usd": float(cost)}
        if perf:
            row["metrics"] = perf[i]["metrics"] if perf[i]["labelled"] else {}
        if dw:
            rep = dw[i]
            row["missing_share"] = {f["feature"]: (f.get("stats") or {}).get("missing_share_current")
                                    for f in rep["features"]}
            row["drift"] = {"features": [{k: f.get(k) for k in ("feature", "kind", "method", "score", "threshold",
                                                                 "drifted")} for f in rep["features"]],
                            "dataset_drift": rep["dataset_drift"]} if rep["current"]["rows"] else None
        out.append(row)
    return out


def trend(db: Any, model: str, version: str | None = None, start: dt.datetime | None = None,
          end: dt.datetime | None = None, window: str | None = "1d", exact: bool = False,
          drift: bool = True, features: list[str] | None = None) -> dict[str, Any]:
    """Per-window figures of one model: from profiles when the windows are whole days (and
    ``exact`` is not asked), else from the rows. ``{"model", "version", "window", "start",
    "end", "source", "windows": [...]}`` (``"why"`` when whole days were asked but could not be)."""
    start, end = aware(start), aware(end)
    check_model(db, model)
    size = W.parse_window(window, "1d")
    out: dict[str, Any] = {"model": model, "version": None, "window": W.size_label(size), "start": None,
                           "end": None, "source": "exact" if exact else "profiles", "windows": []}
    v, _task = _version_of(db, model, version)
    out["version"] = v
    rng = report_range(db, Scope(model, v, start, end))
    if rng is None:
        return out
    lo, hi = W.align_range(rng[0], rng[1], size if size is not None else DAY, start is not None, end is not None)
    out["start"], out["end"] = W.iso(lo), W.iso(hi)
    wins = W.split(lo, hi, size)
    why = None if exact else day_aligned(size, lo, hi)
    if why is not None:
        out.update(source="exact", why=why)
    if out["source"] == "profiles":
        try:
            out["windows"] = windows_from_profiles(db, model, v, wins, drift, features)
            return out
        except OSError as exc:  # profiles that cannot be written (a read-only workspace): exact
            out.update(source="exact", why=f"profiles could not be refreshed: {exc}")
    out["windows"] = _exact_windows(db, model, v, size, lo, hi, wins, drift, features)
    return out


# -- the fleet ------------------------------------------------------------------------------------


def fleet(db: Any, start: dt.datetime | None = None, end: dt.datetime | None = None,
          models: list[str] | None = None, exact: bool = False) -> dict[str, Any]:
    """Every model over ``[start, end)`` (default: all its data, widened to whole days): requests,
    errors, error rate, latency p50/p95/p99, cost and the production version's dataset drift —
    one ``trend`` window per model. ``{"source", "start", "end", "models": [...]}``."""
    start, end = aware(start), aware(end)
    if models is None:
        models = logged_models(db)
    for m in models:
        check_model(db, m)
    why = None
    if not exact:
        try:
            refresh(db, models)  # every model at once: one manifest write
        except OSError as exc:  # profiles that cannot be written (a read-only workspace): exact
            exact, why = True, f"profiles could not be refreshed: {exc}"
    rows = []
    sources = set()
    for m in models:
        rep = trend(db, m, None, start, end, window="all", exact=exact) if exact else None
        if rep is None:
            rep = _fleet_profiles(db, m, start, end)
        sources.add(rep["source"])
        rows.append(fleet_row(rep))
    src = sources.pop() if len(sources) == 1 else ("mixed" if sources else ("exact" if exact else "profiles"))
    out = {"source": src, "start": W.iso(start), "end": W.iso(end), "models": rows}
    if why is not None:
        out["why"] = why
    return out


def fleet_row(rep: dict[str, Any]) -> dict[str, Any]:
    """One model's ``fleet`` row from its ``trend`` answer over one ``all`` window: the window's
    figures and its dataset drift (None without one)."""
    w = rep["windows"][0] if rep["windows"] else None
    row: dict[str, Any] = {"model": rep["model"], "version": rep["version"], "start": rep["start"],
                           "end": rep["end"], "source": rep["source"]}
    for k in ("requests", "errors", "error_rate", "latency_ms", "cost_usd", "labelled"):
        row[k] = w.get(k) if w else None
    d = (w or {}).get("drift")
    row["drift"] = d["dataset_drift"] if d else None
    return row


def _fleet_profiles(db: Any, model: str, start, end) -> dict[str, Any]:
    v, _ = _version_of(db, model, None)
    rng = report_range(db, Scope(model, v, start, end))
    out = {"model": model, "version": v, "start": None, "end": None, "source": "profiles", "windows": []}
    if rng is None:
        return out
    lo, hi = W.align_range(rng[0], rng[1], DAY, start is not None, end is not None)
    out["start"], out["end"] = W.iso(lo), W.iso(hi)
    why = day_aligned(None, lo, hi)
    if why is not None:
        rep = trend(db, model, None, lo, hi, window="all", exact=True)
        rep["why"] = why
        return rep
    out["windows"] = windows_from_profiles(db, model, v, W.split(lo, hi, None), fresh=False)
    return out


__all__ = ["day_aligned", "days_in", "fleet", "fleet_row", "metrics_of", "plot_shares", "refresh", "summary",
           "trend", "windows_from_profiles"]
