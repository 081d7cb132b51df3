"""Alerts (``check``, docs/analytics.md, 'Alerts'): one rule set over every model, the same for the CLI and the
TUI. Rules and defaults (``[alerts]`` in console.toml, per model ``[models."<m>".alerts]``;
docs/analytics.md lists them):

- ``drift``: over the latest ``window`` (default 7d) of the production version's traffic,
  dataset drift → ``drift_severity`` (critical); otherwise any drifted feature → one warning
  naming them (``feature_drift``); with ``multivariate = true`` a domain-classifier AUC in the
  drift band → warning.
- ``output_drift``: in the same window, the model's output drifted by the report's own test →
  ``output_drift_severity`` (warning); console/analytics/output_drift.py.
- ``performance``: in the same window, with at least ``performance_min_labelled`` labelled
  rows, every metric the registry has offline that is worse live by more than
  ``performance_tolerance`` (absolute) → warning; worse by more than twice that → critical.
- ``slice``: every slice value flagged by the slice rule in the same window → warning.
- ``fairness``: in the same window, a fairness gap of a slice feature above
  ``fairness_parity_max`` / ``fairness_equal_opportunity_max`` (unset: off) → warning;
  console/analytics/fairness.py.
- ``errors``: over the latest ``ops_window`` (default 1h) of the model's traffic (all versions)
  with at least ``min_requests`` requests, error rate ≥ ``error_rate`` (5%) → critical.
- ``latency``: same window, p95 latency ≥ ``latency_p95_ms`` (1000 ms) → warning.
- ``budget``: month-to-date spend ≥ ``budget_critical`` × budget (100%) → critical; ≥
  ``budget_warn`` × budget (80%) or projected to exceed the budget by month end → warning.

"Latest" is relative to the model's newest record, not the wall clock, so a replayed or
sample workspace gives the same answer any day — but never to a record stamped after
``console.clock.now()``: one record dated 2031 must not move every window into an empty
future and silence the alerts. Such records stay stored; ``check`` lists each model that has
them under ``future_data`` (rows, newest, now). Every alert carries ``window_since``/``until``
(the window evaluated), ``since`` (when the condition began: the evaluation walks back over the
earlier windows of the same size, at most ``LOOKBACK`` of them, while the same alert — any
severity — still fires there; ``since`` is the start of the earliest such window, so it is
exact to one window; for ``budget`` it is the first of the month), ``evidence`` (the numbers
behind it) and a stable ``id``. An earlier window that cannot be computed stops the walk.

The drift and data-quality rules' reports may come from elsewhere (``WindowSource``):
``check``, the TUI and ``metrics`` pass the daily profiles' (``console.profiles.alert_source``:
whole days merged from the profiles), which answer only when the profiles are fresh.

A rule that cannot be computed (an unreadable cache or store file, a failing query) is never
taken for "no alert": it becomes an entry of ``errors`` (``{"model", "kinds", "error"}``), the
other rules and models are still evaluated, and ``ok`` is false. Such a result is not memoised,
so the next call tries again. A rule that does not apply (no production version, no traffic, no
registered reference) is ``skipped`` with its reason, as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import duckdb

from console.analytics import windows as W
from console.analytics.config import AnalyticsConfig, config_for, load_config
from console.analytics.cost import budget_status
from console.analytics.data_quality import (
    QUALITY_KINDS,
    VOLUME_KINDS,
    feature_alerts,
    feature_quality,
    model_volume_anchor,
    quarantine_alerts,
    volume_alerts,
)
from console.analytics.drift import drift_report
from console.analytics.fairness import fairness_alerts, fairness_on
from console.analytics.metrics import LOWER_IS_BETTER
from console.analytics.ops import ops_report
from console.analytics.output_drift import output_drift_alerts
from console.analytics.performance import performance_report
from console.analytics.slices import slices_report
from console.analytics.source import (
    Scope,
    StoreLike,
    check_model,
    future_rows,
    latest_ts,
    logged_models,
)
from console.errors import InputUnreadable, UsageError

SEVERITY_ORDER = {"critical": 0, "warning": 1}

# Where the window rules' reports may come from instead of the rows: ``source(rule, db, model,
# version, config, start, end)``, ``rule`` ``"drift"`` (``drift_report``'s shape) or
# ``"data_quality"`` (``feature_quality``'s), is given the rule's window (its size ending
# at the newest record) and answers ``None`` (the rows, as always) or ``(lo, hi, report_at)``:
# the window to evaluate instead (same size) and what reports a window of that size. The daily
# profiles are one (``console.profiles.alert_source``); analytics cannot import them, so the
# caller passes it.
WindowSource = Callable[..., "tuple[dt.datetime, dt.datetime, Callable[..., dict[str, Any]]] | None"]
LOOKBACK = 8  # earlier windows ``since`` walks back over, at most


def _alert(model, version, kind, severity, detail, since=None, until=None, subject="", **evidence):
    raw = f"{model}|{version}|{kind}|{subject}"
    return {
        "id": hashlib.sha256(raw.encode()).hexdigest()[:12],
        "model": model, "version": version, "kind": kind, "severity": severity, "detail": detail,
        "since": W.iso(since), "window_since": W.iso(since), "until": W.iso(until),
        "subject": subject or None, "evidence": evidence,
    }


def _began(found: list[dict], evaluate, start: dt.datetime, end: dt.datetime) -> None:
    """Set each alert's ``since`` to the start of the earliest window of the run of consecutive
    windows (``[start, end)`` and the ones before it, same size, at most ``LOOKBACK``) where
    ``evaluate(start, end)`` still fires it (same ``id``, any severity)."""
    if not found:
        return
    size = end - start
    holding = {x["id"] for x in found}
    began = {i: start for i in holding}
    for k in range(1, LOOKBACK + 1):
        lo, hi = start - k * size, end - k * size
        try:
            fired = {x["id"] for x in evaluate(lo, hi)}
        except Exception:  # noqa: BLE001 - an earlier window that cannot be computed ends the walk
            break
        holding &= fired
        if not holding:
            break
        for i in holding:
            began[i] = lo
    for x in found:
        x["since"] = W.iso(began[x["id"]])


def _latest(db: StoreLike, model: str, version: str | None, size: int) -> tuple[dt.datetime, dt.datetime] | None:
    hi = latest_ts(db, Scope(model, version))  # the newest record not after the clock
    if hi is None:
        return None
    end = hi + dt.timedelta(microseconds=1)
    return end - dt.timedelta(seconds=size), end


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def failure(model: str | None, kinds: list[str], exc: BaseException) -> dict[str, Any]:
    """An ``errors`` entry: which rules of which model could not be computed, and why."""
    text = str(exc).strip()
    return {"model": model, "kinds": list(kinds),
            "error": f"{type(exc).__name__}: {text.splitlines()[0] if text else 'failed'}"}


ALL_KINDS = ["drift", "output_drift", "performance", "slice", "fairness", "errors", "latency", "budget",
             *QUALITY_KINDS, *VOLUME_KINDS, "quarantine"]
WINDOW_KINDS = ["drift", "performance", "slice", *QUALITY_KINDS]  # the production version's latest window


def model_alerts(db: StoreLike, model: str, config: AnalyticsConfig | None = None,
                 errors: list[dict] | None = None,
                 source: WindowSource | None = None) -> tuple[list[dict], list[dict]]:
    """(alerts, skipped) for one model; a rule that fails is appended to ``errors`` (when
    given — else its exception propagates) and the other rules still run. ``source``:
    see ``WindowSource``."""
    alerts: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []

    def attempt(kinds: list[str], fn) -> None:
        if errors is None:
            fn()
            return
        try:
            try:
                fn()
            except duckdb.OutOfMemoryException:
                # DuckDB's memory is one pool for every report running now (the TUI's workers):
                # this rule runs once more with none beside it (``StoreSnapshot.alone``)
                with db.alone():
                    fn()
        except InputUnreadable as exc:  # the input exists (or should) and cannot be read
            errors.append(failure(model, kinds, exc))
        except UsageError as exc:  # not applicable (no registered reference, say): skipped, said why
            skipped.append({"model": model, "kinds": kinds, "reason": str(exc)})
        except Exception as exc:  # noqa: BLE001 - unknown is never "no alert": an error entry
            errors.append(failure(model, kinds, exc))

    if config is None:
        try:
            config = config_for(db, model)
        except UsageError:
            raise
        except Exception as exc:
            if errors is None:
                raise
            errors.append(failure(model, ALL_KINDS, exc))
            return alerts, skipped
    a = config.alerts
    version = (db.production or {}).get(model)
    size = W.parse_window(a.window) or 7 * 86400
    found: dict[str, Any] = {}  # the latest window of the production version, once found
    attempt(WINDOW_KINDS,
            lambda: found.update(rng=_latest(db, model, version, size) if version else None))
    _model_rules(db, model, config, version, found.get("rng"), "rng" in found, alerts, skipped, attempt,
                 source)
    return alerts, skipped


def _model_rules(db, model, config, version, rng, ranged, alerts, skipped, attempt, source) -> None:
    a = config.alerts
    if version is None:
        skipped.append({"model": model, "kinds": WINDOW_KINDS, "reason": "no production version"})
    elif not ranged:
        pass  # finding the window failed: already an error entry
    elif rng is None:
        skipped.append({"model": model, "kinds": WINDOW_KINDS,
                        "reason": f"no traffic for production version {version}"})
    else:
        start, end = rng

        def window(rule: str, rows_at) -> tuple:
            """``rule``'s window and what reports one: ``source``'s when it answers (whole days
            from the daily profiles, console.profiles), else ``[start, end)`` by ``rows_at``."""
            got = source(rule, db, model, version, config, start, end) if source else None
            return got if got is not None else (start, end, rows_at)

        if a.drift:
            def drift() -> None:
                lo, hi, at = window("drift", lambda lo, hi: drift_report(db, model, version, lo, hi, config=config,
                                                                          multivariate=a.multivariate))

                def drift_at(lo, hi) -> list[dict]:
                    rep = at(lo, hi)
                    return _drift_alerts(rep, a, lo, hi) + output_drift_alerts(rep, a, lo, hi, _alert)
                _walk(alerts, drift_at, lo, hi)
            attempt(["drift", "output_drift"], drift)

        def quality_at(lo, hi) -> list[dict]:
            info = db.registry.get(model, version)
            # slices first: its one query also yields the whole window, which performance_report
            # then reads from the cache (one label join per model instead of two)
            srep = (slices_report(db, model, version, None, lo, hi, config)
                    if (a.slices or fairness_on(a)) and info is not None and info.slices else None)
            perf = performance_report(db, model, version, "all", lo, hi, config)
            out = _performance_alerts(model, version, perf, a, lo, hi)
            if srep is not None:
                out += _slice_alerts(model, version, srep, lo, hi) if a.slices else []
                out += fairness_alerts(srep, a, lo, hi, _alert)
            return out

        attempt(["performance", "slice", "fairness"], lambda: _walk(alerts, quality_at, start, end))

        if a.missing or a.new_category or a.range:  # data quality: console/analytics/data_quality.py
            def data_quality() -> None:
                lo, hi, at = window("data_quality", lambda lo, hi: feature_quality(db, model, version, lo, hi, config))
                _walk(alerts, lambda lo, hi: feature_alerts(model, version, at(lo, hi), a, lo, hi, _alert), lo, hi)
            attempt(QUALITY_KINDS, data_quality)

    def ops_at(lo, hi) -> list[dict]:  # every version of the model
        rep = ops_report(db, model, None, "all", lo, hi, config)
        w = rep["windows"][0] if rep["windows"] else None
        out: list[dict] = []
        if w and w["requests"] >= a.min_requests:
            if w["error_rate"] is not None and w["error_rate"] >= a.error_rate:
                out.append(_alert(
                    model, None, "errors", "critical",
                    f"error rate {_pct(w['error_rate'])} ≥ {_pct(a.error_rate)} over the last {a.ops_window} "
                    f"({w['errors']} of {w['requests']} requests)",
                    lo, hi, requests=w["requests"], errors=w["errors"],
                    error_rate=w["error_rate"], threshold=a.error_rate))
            p95 = w["latency_ms"]["p95"]
            if p95 is not None and p95 >= a.latency_p95_ms:
                out.append(_alert(
                    model, None, "latency", "warning",
                    f"p95 latency {p95:.0f} ms ≥ {a.latency_p95_ms:.0f} ms over the last {a.ops_window}",
                    lo, hi, p95_ms=p95, threshold_ms=a.latency_p95_ms, requests=w["requests"]))
        return out

    def ops() -> None:
        osize = W.parse_window(a.ops_window) or 3600
        orng = _latest(db, model, None, osize)
        if orng is None:
            return
        _walk(alerts, ops_at, *orng)
    attempt(["errors", "latency"], ops)

    def budget() -> None:
        for b in budget_status(db, model):
            if not b.get("budget_usd") or b.get("burn") is None or b.get("as_of") is None:
                continue
            ev = dict(budget_usd=b["budget_usd"], mtd_usd=b["mtd_usd"], burn=b["burn"],
                      projected_usd=b["projected_usd"], month=b["month"])
            since = W.parse_time(b["month"] + "-01")
            until = W.parse_time(b["as_of"])
            if b["burn"] >= a.budget_critical:
                alerts.append(_alert(model, None, "budget", "critical",
                                     f"month-to-date spend ${b['mtd_usd']:.2f} is {_pct(b['burn'])} of the "
                                     f"${b['budget_usd']:.2f} budget ({b['month']})", since, until, **ev))
            elif b["burn"] >= a.budget_warn or (b["projected_usd"] or 0) > b["budget_usd"]:
                alerts.append(_alert(model, None, "budget", "warning",
                                     f"month-to-date spend ${b['mtd_usd']:.2f} ({_pct(b['burn'])} of "
                                     f"${b['budget_usd']:.2f}), projected ${b['projected_usd']:.2f} by month end",
                                     since, until, **ev))
    attempt(["budget"], budget)

    if a.volume or a.no_data:  # every version; windows end at the workspace's newest record
        def volume() -> None:
            end = model_volume_anchor(db)
            if end is not None:
                vsize = dt.timedelta(seconds=W.parse_window(a.volume_window) or 86400)
                _walk(alerts, lambda lo, hi: volume_alerts(db, model, a, lo, hi, _alert), end - vsize, end)
        attempt(VOLUME_KINDS, volume)

    if a.quarantine:  # every version: the files of the model's rows in its latest window
        def quarantine() -> None:
            qrng = _latest(db, model, None, W.parse_window(a.window) or 7 * 86400)
            if qrng is not None:
                _walk(alerts, lambda lo, hi: quarantine_alerts(db, model, a, lo, hi, _alert), *qrng)
        attempt(["quarantine"], quarantine)


def _walk(alerts: list[dict], evaluate, start: dt.datetime, end: dt.datetime) -> None:
    """The alerts ``evaluate`` fires in ``[start, end)``, each with its ``since`` (``_began``)."""
    found = evaluate(start, end)
    _began(found, evaluate, start, end)
    alerts.extend(found)


def _slice_alerts(model, version, rep, start, end) -> list[dict[str, Any]]:
    out = []
    for s in rep["slices"]:
        if not s["flagged"]:
            continue
        metric = rep["rule"]["metric"]
        live = s["metrics"].get(metric)
        whole = (rep["overall"] or {}).get("metrics", {}).get(metric)
        out.append(_alert(
            model, version, "slice", "warning",
            f"slice {s['feature']}={s['value']} is worse: {metric} {live:.3f} vs {whole:.3f} overall "
            f"(p={s['p_adjusted']:.2g} after {rep['rule']['correction']}, n={s['labelled']})",
            start, end, subject=f"{s['feature']}={s['value']}",
            feature=s["feature"], value=s["value"], metric=metric, slice_value=live,
            overall_value=whole, p_adjusted=s["p_adjusted"], labelled=s["labelled"]))
    return out


def _drift_alerts(rep: dict[str, Any], a, start, end) -> list[dict[str, Any]]:
    model, version = rep["model"], rep["version"]
    out = []
    dd = rep["dataset_drift"]
    drifted = [f for f in rep["features"] if f["drifted"]]
    names = ", ".join(f["feature"] for f in drifted[:8]) + (" …" if len(drifted) > 8 else "")
    features_ev = [{k: f[k] for k in ("feature", "method", "score", "threshold")} for f in drifted]
    source = rep.get("source", "exact")  # the features' drift: "profiles" (whole days) or "exact"
    whence = " — from daily profiles" if source == "profiles" else ""
    if dd["drifted"]:
        out.append(_alert(model, version, "drift", a.drift_severity,
                          f"dataset drift: {dd['drifted_features']} of {dd['tested_features']} features drifted "
                          f"(share {dd['share']:.2f} ≥ {dd['threshold']:.2f}): {names}{whence}",
                          start, end, subject="dataset", share=dd["share"], threshold=dd["threshold"],
                          features=features_ev, current_rows=rep["current"]["rows"], source=source))
    elif drifted and a.feature_drift:
        out.append(_alert(model, version, "drift", "warning",
                          f"{len(drifted)} feature(s) drifted: {names} (dataset share {dd['share']:.2f}){whence}",
                          start, end, subject="features", share=dd["share"], threshold=dd["threshold"],
                          features=features_ev, current_rows=rep["current"]["rows"], source=source))
    mv = rep.get("multivariate")
    if mv and mv.get("status") == "drift":
        out.append(_alert(model, version, "drift", "warning",
                          f"domain classifier tells reference from current (AUC {mv['auc']:.3f} ≥ {mv['drift_auc']})",
                          start, end, subject="multivariate", auc=mv["auc"], top_features=mv["top_features"]))
    return out


def _performance_alerts(model, version, perf, a, start, end) -> list[dict[str, Any]]:
    w = perf["windows"][0] if perf["windows"] else None
    if not w or w["labelled"] < a.performance_min_labelled:
        return []
    out = []
    for metric, offline in sorted(perf["offline"].items()):
        live = w["metrics"].get(metric)
        if live is None:
            continue
        worse = (live - offline) if metric in LOWER_IS_BETTER else (offline - live)
        if worse <= a.performance_tolerance:
            continue
        severity = "critical" if worse > 2 * a.performance_tolerance else "warning"
        out.append(_alert(model, version, "performance", severity,
                          f"{metric} {live:.3f} live vs {offline:.3f} offline (worse by {worse:.3f} > "
                          f"{a.performance_tolerance})",
                          start, end, subject=metric, metric=metric, live=live, offline=offline,
                          worse_by=worse, tolerance=a.performance_tolerance, labelled=w["labelled"]))
    return out


class _Incomplete(Exception):
    """Carries a result with ``errors`` past the memo (never remembered: the next call retries)."""

    def __init__(self, value: dict[str, Any]):
        super().__init__("incomplete")
        self.value = value


def check_alerts(db: StoreLike, model: str | None = None,
                 source: WindowSource | None = None) -> dict[str, Any]:
    """``{"ok", "alerts", "skipped", "errors", "models"}`` over every model (or one). ``ok`` is
    true only when every rule was computed and none fired. ``source``: see
    ``WindowSource`` (``profiles.glance.check_alerts`` passes the profiles')."""
    from console.analytics.cache import memoised

    ws_config = dict(db.config)
    key = {"k": "check", "m": model, "cfg": repr(ws_config),
           "source": None if source is None else f"{source.__module__}.{source.__qualname__}"}

    def compute() -> dict[str, Any]:
        value = _check(db, model, source)
        if value["errors"]:
            raise _Incomplete(value)
        return value

    try:
        return memoised(db, key, compute, load_config(ws_config).cache)
    except _Incomplete as inc:
        return inc.value


def not_evaluated(rep: dict[str, Any], most: int = 3) -> str:
    """The words for the rules ``check`` skipped (no traffic, no reference…), for the CLI's
    title and the TUI's summary alike: "" when none, else "? 2 rule set(s) not evaluated:
    credit-risk drift, performance (no traffic in the window) · …" — a skipped rule is not
    an "ok"."""
    skipped = rep.get("skipped") or []
    if not skipped:
        return ""
    said = [f"{s.get('model')} {', '.join(s.get('kinds') or [])} ({s.get('reason')})" for s in skipped[:most]]
    more = f" · and {len(skipped) - most} more" if len(skipped) > most else ""
    return f"? {len(skipped)} rule set(s) not evaluated: " + " · ".join(said) + more


def _check(db: StoreLike, model: str | None, source: WindowSource | None = None) -> dict[str, Any]:
    if model is not None:
        check_model(db, model)
        models = [model]
    else:
        models = sorted(set(db.registry.models()) | set(logged_models(db)))
    alerts: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for m in models:
        got, skip = model_alerts(db, m, errors=errors, source=source)
        alerts += got
        skipped += skip
    alerts.sort(key=lambda x: (SEVERITY_ORDER.get(x["severity"], 9), x["model"], x["kind"], x["subject"] or ""))
    future = [f for f in (future_rows(db, m) for m in models) if f is not None]
    return {"ok": not alerts and not errors, "alerts": alerts, "skipped": skipped, "errors": errors,
            "models": models, "future_data": future}
