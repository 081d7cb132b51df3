"""The distribution plot's bins (``console.analytics.bins``): an outlier does not squash the
body into one bar, every value is counted once, and the bins are the same whether a drift
report is computed (cold cache), read back from the cache (warm) or computed without one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from console.analytics import cache as cache_mod
from console.analytics import drift_report, driftdata, stats
from console.analytics.bins import body_edges, plot_bins
from console.analytics.config import AnalyticsConfig
from console.ingest.engine import Ingester
from console.store.db import open_store
from console.workspace import load_dir
from tests.conftest import write_workspace

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _sample(seed: int, n: int, outlier: float | None = 1e9) -> np.ndarray:
    values = np.random.default_rng(seed).normal(50_000, 10_000, n)
    if outlier is not None:
        values[0] = outlier
    return np.sort(values)


def test_an_outlier_does_not_squash_the_body() -> None:
    ref, cur = _sample(1, 1000), _sample(2, 800, outlier=None)
    got = plot_bins(ref, cur)
    assert sum(got["reference_counts"]) == ref.size and sum(got["current_counts"]) == cur.size
    # the outlier (and the top 1% or so) is counted in the "> …" bin; the body stays at its scale
    assert got["over"] and got["labels"][-1].startswith("> ") and 1 <= got["reference_counts"][-1] <= 0.02 * ref.size
    assert got["edges"][-1] < 200_000
    body = got["reference"][1:-1] if got["under"] else got["reference"][:-1]
    assert sum(1 for s in body if s > 0.02) >= 6 and max(body) < 0.4  # spread over the bins
    # the drift scores' Sturges bins (all values, one outlier included) hold the body in one bin
    edges = stats.sturges_edges(ref, cur)
    assert stats.histogram_sorted(ref, edges)[0] >= ref.size - 1


def test_overflow_bins_on_both_sides_and_counts_sum_to_n() -> None:
    ref = _sample(3, 500)
    ref[-1] = -1e9
    ref = np.sort(ref)
    cur = np.sort(np.concatenate([_sample(4, 300, outlier=None), [1e12, 2e12]]))
    got = plot_bins(ref, cur)
    assert got["under"] and got["over"] and got["labels"][0].startswith("< ") and got["labels"][-1].startswith("> ")
    assert got["reference_counts"][0] >= 1 and got["current_counts"][-1] >= 2
    assert -100_000 < got["edges"][0] < got["edges"][-1] < 200_000
    assert sum(got["reference_counts"]) == 500 and sum(got["current_counts"]) == 302
    assert len(got["labels"]) == len(got["reference"]) == len(got["current"]) <= 14
    assert abs(sum(got["current"]) - 1) < 1e-12


def test_tails_without_outliers_are_not_clipped() -> None:
    ref, cur = _sample(5, 1000, outlier=None), _sample(6, 1000, outlier=None)
    got = plot_bins(ref, cur)
    assert not got["under"] and not got["over"] and not any(x[0] in "<>" for x in got["labels"])
    assert got["reference_counts"][0] >= 1 and sum(got["reference_counts"]) == 1000


def test_edges_are_round_and_a_constant_is_one_bin() -> None:
    assert body_edges(8_500, 311_234) == [float(k * 50_000) for k in range(0, 8)]
    assert body_edges(0.11, 0.93) == [k * 0.1 for k in range(1, 11)]
    const = np.full(50, 7.0)
    got = plot_bins(const, const)
    assert got["labels"] == ["7"] and got["reference_counts"] == [50] and not got["under"] and not got["over"]
    got = plot_bins(np.sort(np.concatenate([np.zeros(99), [5.0]])), np.zeros(10))
    assert got["labels"] == ["0", "> 0"] and got["reference_counts"] == [99, 1]


def _workspace(root: Path) -> Path:
    ws = write_workspace(root)
    rng = np.random.default_rng(9)

    def rows(prefix: str, start: dt.datetime, n: int, scale: float) -> list[dict]:
        out = [{"ts": (start + dt.timedelta(seconds=60 * i)).isoformat().replace("+00:00", "Z"), "model": "m",
                "version": "1", "request_id": f"{prefix}{i}", "prediction": 1.0,
                "features": {"income": float(rng.lognormal(10.8, 0.4) * scale)}} for i in range(n)]
        out[0]["features"]["income"] = 1e9  # one outlier on each side
        return out

    for path, recs in ((ws / "reference" / "m.jsonl", rows("r", T0 - dt.timedelta(days=2), 600, 1.0)),
                       (ws / "logs" / "a.jsonl", rows("p", T0, 900, 1.2))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    (ws / "registry" / "m").mkdir(parents=True)
    (ws / "registry" / "m" / "1.json").write_text(json.dumps(
        {"model": "m", "version": "1", "task": "regression", "stage": "production",
         "features": {"income": "numeric"}, "reference": "reference/m.jsonl"}))
    Ingester(load_dir(ws)).run_once()
    return ws


def _bins(ws: Path, config: AnalyticsConfig | None = None) -> dict:
    cache_mod._MEMORY.clear()  # a new process: only the disk cache is warm
    driftdata._REFS.clear()
    db = open_store(load_dir(ws), production={"m": "1"})
    try:
        rep = drift_report(db, "m", start=T0, end=T0 + dt.timedelta(days=1), multivariate=False, config=config)
    finally:
        db.close()
    return json.loads(json.dumps(rep["features"][0]["stats"]["plot_bins"]))


def test_bins_are_the_same_with_a_cold_and_a_warm_cache(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    cache = ws / ".console" / "cache" / "analytics"
    assert not any(cache.rglob("*.json")) if cache.exists() else True
    cold = _bins(ws)
    assert any(cache.rglob("*.json"))  # the report is cached now
    warm = _bins(ws)
    uncached = _bins(ws, AnalyticsConfig(cache=False))
    assert cold == warm == uncached
    assert cold["over"] and sum(cold["reference_counts"]) == 600 and sum(cold["current_counts"]) == 900
    body = cold["current"][:-1]
    assert sum(1 for s in body if s > 0.02) >= 5  # the outlier of 1e9 is one "> …" bin, not the scale
