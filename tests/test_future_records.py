"""Reports anchor to the data, never to one outlier: a record stamped in 2031 (stored — say the
ingest skew limit was raised) or one just under a skew limit does not move "the latest data"
past the console's clock, so it cannot silence the alerts or make the header say "just now"."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest

from console.workspace import load_dir
from tests.frozen_time import CONSOLE, FROZEN

from .conftest import write_workspace


def _record(ts: dt.datetime, i: int, status: str = "ok") -> str:
    return json.dumps({"ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "model": "m", "version": "1",
                       "request_id": f"r{i}", "prediction": 1, "score": 0.8, "latency_ms": 20,
                       "status": status, "x": i % 7}) + "\n"


def _workspace(root: Path, future: bool) -> Path:
    """Half an hour of traffic with half the requests failing and spend far over budget; with
    ``future``, one record 20 hours ahead (under a one-day skew limit) and one in 2031."""
    # the records stay stored: ingest's future-skew limit (when the schema has it) raised past 2031
    from console.config_schema import SECTIONS

    raised = '[ingest]\nmax_future_skew = "3650d"\n' if "max_future_skew" in SECTIONS.get("ingest", {}) else ""
    ws = write_workspace(root, extra_toml=raised)
    (ws / "registry" / "m").mkdir(parents=True)
    (ws / "registry" / "m" / "1.json").write_text(json.dumps({
        "model": "m", "version": "1", "task": "binary", "stage": "production",
        "features": {"x": "numeric"},
        "cost": {"per_1k_predictions_usd": 1000.0, "monthly_budget_usd": 10.0}}))
    lines = [_record(FROZEN - dt.timedelta(seconds=10 * i), i, "error" if i % 2 else "ok") for i in range(180)]
    if future:
        lines.append(_record(FROZEN + dt.timedelta(hours=20), 1000))
        lines.append(_record(dt.datetime(2031, 1, 1, tzinfo=dt.UTC), 1001))
    (ws / "logs" / "p.jsonl").write_text("".join(lines))
    return ws


def _check(ws: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_CONSOLE_WORKSPACE"}
    subprocess.run([*CONSOLE, "ingest", "--workspace", str(ws)], check=True, capture_output=True, env=env)
    return subprocess.run([*CONSOLE, "check", "--format", "json", "--workspace", str(ws)],
                          capture_output=True, text=True, env=env)


@pytest.mark.parametrize("future", [False, True])
def test_future_records_do_not_silence_check(tmp_path: Path, future: bool) -> None:
    result = _check(_workspace(tmp_path / "ws", future))
    assert result.returncode == 1, result.stdout + result.stderr
    rep = json.loads(result.stdout)
    kinds = {(a["kind"], a["severity"]) for a in rep["alerts"]}
    assert ("errors", "critical") in kinds and ("budget", "critical") in kinds, kinds
    errors = next(a for a in rep["alerts"] if a["kind"] == "errors")
    assert errors["until"].startswith("2026-11-21T23:59:59")  # the window ends at the real traffic
    budget = next(a for a in rep["alerts"] if a["kind"] == "budget")
    assert budget["evidence"]["month"] == "2026-11"
    if future:
        assert rep["future_data"] == [{"model": "m", "rows": 2, "newest": "2031-01-01T00:00:00Z",
                                       "now": "2026-11-21T23:59:59Z"}]
        assert "m: 2 record(s) stamped after now" in result.stderr
    else:
        assert rep["future_data"] == [] and "warning" not in result.stderr


def test_header_freshness_ignores_future_records(tmp_path: Path) -> None:
    from console.ingest.engine import Ingester
    from console.tui.backend import Backend
    from console.tui.status import human_age

    ws = load_dir(_workspace(tmp_path / "ws", future=True))
    ing = Ingester(ws)
    try:
        ing.run_once()
    finally:
        ing.close()
    be = Backend(ws, ws.identity("carol"), live=False)
    be.open()
    try:
        st = be.status()
    finally:
        be.close()
    assert st.latest_ts == FROZEN and st.future_rows == 2
    assert human_age(st.latest_ts, FROZEN + dt.timedelta(minutes=3)) == "3m ago"
