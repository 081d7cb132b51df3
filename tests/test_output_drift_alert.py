"""The ``output_drift`` alert of ``check``: a binary model whose live scores moved away from
its reference's fires it (evidence checked against scipy's KS test on the same arrays), a
model whose scores did not move does not, and the ``[alerts]`` keys turn it off / set its
severity."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as st

from tests.conftest import write_workspace
from tests.test_analytics_cli import iso, js, registry, write_jsonl

T0 = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)
N = 400


def _model(ws: Path, name: str, ref_score: np.ndarray, live_score: np.ndarray, x: np.ndarray) -> None:
    write_jsonl(ws / "reference" / f"{name}.jsonl", [
        {"ts": iso(T0 - dt.timedelta(days=30)), "model": name, "version": "1", "request_id": f"r{i}",
         "prediction": int(ref_score[i] >= .5), "score": float(ref_score[i]), "features": {"x": float(x[i])}}
        for i in range(N)])
    write_jsonl(ws / "logs" / f"{name}.jsonl", [
        {"ts": iso(T0 + dt.timedelta(minutes=10 * i)), "model": name, "version": "1", "request_id": f"{name}{i}",
         "prediction": int(live_score[i] >= .5), "score": float(live_score[i]), "features": {"x": float(x[i])},
         "latency_ms": 10.0} for i in range(N)])
    registry(ws, {"model": name, "version": "1", "task": "binary", "stage": "production",
                  "positive_label": 1, "threshold": 0.5, "features": {"x": "numeric"},
                  "reference": f"reference/{name}.jsonl", "metrics": {}})


def _workspace(root: Path, toml: str = "") -> tuple[Path, dict]:
    ws = write_workspace(root / "ws", extra_toml="\n[alerts]\nwindow = \"30d\"\n" + toml)
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, N)  # the same feature values both sides: only the output moves
    ref = rng.beta(2, 5, N)
    moved = rng.beta(5, 2, N)
    same = rng.beta(2, 5, N)
    _model(ws, "moved", ref, moved, x)
    _model(ws, "steady", ref, same, x)
    js(ws, "ingest")
    return ws, {"ref": ref, "moved": moved, "same": same}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return _workspace(tmp_path_factory.mktemp("outdrift"))


def test_output_drift_fires_with_scipy_evidence(ws) -> None:
    root, arr = ws
    rep = js(root, "check", expect=1)
    out = [a for a in rep["alerts"] if a["kind"] == "output_drift"]
    assert [a["model"] for a in out] == ["moved"]
    a = out[0]
    assert a["severity"] == "warning" and a["subject"] == "output"
    ev = a["evidence"]
    assert ev["column"] == "score" and ev["method"] == "ks" and ev["threshold"] == 0.05
    p = st.ks_2samp(arr["ref"], arr["moved"]).pvalue
    assert abs(ev["score"] - p) <= 1e-9 + 1e-6 * p and ev["score"] < ev["threshold"]
    assert st.ks_2samp(arr["ref"], arr["same"]).pvalue >= 0.05  # steady really is steady
    # the same numbers as the drift report's own output entry
    drift = js(root, "drift", "--model", "moved", "--no-multivariate")
    assert drift["output"]["drifted"] is True and drift["output"]["score"] == ev["score"]
    assert not any(a["kind"] == "drift" and a["model"] == "moved" for a in rep["alerts"])


def test_output_drift_keys(tmp_path) -> None:
    root, _ = _workspace(tmp_path / "a", 'output_drift_severity = "critical"\n'
                         '[models.steady.alerts]\noutput_drift = false\n')
    rep = js(root, "check", expect=1)
    assert [(a["model"], a["severity"]) for a in rep["alerts"] if a["kind"] == "output_drift"] == [("moved", "critical")]
    root, _ = _workspace(tmp_path / "b", "output_drift = false\n")
    rep = js(root, "check", expect=0)  # nothing else fires on these models
    assert rep["ok"] is True and not rep["alerts"]
    from console.analytics.config import load_config
    from console.errors import WorkspaceError
    with pytest.raises(WorkspaceError, match="output_drift_severity"):
        load_config({"alerts": {"output_drift_severity": "loud"}})
