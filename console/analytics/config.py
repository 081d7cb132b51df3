"""Analytics settings from ``console.toml``: drift methods and thresholds, the multivariate
band, the slice flag rule, the labels a live metric needs, the alert rules — each with a documented default
(docs/analytics.md), overridable per model under ``[models."<model>".<section>]`` and, for
drift, per feature under ``[models."<model>".drift.features.<feature>]``.

Invalid values are a ``WorkspaceError`` (exit 2) naming the key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from console.analytics.windows import parse_window
from console.errors import UsageError, WorkspaceError
from console.store.snapshot import StoreSnapshot

DRIFT_AUTO = "auto"
METHODS = ("ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi")  # = stats.METHODS


@dataclass(frozen=True)
class FeatureDriftRule:
    """How one feature is tested: ``method`` (``auto`` = Evidently's default) and threshold."""

    method: str = DRIFT_AUTO
    threshold: float | None = None  # None = the method's default (stats.DEFAULT_THRESHOLDS)
    enabled: bool = True


@dataclass(frozen=True)
class DriftConfig:
    method: str = DRIFT_AUTO
    threshold: float | None = None
    numeric_method: str | None = None
    numeric_threshold: float | None = None
    categorical_method: str | None = None
    categorical_threshold: float | None = None
    share: float = 0.5
    output: bool = True
    features: dict[str, FeatureDriftRule] = field(default_factory=dict)

    def rule(self, feature: str, kind: str) -> FeatureDriftRule:
        """The effective rule for one feature: feature table > kind keys > section keys."""
        own = self.features.get(feature)
        method = self.method
        threshold = self.threshold
        kind_method = self.numeric_method if kind == "numeric" else self.categorical_method
        kind_threshold = self.numeric_threshold if kind == "numeric" else self.categorical_threshold
        if kind_method:
            method = kind_method
        if kind_threshold is not None:
            threshold = kind_threshold
        if own is not None:
            if own.method != DRIFT_AUTO:
                method = own.method
            if own.threshold is not None:
                threshold = own.threshold
            return FeatureDriftRule(method, threshold, own.enabled)
        return FeatureDriftRule(method, threshold, True)


@dataclass(frozen=True)
class MultivariateConfig:
    enabled: bool = True
    sample: int = 5000  # rows per side at most (seeded sample)
    folds: int = 5
    warn_auc: float = 0.55
    drift_auc: float = 0.65
    top: int = 5
    seed: int = 0


@dataclass(frozen=True)
class SlicesConfig:
    min_labelled: int = 30
    alpha: float = 0.05
    correction: str = "holm"  # holm | bh | none
    min_effect: float = 0.05  # absolute accuracy gap (or relative MAE increase for regression)
    max_values: int = 50  # most frequent values per slice feature


@dataclass(frozen=True)
class PerformanceConfig:
    min_labelled: int = 100  # labelled rows a live metric needs; fewer: marked low-confidence


@dataclass(frozen=True)
class AlertsConfig:
    window: str = "7d"  # drift, performance and slices: the latest window of the model's data
    ops_window: str = "1h"  # errors and latency: the latest window of the model's data
    drift: bool = True
    drift_severity: str = "critical"  # dataset drift; a drifted feature alone is a warning
    feature_drift: bool = True
    output_drift: bool = True  # the model's output (score/prediction) drifted → output_drift_severity
    output_drift_severity: str = "warning"
    performance_tolerance: float = 0.05  # absolute drop allowed vs the registry's offline metric
    performance_min_labelled: int = 50
    slices: bool = True
    fairness_parity_max: float | None = None  # unset: no fairness alert on parity (fairness.py)
    fairness_equal_opportunity_max: float | None = None
    error_rate: float = 0.05
    min_requests: int = 20
    latency_p95_ms: float = 1000.0
    budget_warn: float = 0.8  # month-to-date spend / monthly budget
    budget_critical: float = 1.0
    multivariate: bool = False  # the domain classifier is opt-in for check (it costs a fit)
    # data quality (console/analytics/data_quality.py): same window as drift, against the reference
    missing: bool = True
    missing_rise: float = 0.05  # a feature's missing share up by more than this (absolute)
    new_category: bool = True
    new_category_share: float = 0.01  # share of current values in categories the reference lacks
    range: bool = True
    range_share: float = 0.01  # share of current values outside the reference's [min, max]
    volume: bool = True
    no_data: bool = True
    volume_window: str = "1d"  # rows of the latest volume_window vs the trailing ones' median
    volume_lookback: str = "28d"
    volume_drop: float = 0.5  # below this × the median: a drop
    volume_spike: float = 2.0  # above this × the median: a spike
    quarantine: bool = True
    quarantine_rate: float = 0.01  # quarantined / (accepted + quarantined) records of its files


@dataclass(frozen=True)
class AnalyticsConfig:
    drift: DriftConfig = field(default_factory=DriftConfig)
    multivariate: MultivariateConfig = field(default_factory=MultivariateConfig)
    slices: SlicesConfig = field(default_factory=SlicesConfig)
    performance: PerformanceConfig = field(default_factory=PerformanceConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    cache: bool = True

    def fingerprint(self) -> str:
        """A short hash of every setting: part of every cache key."""
        raw = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _fail(key: str, problem: str) -> WorkspaceError:
    return WorkspaceError(f"console.toml: {key}: {problem}")


def _merge(cls, base, table: dict[str, Any], where: str, skip: tuple[str, ...] = ()):
    """A copy of ``base`` with the keys of ``table`` applied, type-checked against the defaults."""
    known = {f.name: f for f in fields(cls)}
    updates: dict[str, Any] = {}
    for key, value in table.items():
        if key in skip:
            continue
        if key not in known:
            raise _fail(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(set(known) - set(skip)))})")
        current = getattr(base, key)
        typ = known[key].type
        if "bool" in str(typ):
            if not isinstance(value, bool):
                raise _fail(f"{where}.{key}", "must be true or false")
        elif "float" in str(typ) or "int" in str(typ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise _fail(f"{where}.{key}", "must be a non-negative number")
            if "int" in str(typ) and "float" not in str(typ):
                value = int(value)
            else:
                value = float(value)
        elif "str" in str(typ):
            if not isinstance(value, str):
                raise _fail(f"{where}.{key}", "must be a string")
        del current
        updates[key] = value
    return replace(base, **updates)


def _check_method(value: Any, where: str) -> None:
    if value is not None and value != DRIFT_AUTO and value not in METHODS:
        raise _fail(where, f"unknown drift method {value!r} (known: auto, {', '.join(METHODS)})")


def _drift(base: DriftConfig, table: dict[str, Any], where: str) -> DriftConfig:
    cfg = _merge(DriftConfig, base, table, where, skip=("features",))
    for key in ("method", "numeric_method", "categorical_method"):
        _check_method(getattr(cfg, key), f"{where}.{key}")
    feats = dict(cfg.features)
    raw = table.get("features", {})
    if not isinstance(raw, dict):
        raise _fail(f"{where}.features", "must be a table of feature tables")
    for name, ft in raw.items():
        if not isinstance(ft, dict):
            raise _fail(f"{where}.features.{name}", "must be a table")
        rule = _merge(FeatureDriftRule, feats.get(name, FeatureDriftRule()), ft, f"{where}.features.{name}")
        _check_method(rule.method, f"{where}.features.{name}.method")
        feats[name] = rule
    return replace(cfg, features=feats)


def config_for(db: StoreSnapshot, model: str | None = None) -> AnalyticsConfig:
    """The analytics settings of the workspace a store snapshot belongs to (defaults without one)."""
    return load_config(dict(db.config), model)


def load_config(ws_config: dict[str, Any] | None, model: str | None = None) -> AnalyticsConfig:
    """The analytics settings for ``model`` (workspace-wide when ``model`` is None)."""
    conf = ws_config or {}

    def table(root: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        value = root.get(key, {})
        if not isinstance(value, dict):
            raise _fail(where, "must be a table")
        return value

    drift = _drift(DriftConfig(), table(conf, "drift", "[drift]"), "drift")
    multi = _merge(MultivariateConfig, MultivariateConfig(), table(conf, "multivariate", "[multivariate]"), "multivariate")
    slices = _merge(SlicesConfig, SlicesConfig(), table(conf, "slices", "[slices]"), "slices")
    perf = _merge(PerformanceConfig, PerformanceConfig(), table(conf, "performance", "[performance]"),
                  "performance")
    alerts = _merge(AlertsConfig, AlertsConfig(), table(conf, "alerts", "[alerts]"), "alerts")
    cache_t = table(conf, "cache", "[cache]")
    cache = cache_t.get("enabled", True)
    if not isinstance(cache, bool):
        raise _fail("cache.enabled", "must be true or false")
    if model is not None:
        models = table(conf, "models", "[models]")
        per = models.get(model, {})
        if not isinstance(per, dict):
            raise _fail(f"models.{model}", "must be a table")
        w = f"models.{model}"
        drift = _drift(drift, table(per, "drift", w + ".drift"), w + ".drift")
        multi = _merge(MultivariateConfig, multi, table(per, "multivariate", w), w + ".multivariate")
        slices = _merge(SlicesConfig, slices, table(per, "slices", w), w + ".slices")
        perf = _merge(PerformanceConfig, perf, table(per, "performance", w), w + ".performance")
        alerts = _merge(AlertsConfig, alerts, table(per, "alerts", w), w + ".alerts")
    if slices.correction not in ("holm", "bh", "none"):
        raise _fail("slices.correction", "must be holm, bh or none")
    if alerts.drift_severity not in ("critical", "warning"):
        raise _fail("alerts.drift_severity", "must be critical or warning")
    if alerts.output_drift_severity not in ("critical", "warning"):
        raise _fail("alerts.output_drift_severity", "must be critical or warning")
    for key in ("volume_window", "volume_lookback"):
        try:
            size = parse_window(getattr(alerts, key))
        except UsageError as exc:
            raise _fail(f"alerts.{key}", str(exc)) from None
        if size is None:
            raise _fail(f"alerts.{key}", "must be a duration, not all")
    if not 0 < alerts.volume_drop < 1 or alerts.volume_spike <= 1:
        raise _fail("alerts.volume_drop" if not 0 < alerts.volume_drop < 1 else "alerts.volume_spike",
                    "volume_drop must be in (0, 1) and volume_spike above 1")
    if not 0 < drift.share <= 1:
        raise _fail("drift.share", "must be in (0, 1]")
    return AnalyticsConfig(drift=drift, multivariate=multi, slices=slices, performance=perf, alerts=alerts,
                           cache=cache)
