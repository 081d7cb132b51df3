"""Closed windows come from the cache; late data recomputes exactly the windows it touches.

Real workspace, real ingester, real store. To *see* which windows were served from the cache,
the test overwrites one cached window's result on disk and clears the in-process memo: a window
served from the cache shows the planted value, a recomputed one shows the true numbers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
from sklearn import metrics as skm

from console.analytics import cache as cache_mod
from console.analytics import cost_report, drift_report, drift_windows, performance_report
from console.analytics.config import AnalyticsConfig
from console.ingest.engine import Ingester
from console.store.db import open_store
from console.workspace import load_dir
from tests.conftest import write_workspace

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def append_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def plant(ws_root: Path, start: str, rows: int) -> int:
    """Overwrite the cached result of the performance window starting at ``start``."""
    planted = 0
    for path in (ws_root / ".console" / "cache" / "analytics").rglob("*.json"):
        doc = json.loads(path.read_text())
        res = doc.get("result") if isinstance(doc, dict) else None
        if isinstance(res, dict) and "metrics" in res and doc.get("start") == start:
            res["rows"] = rows
            path.write_text(json.dumps(doc))
            planted += 1
    cache_mod._MEMORY.clear()
    return planted


def report(ws_root: Path) -> dict:
    db = open_store(load_dir(ws_root), production={"m": "1"})
    try:
        return {w["start"]: w for w in performance_report(db, "m", window="1d")["windows"]}
    finally:
        db.close()


def predictions_costed(ws_root: Path) -> int:
    """``cost_report`` (memoised in-process per store batch) — its prediction count."""
    db = open_store(load_dir(ws_root), production={"m": "1"})
    try:
        return cost_report(db)["rows"][0]["predictions"]
    finally:
        db.close()


def test_late_labels_and_late_predictions_recompute_only_their_window(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    (ws / "registry" / "m").mkdir(parents=True)
    (ws / "registry" / "m" / "1.json").write_text(json.dumps(
        {"model": "m", "version": "1", "task": "binary", "stage": "production", "positive_label": 1}))
    rng = np.random.default_rng(12)
    n = 900  # 300 per day over 3 days
    ts = [T0 + dt.timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 3 * 86400, n))]
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.25, n), 0, 1)
    pred = (score >= 0.5).astype(int)
    day = np.array([(t - T0).days for t in ts])
    append_jsonl(ws / "logs" / "a.jsonl", [
        {"ts": iso(ts[i]), "model": "m", "version": "1", "request_id": f"r{i}", "prediction": int(pred[i]),
         "score": float(score[i]), "features": {"x": float(score[i])}} for i in range(n)])
    first = [i for i in range(n) if day[i] == 0 or (day[i] == 1 and i % 2 == 0)]
    append_jsonl(ws / "labels" / "l.jsonl", [{"request_id": f"r{i}", "label": int(y[i])} for i in first])
    Ingester(load_dir(ws)).run_once()

    days = ["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"]
    rep = report(ws)
    assert list(rep) == days
    assert [rep[d]["labelled"] for d in days] == [int((day == 0).sum()), len(first) - int((day == 0).sum()), 0]

    # served from the cache: planted values show (nothing new was ingested)
    assert plant(ws, days[0], 123456) == 1 and plant(ws, days[1], 654321) == 1
    rep = report(ws)
    assert rep[days[0]]["rows"] == 123456 and rep[days[1]]["rows"] == 654321

    # late labels for day 2 only: day 2 is recomputed (true numbers), day 1 still cached
    late = [i for i in range(n) if day[i] == 1 and i % 2 == 1]
    append_jsonl(ws / "labels" / "late.jsonl", [{"request_id": f"r{i}", "label": int(y[i])} for i in late])
    Ingester(load_dir(ws)).run_once()
    rep = report(ws)
    assert rep[days[0]]["rows"] == 123456
    sel = day == 1
    assert rep[days[1]]["rows"] == int(sel.sum()) and rep[days[1]]["labelled"] == int(sel.sum())
    assert abs(rep[days[1]]["metrics"]["roc_auc"] - skm.roc_auc_score(y[sel], score[sel])) < 1e-12

    assert predictions_costed(ws) == n and predictions_costed(ws) == n
    # a late prediction for day 1 recomputes day 1
    append_jsonl(ws / "logs" / "b.jsonl", [
        {"ts": iso(T0 + dt.timedelta(hours=3)), "model": "m", "version": "1", "request_id": "late-1",
         "prediction": 1, "score": 0.9, "label": 1}])
    Ingester(load_dir(ws)).run_once()
    rep = report(ws)
    assert rep[days[0]]["rows"] == int((day == 0).sum()) + 1
    assert rep[days[0]]["labelled"] == int((day == 0).sum()) + 1
    assert predictions_costed(ws) == n + 1  # the memo follows the store batch


def plant_drift(ws_root: Path, start: str, share: float) -> int:
    """Overwrite the cached drift report of the window starting at ``start``."""
    planted = 0
    for path in (ws_root / ".console" / "cache" / "analytics").rglob("*.json"):
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and "dataset_drift" in doc and doc["current"]["start"] == start:
            doc["dataset_drift"]["share"] = share
            path.write_text(json.dumps(doc))
            planted += 1
    cache_mod._MEMORY.clear()
    return planted


def drift_days(ws_root: Path) -> dict[str, dict]:
    db = open_store(load_dir(ws_root), production={"m": "1"})
    try:
        return {w["current"]["start"]: w for w in drift_windows(db, "m", window="1d")["windows"]}
    finally:
        db.close()


def test_late_predictions_recompute_only_their_drift_window(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    rng = np.random.default_rng(5)

    def rows(prefix: str, start: dt.datetime, n: int, step: int) -> list[dict]:
        return [{"ts": iso(start + dt.timedelta(seconds=step * i)), "model": "m", "version": "1",
                 "request_id": f"{prefix}{i}", "prediction": 1.0, "features": {"x": float(rng.normal())}}
                for i in range(n)]

    append_jsonl(ws / "reference" / "m.jsonl", rows("r", T0 - dt.timedelta(days=2), 400, 60))
    (ws / "registry" / "m").mkdir(parents=True)
    (ws / "registry" / "m" / "1.json").write_text(json.dumps(
        {"model": "m", "version": "1", "task": "regression", "stage": "production",
         "features": {"x": "numeric"}, "reference": "reference/m.jsonl"}))
    append_jsonl(ws / "logs" / "a.jsonl", rows("p", T0, 900, 288))  # 300 per day over 3 days
    Ingester(load_dir(ws)).run_once()
    days = ["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"]
    before = drift_days(ws)
    assert list(before) == days and [before[d]["current"]["rows"] for d in days] == [300, 300, 300]

    # served from the cache: the planted values show
    assert plant_drift(ws, days[0], 7.0) == 1 and plant_drift(ws, days[1], 8.0) == 1
    got = drift_days(ws)
    assert [got[d]["dataset_drift"]["share"] for d in days[:2]] == [7.0, 8.0]

    # late predictions for day 2 only: day 2 is recomputed (true numbers), days 1 and 3 still cached
    append_jsonl(ws / "logs" / "b.jsonl", rows("late", T0 + dt.timedelta(days=1, hours=5), 50, 60))
    Ingester(load_dir(ws)).run_once()
    got = drift_days(ws)
    assert got[days[0]]["dataset_drift"]["share"] == 7.0
    assert got[days[1]]["current"]["rows"] == 350 and got[days[1]]["dataset_drift"]["share"] != 8.0
    assert got[days[2]] == before[days[2]]
    db = open_store(load_dir(ws), production={"m": "1"})
    try:
        fresh = drift_report(db, "m", start=T0 + dt.timedelta(days=1), end=T0 + dt.timedelta(days=2),
                             multivariate=False, config=AnalyticsConfig(cache=False))
    finally:
        db.close()
    assert got[days[1]] == fresh
