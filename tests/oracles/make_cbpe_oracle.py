"""Writes the NannyML oracle fixtures the estimate tests compare against (never run by the tests).

NannyML needs pandas < 3, so it lives in a virtual environment of its own, outside the project's:

    python3 -m venv /tmp/nml
    /tmp/nml/bin/pip install "nannyml==0.13.1" "pandas<3" statsmodels
    /tmp/nml/bin/python tests/oracles/make_cbpe_oracle.py      # from the repository root

It loads NannyML's shipped synthetic datasets — the binary "work from home" one
(``load_synthetic_binary_classification_dataset``) and the car-price regression one
(``load_synthetic_car_price_dataset``) — takes a subset, runs NannyML's CBPE and DLE with
fixed row-count chunks, and writes, under ``tests/oracles/``:

- ``cbpe_inputs.csv.gz``: ``period`` (reference/analysis), ``score``, ``prediction``, ``label``
  (the first 20,000 reference rows, all 50,000 analysis rows, in NannyML's order);
- ``cbpe_nannyml.json``: per analysis chunk of 5,000 rows, for roc_auc, accuracy, precision,
  recall, f1: NannyML's ``value`` (estimate), ``sampling_error``, bounds and ``realized``;
- ``dle_inputs.csv.gz`` and ``dle_nannyml.json``: the same for DLE (mae, mse, rmse; the first
  10,000 reference rows and analysis rows 24,000–42,000 in chunks of 3,000; features car_age, km_driven,
  price_new, accident_count, door_count, fuel, transmission).

The test (tests/test_estimate.py) writes these rows into a workspace — analysis row ``i`` on the
day ``i // chunk`` — so each daily window is one NannyML chunk.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # no usage reports sent anywhere

import nannyml as nml
import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent
CBPE_METRICS = ["roc_auc", "accuracy", "precision", "recall", "f1"]
DLE_METRICS = ["mae", "mse", "rmse"]
DLE_FEATURES = ["car_age", "km_driven", "price_new", "accident_count", "door_count", "fuel", "transmission"]


def _chunks(result, metrics: list[str]) -> list[dict]:
    df = result.filter(period="analysis").to_df()
    out = []
    for _, row in df.iterrows():
        entry = {"start_index": int(row[("chunk", "start_index")]), "end_index": int(row[("chunk", "end_index")]),
                 "metrics": {}}
        for m in metrics:
            def val(col: str, row=row, m=m):
                v = row[(m, col)]
                return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
            entry["metrics"][m] = {"estimated": val("value"), "sampling_error": val("sampling_error"),
                                   "lower": val("lower_confidence_boundary"),
                                   "upper": val("upper_confidence_boundary"), "realized": val("realized")}
        out.append(entry)
    return out


def cbpe() -> None:
    ref, ana, gt = nml.load_synthetic_binary_classification_dataset()
    ana = ana.merge(gt, on="identifier" if "identifier" in gt.columns else "id")
    ref = ref.iloc[:20_000].reset_index(drop=True)
    ana = ana.reset_index(drop=True)
    target = "work_home_actual"
    est = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true=target,
                   problem_type="classification_binary", metrics=CBPE_METRICS, chunk_size=5_000)
    est.fit(ref)
    res = est.estimate(ana)
    frame = pd.concat([
        pd.DataFrame({"period": "reference", "score": ref["y_pred_proba"], "prediction": ref["y_pred"],
                      "label": ref[target]}),
        pd.DataFrame({"period": "analysis", "score": ana["y_pred_proba"], "prediction": ana["y_pred"],
                      "label": ana[target]}),
    ])
    frame.to_csv(OUT / "cbpe_inputs.csv.gz", index=False)
    doc = {"nannyml": nml.__version__, "dataset": "load_synthetic_binary_classification_dataset",
           "reference_rows": len(ref), "chunk_size": 5_000, "needs_calibration": bool(est.needs_calibration),
           "chunks": _chunks(res, CBPE_METRICS)}
    (OUT / "cbpe_nannyml.json").write_text(json.dumps(doc, indent=1) + "\n")


def dle() -> None:
    ref, ana, gt = nml.load_synthetic_car_price_dataset()
    ana = ana.merge(gt, on="identifier" if "identifier" in gt.columns else "id")
    ref = ref.iloc[:10_000].reset_index(drop=True)
    ana = ana.iloc[24_000:42_000].reset_index(drop=True)  # 2 chunks before the shift, 4 after
    est = nml.DLE(feature_column_names=DLE_FEATURES, y_pred="y_pred", y_true="y_true", metrics=DLE_METRICS,
                  chunk_size=3_000)
    est.fit(ref)
    res = est.estimate(ana)
    cols = DLE_FEATURES + ["y_pred", "y_true"]
    frame = pd.concat([ref[cols].assign(period="reference"), ana[cols].assign(period="analysis")])
    frame.to_csv(OUT / "dle_inputs.csv.gz", index=False)
    doc = {"nannyml": nml.__version__, "dataset": "load_synthetic_car_price_dataset",
           "reference_rows": len(ref), "chunk_size": 3_000, "features": DLE_FEATURES,
           "chunks": _chunks(res, DLE_METRICS)}
    (OUT / "dle_nannyml.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    cbpe()
    dle()
    sys.exit(0)
