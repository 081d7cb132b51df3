"""Estimated performance without labels (``estimate``, docs/analytics.md, 'Estimated performance').

A model's quality is estimated per window from its outputs alone, with the method NannyML
publishes for each task, fitted on the version's *reference* — its registered ``reference`` file,
or a window of its own labelled logs (``reference_start``/``reference_end``):

- **binary — CBPE** (confidence-based performance estimation). The reference's scores are
  calibrated against its labels with isotonic regression (scikit-learn's
  ``IsotonicRegression(out_of_bounds="clip")``) when that lowers the expected calibration error
  in NannyML's test (ten stratified 90/10 splits, seed 42, ECE over 10 equal-count bins; a
  reference with one class, or with ROC AUC > 0.999, is left as it is). In a window, each row's
  calibrated probability ``p`` is the chance its label is positive, so the *expected* confusion
  matrix is ``TP = Σ p``, ``FP = Σ (1 − p)`` over rows predicted positive and ``FN = Σ p``,
  ``TN = Σ (1 − p)`` over rows predicted negative, giving accuracy, precision, recall and F1;
  ROC AUC is the area under the expected ROC curve (rows ordered by score, each adding ``p`` to
  the true and ``1 − p`` to the false positives).
- **regression — DLE** (direct loss estimation). Two gradient-boosted regressors (scikit-learn's
  ``HistGradientBoostingRegressor`` with LightGBM's default shape: 100 trees, learning rate 0.1,
  31 leaves, ≥ 20 rows a leaf) are trained on the reference to predict each row's absolute and
  squared error from its features and prediction; a window's MAE is the mean predicted absolute
  error, MSE the mean predicted squared error (each clipped at 0), RMSE its square root.
- **multiclass**: not supported — the logs carry the predicted class but no per-class
  probabilities, which CBPE needs (``UsageError``, one line).

Bands are NannyML's: ``estimated ± 3 × sampling error`` (clipped to [0, 1] for the classification
metrics, at 0 below for the regression ones), the sampling error taken from the reference as the
standard deviation of the metric's per-row terms over ``√(rows in the window × the share of rows
the metric rests on)``. ``realized`` is the metric the labels in the window give
(``performance_report`` on the same windows: the same numbers as the performance tab), ``None``
when the window has no labels. ``rows`` counts a window's successful predictions; the estimate rests
on those with a score (binary) or a numeric prediction (regression).

The windows are the performance report's (``performance.report_windows``); each window's estimate
is cached (``incremental.windowed``) under the reference's fingerprint, and the fitted estimator
is kept per process for the few latest references (DLE's two models are fitted only when a window
has to be computed).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from console.analytics import windows as W
from console.analytics.config import AnalyticsConfig, config_for
from console.analytics.incremental import windowed
from console.analytics.metrics import LOWER_IS_BETTER, positive_label, threshold_of
from console.analytics.performance import performance_report, registry_key, report_windows, task_of
from console.analytics.source import Scope, StoreLike, aware, model_features, resolve_version
from console.errors import NotComputable, UsageError
from console.store.sql import ident

METRICS = {
    "binary": ("roc_auc", "accuracy", "precision", "recall", "f1"),
    "regression": ("mae", "mse", "rmse"),
}
METHOD = {"binary": "CBPE", "regression": "DLE"}
SAMPLING_ERROR_RANGE = 3  # bands: estimated ± 3 sampling errors, as NannyML


# -- CBPE: calibration ------------------------------------------------------------------------


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-count bins of the sorted scores (NannyML's
    ``_calculate_expected_calibration_error`` and ``_get_bin_index_edges``)."""
    n = len(p)
    if n <= 2 * bins:
        bins = n // 2
    width = n // bins
    edges = np.asarray(range(0, n + 1, width))
    edges[-1] = n
    order = p.argsort()
    p, y = p[order], y[order]
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        total += (hi - lo) / n * abs(float(np.mean(p[lo:hi])) - float(np.mean(y[lo:hi])))
    return total


def needs_calibration(y: np.ndarray, score: np.ndarray) -> bool:
    """Whether isotonic calibration lowers the expected calibration error (NannyML's test:
    StratifiedShuffleSplit(10 splits, 10 % test, seed 42); the test folds' ECE before and after)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit

    if len(np.unique(y)) == 1 or roc_auc_score(y, score) > 0.999:
        return False
    ys, before, after = [], [], []
    for train, test in StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42).split(score, y):
        iso = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(score[train], y[train])
        ys.append(y[test])
        before.append(score[test])
        after.append(iso.predict(score[test]))
    y_all = np.concatenate(ys)
    return _ece(y_all, np.concatenate(before)) > _ece(y_all, np.concatenate(after))


def _std(values: np.ndarray) -> float:
    return float(np.std(values)) if values.size else float("nan")


def auroc_components(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """NannyML's ROC AUC sampling-error components from the reference: the standard deviation,
    over the positives (the minority class), of the share of negatives ranked below each, and the
    positives' share of the rows (rows in the reference's order, sorted by NumPy's default sort)."""
    y = y.astype(np.int64)
    score = score.astype(np.float64)
    if np.mean(y) > 0.5:
        y, score = 1 - y, 1 - score
    order = np.argsort(score)
    y = y[order]
    ranks = y * np.arange(len(y))
    idx = np.unique(ranks)[1:]
    ser = idx - np.arange(len(idx))
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return _std(np.true_divide(ser, n_neg)), n_pos / len(y)


@dataclass
class BinaryEstimator:
    """CBPE fitted on a reference: the calibrator and each metric's sampling-error parts."""

    calibrator: Any  # IsotonicRegression, or None when the scores are already calibrated
    components: dict[str, tuple[float, float]]  # metric → (per-row std, share of rows it rests on)
    rows: int
    fingerprint: str = ""

    @classmethod
    def fit(cls, y: np.ndarray, yhat: np.ndarray, score: np.ndarray) -> BinaryEstimator:
        from sklearn.isotonic import IsotonicRegression

        y, yhat, score = y.astype(np.int64), yhat.astype(np.int64), score.astype(np.float64)
        cal = None
        if needs_calibration(y, score):
            cal = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(score, y)
        n = len(y)
        tp = (y == 1) & (yhat == 1)
        fp = (y == 0) & (yhat == 1)
        fn = (y == 1) & (yhat == 0)
        relevant = tp | fp | fn
        n_tp, n_fp, n_fn = int(tp.sum()), int(fp.sum()), int(fn.sum())
        denom = 0.5 * (n_fn + n_fp) + n_tp
        f1_rows = np.where(tp[relevant], 1.0, 0.0) * (relevant.sum() / denom if denom else np.nan)
        comps = {
            "roc_auc": auroc_components(y, score),
            "accuracy": (_std((y == yhat).astype(float)), 1.0),
            "precision": (_std(tp[yhat == 1].astype(float)), float(yhat.sum()) / n),
            "recall": (_std(tp[y == 1].astype(float)), float(y.sum()) / n),
            "f1": (_std(f1_rows), float(relevant.sum()) / n),
        }
        return cls(cal, comps, n)

    def calibrate(self, score: np.ndarray) -> np.ndarray:
        return score if self.calibrator is None else self.calibrator.predict(score)

    def sampling_error(self, metric: str, rows: int) -> float | None:
        std, share = self.components[metric]
        if not rows or not share or not np.isfinite(std):
            return None
        return float(std / np.sqrt(rows * share))


def expected_metrics(score: np.ndarray, yhat: np.ndarray, count: np.ndarray, p: np.ndarray
                     ) -> dict[str, float | None]:
    """CBPE's estimates for the rows ``count`` times each ``(score, yhat)`` with calibrated
    probability ``p``: the expected confusion matrix's metrics and the expected ROC curve's area."""
    out: dict[str, float | None] = dict.fromkeys(METRICS["binary"])
    n = float(count.sum())
    if not n:
        return out
    pos = yhat == 1
    tp = float(np.sum(count[pos] * p[pos]))
    fp = float(np.sum(count[pos] * (1 - p[pos])))
    fn = float(np.sum(count[~pos] * p[~pos]))
    tn = float(np.sum(count[~pos] * (1 - p[~pos])))
    out["accuracy"] = (tp + tn) / n
    out["precision"] = tp / (tp + fp) if tp + fp else 0.0
    out["recall"] = tp / (tp + fn) if tp + fn else 0.0
    out["f1"] = tp / (tp + 0.5 * (fp + fn)) if tp + 0.5 * (fp + fn) else 0.0
    # ROC AUC: rows by score, highest first; a tie moves both rates along one straight segment
    uniq, inv = np.unique(score, return_inverse=True)
    tps = np.bincount(inv, weights=count * p, minlength=len(uniq))[::-1]
    fps = np.bincount(inv, weights=count * (1 - p), minlength=len(uniq))[::-1]
    tps = np.round(np.r_[0.0, np.cumsum(tps)], 5)
    fps = np.round(np.r_[0.0, np.cumsum(fps)], 5)
    if tps[-1] > 0 and fps[-1] > 0:
        out["roc_auc"] = float(np.trapezoid(tps / tps[-1], fps / fps[-1]))
    return out


# -- DLE ----------------------------------------------------------------------------------------


@dataclass
class RegressionEstimator:
    """DLE fitted on a reference: a model of each row's absolute and squared error, the
    categorical features' codes, and the sampling-error parts (std and mean of the errors)."""

    columns: list[tuple[str, str]]  # (store column, kind)
    codes: dict[str, list[str]]  # categorical column → its reference values, sorted (code = index)
    abs_model: Any
    sq_model: Any
    components: dict[str, float]
    rows: int
    fingerprint: str = ""
    _train: Any = None
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    def matrix(self, cols: dict[str, Any], prediction: np.ndarray) -> np.ndarray:
        """Features (numeric: float arrays; categorical: Arrow string arrays, coded by the reference's
        sorted values, a value it never saw missing) and the prediction, as one float matrix."""
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = []
        for col, kind in self.columns:
            values = cols[col]
            if kind == "numeric":
                parts.append(np.asarray(values, dtype=np.float64))
            else:
                arr = values.cast(pa.large_string())
                codes = pc.index_in(arr, value_set=pa.array(self.codes[col], type=pa.large_string()))
                parts.append(codes.to_numpy(zero_copy_only=False).astype(np.float64))
        parts.append(np.asarray(prediction, dtype=np.float64))
        return np.column_stack(parts) if parts else np.empty((len(prediction), 0))

    @classmethod
    def fit(cls, columns: list[tuple[str, str]], cols: dict[str, Any], prediction: np.ndarray,
            label: np.ndarray) -> RegressionEstimator:
        import pyarrow as pa
        import pyarrow.compute as pc
        from sklearn.ensemble import HistGradientBoostingRegressor

        codes: dict[str, list[str]] = {}
        for col, kind in columns:
            if kind != "numeric":
                seen = sorted(v for v in pc.unique(cols[col].cast(pa.large_string())).to_pylist() if v is not None)
                codes[col] = seen[:250]  # HGB: < 255 categories
        est = cls(columns, codes, None, None, {}, len(label))
        x = est.matrix(cols, prediction)
        err = label - prediction
        cat = [kind != "numeric" for _, kind in columns] + [False]

        def model() -> Any:
            return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, max_leaf_nodes=31,
                                                 min_samples_leaf=20, early_stopping=False, random_state=0,
                                                 categorical_features=np.array(cat) if any(cat) else None)

        est._train = (model, x, np.abs(err), err * err)  # the models are fitted when first needed
        sq = err * err
        est.components = {"mae": _std(np.abs(err)), "mse": _std(sq), "sq_mean": float(np.mean(sq))}
        return est

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's predicted absolute and squared error (clipped at 0). The two models are
        fitted on first use: a report whose windows are all cached never fits them."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # OpenMP threads only contend (with DuckDB's, on a shared box)
            with self._lock:
                if self._train is not None:
                    model, xt, abs_t, sq_t = self._train
                    self.abs_model = model().fit(xt, abs_t)
                    self.sq_model = model().fit(xt, sq_t)
                    self._train = None
            return (np.maximum(0.0, self.abs_model.predict(x)), np.maximum(0.0, self.sq_model.predict(x)))

    def sampling_error(self, metric: str, rows: int) -> float | None:
        if not rows:
            return None
        c = self.components
        if metric == "rmse":
            return float(np.sqrt(c["mse"] ** 2 / (4 * rows * c["sq_mean"]))) if c["sq_mean"] else None
        return float(c[metric] / np.sqrt(rows))


# -- the reference ----------------------------------------------------------------------------


_FITTED: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_FIT_LOCK = threading.Lock()
_FIT_MAX = 6


@dataclass
class Reference:
    """The reference rows an estimator is fitted on."""

    fingerprint: str
    info: dict[str, Any]
    table: Any  # pyarrow table with the columns asked for
    extra: dict[str, Any] = field(default_factory=dict)


def load_reference_rows(db: StoreLike, model: str, version: str, kinds: dict[str, str], columns: list[str],
                        reference_start: dt.datetime | None, reference_end: dt.datetime | None) -> Reference:
    """``columns`` of the version's reference: its registered file (read as drift reads it, sharing
    its Parquet copy), or its labelled logs in ``[reference_start, reference_end)``."""
    from console.analytics.drift import load_reference

    cur = db.cursor()
    side, info = load_reference(db, cur, model, version, kinds, reference_start, reference_end)
    try:
        if side.relation == "predictions":  # a window of logs: the labels the store has for them
            select = ", ".join(ident(c) for c in columns)
            table = cur.sql(f"SELECT {select} FROM predictions_labelled WHERE {side.where} "
                            "AND coalesce(status, 'ok') = 'ok' ORDER BY ts, request_id",
                            params=side.params).to_arrow_table()
            fingerprint = f"logs:{side.fingerprint}:labels={_labels_fingerprint(db)}"
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = side.table
            if table is None:
                names = set(pq.read_schema(side.parquet).names)
                table = pq.read_table(side.parquet, columns=[c for c in columns if c in names])
            missing = [c for c in columns if c not in table.column_names]
            for c in missing:
                table = table.append_column(c, pa.nulls(table.num_rows, pa.float64() if c.endswith("_num")
                                                        or c == "score" else pa.string()))
            table = table.select(columns)
            if "status" in columns:
                import pyarrow.compute as pc

                table = table.filter(pc.fill_null(pc.equal(table.column("status"), "ok"), True))
            fingerprint = side.fingerprint
    finally:
        side.ready()
    info = dict(info, rows=table.num_rows)
    return Reference(fingerprint, info, table)


def _labels_fingerprint(db: StoreLike) -> str:
    """A log-window reference's labels can arrive late: the store batch names them."""
    return str(db.batch)


def _remember(key: tuple[Any, ...], fit) -> Any:
    with _FIT_LOCK:
        hit = _FITTED.get(key)
        if hit is not None:
            _FITTED.move_to_end(key)
            return hit
    value = fit()
    with _FIT_LOCK:
        _FITTED[key] = value
        while len(_FITTED) > _FIT_MAX:
            _FITTED.popitem(last=False)
    return value


def _col(table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def _features(table, columns: list[tuple[str, str]], idx: np.ndarray) -> dict[str, Any]:
    """The rows ``idx`` of each feature column: numeric as float arrays, categorical as Arrow."""
    import pyarrow as pa

    take = pa.array(idx, type=pa.int64())
    return {c: (_col(table, c).astype(np.float64)[idx] if k == "numeric" else table.column(c).take(take))
            for c, k in columns}


def fit_binary(db: StoreLike, model: str, version: str, info: Any, rs, re_) -> BinaryEstimator:
    pos, thr = positive_label(info), threshold_of(info)
    ref = load_reference_rows(db, model, version, {}, ["label", "prediction", "score", "status"], rs, re_)
    key = ("cbpe", db.memo.namespace, ref.fingerprint, pos, thr)

    def fit() -> BinaryEstimator:
        t = ref.table
        label = np.array(t.column("label").to_pylist(), dtype=object)
        pred = np.array(t.column("prediction").to_pylist(), dtype=object)
        score = _col(t, "score").astype(np.float64)
        ok = np.array([v is not None for v in label]) & np.isfinite(score)
        if not ok.any():
            raise NotComputable(f"{model} version {version}: the reference has no rows with both a score and a "
                                "label; CBPE needs labelled reference data",
                                "pass --reference-start/--reference-end for a labelled window of logs")
        y = np.array([v == pos for v in label[ok]], dtype=np.int64)
        if y.min() == y.max():
            raise NotComputable(f"{model} version {version}: every labelled reference row is of one class; "
                                "CBPE needs both classes in the reference")
        p = pred[ok]
        yhat = np.where(np.array([v is not None for v in p]), np.array([v == pos for v in p]),
                        score[ok] >= thr).astype(np.int64)
        est = BinaryEstimator.fit(y, yhat, score[ok])
        est.fingerprint = ref.fingerprint
        return est

    est = _remember(key, fit)
    return est


def fit_regression(db: StoreLike, model: str, version: str, rs, re_) -> tuple[RegressionEstimator, list]:
    feats = model_features(db, model, version)
    info = db.registry.get(model, version)
    if info is not None and info.features:
        feats = [f for f in feats if f[0] in info.features]
    kinds = {f[0]: f[2] for f in feats}
    columns = [(c, k) for _, c, k in feats]
    ref = load_reference_rows(db, model, version, kinds, [c for c, _ in columns]
                              + ["label_num", "prediction_num", "status"], rs, re_)
    key = ("dle", db.memo.namespace, ref.fingerprint, tuple(columns))

    def fit() -> RegressionEstimator:
        t = ref.table
        label, pred = _col(t, "label_num").astype(np.float64), _col(t, "prediction_num").astype(np.float64)
        ok = np.isfinite(label) & np.isfinite(pred)
        if ok.sum() < 2:
            raise NotComputable(f"{model} version {version}: the reference has fewer than 2 rows with both a "
                                "numeric prediction and a label; DLE needs labelled reference data")
        idx = np.flatnonzero(ok)
        cols = _features(t, columns, idx)
        est = RegressionEstimator.fit(columns, cols, pred[idx], label[idx])
        est.fingerprint = ref.fingerprint
        return est

    return _remember(key, fit), columns


# -- per window -------------------------------------------------------------------------------


def _binary_windows(cur, est: BinaryEstimator, info: Any, cond: str, params: list[Any], bucket: str
                    ) -> dict[int, Any]:
    pos, thr = positive_label(info), threshold_of(info)
    q = f"""
SELECT w, score, yhat, count(*)::BIGINT AS n FROM (
  SELECT {bucket} AS w, score,
    CASE WHEN prediction IS NOT NULL THEN (prediction = ?)::INTEGER
         WHEN score IS NOT NULL THEN (score >= ?)::INTEGER END AS yhat
  FROM predictions WHERE {cond} AND coalesce(status, 'ok') = 'ok')
GROUP BY ALL ORDER BY w"""
    res = cur.execute(q, [pos, thr, *params]).fetchnumpy()
    w = np.asarray(res["w"], dtype=np.int64)
    score = np.ma.filled(np.ma.asarray(res["score"], dtype=np.float64), np.nan)
    yhat = np.ma.filled(np.ma.asarray(res["yhat"], dtype=np.float64), np.nan)
    n = np.asarray(res["n"], dtype=np.float64)
    out: dict[int, Any] = {}
    if not w.size:
        return out
    ok = np.isfinite(score) & np.isfinite(yhat)
    p = np.full(score.shape, np.nan)
    if ok.any():
        uniq, inv = np.unique(score[ok], return_inverse=True)
        p[ok] = est.calibrate(uniq)[inv]
    cuts = np.flatnonzero(np.diff(w)) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, w.size], strict=True):
        sel = slice(lo, hi)
        good = ok[sel]
        scored = int(n[sel][good].sum())
        m = expected_metrics(score[sel][good], yhat[sel][good], n[sel][good], p[sel][good])
        out[int(w[lo])] = {"rows": int(n[sel].sum()), "scored": scored, "estimated": m}
    return out


def _regression_windows(cur, est: RegressionEstimator, cond: str, params: list[Any], bucket: str
                        ) -> dict[int, Any]:
    cols = [c for c, _ in est.columns]
    have = {r[0] for r in cur.execute("DESCRIBE predictions").fetchall()}
    select = ", ".join((ident(c) if c in have else f"NULL AS {ident(c)}") for c in cols)
    q = (f"SELECT {bucket} AS w, prediction_num{', ' + select if select else ''} FROM predictions "
         f"WHERE {cond} AND coalesce(status, 'ok') = 'ok' ORDER BY w")
    t = cur.sql(q, params=params).to_arrow_table()
    out: dict[int, Any] = {}
    if not t.num_rows:
        return out
    w = _col(t, "w").astype(np.int64)
    pred = _col(t, "prediction_num").astype(np.float64)
    ok = np.isfinite(pred)
    rows_by = dict(zip(*np.unique(w, return_counts=True), strict=True))
    idx = np.flatnonzero(ok)
    abs_e = sq_e = np.empty(0)
    if idx.size:
        data = _features(t, est.columns, idx)
        abs_e, sq_e = est.predict(est.matrix(data, pred[idx]))
    wo = w[idx]
    for b, rows in rows_by.items():
        sel = wo == b
        k = int(sel.sum())
        m: dict[str, float | None] = dict.fromkeys(METRICS["regression"])
        if k:
            m["mae"] = float(np.mean(abs_e[sel]))
            m["mse"] = float(np.mean(sq_e[sel]))
            m["rmse"] = float(np.sqrt(m["mse"]))
        out[int(b)] = {"rows": int(rows), "scored": k, "estimated": m}
    return out


def _realized(task: str, metrics: dict[str, Any]) -> dict[str, float | None]:
    out = {k: metrics.get(k) for k in METRICS[task]}
    if task == "regression":
        rmse = metrics.get("rmse")
        out["mse"] = rmse * rmse if rmse is not None else None
    return out


def band(est: Any, metric: str, value: float | None, rows: int) -> tuple[float | None, float | None]:
    """``value ± 3 sampling errors``, clipped to the metric's range."""
    se = est.sampling_error(metric, rows) if value is not None else None
    if se is None or value is None:
        return None, None
    lo, hi = value - SAMPLING_ERROR_RANGE * se, value + SAMPLING_ERROR_RANGE * se
    if metric in LOWER_IS_BETTER:
        return max(0.0, lo), hi
    return max(0.0, lo), min(1.0, hi)


def estimate_report(
    db: StoreLike,
    model: str,
    version: str | None = None,
    window: str | int | None = "1d",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    metric: str | None = None,
    reference_start: dt.datetime | None = None,
    reference_end: dt.datetime | None = None,
    config: AnalyticsConfig | None = None,
) -> dict[str, Any]:
    """Estimated performance of one model version (default: the production version) per window:
    ``{"model", "version", "task", "method", "window", "start", "end", "metric_names",
    "reference": {"source", "rows", "calibrated"?}, "windows": [{"start", "end", "rows",
    "metrics": {name: {"estimated", "lower", "upper", "realized"}}}]}``. ``metric`` keeps one
    metric. ``UsageError`` (one line) for a multiclass model, an unknown metric, or a reference
    without labelled rows."""
    start, end = aware(start), aware(end)
    reference_start, reference_end = aware(reference_start), aware(reference_end)
    version = resolve_version(db, model, version)
    task = task_of(db, model, version)
    if task not in METRICS:
        raise NotComputable(f"{model} is a {task} model: estimated performance supports binary (CBPE) and "
                            "regression (DLE) models only (the logs carry no per-class probabilities)")
    names = list(METRICS[task])
    if metric is not None:
        if metric not in names:
            raise UsageError(f"unknown metric {metric!r} for a {task} model (one of: {', '.join(names)})")
        names = [metric]
    if config is None:
        config = config_for(db, model)
    info = db.registry.get(model, version)
    if task == "binary":
        est: Any = fit_binary(db, model, version, info, reference_start, reference_end)
    else:
        est, _ = fit_regression(db, model, version, reference_start, reference_end)
    size = W.window_size(window)
    scope = Scope(model, version, start, end)
    rng, size = report_windows(db, scope, window, size)
    ref_info = {"source": None, "rows": est.rows}
    out: dict[str, Any] = {
        "model": model, "version": version, "task": task, "method": METHOD[task], "window": W.size_label(size),
        "metric_names": names, "start": W.iso(rng[0]) if rng else None, "end": W.iso(rng[1]) if rng else None,
        "reference": ref_info, "windows": [],
    }
    if reference_start is not None or reference_end is not None:
        ref_info["source"] = "logs"
        ref_info.update(start=W.iso(reference_start), end=W.iso(reference_end))
    else:
        ref_info["source"] = str(info.reference) if info is not None and info.reference else None
    if task == "binary":
        ref_info["calibrated"] = est.calibrator is not None
    if rng is None:
        return out
    wins = W.split(rng[0], rng[1], size)
    cur = db.cursor()

    def compute(cond: str, params: list[Any], bucket: str) -> dict[int, Any]:
        if task == "binary":
            return _binary_windows(cur, est, info, cond, params, bucket)
        return _regression_windows(cur, est, cond, params, bucket)

    key = {"k": "estimate", "method": METHOD[task], "ref": est.fingerprint, "reg": registry_key(info)}
    results = windowed(db, scope, wins, size, compute, key, config.cache)
    realized = {(w["start"], w["end"]): w for w in performance_report(
        db, model, version, W.size_label(size) if size is not None else "all", rng[0], rng[1], config)["windows"]}
    for w in wins:
        r = results.get(w.key) or {"rows": 0, "scored": 0, "estimated": dict.fromkeys(METRICS[task])}
        s, e = W.iso(w.start), W.iso(w.end)
        perf = realized.get((s, e)) or {}
        real = _realized(task, perf.get("metrics") or {}) if perf.get("labelled") else {}
        metrics = {}
        for name in names:
            value = r["estimated"].get(name)
            lo, hi = band(est, name, value, r["scored"])
            metrics[name] = {"estimated": value, "lower": lo, "upper": hi, "realized": real.get(name)}
        out["windows"].append({"start": s, "end": e, "rows": r["rows"], "metrics": metrics})
    return out
