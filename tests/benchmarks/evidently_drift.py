"""Run INSIDE the separate Evidently 0.7 environment (``.bench-venv/evidently``; it needs
``pandas<3``), never with the project's venv: Evidently's DataDriftPreset on two Parquet frames.

    .bench-venv/evidently/bin/python tests/benchmarks/evidently_drift.py \
        --reference R.parquet --current C.parquet --numeric a,b --categorical c,d

Prints one JSON document: per column Evidently's method, score, threshold and verdict (from
the preset's own tests: FAIL = drift detected), the dataset-drift share, the seconds spent
loading the frames and in ``Report.run``, and this process's peak RSS. Imports only the
standard library, pandas and evidently (not the console package).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

# Evidently's method names → the console's (docs/analytics.md, 'Drift')
METHODS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "PSI": "psi",
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--reference", required=True)
    p.add_argument("--current", required=True)
    p.add_argument("--numeric", default="")
    p.add_argument("--categorical", default="")
    a = p.parse_args()
    started = time.perf_counter()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently import __version__ as ev_version
    from evidently.presets import DataDriftPreset

    imported = time.perf_counter()
    num = [c for c in a.numeric.split(",") if c]
    cat = [c for c in a.categorical.split(",") if c]
    ref = pd.read_parquet(a.reference, columns=num + cat)
    cur = pd.read_parquet(a.current, columns=num + cat)
    for c in cat:
        ref[c] = ref[c].astype(object)
        cur[c] = cur[c].astype(object)
    loaded = time.perf_counter()
    definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
    report = Report([DataDriftPreset()], include_tests=True)
    snapshot = report.run(Dataset.from_pandas(cur, data_definition=definition),
                          Dataset.from_pandas(ref, data_definition=definition))
    ran = time.perf_counter()
    doc = snapshot.dict()
    verdicts = {t["metric_config"]["metric_id"]: t["status"] for t in doc.get("tests", [])
                if t.get("id") == "drift"}
    features, share = [], None
    for m in doc["metrics"]:
        cfg = m.get("config", {})
        if cfg.get("type", "").endswith("ValueDrift"):
            status = verdicts.get(m["id"])
            features.append({
                "feature": cfg["column"], "method_evidently": cfg.get("method"),
                "method": METHODS.get(cfg.get("method"), cfg.get("method")), "score": m["value"],
                "threshold": cfg.get("threshold"),
                "drifted": None if status is None else status == "FAIL",
            })
        elif cfg.get("type", "").endswith("DriftedColumnsCount"):
            share = m["value"].get("share")
    print(json.dumps({
        "evidently": ev_version, "pandas": pd.__version__, "python": sys.version.split()[0],
        "reference_rows": len(ref), "current_rows": len(cur),
        "import_seconds": imported - started, "load_seconds": loaded - imported,
        "seconds": ran - loaded, "features": features, "drift_share": share,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
