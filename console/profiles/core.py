"""The profile schema, the computation of one ``(model, version, day)`` group, and the merge.

Both engines (``local``: DuckDB; ``spark``: PySpark's ``applyInPandas``) hand each group's rows
to ``profile_group`` as an Arrow table, so a profile's numbers do not depend on the engine: the
counts and histograms are integer counts, the sums are ``math.fsum`` (correctly rounded, so the
order rows arrive in cannot change them) and the sketch is a table of bucket counts.

**Schema** (``SCHEMA``, one Parquet file per model and day): a long table of
``model, version, day, stat, column, key, count, value``. ``stat`` is one of

=============  ==========  =================  ======================================================
stat           column      key                count / value
=============  ==========  =================  ======================================================
``rows``       ``""``      ``""``             rows of the group
``errors``     ``""``      ``""``             rows with ``status = 'error'``
``labelled``   ``""``      ``""``             rows with a label
``labelled_ok````""``      ``""``             rows with a label and status ``ok`` (or none): the
                                              performance report's ``labelled``
``missing``    feature     ``""``             null (numeric: also NaN/±inf) values
``type_error`` feature     ``""``             numeric feature: a non-null value that is not a number
``category``   feature     value or OTHER     categorical value counts: the day's top ``TOP_K``
                                              values, the rest summed under ``OTHER``
``edge``       feature     ``"0007"``         value: the reference's bin edge number 7
``hist``       feature     UNDER, ``"0003"``  counts per reference bin ([a, b), the last one
                           or OVER            closed), below the first / above the last edge
``min``/``max`` feature    ``""``             value: the exact extreme of the finite values
``sketch``     feature     ``"+k"``/``"-k"``  DDSketch bucket ``k`` of positive / negative values,
                           or ``"0"``         or the zero bucket (count)
``sum``        ``cost_usd````""``             value: the sum of ``cost_usd``; count: the non-null
``metric``     ``""``      see below          labelled rows only
=============  ==========  =================  ======================================================

``latency_ms`` is profiled like a numeric feature (missing, min/max, sketch). ``metric`` counts
the rows the performance report scores (``console.analytics.metrics``): labelled, with a label,
status ``ok`` (or none). Keys: binary — ``tp``/``fp``/``fn``/``tn`` (predicted positive:
``prediction == positive_label`` when a prediction was logged, else ``score >= threshold``
(default 0.5); a row with neither is not counted; actual positive: ``label == positive_label``,
default ``"1"``); regression — ``n`` (count), ``abs`` and ``sq`` (value: sums of absolute /
squared errors); multiclass (and any model whose task is unknown) — ``["label", "prediction"]``
as JSON (count; rows with a prediction). ``FORMAT`` is part of every profile's fingerprint, so
profiles written by an older rule are recomputed.

**Merging** (``merge``) a set of profiles adds counts and values per ``(stat, column, key)``
and takes the least ``min`` and greatest ``max``: every statistic above except the category
top-K is exactly the statistic of the union of the days. A value outside one day's top-K is in
that day's ``OTHER``, so a merged category count is exact for every value that made each day's
top-K (always when a feature has at most ``TOP_K`` distinct values a day).

**Quantiles** come from the merged sketch: DDSketch (the ``ddsketch`` library's logarithmic
mapping) with relative accuracy ``ALPHA``: for the order statistic ``x`` at rank
``⌊q·(n−1)⌋`` the answer ``x̂`` satisfies ``|x̂ − x| ≤ ALPHA·|x|`` (zero and values below the
mapping's smallest indexable value, ~2e-308, are the zero bucket). Bucket keys are computed with
NumPy's vectorised form of the library's mapping (``ceil(log2(v)·multiplier)``), and decoded
with the library's ``value``; answers are clamped to the exact min/max.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

FORMAT = 3  # 2: metric counts follow the performance report's rows and predicted class; 3: labelled_ok
ALPHA = 0.01  # the sketch's relative accuracy
TOP_K = 50  # categorical values kept per day (the rest are summed under OTHER)
OTHER = "\x00other"
UNDER = "<"
OVER = ">"
LATENCY = "latency_ms"
COST = "cost_usd"

SCHEMA = pa.schema([
    ("model", pa.string()), ("version", pa.string()), ("day", pa.date32()),
    ("stat", pa.string()), ("column", pa.string()), ("key", pa.string()),
    ("count", pa.int64()), ("value", pa.float64()),
])
FIELDS = [f.name for f in SCHEMA]


def _multiplier(alpha: float) -> float:
    """``ddsketch.mapping.LogarithmicMapping``'s multiplier for ``alpha``."""
    return math.log(2) / math.log1p(2 * alpha / (1 - alpha))


def _mapping():
    from ddsketch.mapping import LogarithmicMapping

    return LogarithmicMapping(ALPHA)


@dataclass(frozen=True)
class VersionSpec:
    """What to profile for one ``(model, version)``: its features as ``(name, source column,
    kind)``, each numeric feature's reference bin edges (none: no histogram), and the task
    fields the metric table needs."""

    features: tuple[tuple[str, str, str], ...]
    edges: dict[str, tuple[float, ...]] = field(default_factory=dict)
    task: str | None = None
    positive_label: str | None = None
    threshold: float | None = None


def reference_edges(values: np.ndarray) -> tuple[float, ...]:
    """The fixed bin edges of a numeric feature taken from its reference alone: NumPy's
    Sturges edges over the reference's finite values (what the drift report uses with the
    current side added). Empty when the reference has no finite value."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return ()
    return tuple(float(e) for e in np.histogram_bin_edges(v, bins="sturges"))


# -- one group's values -------------------------------------------------------------------


def text_of(value: Any) -> str | None:
    """The canonical text of a label/prediction/category value: integral numbers without
    ``.0`` (``1.0`` → ``"1"``, as the store's views), booleans ``true``/``false``."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            return None
        return str(int(f)) if f.is_integer() and abs(f) < 2**63 else repr(f)
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def texts(arr: pa.ChunkedArray | pa.Array) -> list[str | None]:
    """``text_of`` of every value (text columns as they are, without a Python call per value)."""
    if _is_text(arr.type):
        return arr.to_pylist()
    return [text_of(v) for v in arr.to_pylist()]


def value_counts(arr: pa.ChunkedArray | pa.Array) -> tuple[dict[str, int], int]:
    """``{text: count}`` of the non-null values and the null count."""
    if _is_text(arr.type):
        import pyarrow.compute as pc

        vc = pc.value_counts(arr.drop_null())
        vals, cnts = vc.field("values").to_pylist(), vc.field("counts").to_pylist()
        return {v: int(c) for v, c in zip(vals, cnts, strict=True) if v is not None}, arr.null_count
    counts: dict[str, int] = defaultdict(int)
    missing = 0
    for v in texts(arr):
        if v is None:
            missing += 1
        else:
            counts[v] += 1
    return dict(counts), missing


def numeric_values(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, int]:
    """A column as float64 (null/NaN/±inf and non-numbers as NaN) and its type-error count:
    non-null values of a text column that do not read as a number."""
    t = arr.type
    if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
        vals = arr.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        return np.where(np.isfinite(vals), vals, np.nan), 0
    out = np.full(len(arr), np.nan)
    errors = 0
    for i, v in enumerate(arr.to_pylist()):
        if v is None:
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            errors += 1
            continue
        if math.isfinite(f):
            out[i] = f
    return out, errors


def histogram(values: np.ndarray, edges: tuple[float, ...]) -> tuple[int, np.ndarray, int]:
    """Finite ``values`` below ``edges[0]``, per bin ([a, b), the last one closed, as
    ``np.histogram``), above ``edges[-1]``."""
    v = np.sort(values[np.isfinite(values)])
    e = np.asarray(edges, dtype=np.float64)
    idx = np.empty(e.size, dtype=np.int64)
    idx[:-1] = np.searchsorted(v, e[:-1], side="left")
    idx[-1] = np.searchsorted(v, e[-1], side="right")
    return int(idx[0]), np.diff(idx), int(v.size - idx[-1])


def sketch_keys(values: np.ndarray) -> dict[str, int]:
    """DDSketch bucket counts of the finite ``values`` (``"+k"``, ``"-k"``, ``"0"``)."""
    v = values[np.isfinite(values)]
    out: dict[str, int] = {}
    if v.size == 0:
        return out
    m = _mapping()
    mult = _multiplier(ALPHA)
    small = np.abs(v) < m.min_possible
    if small.any():
        out["0"] = int(small.sum())
    for sign, sel in (("+", v >= m.min_possible), ("-", v <= -m.min_possible)):
        if not sel.any():
            continue
        keys = np.ceil(np.log2(np.abs(v[sel])) * mult).astype(np.int64)
        k, c = np.unique(keys, return_counts=True)
        out.update({f"{sign}{int(a)}": int(b) for a, b in zip(k, c, strict=True)})
    return out


def _col(table: pa.Table, name: str, n: int) -> pa.ChunkedArray | pa.Array:
    return table.column(name) if name in table.column_names else pa.nulls(n)


def profile_group(model: str, version: str, day: dt.date, table: pa.Table, spec: VersionSpec) -> list[tuple]:
    """The profile rows (``FIELDS`` order) of one group's rows. ``table`` has the columns
    ``status, prediction, score, label, labelled, latency_ms, cost_usd`` and each feature's
    source column (any of them may be absent: all missing)."""
    n = table.num_rows
    rows: list[tuple] = []

    def add(stat: str, column: str = "", key: str = "", count: int | None = None, value: float | None = None):
        rows.append((model, version, day, stat, column, key, count, value))

    status = texts(_col(table, "status", n))
    labelled_col = _col(table, "labelled", n).to_pylist()
    labels = texts(_col(table, "label", n))
    labelled = [bool(flag) if flag is not None else lab is not None for flag, lab in zip(labelled_col, labels, strict=True)]
    add("rows", count=n)
    add("errors", count=sum(1 for s in status if s == "error"))
    add("labelled", count=sum(labelled))
    add("labelled_ok", count=sum(1 for lab, st in zip(labelled, status, strict=True) if lab and st in (None, "ok")))

    numeric = [(name, src) for name, src, kind in spec.features if kind == "numeric"]
    for name, src in [(LATENCY, LATENCY), *numeric]:
        vals, type_errors = numeric_values(_col(table, src, n))
        finite = vals[np.isfinite(vals)]
        add("missing", name, count=int(n - finite.size - type_errors))
        if name != LATENCY:
            add("type_error", name, count=type_errors)
        if finite.size:
            add("min", name, value=float(finite.min()))
            add("max", name, value=float(finite.max()))
        for k, c in sorted(sketch_keys(finite).items()):
            add("sketch", name, k, count=c)
        edges = spec.edges.get(name) or ()
        if edges:
            for i, e in enumerate(edges):
                add("edge", name, f"{i:04d}", value=float(e))
            under, body, over = histogram(finite, edges)
            if under:
                add("hist", name, UNDER, count=under)
            for i, c in enumerate(body.tolist()):
                if c:
                    add("hist", name, f"{i:04d}", count=int(c))
            if over:
                add("hist", name, OVER, count=over)

    for name, src, kind in spec.features:
        if kind == "numeric":
            continue
        counts, missing = value_counts(_col(table, src, n))
        add("missing", name, count=missing)
        add("type_error", name, count=0)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        for v, c in ranked[:TOP_K]:
            add("category", name, v, count=c)
        rest = sum(c for _, c in ranked[TOP_K:])
        if rest:
            add("category", name, OTHER, count=rest)

    costs, _ = numeric_values(_col(table, COST, n))
    cost = costs[np.isfinite(costs)]
    add("sum", COST, count=int(cost.size), value=math.fsum(cost.tolist()))

    _metrics(table, n, labels, labelled, spec, add)
    return rows


def _metrics(table: pa.Table, n: int, labels: list, labelled: list[bool], spec: VersionSpec, add) -> None:
    preds = texts(_col(table, "prediction", n))
    status = texts(_col(table, "status", n))
    which = [i for i in range(n) if labelled[i] and labels[i] is not None and status[i] in (None, "ok")]
    if spec.task == "regression":
        p, _ = numeric_values(_col(table, "prediction", n))
        y, _ = numeric_values(_col(table, "label", n))
        idx = np.array(which, dtype=np.int64)
        ok = idx[np.isfinite(p[idx]) & np.isfinite(y[idx])] if idx.size else idx
        err = p[ok] - y[ok]
        add("metric", "", "n", count=int(ok.size))
        add("metric", "", "abs", count=int(ok.size), value=math.fsum(np.abs(err).tolist()))
        add("metric", "", "sq", count=int(ok.size), value=math.fsum((err * err).tolist()))
        return
    if spec.task == "binary":
        pos = text_of(spec.positive_label) if spec.positive_label is not None else "1"
        threshold = spec.threshold if spec.threshold is not None else 0.5
        scores, _ = numeric_values(_col(table, "score", n))
        cells = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        for i in which:
            if preds[i] is not None:
                predicted = preds[i] == pos
            elif np.isfinite(scores[i]):
                predicted = bool(scores[i] >= threshold)
            else:
                continue
            actual = labels[i] == pos
            cells[("t" if predicted == actual else "f") + ("p" if predicted else "n")] += 1
        for k, c in cells.items():
            add("metric", "", k, count=c)
        return
    pairs: dict[tuple, int] = defaultdict(int)
    for i in which:
        if preds[i] is not None:
            pairs[(labels[i], preds[i])] += 1
    for (lab, pred), c in sorted(pairs.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        add("metric", "", json.dumps([lab, pred]), count=c)


def to_table(rows: Iterable[tuple]) -> pa.Table:
    """Profile rows as an Arrow table of ``SCHEMA``, in a canonical order."""
    rows = sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3], r[4], r[5]))
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in FIELDS]
    return pa.table({f.name: pa.array(list(c), type=f.type) for f, c in zip(SCHEMA, cols, strict=True)},
                    schema=SCHEMA)


# -- merging and answering ------------------------------------------------------------------


@dataclass
class Merged:
    """The merge of a set of profiles: per ``(stat, column, key)`` a count and a value."""

    count: dict[tuple[str, str, str], int]
    value: dict[tuple[str, str, str], float]
    days: int
    _index: dict[tuple[str, str], dict[str, int]] | None = field(default=None, repr=False, compare=False)

    def get(self, stat: str, column: str = "", key: str = "") -> int:
        return self.count.get((stat, column, key), 0)

    def keyed(self, stat: str, column: str = "") -> dict[str, int]:
        """``{key: count}`` of one stat of one column (indexed once, on the first call)."""
        if self._index is None:
            index: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
            for (s, col, k), c in self.count.items():
                index[(s, col)][k] = c
            self._index = dict(index)
        return dict(self._index.get((stat, column), {}))


def merge(profiles: pa.Table) -> Merged:
    """Merge profile rows (any days, versions or models: filter first): counts and values are
    summed (``sum``/``metric`` values with ``math.fsum``); ``min``/``max`` take the extreme;
    ``edge`` rows must agree (a version's edges). Grouped by Arrow: O(profile rows); the rules
    are ``merged``'s."""
    import pyarrow.compute as pc

    keys = ["stat", "column", "key"]
    days = len(profiles.select(["model", "version", "day"]).group_by(["model", "version", "day"]).aggregate([]))
    g = profiles.group_by(keys).aggregate([("count", "sum"), ("value", "min"), ("value", "max")])
    # the counts (most rows: sketch buckets, bins, categories) built by ``dict(zip(...))`` in C;
    # the Python loop only over the few rows with a value
    c = g.filter(pc.is_valid(g["count_sum"]))
    count: dict[tuple[str, str, str], int] = dict(zip(
        zip(c["stat"].to_pylist(), c["column"].to_pylist(), c["key"].to_pylist(), strict=True),
        c["count_sum"].to_pylist(), strict=True))
    d = g.filter(pc.is_valid(g["value_min"])).to_pydict()
    summed = profiles.filter(pc.is_in(profiles["stat"], pa.array(SUMMED))).to_pydict()
    return merged(count, zip(d["stat"], d["column"], d["key"], d["value_min"], d["value_max"], strict=True),
                  zip(summed["stat"], summed["column"], summed["key"], summed["value"], strict=True), days)


SUMMED = ("sum", "metric")  # the stats whose values add up (with ``math.fsum``)


def merged(count: dict[tuple[str, str, str], int], extremes: Iterable[tuple], summed: Iterable[tuple],
           days: int) -> Merged:
    """The merge (``merge``'s rules) from profile rows already grouped by ``(stat, column, key)``,
    however they were grouped (Arrow in ``merge``, DuckDB in ``local.merge_days``): ``count``
    the groups' non-null sums of counts; ``extremes`` the groups with a value, ``(stat, column,
    key, least value, greatest value)``; ``summed`` the ``SUMMED`` stats' rows, ``(stat, column,
    key, value)``, ungrouped."""
    value: dict[tuple[str, str, str], float] = {}
    for stat, col, key, lo, hi in extremes:
        k = (stat, col, key)
        if stat == "min":
            value[k] = lo
        elif stat == "max":
            value[k] = hi
        elif stat == "edge":
            if lo != hi:
                raise ValueError(f"profiles of {col} were binned on different edges: merge one version at a time")
            value[k] = lo
    parts: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for stat, col, key, v in summed:
        if v is not None:
            parts[(stat, col, key)].append(v)
    for k, vs in parts.items():
        value[k] = math.fsum(vs)
    return Merged(count, value, days)


def hist_counts(m: Merged, column: str) -> tuple[list[float], list[int]]:
    """The reference edges of ``column`` and the merged counts: ``[under, bin 0, …, over]``."""
    edges = [m.value[k] for k in sorted(k for k in m.value if k[0] == "edge" and k[1] == column)]
    h = m.keyed("hist", column)
    body = [h.get(f"{i:04d}", 0) for i in range(max(len(edges) - 1, 0))]
    return edges, [h.get(UNDER, 0), *body, h.get(OVER, 0)]


def quantiles(m: Merged, column: str, qs: Iterable[float]) -> list[float | None]:
    """Quantiles of ``column`` from the merged sketch (relative error ``ALPHA``; see above),
    clamped to the exact min/max. ``None`` when there is no value."""
    mapping = _mapping()
    sk = m.keyed("sketch", column)
    neg = sorted((int(k[1:]), c) for k, c in sk.items() if k.startswith("-"))
    pos = sorted((int(k[1:]), c) for k, c in sk.items() if k.startswith("+"))
    zero = sk.get("0", 0)
    n_neg = sum(c for _, c in neg)
    total = n_neg + zero + sum(c for _, c in pos)
    lo, hi = m.value.get(("min", column, "")), m.value.get(("max", column, ""))
    out: list[float | None] = []
    for q in qs:
        if total == 0:
            out.append(None)
            continue
        rank = q * (total - 1)
        if rank < n_neg:
            target = n_neg - rank - 1  # negative buckets from the largest magnitude down
            acc = 0
            x = 0.0
            for k, c in neg:
                acc += c
                if acc > target:
                    x = -mapping.value(k)
                    break
        elif rank < n_neg + zero:
            x = 0.0
        else:
            target = rank - n_neg - zero
            acc = 0
            x = 0.0
            for k, c in pos:
                acc += c
                if acc > target:
                    x = mapping.value(k)
                    break
        if lo is not None:
            x = min(max(x, lo), hi)
        out.append(x)
    return out


def sketch_points(m: Merged, column: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The merged sketch of ``column`` as weighted points — each bucket's value, clamped to the
    exact min/max — sorted and distinct (buckets clamped to the same bound are one point), with
    their counts, and the mean distance of a counted value from its
    point: at most ``ALPHA / (1 − ALPHA)`` of the point's magnitude (a value in bucket ``k`` is
    within ``ALPHA`` of ``mapping.value(k)`` relative to itself), and ``min_possible`` for the
    zero bucket. Empty arrays when there is no value."""
    mapping = _mapping()
    sk = m.keyed("sketch", column)
    if not sk:
        return np.empty(0), np.empty(0), 0.0
    keys = list(sk)
    w = np.array([sk[k] for k in keys], dtype=np.float64)
    zero = np.array([k == "0" for k in keys])
    sign = np.array([-1.0 if k[0] == "-" else 1.0 for k in keys])
    k = np.array([0 if k == "0" else int(k[1:]) for k in keys], dtype=np.float64)
    # ``mapping.value(k)``, vectorised: γ^k · 2 / (1 + γ) (offset 0)
    x = np.where(zero, 0.0, sign * np.power(2.0, k / mapping._multiplier) * (2.0 / (1 + mapping.gamma)))
    far = ALPHA / (1 - ALPHA) * np.abs(x)
    far[x == 0] = mapping.min_possible
    slack = float(np.dot(far, w) / w.sum())
    lo, hi = m.value.get(("min", column, "")), m.value.get(("max", column, ""))
    if lo is not None and hi is not None:
        x = np.clip(x, lo, hi)  # (every value lies inside: no value moves further from its point)
    x, inverse = np.unique(x, return_inverse=True)
    return x, np.bincount(inverse, weights=w), slack


def cdf_integral(ref_sorted: np.ndarray) -> np.ndarray:
    """``G[i]`` = ∫ F(t) dt from −∞ to ``ref_sorted[i]``, F the empirical CDF of the sorted values:
    with it, ``wasserstein_to_points`` integrates |F − c| over any interval in O(log n)."""
    n = ref_sorted.size
    g = np.zeros(n, dtype=np.float64)
    if n > 1:
        g[1:] = np.cumsum(np.arange(1, n, dtype=np.float64) / n * np.diff(ref_sorted))
    return g


def wasserstein_to_points(ref_sorted: np.ndarray, g: np.ndarray, x: np.ndarray, w: np.ndarray) -> float:
    """The Wasserstein-1 distance between the sorted values ``ref_sorted`` (``g``: their
    ``cdf_integral``) and the points ``x`` (sorted, distinct) weighted ``w`` — scipy's
    ``wasserstein_distance(ref_sorted, x, None, w)``, in O(len(x) · log n): ∫ |F − C| dt, with
    the points' CDF C constant between two of them, F's integral read off ``g``."""
    a, n = ref_sorted, ref_sorted.size

    def big_g(t: np.ndarray) -> np.ndarray:  # ∫ F from −∞ to t
        i = np.searchsorted(a, t, side="right") - 1
        j = np.maximum(i, 0)
        return np.where(i < 0, 0.0, g[j] + (j + 1) / n * (t - a[j]))

    c = np.cumsum(w) / w.sum()  # C on [x[k], x[k + 1])
    lo, hi = x[:-1], x[1:]
    cc = c[:-1]
    # F ≥ c from the m-th value on (m = ⌈c·n⌉): below it, c − F > 0; from it, F − c ≥ 0
    m = np.clip(np.ceil(cc * n - 1e-9).astype(np.int64), 1, n)
    cross = np.clip(a[m - 1], lo, hi)
    g_lo, g_x, g_hi = big_g(lo), big_g(cross), big_g(hi)
    body = (cc * (cross - lo) - (g_x - g_lo)) + ((g_hi - g_x) - cc * (hi - cross))
    total = float(big_g(x[:1])[0]) + float(body.sum())  # below the first point, C = 0
    if x[-1] < a[-1]:  # above the last point, C = 1
        total += float((a[-1] - x[-1]) - (g[-1] - big_g(x[-1:])[0]))
    return total


def sketch_wasserstein(ref_sorted: np.ndarray, m: Merged, column: str,
                       g: np.ndarray | None = None) -> tuple[float, float] | None:
    """The Wasserstein-1 distance between the reference values and the current values of
    ``column`` as the merged sketch holds them, and its bound: the exact distance (the drift
    report's, on the raw values) differs from it by at most that bound — moving each value to its
    bucket's point moves the distance by at most the mean move (``sketch_points``). ``None``
    without a value on either side. ``g``: the reference's ``cdf_integral``, when remembered."""
    x, w, slack = sketch_points(m, column)
    if not x.size or not ref_sorted.size:
        return None
    g = cdf_integral(ref_sorted) if g is None else g
    return wasserstein_to_points(ref_sorted, g, x, w), slack


def binned_drift(ref_counts: list[int], cur_counts: list[int], method: str) -> float:
    """A binned drift score over the same bins, with the drift report's statistics
    (``console.analytics.stats``): ``psi``, ``jensenshannon`` or ``chisquare``. Empty bins on
    both sides are dropped first (they carry no mass; Evidently's bins are never empty on both
    sides as they come from the data)."""
    from console.analytics import stats

    keep = [i for i, (a, b) in enumerate(zip(ref_counts, cur_counts, strict=True)) if a or b]
    r = np.array([ref_counts[i] for i in keep], dtype=np.float64)
    c = np.array([cur_counts[i] for i in keep], dtype=np.float64)
    if method == "psi":
        return stats.psi(r / r.sum(), c / c.sum())
    if method == "jensenshannon":
        return stats.jensenshannon(r / r.sum(), c / c.sum())
    if method == "chisquare":
        return stats.chisquare_test({i: int(a) for i, a in enumerate(r)}, {i: int(b) for i, b in enumerate(c)})
    raise ValueError(f"no binned drift method {method!r}")
