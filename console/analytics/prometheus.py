"""The console's numbers as Prometheus metrics (docs/formats.md, 'mlops-console metrics'): the
families, their labels, and how each value is found.

``families(db)`` evaluates one store snapshot into ``prometheus_client`` metric families, from
the same functions the command line reports with — nothing is computed twice or differently:

- drift share (``drift_report``): the latest ``[alerts] window`` of the production version's
  traffic, the window ``check``'s drift rule reads;
- requests, error rate and p95 latency (``ops_report`` with ``window="all"``): the latest
  ``[alerts] ops_window`` of the model's traffic (every version), the window of ``check``'s
  errors and latency rules;
- alerts by kind and severity (``check_alerts``);
- month-to-date cost and budget burn (``budget_status``, as ``cost``'s ``budget``).

A value that cannot be computed is never exported as 0 (nor as anything): it is left out, and
``mlops_console_not_evaluated{model, metric, kind, reason}`` says so — ``reason`` ``error`` (it
failed: also counted in ``mlops_console_evaluation_errors``), ``not_applicable`` (no production
version, no traffic, no budget, a rule ``check`` skipped, a multiclass model's estimate). ``mlops_console_up`` is 1 when the store was read.

``SnapshotCollector`` is a ``prometheus_client`` collector over a function that returns the
current snapshot: the server (``serve-metrics``) evaluates it afresh on every scrape; the
snapshot's memo makes a scrape with nothing new cheap. Headless: no Textual, no I/O besides the
store.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from console.analytics import windows as W
from console.analytics.alerts import ALL_KINDS, _latest, check_alerts
from console.analytics.config import AnalyticsConfig, config_for
from console.analytics.cost import budget_status
from console.analytics.drift import drift_report
from console.analytics.ops import ops_report
from console.analytics.source import logged_models
from console.errors import UsageError
from console.store.snapshot import StoreSnapshot

PREFIX = "mlops_console"
SEVERITIES = ("critical", "warning")

# (name without the prefix, help, label names): every family this module can export
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "up": ("1 when the workspace's store was read (0: nothing else could be evaluated)", ()),
    "evaluation_errors": ("values that could not be computed (each is a not_evaluated series with "
                          "reason=\"error\"); 0 when every value was computed", ()),
    "not_evaluated": ("1 for each value left out: reason error or not_applicable", (
        "model", "metric", "kind", "reason")),
    "drift_share": ("share of the production version's features that drifted over the latest "
                    "[alerts] window", ("model", "version")),
    "dataset_drift": ("1 when that share is dataset drift ([drift] share), else 0", ("model", "version")),
    "requests": ("requests over the latest [alerts] ops_window (every version)", ("model",)),
    "error_rate": ("errors / requests over the latest [alerts] ops_window (every version)", ("model",)),
    "latency_p95_seconds": ("p95 latency over the latest [alerts] ops_window (every version)", ("model",)),
    "alerts": ("alerts firing (check), by kind and severity; a rule not evaluated has no series",
               ("model", "kind", "severity")),
    "cost_month_to_date_usd": ("spend of the month of the model's newest record, to date", ("model",)),
    "budget_usd": ("the model's monthly budget (registry monthly_budget_usd)", ("model",)),
    "budget_burn_ratio": ("month-to-date spend / monthly budget", ("model",)),
    "cost_projected_usd": ("month-to-date spend projected to the month's end", ("model",)),
    "estimated_metric": ("the production version's primary metric estimated without labels over the "
                         "drift window (estimate: CBPE or DLE)", ("model", "version", "metric")),
    "window_start_timestamp_seconds": ("start of the window a model's values cover (window drift "
                                       "or ops)", ("model", "window")),
    "window_end_timestamp_seconds": ("end (exclusive) of that window", ("model", "window")),
}


class _Out:
    """The samples of one evaluation, family by family."""

    def __init__(self) -> None:
        self.samples: dict[str, list[tuple[tuple[str, ...], float]]] = {k: [] for k in FAMILIES}

    def add(self, family: str, labels: Iterable[Any], value: float) -> None:
        self.samples[family].append((tuple("" if v is None else str(v) for v in labels), float(value)))

    def missing(self, model: str | None, metric: str, reason: str, kind: str = "") -> None:
        self.add("not_evaluated", (model, metric, kind, reason), 1)

    def families(self) -> list[GaugeMetricFamily]:
        out = []
        errors = sum(1 for labels, _ in self.samples["not_evaluated"] if labels[3] == "error")
        self.samples["evaluation_errors"] = [((), float(errors))]
        for name, (doc, labels) in FAMILIES.items():
            fam = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels))
            for values, value in self.samples[name]:
                fam.add_metric(list(values), value)
            out.append(fam)
        return out


def _models(db: StoreSnapshot) -> list[str]:
    return sorted(set(db.registry.models()) | set(logged_models(db)))


def _window(out: _Out, model: str, which: str, rng: tuple[dt.datetime, dt.datetime]) -> None:
    out.add("window_start_timestamp_seconds", (model, which), rng[0].timestamp())
    out.add("window_end_timestamp_seconds", (model, which), rng[1].timestamp())


def _attempt(out: _Out, model: str, metrics: list[str], fn: Callable[[], None]) -> None:
    """``fn()``; a failure leaves its metrics out with a reason (as ``check``'s rules: a
    ``UsageError`` — no registered reference, say — is not applicable, anything else an error)."""
    try:
        fn()
    except UsageError:
        for m in metrics:
            out.missing(model, m, "not_applicable")
    except Exception:  # noqa: BLE001 - unknown is never a value: left out, said why
        for m in metrics:
            out.missing(model, m, "error")


def _drift_window(db: StoreSnapshot, model: str, version: str) -> tuple[AnalyticsConfig, tuple]:
    """The model's settings and the latest ``[alerts] window`` of the production version's
    traffic (``check``'s drift window): the window of the drift share and the estimate."""
    cfg = config_for(db, model)
    rng = _latest(db, model, version, W.parse_window(cfg.alerts.window) or 7 * 86400)
    if rng is None:
        raise UsageError(f"no traffic for production version {version}")
    return cfg, rng


def _drift(db: StoreSnapshot, out: _Out, model: str) -> None:
    version = (db.production or {}).get(model)
    if version is None:
        for m in ("drift_share", "dataset_drift"):
            out.missing(model, m, "not_applicable")
        return

    def compute() -> None:
        cfg, rng = _drift_window(db, model, version)
        rep = drift_report(db, model, version, rng[0], rng[1], config=cfg, multivariate=False)
        dd = rep["dataset_drift"]
        if not dd.get("tested_features"):
            raise UsageError("no feature could be tested")
        _window(out, model, "drift", rng)
        out.add("drift_share", (model, version), dd["share"])
        out.add("dataset_drift", (model, version), 1 if dd["drifted"] else 0)
    _attempt(out, model, ["drift_share", "dataset_drift"], compute)


def _ops(db: StoreSnapshot, out: _Out, model: str) -> None:
    def compute() -> None:
        cfg = config_for(db, model)
        rng = _latest(db, model, None, W.parse_window(cfg.alerts.ops_window) or 3600)
        if rng is None:
            raise UsageError("no traffic")
        rep = ops_report(db, model, None, "all", rng[0], rng[1], cfg)
        w = rep["windows"][0] if rep["windows"] else None
        if w is None or not w["requests"]:
            raise UsageError("no requests in the window")
        _window(out, model, "ops", rng)
        out.add("requests", (model,), w["requests"])
        out.add("error_rate", (model,), w["error_rate"])
        p95 = w["latency_ms"]["p95"]
        if p95 is None:
            out.missing(model, "latency_p95_seconds", "not_applicable")
        else:
            out.add("latency_p95_seconds", (model,), p95 / 1000.0)
    _attempt(out, model, ["requests", "error_rate", "latency_p95_seconds"], compute)


def _alerts(db: StoreSnapshot, out: _Out, check: Callable[..., dict[str, Any]] = check_alerts) -> None:
    """Per model and kind ``check`` evaluated: the alerts firing per severity (0 included); a
    kind it skipped or could not compute has no count, and a not_evaluated series."""
    rep = check(db)
    kinds = list(dict.fromkeys([*ALL_KINDS, *(a["kind"] for a in rep["alerts"])]))
    missing: dict[tuple[str, str], str] = {}
    for s in rep.get("skipped") or []:
        for k in s.get("kinds") or []:
            missing.setdefault((s.get("model"), k), "not_applicable")
    for e in rep.get("errors") or []:
        for k in e.get("kinds") or []:
            missing[(e.get("model"), k)] = "error"
    counts: dict[tuple[str, str, str], int] = {}
    for a in rep["alerts"]:
        key = (a["model"], a["kind"], a["severity"])
        counts[key] = counts.get(key, 0) + 1
    models = list(rep.get("models") or [])
    for (m, k), reason in sorted(missing.items(), key=lambda x: (str(x[0][0]), x[0][1])):
        out.missing(m, "alerts", reason, kind=k)
    for m in models:
        for k in kinds:
            if (m, k) in missing:
                continue
            sevs = list(dict.fromkeys([*SEVERITIES, *(s for (mm, kk, s) in counts if (mm, kk) == (m, k))]))
            for sev in sevs:
                out.add("alerts", (m, k, sev), counts.get((m, k, sev), 0))


def _cost(db: StoreSnapshot, out: _Out, models: list[str]) -> None:
    names = ["cost_month_to_date_usd", "budget_usd", "budget_burn_ratio", "cost_projected_usd"]
    try:
        rows = {b["model"]: b for b in budget_status(db)}
    except Exception:  # noqa: BLE001 - left out, said why
        for m in models:
            for n in names:
                out.missing(m, n, "error")
        return
    for m in models:
        b = rows.get(m)
        if b is None or b.get("as_of") is None:  # no budget, or no traffic to spend
            for n in names:
                out.missing(m, n, "not_applicable")
            continue
        out.add("cost_month_to_date_usd", (m,), b["mtd_usd"])
        out.add("budget_usd", (m,), b["budget_usd"])
        if b.get("burn") is None:
            out.missing(m, "budget_burn_ratio", "not_applicable")
        else:
            out.add("budget_burn_ratio", (m,), b["burn"])
        if b.get("projected_usd") is None:
            out.missing(m, "cost_projected_usd", "not_applicable")
        else:
            out.add("cost_projected_usd", (m,), b["projected_usd"])


def _estimated(db: StoreSnapshot, out: _Out, model: str) -> None:
    """The production version's primary metric estimated without labels (``estimate``: CBPE for
    binary, DLE for regression) over the drift window, as one window; ``not_applicable`` for a
    multiclass model (its logs carry no per-class probabilities) or one without production."""
    from console.analytics.estimate import estimate_report
    from console.analytics.metrics import PRIMARY_METRIC

    version = (db.production or {}).get(model)
    info = db.registry.get(model, version) if version is not None else None
    if info is None or info.task not in ("binary", "regression"):
        out.missing(model, "estimated_metric", "not_applicable")
        return

    def compute() -> None:
        cfg, rng = _drift_window(db, model, version)
        metric = PRIMARY_METRIC[info.task]
        rep = estimate_report(db, model, version, "all", rng[0], rng[1], metric=metric, config=cfg)
        wins = [w for w in rep["windows"] if (w["metrics"].get(metric) or {}).get("estimated") is not None]
        if not wins:
            raise UsageError("no window could be estimated")
        out.add("estimated_metric", (model, version, metric), wins[-1]["metrics"][metric]["estimated"])
    _attempt(out, model, ["estimated_metric"], compute)


def families(db: StoreSnapshot, check: Callable[..., dict[str, Any]] = check_alerts) -> list[GaugeMetricFamily]:
    """Every family of ``FAMILIES`` for one snapshot (a family with nothing to say has no
    samples); see the module's docstring for what each value is. ``check``: what evaluates
    the alerts (the command line passes ``check``'s own, ``profiles.glance.check_alerts``)."""
    out = _Out()
    out.add("up", (), 1)
    models = _models(db)
    for m in models:
        _drift(db, out, m)
        _ops(db, out, m)
        _estimated(db, out, m)
    try:
        _alerts(db, out, check)
    except Exception:  # noqa: BLE001 - check as a whole failed: no alert count is known
        for m in models:
            out.missing(m, "alerts", "error")
    _cost(db, out, models)
    return out.families()


def failed_families() -> list[GaugeMetricFamily]:
    """What a scrape says when the store cannot be read at all: up 0, one error, nothing else."""
    out = _Out()
    out.add("up", (), 0)
    out.missing("", "store", "error")
    return out.families()


class SnapshotCollector(Collector):
    """A collector that evaluates ``families`` on ``current()`` (the store's newest snapshot)
    at every collection, one collection at a time; when ``current()`` itself fails (the store
    cannot be opened), ``failed_families`` — and ``on_error(exc)`` is told why."""

    def __init__(self, current: Callable[[], StoreSnapshot],
                 on_error: Callable[[BaseException], None] | None = None,
                 check: Callable[..., dict[str, Any]] = check_alerts) -> None:
        self._current = current
        self._on_error = on_error
        self._check = check
        self._lock = threading.Lock()

    def describe(self) -> list:
        return []  # nothing is evaluated when the collector is registered

    def collect(self) -> Iterable[GaugeMetricFamily]:
        with self._lock:
            try:
                db = self._current()
            except Exception as exc:  # noqa: BLE001 - the scrape still answers: up 0
                if self._on_error is not None:
                    self._on_error(exc)
                return failed_families()
            return families(db, self._check)


class _Fixed(Collector):
    def __init__(self, fams: list[GaugeMetricFamily]) -> None:
        self._fams = fams

    def describe(self) -> list:
        return []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self._fams


def registry_of(fams: list[GaugeMetricFamily]) -> CollectorRegistry:
    """A registry holding exactly ``fams`` (no process or platform collectors)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Fixed(fams))
    return reg


def exposition(db: StoreSnapshot, check: Callable[..., dict[str, Any]] = check_alerts) -> bytes:
    """The text format (version 0.0.4, what node_exporter's textfile collector reads) of one
    snapshot's families (``check``: as ``families``)."""
    from prometheus_client import generate_latest

    return generate_latest(registry_of(families(db, check)))
