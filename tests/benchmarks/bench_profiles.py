"""Profiles benchmark (not run by CI): computing the daily profiles of a generated store, and
answering a 30-day window from them (merge + counts + histogram + quantiles) against the exact
DuckDB query over the rows.

    python -m tests.benchmarks.bench_profiles --rows 1000000     # the bench profile, 30 days, 3 models
    python -m tests.benchmarks.bench_profiles --rows 10000000    # the 10M store of `make bench`

The workspace is ``python -m console.samplegen --profile bench`` (cached under
``bench-out/data/``, ingested once, as the other benchmarks). Timed in-process: the first
``profile_store`` (profiles deleted), a second one (nothing changed: every day kept), and
for one model the 30-day merge with a p50/p99 latency from the sketch and one feature's
histogram, next to the exact ``quantile_disc`` over the rows.

Then the readers (``console.profiles.reader``): 30 daily windows of one model's trend with
drift from profiles (first in the process: the reference is read; then again: cached), and the
fleet overview of every model from profiles (first and again) — each call checks the profiles'
freshness first, as the commands do. ``--exact`` also times the same trend and fleet on the
exact path (drift of every window from the rows; slow on big stores).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from tests.benchmarks.data import ensure_ingested, ensure_workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--exact", action="store_true", help="also time the exact path of trend and fleet")
    a = ap.parse_args()
    from console.profiles import core, local
    from console.store.db import open_store
    from console.workspace import load

    ws, _ = ensure_workspace(a.out, a.rows, "parquet")
    ensure_ingested(ws)
    db = open_store(load(ws))
    out = local.profiles_dir(db)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    first = local.profile_store(db)
    t1 = time.perf_counter()
    again = local.profile_store(db)
    t2 = time.perf_counter()
    model = sorted({k.split("/")[0] for k in first["computed"]})[0]
    prof = local.read_profiles(out, model=model)
    m = core.merge(prof)
    p50, p99 = core.quantiles(m, "latency_ms", [0.5, 0.99])
    feature = next((c for (s, c, _k) in m.value if s == "edge"), None)
    hist = core.hist_counts(m, feature) if feature else None
    t3 = time.perf_counter()
    exact = db.cursor().execute(
        "SELECT count(*), quantile_disc(latency_ms, [0.5, 0.99]) FROM predictions WHERE model = ?", [model]).fetchone()
    t4 = time.perf_counter()
    readers = _readers(_open_as_cli(ws), model, a.exact)
    print(json.dumps({
        "rows": a.rows, "model_days": len(first["computed"]),
        "profile_first_s": round(t1 - t0, 2), "profile_again_s": round(t2 - t1, 3),
        "again_kept": again["kept"], "window_days": m.days, "window_rows": m.get("rows"),
        "merge_30d_s": round(t3 - t2, 3), "exact_query_s": round(t4 - t3, 3),
        "p50_p99_sketch": [p50, p99], "p50_p99_exact": exact[1], "exact_rows": exact[0],
        "histogram_feature": feature, "histogram_total": sum(hist[1]) if hist else None,
        **readers,
    }, indent=2))
    db.close()


def _open_as_cli(ws: Path):
    """The store with the production versions from governance state, as the commands open it
    (drift compares the production version with its reference)."""
    from console.governance.state import fleet_state
    from console.store.db import open_store
    from console.store.registry import load_registry
    from console.workspace import load

    w = load(ws)
    state = fleet_state(w, load_registry(w.registry, w.root))
    return open_store(w, stages=dict(state.stages), production=dict(state.production))


def _readers(db, model: str, exact: bool) -> dict:
    """Trend (30 daily windows with drift) and fleet from profiles, first and again."""
    from console.profiles import reader

    out: dict = {"trend_model": model}
    for label in ("first", "again"):
        t0 = time.perf_counter()
        rep = reader.trend(db, model, window="1d")
        out[f"trend_30d_profiles_{label}_s"] = round(time.perf_counter() - t0, 3)
        out["trend_windows"], out["trend_source"] = len(rep["windows"]), rep["source"]
        drifts = [w["drift"]["dataset_drift"]["tested_features"] for w in rep["windows"] if w.get("drift")]
        out["trend_windows_with_drift"], out["trend_tested_features"] = len(drifts), max(drifts, default=0)
    for label in ("first", "again"):
        t0 = time.perf_counter()
        fl = reader.fleet(db)
        out[f"fleet_profiles_{label}_s"] = round(time.perf_counter() - t0, 3)
        out["fleet_models"], out["fleet_source"] = len(fl["models"]), fl["source"]
    if exact:
        for label in ("first", "again"):
            t0 = time.perf_counter()
            reader.trend(db, model, window="1d", exact=True)
            out[f"trend_30d_exact_{label}_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        fx = reader.fleet(db, exact=True)
        out["fleet_exact_s"] = round(time.perf_counter() - t0, 3)
        out["fleet_requests_equal"] = [r["requests"] for r in fx["models"]] == [r["requests"] for r in fl["models"]]
    return out


if __name__ == "__main__":
    main()
