"""The ``output_drift`` rule on its own: a drifted output warns with the report's numbers,
``output_drift = false`` (workspace or per model) turns it off, an undrifted output is quiet.
(End to end against the drift report on scikit-learn data: tests/test_analytics_cli.py.)"""

from __future__ import annotations

import datetime as dt

from console.analytics.alerts import _drift_alerts
from console.analytics.config import load_config

T0, T1 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 8, tzinfo=dt.UTC)


def report(drifted: bool) -> dict:
    return {"model": "m", "version": "2", "features": [], "current": {"rows": 500},
            "dataset_drift": {"drifted": False, "share": 0.0, "threshold": 0.5, "drifted_features": 0, "tested_features": 3},
            "output": {"feature": "score", "method": "wasserstein", "score": 0.31, "threshold": 0.1, "drifted": drifted}}


def test_a_drifted_output_warns_with_the_reports_numbers() -> None:
    (a,) = _drift_alerts(report(True), load_config({}).alerts, T0, T1)
    assert (a["kind"], a["severity"], a["subject"]) == ("output_drift", "warning", "score")
    assert a["evidence"]["score"] == 0.31 and a["evidence"]["threshold"] == 0.1 and a["evidence"]["method"] == "wasserstein"
    assert "output drift: score wasserstein 0.31 (threshold 0.1)" == a["detail"]
    assert _drift_alerts(report(False), load_config({}).alerts, T0, T1) == []


def test_output_drift_can_be_turned_off_for_all_or_one_model() -> None:
    off = load_config({"alerts": {"output_drift": False}}).alerts
    assert _drift_alerts(report(True), off, T0, T1) == []
    cfg = {"models": {"m": {"alerts": {"output_drift": False}}}}
    assert _drift_alerts(report(True), load_config(cfg, "m").alerts, T0, T1) == []
    assert len(_drift_alerts(report(True), load_config(cfg, "other").alerts, T0, T1)) == 1
