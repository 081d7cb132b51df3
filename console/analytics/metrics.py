"""Model-quality metrics computed inside DuckDB, per window, matching scikit-learn exactly.

Each task has one SQL aggregation over ``predictions_labelled`` returning small per-window
aggregates (confusion counts, sums), and a pure function turning them into metric values:

- binary (positive class = the registry's ``positive_label``, default ``"1"``): ``accuracy``,
  ``precision``, ``recall``, ``f1`` (zero_division → 0 as scikit-learn), ``roc_auc`` (Mann–
  Whitney with ties counted half = scikit-learn's trapezoid; ``None`` with one class),
  ``log_loss`` (scores clipped to [eps, 1 − eps], eps = float64 machine epsilon) and ``brier``.
  The predicted class is the logged ``prediction``; when a record has none but has a ``score``,
  it is ``score ≥ threshold`` (registry ``threshold``, default 0.5).
- multiclass: ``accuracy`` and ``macro_f1`` (classes = labels ∪ predictions).
- regression: ``mae``, ``rmse``, ``mape`` (|y − ŷ| / max(|y|, eps)), ``r2`` (1.0 / 0.0 for a
  constant target, as scikit-learn's ``force_finite``).

``labelled`` counts rows with a label; classification metrics use rows with both a label and
a predicted class, score metrics rows with both a label and a score.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from console.store.registry import canonical_text

EPS = float(np.finfo(np.float64).eps)
METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier"),
    "multiclass": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse", "mape", "r2"),
}
LOWER_IS_BETTER = {"log_loss", "brier", "mae", "rmse", "mape"}


def positive_label(info: Any) -> str:
    value = getattr(info, "positive_label", None)
    text = canonical_text(value) if value is not None else None
    return text if text is not None else "1"


def threshold_of(info: Any) -> float:
    value = getattr(info, "threshold", None)
    return float(value) if value is not None else 0.5


# -- SQL per task -----------------------------------------------------------------------------


def binary_sql(cond: str, bucket: str, relation: str = "predictions_labelled") -> str:
    """Parameters: [positive, positive, threshold, *cond params]."""
    return f"""
WITH b AS MATERIALIZED (
  SELECT {bucket} AS w, labelled,
    CASE WHEN labelled AND label IS NOT NULL THEN (label = ?)::INTEGER END AS y,
    CASE WHEN prediction IS NOT NULL THEN (prediction = ?)::INTEGER
         WHEN score IS NOT NULL THEN (score >= ?)::INTEGER END AS yhat,
    score
  FROM {relation} WHERE {cond} AND coalesce(status, 'ok') = 'ok'
), agg AS (
  SELECT w, count(*) AS rows, count(*) FILTER (WHERE labelled) AS labelled,
    count(*) FILTER (WHERE y = 1 AND yhat = 1) AS tp,
    count(*) FILTER (WHERE y = 0 AND yhat = 1) AS fp,
    count(*) FILTER (WHERE y = 1 AND yhat = 0) AS fn,
    count(*) FILTER (WHERE y = 0 AND yhat = 0) AS tn,
    count(*) FILTER (WHERE yhat = 1) AS pred_pos, count(*) FILTER (WHERE yhat IS NOT NULL) AS pred_n,
    count(*) FILTER (WHERE y IS NOT NULL AND score IS NOT NULL) AS n_s,
    fsum(CASE WHEN y IS NOT NULL AND score IS NOT NULL THEN -ln(CASE WHEN y = 1
         THEN greatest(least(score, 1 - {EPS!r}), {EPS!r})
         ELSE greatest(least(1 - score, 1 - {EPS!r}), {EPS!r}) END) END) AS ll,
    fsum(CASE WHEN y IS NOT NULL AND score IS NOT NULL THEN (y - score) * (y - score) END) AS sq
  FROM b GROUP BY w
), s AS (
  SELECT w, score, count(*) FILTER (WHERE y = 1) AS pos, count(*) FILTER (WHERE y = 0) AS neg
  FROM b WHERE y IS NOT NULL AND score IS NOT NULL GROUP BY w, score
), r AS (
  SELECT w, sum(pos)::BIGINT AS p, sum(neg)::BIGINT AS n,
    sum(pos::HUGEINT * (2 * coalesce(below, 0) + neg)) AS u2
  FROM (SELECT w, pos, neg, sum(neg) OVER (PARTITION BY w ORDER BY score
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS below FROM s)
  GROUP BY w
)
SELECT agg.*, r.p, r.n, r.u2::DOUBLE AS u2 FROM agg LEFT JOIN r USING (w)
"""


def binary_metrics(a: dict[str, Any]) -> dict[str, float | None]:
    tp, fp, fn, tn = (int(a.get(k) or 0) for k in ("tp", "fp", "fn", "tn"))
    n = tp + fp + fn + tn
    out: dict[str, float | None] = dict.fromkeys(METRICS["binary"])
    if n:
        out["accuracy"] = (tp + tn) / n
        out["precision"] = tp / (tp + fp) if tp + fp else 0.0
        out["recall"] = tp / (tp + fn) if tp + fn else 0.0
        out["f1"] = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
    n_s = int(a.get("n_s") or 0)
    if n_s:
        out["log_loss"] = float(a["ll"]) / n_s
        out["brier"] = float(a["sq"]) / n_s
        p, q = int(a.get("p") or 0), int(a.get("n") or 0)
        if p and q:
            out["roc_auc"] = float(a["u2"]) / (2.0 * p * q)
    return out


def multiclass_sql(cond: str, bucket: str, relation: str = "predictions_labelled") -> str:
    return f"""
WITH b AS MATERIALIZED (SELECT {bucket} AS w, labelled, label, prediction FROM {relation}
           WHERE {cond} AND coalesce(status, 'ok') = 'ok')
SELECT w, NULL AS label, NULL AS prediction, count(*) AS n, count(*) FILTER (WHERE labelled) AS labelled
FROM b GROUP BY w
UNION ALL
SELECT w, label, prediction, count(*) AS n, NULL AS labelled FROM b
WHERE labelled AND label IS NOT NULL AND prediction IS NOT NULL GROUP BY w, label, prediction
"""


def multiclass_metrics(pairs: dict[tuple[str, str], int]) -> dict[str, float | None]:
    """accuracy and macro F1 from ``{(label, prediction): count}``."""
    out: dict[str, float | None] = dict.fromkeys(METRICS["multiclass"])
    n = sum(pairs.values())
    if not n:
        return out
    tp: dict[str, int] = defaultdict(int)
    true_n: dict[str, int] = defaultdict(int)
    pred_n: dict[str, int] = defaultdict(int)
    for (y, yh), c in pairs.items():
        true_n[y] += c
        pred_n[yh] += c
        if y == yh:
            tp[y] += c
    classes = sorted(set(true_n) | set(pred_n))
    out["accuracy"] = sum(tp.values()) / n
    f1s = []
    for k in classes:
        denom = true_n[k] + pred_n[k]  # = 2tp + fp + fn
        f1s.append(2 * tp[k] / denom if denom else 0.0)
    out["macro_f1"] = float(np.mean(f1s))
    return out


def regression_sql(cond: str, bucket: str, relation: str = "predictions_labelled") -> str:
    return f"""
WITH b AS MATERIALIZED (SELECT {bucket} AS w, labelled, label_num AS y, prediction_num AS yh FROM {relation}
           WHERE {cond} AND coalesce(status, 'ok') = 'ok'),
m AS (SELECT w, avg(y) FILTER (WHERE y IS NOT NULL AND yh IS NOT NULL) AS ybar FROM b GROUP BY w)
SELECT b.w, count(*) AS rows, count(*) FILTER (WHERE labelled) AS labelled,
  count(*) FILTER (WHERE y IS NOT NULL AND yh IS NOT NULL) AS n,
  fsum(abs(y - yh)) FILTER (WHERE y IS NOT NULL AND yh IS NOT NULL) AS sae,
  fsum((y - yh) * (y - yh)) FILTER (WHERE y IS NOT NULL AND yh IS NOT NULL) AS sse,
  fsum(abs(y - yh) / greatest(abs(y), {EPS!r})) FILTER (WHERE y IS NOT NULL AND yh IS NOT NULL) AS sape,
  fsum((y - m.ybar) * (y - m.ybar)) FILTER (WHERE y IS NOT NULL AND yh IS NOT NULL) AS sst
FROM b JOIN m USING (w) GROUP BY b.w
"""


def regression_metrics(a: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = dict.fromkeys(METRICS["regression"])
    n = int(a.get("n") or 0)
    if not n:
        return out
    sse = float(a["sse"])
    out["mae"] = float(a["sae"]) / n
    out["rmse"] = float(np.sqrt(sse / n))
    out["mape"] = float(a["sape"]) / n
    if n >= 2:
        sst = float(a["sst"])
        if sst == 0.0:
            out["r2"] = 1.0 if sse == 0.0 else 0.0
        else:
            out["r2"] = 1.0 - sse / sst
    return out


def compute_windows(cur, task: str, info: Any, cond: str, params: list[Any], bucket: str,
                    relation: str = "predictions_labelled") -> dict[Any, dict[str, Any]]:
    """``{bucket: {"rows", "labelled", "metrics", "counts"}}`` for one task; ``bucket`` is any
    SQL expression (a window id, or a slice value)."""
    out: dict[Any, dict[str, Any]] = {}
    if task == "binary":
        pos = positive_label(info)
        q = binary_sql(cond, bucket, relation)
        res = cur.execute(q, [pos, pos, threshold_of(info), *params])
        cols = [d[0] for d in res.description]
        for row in res.fetchall():
            a = dict(zip(cols, row, strict=True))
            counts = {k: int(a[k] or 0) for k in ("tp", "fp", "fn", "tn", "pred_pos", "pred_n")}
            counts["correct"] = counts["tp"] + counts["tn"]
            counts["scored"] = counts["tp"] + counts["tn"] + counts["fp"] + counts["fn"]
            out[a["w"]] = {"rows": int(a["rows"]), "labelled": int(a["labelled"]),
                                "metrics": binary_metrics(a), "counts": counts}
    elif task == "multiclass":
        rows = cur.execute(multiclass_sql(cond, bucket, relation), params).fetchall()
        pairs: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
        for w, label, pred, n, labelled in rows:
            if label is None and pred is None and labelled is not None:
                out[w] = {"rows": int(n), "labelled": int(labelled)}
            else:
                pairs[w][(label, pred)] = int(n)
        for w, entry in out.items():
            p = pairs.get(w, {})
            entry["metrics"] = multiclass_metrics(p)
            entry["counts"] = {"correct": sum(c for (y, yh), c in p.items() if y == yh),
                               "scored": sum(p.values())}
    else:
        res = cur.execute(regression_sql(cond, bucket, relation), params)
        cols = [d[0] for d in res.description]
        for row in res.fetchall():
            a = dict(zip(cols, row, strict=True))
            counts = {"scored": int(a["n"]), "sae": float(a["sae"] or 0.0), "sse": float(a["sse"] or 0.0)}
            out[a["w"]] = {"rows": int(a["rows"]), "labelled": int(a["labelled"]),
                           "metrics": regression_metrics(a), "counts": counts}
    return out
