"""Per-window metrics computed in DuckDB against scikit-learn on the same seeded data
(relative difference above 1e-9 fails): binary, multiclass, regression, ties, one class,
missing labels, windows."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from console.analytics import performance_report
from console.store.registry import Registry
from tests.analytics_support import T0, TableStore, load, predictions_table, version

REL = 1e-9


def close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= REL * max(abs(a), abs(b), 1e-300)


def store_with(task: str, table, **vkw) -> TableStore:
    reg = Registry()
    reg.versions[("m", "1")] = version("m", "1", task, **vkw)
    s = TableStore(reg, {"m": "1"})
    load(s, [table])
    return s


def sk_binary(y, yhat, score):
    return {
        "accuracy": skm.accuracy_score(y, yhat),
        "precision": skm.precision_score(y, yhat, zero_division=0),
        "recall": skm.recall_score(y, yhat, zero_division=0),
        "f1": skm.f1_score(y, yhat, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, score) if len(set(y)) == 2 else None,
        "log_loss": skm.log_loss(y, score, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, score, pos_label=1),
    }


@pytest.mark.parametrize("case", ["random", "ties", "extreme-scores", "one-class", "small"])
def test_binary_metrics_match_sklearn(case: str) -> None:
    rng = np.random.default_rng(sum(map(ord, case)))
    n = {"small": 7}.get(case, 3000)
    y = rng.integers(0, 2, n)
    if case == "one-class":
        y[:] = 1
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.25), 0, 1)
    if case == "ties":
        score = np.round(score, 1)
    if case == "extreme-scores":
        score[::3] = y[::3] * 0.0 + (1 - y[::3])  # confidently wrong: 0/1 scores
    yhat = (score >= 0.4).astype(int)
    labelled = rng.random(n) < 0.8
    labels = [str(v) if keep else None for v, keep in zip(y, labelled, strict=True)]
    t = predictions_table(n, prediction=[str(v) for v in yhat], score=score, label=labels)
    s = store_with("binary", t, positive_label=1, threshold=0.4, metrics={"accuracy": 0.9})
    rep = performance_report(s, "m", window="all")
    (w,) = rep["windows"]
    assert w["rows"] == n and w["labelled"] == int(labelled.sum())
    want = sk_binary(y[labelled], yhat[labelled], score[labelled])
    for k, v in want.items():
        assert close(w["metrics"][k], v), (k, w["metrics"][k], v)
    assert close(w["vs_offline"]["accuracy"], want["accuracy"] - 0.9)


def test_binary_prediction_falls_back_to_score_threshold_and_text_labels() -> None:
    rng = np.random.default_rng(5)
    n = 500
    y = rng.choice(["fraud", "ok"], n)
    score = rng.random(n)
    t = predictions_table(n, prediction=None, score=score, label=y.tolist())
    s = store_with("binary", t, positive_label="fraud", threshold=0.7)
    (w,) = performance_report(s, "m", window="all")["windows"]
    yt = (y == "fraud").astype(int)
    want = sk_binary(yt, (score >= 0.7).astype(int), score)
    for k, v in want.items():
        assert close(w["metrics"][k], v), k


def test_multiclass_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(9)
    n = 2500
    y = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    yhat = np.where(rng.random(n) < 0.7, y, rng.choice(["a", "b", "c", "e"], n))
    t = predictions_table(n, prediction=yhat.tolist(), label=y.tolist())
    s = store_with("multiclass", t)
    (w,) = performance_report(s, "m", window="all")["windows"]
    assert close(w["metrics"]["accuracy"], skm.accuracy_score(y, yhat))
    assert close(w["metrics"]["macro_f1"], skm.f1_score(y, yhat, average="macro", zero_division=0))


@pytest.mark.parametrize("case", ["random", "zeros-in-target", "constant-target", "perfect", "large-offset"])
def test_regression_metrics_match_sklearn(case: str) -> None:
    rng = np.random.default_rng(sum(map(ord, case)))
    n = 2000
    y = rng.normal(50, 20, n)
    if case == "zeros-in-target":
        y[::10] = 0.0
    if case == "constant-target":
        y[:] = 3.0
    if case == "large-offset":  # a large mean and a small spread: the total sum of squares is ill-conditioned
        y = 1e7 + rng.normal(0, 1, n)
    yhat = y + rng.normal(0, 5, n) if case != "perfect" else y.copy()
    t = predictions_table(n, prediction_num=yhat, label_num=y, label=[str(v) for v in y])
    s = store_with("regression", t)
    (w,) = performance_report(s, "m", window="all")["windows"]
    m = w["metrics"]
    assert close(m["mae"], skm.mean_absolute_error(y, yhat))
    assert close(m["rmse"], math.sqrt(skm.mean_squared_error(y, yhat)))
    assert close(m["mape"], skm.mean_absolute_percentage_error(y, yhat))
    assert close(m["r2"], skm.r2_score(y, yhat))


def test_daily_windows_are_epoch_aligned_and_exact_per_window() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    ts = [T0 + dt.timedelta(hours=5, seconds=int(s)) for s in np.sort(rng.integers(0, 3 * 86400, n))]
    y = rng.integers(0, 2, n)
    score = rng.random(n)
    yhat = (score >= 0.5).astype(int)
    t = predictions_table(n, ts=ts, prediction=[str(v) for v in yhat], score=score, label=[str(v) for v in y])
    s = store_with("binary", t)
    rep = performance_report(s, "m", window="1d")
    starts = [w["start"] for w in rep["windows"]]
    # whole UTC days: the range is widened to whole windows when --start/--end are not given
    assert starts == ["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z",
                      "2026-11-04T00:00:00Z"]
    assert rep["windows"][-1]["end"] == "2026-11-05T00:00:00Z"
    days = np.array([t.date().toordinal() for t in ts])
    for w, d in zip(rep["windows"], sorted(set(days)), strict=True):
        sel = days == d
        assert w["rows"] == int(sel.sum())
        assert close(w["metrics"]["roc_auc"], skm.roc_auc_score(y[sel], score[sel]))
    # --start inclusive, --end exclusive
    rep = performance_report(s, "m", window="all", start=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
                             end=dt.datetime(2026, 11, 3, tzinfo=dt.UTC))
    sel = days == dt.date(2026, 11, 2).toordinal()
    assert rep["windows"][0]["rows"] == int(sel.sum())
    # a window clipped by --start/--end
    rep = performance_report(s, "m", window="1d", start=dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC),
                             end=dt.datetime(2026, 11, 3, 6, tzinfo=dt.UTC))
    assert [(w["start"], w["end"]) for w in rep["windows"]] == [
        ("2026-11-02T12:00:00Z", "2026-11-03T00:00:00Z"), ("2026-11-03T00:00:00Z", "2026-11-03T06:00:00Z")]
