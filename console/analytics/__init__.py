"""Analytics: every number the console shows — drift, performance with late labels, slices and
fairness, ops, cost, alerts, and read-only SQL. Pure functions over a store snapshot
(``console.store.snapshot.StoreSnapshot``, nothing more of the store); no Textual.

The Python API (documented with notebook examples in docs/analytics.md)::

    from console.workspace import load
    from console.store.db import open_store
    from console import analytics

    ws = load("sample_data")
    db = open_store(ws, production={"credit-risk": "3"})
    analytics.drift_report(db, "credit-risk")                 # docs/analytics.md, 'Drift'
    analytics.drift_windows(db, "credit-risk", window="1d")   # one drift report per day
    analytics.performance_report(db, "credit-risk", window="1d")
    analytics.estimate_report(db, "credit-risk", window="1d")  # CBPE/DLE without labels
    analytics.slices_report(db, "credit-risk", by=["region"])
    analytics.ops_report(db, "credit-risk", window="1h")
    analytics.cost_report(db, by="day")
    analytics.value_report(db, "credit-risk", by="version")   # value, net and ROI
    analytics.check_alerts(db)
    analytics.run_query(db, "SELECT model, count(*) FROM predictions GROUP BY 1")

Each returns plain dicts/lists shaped as the contract's JSON.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AnalyticsConfig": "config",
    "budget_status": "cost",
    "check_alerts": "alerts",
    "cost_report": "cost",
    "cost_value_report": "value",
    "drift_report": "drift",
    "drift_windows": "drift",
    "estimate_report": "estimate",
    "ensure_read_only": "query",
    "load_config": "config",
    "ops_report": "ops",
    "ops_summary": "ops",
    "parse_time": "windows",
    "parse_window": "windows",
    "performance_report": "performance",
    "run_query": "query",
    "slices_report": "slices",
    "value_report": "value",
}
__all__ = [
    "AnalyticsConfig",
    "budget_status",
    "check_alerts",
    "cost_report",
    "cost_value_report",
    "drift_report",
    "drift_windows",
    "estimate_report",
    "ensure_read_only",
    "load_config",
    "ops_report",
    "ops_summary",
    "parse_time",
    "parse_window",
    "performance_report",
    "run_query",
    "slices_report",
    "value_report",
]

if TYPE_CHECKING:  # pragma: no cover
    from console.analytics.alerts import check_alerts
    from console.analytics.config import AnalyticsConfig, load_config
    from console.analytics.cost import budget_status, cost_report
    from console.analytics.drift import drift_report, drift_windows
    from console.analytics.estimate import estimate_report
    from console.analytics.ops import ops_report, ops_summary
    from console.analytics.performance import performance_report
    from console.analytics.query import ensure_read_only, run_query
    from console.analytics.slices import slices_report
    from console.analytics.value import cost_value_report, value_report
    from console.analytics.windows import parse_time, parse_window


def __getattr__(name: str) -> Any:
    """Import report modules on first use (``query`` need not load scipy and scikit-learn)."""
    if name in _EXPORTS:
        value = getattr(import_module(f"console.analytics.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'console.analytics' has no attribute {name!r}")
