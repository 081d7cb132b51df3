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
from console.store.snapshot import StoreSnapshot
from console.store.sql import literal

EPS = float(np.finfo(np.float64).eps)
METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier"),
    "multiclass": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse", "mape", "r2"),
}
LOWER_IS_BETTER = {"log_loss", "brier", "mae", "mse", "rmse", "mape"}  # mse: estimate's DLE reports it


def worse_by(metric: str, reference: float, value: float) -> float:
    """How much worse ``value`` is than ``reference`` (positive = worse), whatever the metric's
    direction: the promotion gates, the retrain policy and the estimate compare this way."""
    return (value - reference) if metric in LOWER_IS_BETTER else (reference - value)
# The one metric that stands for a task wherever one number is shown or compared: the fleet's
# live column, the performance tab's plot, the promotion gates (unless [gates] metric says
# otherwise). docs/analytics.md documents it.
PRIMARY_METRIC = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "rmse"}


def positive_label(info: Any) -> str:
    value = getattr(info, "positive_label", None)
    text = canonical_text(value) if value is not None else None
    return text if text is not None else "1"


def threshold_of(info: Any) -> float:
    value = getattr(info, "threshold", None)
    return float(value) if value is not None else 0.5


# -- which rows -------------------------------------------------------------------------------


def inline(cond: str, params: list[Any]) -> str:
    """``cond`` with its ``?`` parameters replaced by literals (``cond`` holds no other ``?``)."""
    parts = cond.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError("parameters do not match the condition")
    out = [parts[0]]
    for value, rest in zip(params, parts[1:], strict=True):
        out += [literal(value), rest]
    return "".join(out)


def labelled_relation(db: StoreSnapshot, cond: str, params: list[Any], subset: bool) -> str:
    """The relation a report reads: ``predictions_labelled``, or — when ``subset`` says the rows
    are a small part of the store and the store can — the same rows with only their own labels
    joined (``StoreSnapshot.labelled_subset``: for the store, a semi-join on request_id before
    the label dedupe)."""
    if subset:
        return db.labelled_subset(inline(cond, params))
    return "predictions_labelled"


# -- SQL per task -----------------------------------------------------------------------------
#
# Each query reads the scope's successful rows of the labelled view ONCE (the label join runs
# once) and groups them straight away by ``(g, w, …)``: ``w`` is the value of bucket expression
# number ``g``. One bucket (a window id) is the performance report; several (one per slice feature,
# plus a constant for the whole) are ``GROUPING SETS`` of the same pass, which is how ``slices``
# gets every value of every feature in one query. Classification metrics then come from small
# per-(window, class, score) count tables, never from rows pulled into Python.


def _buckets(bucket: str | list[str]) -> list[str]:
    return [bucket] if isinstance(bucket, str) else list(bucket)


def _rows(bucket: str | list[str], columns: str, relation: str, cond: str) -> str:
    """The scope's successful rows: ``w0 … wk`` (the bucket expressions) and ``columns``."""
    ws = ", ".join(f"{e} AS w{i}" for i, e in enumerate(_buckets(bucket)))
    return (f"SELECT {ws}, {columns} FROM {relation} "
            f"WHERE {cond} AND coalesce(status, 'ok') = 'ok'")


def _grouping(bucket: str | list[str], keys: str) -> tuple[str, str, str]:
    """(``g`` and ``w`` select expressions, GROUP BY clause) for grouping by each bucket
    expression in turn, together with ``keys``."""
    n = len(_buckets(bucket))
    extra = f", {keys}" if keys else ""
    if isinstance(bucket, str):
        return "0 AS g", "w0 AS w", f"GROUP BY w0{extra}"
    g = "CASE " + " ".join(f"WHEN GROUPING(w{i}) = 0 THEN {i}" for i in range(n)) + " END AS g"
    w = "CASE " + " ".join(f"WHEN GROUPING(w{i}) = 0 THEN w{i}::VARCHAR" for i in range(n)) + " END AS w"
    sets = ", ".join(f"(w{i}{extra})" for i in range(n))
    return g, w, f"GROUP BY GROUPING SETS ({sets})"


def binary_sql(cond: str, bucket: str | list[str], relation: str = "predictions_labelled") -> str:
    """Parameters: [positive, positive, threshold, *cond params]."""
    cols = ("labelled, CASE WHEN labelled AND label IS NOT NULL THEN (label = ?)::INTEGER END AS y, "
            "CASE WHEN prediction IS NOT NULL THEN (prediction = ?)::INTEGER "
            "WHEN score IS NOT NULL THEN (score >= ?)::INTEGER END AS yhat, score")
    g, w, group = _grouping(bucket, "labelled, y, yhat, sc")
    ok = "y IS NOT NULL AND sc IS NOT NULL"
    return f"""
WITH j AS MATERIALIZED (
  SELECT {g}, {w}, labelled, y, yhat, sc, count(*) AS c
  FROM (SELECT *, CASE WHEN y IS NOT NULL THEN score END AS sc
        FROM ({_rows(bucket, cols, relation, cond)}))
  {group}
), agg AS (
  SELECT g, w, sum(c)::BIGINT AS rows, coalesce(sum(c) FILTER (WHERE labelled), 0)::BIGINT AS labelled,
    sum(c) FILTER (WHERE y = 1 AND yhat = 1)::BIGINT AS tp,
    sum(c) FILTER (WHERE y = 0 AND yhat = 1)::BIGINT AS fp,
    sum(c) FILTER (WHERE y = 1 AND yhat = 0)::BIGINT AS fn,
    sum(c) FILTER (WHERE y = 0 AND yhat = 0)::BIGINT AS tn,
    sum(c) FILTER (WHERE yhat = 1)::BIGINT AS pred_pos, sum(c) FILTER (WHERE yhat IS NOT NULL)::BIGINT AS pred_n,
    sum(c) FILTER (WHERE {ok})::BIGINT AS n_s,
    fsum(c * -ln(CASE WHEN y = 1
         THEN greatest(least(sc, 1 - {EPS!r}), {EPS!r})
         ELSE greatest(least(1 - sc, 1 - {EPS!r}), {EPS!r}) END)) FILTER (WHERE {ok}) AS ll,
    fsum(c * ((y - sc) * (y - sc))) FILTER (WHERE {ok}) AS sq
  FROM j GROUP BY g, w
), s AS (
  SELECT g, w, sc AS score, coalesce(sum(c) FILTER (WHERE y = 1), 0) AS pos,
    coalesce(sum(c) FILTER (WHERE y = 0), 0) AS neg
  FROM j WHERE {ok} GROUP BY g, w, sc
), r AS (
  SELECT g, w, sum(pos)::BIGINT AS p, sum(neg)::BIGINT AS n,
    sum(pos::HUGEINT * (2 * coalesce(below, 0) + neg)) AS u2
  FROM (SELECT g, w, pos, neg, sum(neg) OVER (PARTITION BY g, w ORDER BY score
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS below FROM s)
  GROUP BY g, w
)
SELECT agg.*, r.p, r.n, r.u2::DOUBLE AS u2 FROM agg LEFT JOIN r ON agg.g = r.g AND agg.w IS NOT DISTINCT FROM r.w
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


def multiclass_sql(cond: str, bucket: str | list[str], relation: str = "predictions_labelled") -> str:
    cols = ("labelled, CASE WHEN labelled AND label IS NOT NULL AND prediction IS NOT NULL THEN label END AS y, "
            "CASE WHEN labelled AND label IS NOT NULL AND prediction IS NOT NULL THEN prediction END AS yh")
    g, w, group = _grouping(bucket, "labelled, y, yh")
    return f"""
WITH j AS MATERIALIZED (
  SELECT {g}, {w}, labelled, y, yh, count(*) AS c FROM ({_rows(bucket, cols, relation, cond)}) {group}
)
SELECT g, w, NULL AS label, NULL AS prediction, sum(c)::BIGINT AS n,
  coalesce(sum(c) FILTER (WHERE labelled), 0)::BIGINT AS labelled
FROM j GROUP BY g, w
UNION ALL
SELECT g, w, y, yh, sum(c)::BIGINT AS n, NULL AS labelled FROM j WHERE y IS NOT NULL GROUP BY g, w, y, yh
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


def regression_sql(cond: str, bucket: str | list[str], relation: str = "predictions_labelled") -> str:
    # the total sum of squares is n × the population variance, which DuckDB computes in one
    # stable streaming pass (Welford; exactly 0 for a constant target), so no second pass over rows
    cols = "labelled, label_num AS y, prediction_num AS yh"
    g, w, group = _grouping(bucket, "")
    ok = "FILTER (WHERE y IS NOT NULL AND yh IS NOT NULL)"
    return f"""
SELECT {g}, {w}, count(*) AS rows, count(*) FILTER (WHERE labelled) AS labelled,
  count(*) {ok} AS n,
  fsum(abs(y - yh)) {ok} AS sae,
  fsum((y - yh) * (y - yh)) {ok} AS sse,
  fsum(abs(y - yh) / greatest(abs(y), {EPS!r})) {ok} AS sape,
  var_pop(y) {ok} * count(*) {ok} AS sst
FROM ({_rows(bucket, cols, relation, cond)}) {group}
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


def compute_windows(cur, task: str, info: Any, cond: str, params: list[Any], bucket: str | list[str],
                    relation: str = "predictions_labelled") -> dict[Any, dict[str, Any]]:
    """``{bucket: {"rows", "labelled", "metrics", "counts"}}`` for one task; ``bucket`` is any
    SQL expression (a window id, or a slice value). With a list of expressions, all are computed
    in one query and the keys are ``(index of the expression, value as text)``."""
    multi = not isinstance(bucket, str)

    def key(g: int, w: Any) -> Any:
        return (int(g), w) if multi else w

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
            out[key(a["g"], a["w"])] = {"rows": int(a["rows"]), "labelled": int(a["labelled"]),
                                        "metrics": binary_metrics(a), "counts": counts}
    elif task == "multiclass":
        rows = cur.execute(multiclass_sql(cond, bucket, relation), params).fetchall()
        pairs: dict[Any, dict[tuple[str, str], int]] = defaultdict(dict)
        for g, w, label, pred, n, labelled in rows:
            if label is None and pred is None and labelled is not None:
                out[key(g, w)] = {"rows": int(n), "labelled": int(labelled)}
            else:
                pairs[key(g, w)][(label, pred)] = int(n)
        for k, entry in out.items():
            p = pairs.get(k, {})
            entry["metrics"] = multiclass_metrics(p)
            entry["counts"] = {"correct": sum(c for (y, yh), c in p.items() if y == yh),
                               "scored": sum(p.values()),
                               "pairs": [[y, yh, c] for (y, yh), c in sorted(p.items())]}
    else:
        res = cur.execute(regression_sql(cond, bucket, relation), params)
        cols = [d[0] for d in res.description]
        for row in res.fetchall():
            a = dict(zip(cols, row, strict=True))
            counts = {"scored": int(a["n"]), "sae": float(a["sae"] or 0.0), "sse": float(a["sse"] or 0.0)}
            out[key(a["g"], a["w"])] = {"rows": int(a["rows"]), "labelled": int(a["labelled"]),
                                        "metrics": regression_metrics(a), "counts": counts}
    return out
