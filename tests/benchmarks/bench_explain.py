"""Benchmark: SHAP explanations of 1,000 predictions of the sample (target < 5 s).

Copies the bundled sample workspace, ingests it, then times ``console.analytics.explain``
explaining credit-risk v3's latest 1,000 logged predictions (its gradient-boosting artifact:
the tree path) in one process: *cold* (artifact and reference loaded, trees converted, then the
1,000 explained) and *warm* (the same 1,000 again), each repeated; plus one request explained
end to end by id (``explain_prediction``: the store lookup, reference comparison and SHAP).
Every run checks additivity on all 1,000 rows. ``make bench`` runs it as its ``explain`` section
(``run.py --only explain``), reading the ``--json`` document; alone:

    .venv/bin/python -m tests.benchmarks.bench_explain [--reps 3] [--rows 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--json", action="store_true", help="print one JSON document (for run.py)")
    a = ap.parse_args(argv)

    from console.analytics import explain as E
    from console.governance.state import fleet_state
    from console.ingest.engine import Ingester
    from console.store.db import open_store
    from console.store.registry import load_registry
    from console.workspace import load_dir

    with tempfile.TemporaryDirectory(prefix="bench-explain-") as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(REPO / "sample_data", root, ignore=shutil.ignore_patterns(".console"))
        Ingester(load_dir(root)).run_once()
        ws = load_dir(root)
        state = fleet_state(ws, load_registry(ws.registry, ws.root))
        db = open_store(ws, stages=state.stages, production=state.production)
        info = db.registry.get("credit-risk", "3")
        model = E.load_model(root, info)
        rows, _ = E._logged_rows(db, "credit-risk", "3", model.features, a.rows)
        n = len(rows[model.features[0]])
        cold, warm = [], []
        for _ in range(a.reps):
            E._MODELS.clear()
            E._REFS.clear()
            E._EXPLAINERS.clear()
            t = time.perf_counter()
            res = E.explain_rows(db, root, "credit-risk", "3", rows)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            res = E.explain_rows(db, root, "credit-risk", "3", rows)
            warm.append(time.perf_counter() - t)
            err = np.abs(res["attributions"].sum(axis=1) + res["base_value"] - res["output"]).max()
            assert err < 1e-8, err
        t = time.perf_counter()
        one = E.explain_prediction(db, root, "cr-20261104-00001", "credit-risk", "3")
        single = time.perf_counter() - t
        assert one["attributions"]["additivity"]["holds"]
        db.close()
    if a.json:
        print(json.dumps({"rows": n, "method": res["method"], "cold_s": cold, "warm_s": warm,
                          "one_request_s": single, "max_additivity_error": float(err)}))
        return 0
    print(f"explain {n} predictions of credit-risk v3 ({res['method']}):")
    print(f"  cold (load + convert + explain): median {statistics.median(cold):.2f} s "
          f"(min {min(cold):.2f}, max {max(cold):.2f}) over {a.reps} runs")
    print(f"  warm (explain only):             median {statistics.median(warm):.2f} s "
          f"(min {min(warm):.2f}, max {max(warm):.2f})")
    print(f"  one request by id, warm:         {single * 1000:.0f} ms")
    print(f"  max additivity error: {err:.1e}; target < 5 s: {'met' if max(cold) < 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
