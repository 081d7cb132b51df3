"""Drift is about the inputs a version declares; other logged fields only on request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from .conftest import write_workspace
from .test_analytics_cli import iso, js, registry, run, write_jsonl

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_drift_tests_declared_features_and_reaches_others_by_name(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    rng = np.random.default_rng(7)
    n = 300

    def records(prefix: str, shift: float, when: dt.datetime) -> list[dict]:
        return [
            {"ts": iso(when + dt.timedelta(minutes=i)), "model": "m", "version": "1",
             "request_id": f"{prefix}{i}", "prediction": 1.0,
             "features": {"x": float(rng.normal(shift)), "extra": float(rng.normal())}}
            for i in range(n)
        ]

    write_jsonl(ws / "reference" / "m-1.jsonl", records("r", 0.0, T0 - dt.timedelta(days=3)))
    write_jsonl(ws / "logs" / "m.jsonl", records("p", 0.0, T0))
    registry(ws, {"model": "m", "version": "1", "task": "regression", "stage": "production",
                  "features": {"x": "numeric"}, "reference": "reference/m-1.jsonl"})
    run(ws, "ingest")

    report = js(ws, "drift", "--model", "m", "--no-multivariate")
    assert [f["feature"] for f in report["features"]] == ["x"]
    asked = js(ws, "drift", "--model", "m", "--feature", "extra", "--no-multivariate")
    assert [f["feature"] for f in asked["features"]] == ["extra"]
    assert asked["features"][0]["method"] == "ks"
