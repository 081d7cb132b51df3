"""The profiles of many ``(model, version, day)`` groups at once, as DuckDB aggregate statements.

``core.profile_group`` computes one group's profile from its rows in Python (Arrow, NumPy);
this module computes the same rows for every day of a ``(model, version)`` in one aggregate
statement grouped by day, so the rows never leave DuckDB: counts and missing values
(``count(*) FILTER``), exact ``min``/``max`` of the finite values, the histogram on the
reference's edges (``histogram`` of each value's bin number: ``floor`` arithmetic on the
edges, then corrected by one comparison each way against the edges themselves, so a value
on an edge lands where ``np.searchsorted`` puts it), the DDSketch bucket counts
(``histogram`` of ``ceil(log2(|v|)·multiplier)`` — the mapping ``core.sketch_keys`` applies
with NumPy), categorical value counts (``histogram``; the top ``TOP_K`` chosen in Python as
``profile_group`` does), the binary confusion cells and the multiclass pair counts. The sums
(``cost_usd``, a regression's absolute and squared errors) stay ``math.fsum`` of the values
(streamed, each day's kept exactly as a few floats: ``ExactSum``), so they are correctly
rounded as ``profile_group``'s.

Equality with ``profile_group`` is the contract (tests/test_profiles.py holds them equal):
text is derived as ``core.texts`` derives it (text columns as they are, booleans
``true``/``false``, integers in decimal); a column this module cannot derive the same way (a
float label or prediction read as text, a date as a category, a decimal) makes
``profile_relation`` return ``None`` and the caller profiles group by group with
``profile_group``. A text column read as a number (``numeric_values``: ``float(text)``) is
``TRY_CAST(… AS DOUBLE)`` here, and the texts it did not read are collected: a group where
Python's ``float`` reads one of them is handed to the caller's ``fallback``
(``profile_group``), so type errors are counted by Python's rule.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from console.profiles.core import (
    ALPHA,
    COST,
    LATENCY,
    OTHER,
    OVER,
    TOP_K,
    UNDER,
    VersionSpec,
    _mapping,
    _multiplier,
    text_of,
)
from console.store.sql import ident, literal

Fallback = Callable[[str, str, Any], list[tuple]]


def _kind(t: pa.DataType) -> str:
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text"
    return "other"


def _num(col: str, kind: str) -> tuple[str, str | None] | None:
    """``(DOUBLE expression, type-error condition or None)`` as ``core.numeric_values`` reads it."""
    c = ident(col)
    if kind == "null":
        return "CAST(NULL AS DOUBLE)", None
    if kind in ("bool", "int", "float"):
        return f"CAST({c} AS DOUBLE)", None
    if kind == "text":
        return f"TRY_CAST({c} AS DOUBLE)", f"({c} IS NOT NULL AND TRY_CAST({c} AS DOUBLE) IS NULL)"
    return None


def _text(col: str, kind: str) -> str | None:
    """A VARCHAR expression equal to ``core.texts`` of the column (None: not derivable here)."""
    c = ident(col)
    if kind == "null":
        return "CAST(NULL AS VARCHAR)"
    if kind == "text":
        return c
    if kind in ("bool", "int"):
        return f"CAST({c} AS VARCHAR)"  # 'true'/'false'; decimal integers
    return None


def _present(col: str, kind: str) -> str | None:
    """``texts(col)[i] is not None`` as SQL."""
    c = ident(col)
    if kind == "null":
        return "false"
    if kind == "float":
        return f"({c} IS NOT NULL AND NOT isnan({c}))"
    if kind in ("text", "bool", "int"):
        return f"({c} IS NOT NULL)"
    return None


def _f(x: float) -> str:
    """A DOUBLE literal that reads back as exactly ``x``."""
    return f"CAST({float(x)!r} AS DOUBLE)"


class _Counts:
    """Counts per ``(day, integer key)`` grown as keys arrive (a day-by-key array from ``lo``)."""

    def __init__(self, days: int):
        self.days, self.lo, self.arr = days, 0, np.zeros((days, 0), dtype=np.int64)

    def add(self, day: np.ndarray, keys: np.ndarray) -> None:
        if keys.size == 0:
            return
        k0, k1 = int(keys.min()), int(keys.max())
        if self.arr.shape[1] == 0:
            self.lo, self.arr = k0, np.zeros((self.days, k1 - k0 + 1), dtype=np.int64)
        lo, hi = min(self.lo, k0), max(self.lo + self.arr.shape[1] - 1, k1)
        if (lo, hi) != (self.lo, self.lo + self.arr.shape[1] - 1):
            grown = np.zeros((self.days, hi - lo + 1), dtype=np.int64)
            grown[:, self.lo - lo:self.lo - lo + self.arr.shape[1]] = self.arr
            self.lo, self.arr = lo, grown
        w = self.arr.shape[1]
        self.arr += np.bincount(day * w + (keys - self.lo), minlength=self.days * w).reshape(self.days, w)

    def of(self, day: int) -> dict[int, int]:
        row = self.arr[day] if self.arr.shape[1] else np.zeros(0, dtype=np.int64)
        nz = np.flatnonzero(row)
        return {int(k) + self.lo: int(row[k]) for k in nz}


class _Plan:
    """One version's spec over a relation's columns: the aggregate statement (counts, extremes),
    the columns streamed to NumPy (sketch buckets, bins, categories), and how to read both
    back into profile rows."""

    def __init__(self, spec: VersionSpec, kinds: dict[str, str]):
        self.spec, self.kinds = spec, kinds
        self.inner: list[str] = []  # per-row expressions (inner SELECT)
        self.aggs: list[str] = []  # aggregates (outer SELECT)
        self.read: list[Callable[..., None]] = []
        self.guards: list[int] = []  # aggregates: a text column's values DuckDB did not read as numbers
        self.ok = True
        self._n = 0
        self.i_rows = 0  # ``count(*)`` is the first aggregate
        self.i_cost: int | None = None
        self.cost = ""
        self.err: tuple[str, str] | None = None
        self.i_err_n = 0
        self.pairs: tuple[str, str, str] | None = None
        self.terr: dict[str, str] = {}  # inner column of a text read as a number -> its type-error test
        self.numbers: list[tuple[str, str, tuple[float, ...]]] = []  # streamed: (feature, column, edges)
        self.categories: list[tuple[str, str]] = []  # streamed: (feature, column)
        self._build()

    def _name(self) -> str:
        self._n += 1
        return f"_x{self._n}"

    def _inner(self, expr: str) -> str:
        name = self._name()
        self.inner.append(f"{expr} AS {name}")
        return name

    def _agg(self, expr: str) -> int:
        self.aggs.append(expr)
        return len(self.aggs) - 1

    def _kind(self, col: str) -> str:
        return self.kinds.get(col, "null")

    def _build(self) -> None:
        spec = self.spec
        k = self._kind
        status = _text("status", k("status"))
        label_present = _present("label", k("label"))
        if status is None or label_present is None:
            self.ok = False
            return
        lab_kind = k("labelled")
        if lab_kind == "bool":
            labelled = f"COALESCE({ident('labelled')}, {label_present})"
        elif lab_kind == "null":
            labelled = label_present
        else:
            self.ok = False
            return
        st = self._inner(status)
        lb = self._inner(labelled)
        lp = self._inner(label_present)
        i_rows = self._agg("count(*)")
        i_err = self._agg(f"count_if({st} = 'error')")
        i_lab = self._agg(f"count_if({lb})")
        i_lab_ok = self._agg(f"count_if({lb} AND coalesce({st}, 'ok') = 'ok')")

        def read_head(r: list, add: Callable, acc: dict, day: int) -> None:
            add("rows", count=r[i_rows])
            add("errors", count=r[i_err])
            add("labelled", count=r[i_lab])
            add("labelled_ok", count=r[i_lab_ok])

        self.read.append(read_head)
        numeric = [(name, src) for name, src, kind in spec.features if kind == "numeric"]
        for name, src in [(LATENCY, LATENCY), *numeric]:
            self._numeric(name, src)
        for name, src, kind in spec.features:
            if kind != "numeric":
                self._categorical(name, src)
        # cost: the count here, the fsum from the values (``_sums``)
        cost = self._number(COST)
        if cost is None:
            self.ok = False
            return
        self.cost = cost
        self.i_cost = self._agg(f"count({cost})")
        self._metrics(st, lb, lp)

    def _number(self, src: str) -> str | None:
        """The inner column of ``src`` as a finite DOUBLE or NULL (``_num``); for a text column,
        its texts that DuckDB did not read are collected (``_parses`` checks them against
        Python's ``float``) and counted (``self.terr[column]``)."""
        num = _num(src, self._kind(src))
        if num is None:
            return None
        v = self._inner(f"CASE WHEN isfinite({num[0]}) THEN {num[0]} END")
        if num[1]:
            te = self._inner(num[1])
            t = self._inner(ident(src))
            self.guards.append(self._agg(f"list(DISTINCT {t}) FILTER (WHERE {te})"))
            self.terr[v] = te
        return v

    def _numeric(self, name: str, src: str) -> None:
        v = self._number(src)
        if v is None:
            self.ok = False
            return
        te = self.terr.get(v)
        i_fin = self._agg(f"count({v})")
        i_terr = self._agg(f"count_if({te})") if te else None
        i_min = self._agg(f"min({v})")
        i_max = self._agg(f"max({v})")
        i_zero = self._agg(f"count_if(abs({v}) < {_f(_mapping().min_possible)})")
        edges = tuple(float(x) for x in (self.spec.edges.get(name) or ()))
        i_under = i_over = None
        if edges:
            i_under = self._agg(f"count_if({v} < {_f(edges[0])})")
            i_over = self._agg(f"count_if({v} > {_f(edges[-1])})")
        self.numbers.append((name, v, edges))

        def read(r: list, add: Callable, acc: dict, day: int) -> None:
            n, nfin = r[self.i_rows], r[i_fin]
            terrs = r[i_terr] if i_terr is not None else 0
            add("missing", name, count=int(n - nfin - terrs))
            if name != LATENCY:
                add("type_error", name, count=terrs)
            if nfin:
                add("min", name, value=float(r[i_min]))
                add("max", name, value=float(r[i_max]))
            sk: dict[str, int] = {}
            if r[i_zero]:
                sk["0"] = int(r[i_zero])
            for code, c in acc[(name, "sk")].of(day).items():
                neg = code & 1
                sk[f"{'-' if neg else '+'}{(code - neg) // 2}"] = c
            for kk, c in sorted(sk.items()):
                add("sketch", name, kk, count=c)
            if edges:
                for i, x in enumerate(edges):
                    add("edge", name, f"{i:04d}", value=x)
                if r[i_under]:
                    add("hist", name, UNDER, count=int(r[i_under]))
                body = acc[(name, "bins")][day]
                for i in np.flatnonzero(body):
                    add("hist", name, f"{int(i):04d}", count=int(body[i]))
                if r[i_over]:
                    add("hist", name, OVER, count=int(r[i_over]))

        self.read.append(read)

    def _categorical(self, name: str, src: str) -> None:
        t = _text(src, self._kind(src))
        if t is None:
            self.ok = False
            return
        v = self._inner(t)
        i_miss = self._agg(f"count_if({v} IS NULL)")
        self.categories.append((name, v))

        def read(r: list, add: Callable, acc: dict, day: int) -> None:
            add("missing", name, count=int(r[i_miss]))
            add("type_error", name, count=0)
            counts = acc[(name, "cat")].get(day, {})
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            for val, c in ranked[:TOP_K]:
                add("category", name, val, count=c)
            rest = sum(c for _, c in ranked[TOP_K:])
            if rest:
                add("category", name, OTHER, count=rest)

        self.read.append(read)

    def _metrics(self, st: str, lb: str, label_present: str) -> None:
        spec, k = self.spec, self._kind
        which = f"({lb} AND {label_present} AND ({st} IS NULL OR {st} = 'ok'))"
        if spec.task == "regression":
            pv, yv = self._number("prediction"), self._number("label")
            if pv is None or yv is None:
                self.ok = False
                return
            ok = f"{which} AND {pv} IS NOT NULL AND {yv} IS NOT NULL"
            self.err = (f"{pv} - {yv}", ok)
            self.i_err_n = self._agg(f"count_if({ok})")
            return
        pred, label = _text("prediction", k("prediction")), _text("label", k("label"))
        if pred is None or label is None:
            self.ok = False
            return
        pt, lt = self._inner(pred), self._inner(label)
        if spec.task == "binary":
            pos = text_of(spec.positive_label) if spec.positive_label is not None else "1"
            thr = spec.threshold if spec.threshold is not None else 0.5
            sv = self._number("score")
            if sv is None:
                self.ok = False
                return
            predicted = (f"(CASE WHEN {pt} IS NOT NULL THEN {pt} = {literal(pos)} "
                         f"WHEN {sv} IS NOT NULL THEN {sv} >= {_f(thr)} END)")
            actual = f"({lt} = {literal(pos)})"
            idx = {}
            for cell, cond in (("tp", f"{predicted} AND {actual}"), ("fp", f"{predicted} AND NOT {actual}"),
                               ("fn", f"NOT {predicted} AND {actual}"), ("tn", f"NOT {predicted} AND NOT {actual}")):
                idx[cell] = self._agg(f"count_if({which} AND {cond})")

            def read(r: list, add: Callable, acc: dict, day: int) -> None:
                for cell, i in idx.items():
                    add("metric", "", cell, count=int(r[i]))

            self.read.append(read)
            return
        self.pairs = (lt, pt, which)


def _parses(text: Any) -> bool:
    """Python's ``float`` reads ``text`` (``core.numeric_values``' rule)."""
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def relation_kinds(con: Any, relation: str) -> dict[str, str]:
    """Each column of ``relation`` as ``_kind`` of its Arrow type (what ``profile_group`` would get)."""
    return {f.name: _kind(f.type) for f in _reader(con.sql(f"SELECT * FROM ({relation}) LIMIT 0")).schema}


def _reader(rel: Any, rows: int = 1 << 20) -> Any:
    """A DuckDB relation's rows as Arrow record batches, streamed. A relation, not
    ``execute``'s result: that one is materialised whole before the first batch (6 GB for one
    version of 100M rows)."""
    return rel.to_arrow_reader(rows)


BATCH = 1 << 17  # rows per streamed batch: DuckDB's Arrow export holds a few ahead (1 << 19 added 400 MB to the peak)


def _bins(day: np.ndarray, x: np.ndarray, e: np.ndarray, days: int) -> np.ndarray:
    """Counts per day and bin of values inside ``[e[0], e[-1]]``: bin ``i`` holds
    ``e[i] <= x < e[i + 1]``, the last one also ``x == e[-1]`` (``core.histogram``'s bins)."""
    nb = e.size - 1
    b = np.minimum(np.searchsorted(e, x, side="right") - 1, nb - 1)
    return np.bincount(day * nb + b, minlength=days * nb).reshape(days, nb)


class ExactSum:
    """A running sum kept exactly, without the values: a few floats whose exact sum is that of
    every value added, so ``value()`` is ``math.fsum`` of all of them — correctly rounded, the
    same float whatever the order or the batches they came in. (Holding a version's costs for
    one ``fsum`` at the end was 8 bytes a row: 264 MB for 33M rows.) Each ``add`` takes the
    correctly rounded sum of the terms left, then of what that sum missed, until nothing is
    missed: ``fsum`` is correctly rounded, so it is 0 only when the exact rest is (2–3 passes)."""

    def __init__(self) -> None:
        self.parts: list[float] = []
        self.n = 0

    def add(self, values: list[float]) -> None:
        self.n += len(values)
        terms = self.parts + values
        parts: list[float] = []
        while (s := math.fsum(terms)) != 0.0:
            parts.append(s)
            terms.append(-s)  # what is left: the terms less every part found
        self.parts = parts

    def value(self) -> float:
        return math.fsum(self.parts)


def _stream(con: Any, inner: str, plan: _Plan, days: list) -> dict:
    """The sketch buckets, histogram bins and category counts of every day, from the rows
    streamed in batches: NumPy's ``ceil(log2(|v|)·multiplier)`` (``core.sketch_keys``' own
    expression), ``searchsorted`` on the edges (``core.histogram``'s bins), Arrow's group-by."""
    import pyarrow.compute as pc

    m = _mapping()
    mult = _multiplier(ALPHA)
    nd = len(days)
    acc: dict = {}
    for name, _v, edges in plan.numbers:
        acc[(name, "sk")] = _Counts(nd)
        if edges:
            acc[(name, "bins")] = np.zeros((nd, len(edges) - 1), dtype=np.int64)
    for name, _t in plan.categories:
        acc[(name, "cat")] = {}
    cols = [v for _, v, _ in plan.numbers] + [t for _, t in plan.categories]
    # the values summed with fsum (NULL where not counted), and a multiclass model's pairs
    cols.append(f"{plan.cost} AS _cost" if plan.cost else "CAST(NULL AS DOUBLE) AS _cost")
    cols.append(f"CASE WHEN {plan.err[1]} THEN {plan.err[0]} END AS _err" if plan.err else "CAST(NULL AS DOUBLE) AS _err")
    if plan.pairs is not None:
        lt, pt, which = plan.pairs
        ok = f"{which} AND {pt} IS NOT NULL"
        cols += [f"CASE WHEN {ok} THEN {lt} END AS _pl", f"CASE WHEN {ok} THEN {pt} END AS _pp"]
    acc["_cost"], acc["_err"], acc["_pairs"] = {}, {}, {}
    if not nd:
        return acc
    ordinals = np.array([d.toordinal() for d in days], dtype=np.int64)
    epoch = 719163  # date(1970, 1, 1).toordinal()
    reader = _reader(con.sql(f"SELECT day, {', '.join(cols)} FROM ({inner})"), BATCH)
    for batch in reader:
        dcol = batch.column(0).cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
        day = np.searchsorted(ordinals, dcol + epoch)
        for name, v, edges in plan.numbers:
            x = batch.column(v).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            a = np.abs(x)
            sel = a >= m.min_possible  # (NaN: false)
            if sel.any():
                xs = x[sel]
                keys = np.ceil(np.log2(a[sel]) * mult).astype(np.int64)
                acc[(name, "sk")].add(day[sel], keys * 2 + (xs < 0))  # 2k: positive, 2k + 1: negative
            if edges:
                e = np.asarray(edges, dtype=np.float64)
                inside = (x >= e[0]) & (x <= e[-1])
                acc[(name, "bins")] += _bins(day[inside], x[inside], e, nd)
        for name, t in plan.categories:
            col = batch.column(t)
            keep = pc.is_valid(col)
            g = pa.table({"d": pa.array(day), "v": col}).filter(keep).group_by(["d", "v"]).aggregate([("v", "count")])
            out = acc[(name, "cat")]
            for di, val, c in zip(g["d"].to_pylist(), g["v"].to_pylist(), g["v_count"].to_pylist(), strict=True):
                per = out.setdefault(di, {})
                per[val] = per.get(val, 0) + c
        for key in ("_cost", "_err"):
            x = batch.column(key)
            if x.null_count == len(x):
                continue
            v = x.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            keep = ~np.isnan(v)
            dk, vk = day[keep], v[keep]
            for di in np.unique(dk).tolist():
                got = vk[dk == di]
                if key == "_cost":
                    acc[key].setdefault(di, ExactSum()).add(got.tolist())
                else:  # a regression's absolute and squared errors
                    ab, sq = acc[key].setdefault(di, (ExactSum(), ExactSum()))
                    ab.add(np.abs(got).tolist())
                    sq.add((got * got).tolist())
        if plan.pairs is not None:
            lab = batch.column("_pl")
            g = pa.table({"d": pa.array(day), "l": lab, "p": batch.column("_pp")}).filter(pc.is_valid(lab))
            g = g.group_by(["d", "l", "p"]).aggregate([("l", "count")])
            for di, a, b, c in zip(g["d"].to_pylist(), g["l"].to_pylist(), g["p"].to_pylist(),
                                   g["l_count"].to_pylist(), strict=True):
                per = acc["_pairs"].setdefault(di, {})
                per[(a, b)] = per.get((a, b), 0) + c
    return acc


def profile_relation(con: Any, relation: str, model: str, version: str, spec: VersionSpec,
                     fallback: Fallback, kinds: dict[str, str] | None = None) -> list[tuple] | None:
    """The profile rows of every day of ``(model, version)`` in ``relation`` (a SELECT with the
    columns ``model, version, day`` and those ``profile_group`` reads), equal to
    ``profile_group`` per day; ``None`` when a column's type is one this module does not derive
    (module docstring). ``fallback(model, version, day)`` profiles a day by ``profile_group``."""
    kinds = kinds if kinds is not None else relation_kinds(con, relation)
    plan = _Plan(spec, kinds)
    if not plan.ok:
        return None
    where = f"model = {literal(model)} AND version = {literal(version)}"
    inner = f"SELECT day, {', '.join(plan.inner)} FROM ({relation}) WHERE {where}"
    result = con.execute(f"SELECT day, {', '.join(plan.aggs)} FROM ({inner}) GROUP BY day ORDER BY day").fetchall()
    days = [rec[0] for rec in result]
    acc = _stream(con, inner, plan, days)
    rows: list[tuple] = []
    for di, rec in enumerate(result):
        day, r = rec[0], list(rec[1:])
        if any(_parses(t) for g in plan.guards for t in (r[g] or [])):
            rows += fallback(model, version, day)  # a text Python reads as a number and DuckDB not
            continue

        def add(stat: str, column: str = "", key: str = "", count: int | None = None,
                value: float | None = None, _day=day, _rows=rows) -> None:
            _rows.append((model, version, _day, stat, column, key, None if count is None else int(count), value))

        for read in plan.read:
            read(r, add, acc, di)
        if plan.i_cost is not None:
            n, cost = int(r[plan.i_cost]), acc["_cost"].get(di) or ExactSum()
            if n != cost.n:
                raise RuntimeError(f"profile of {model} {version} {day}: {cost.n} costs for {n} counted")
            add("sum", COST, count=n, value=cost.value())
        if plan.err is not None:
            n, (ab, sq) = int(r[plan.i_err_n]), acc["_err"].get(di) or (ExactSum(), ExactSum())
            if n != ab.n:
                raise RuntimeError(f"profile of {model} {version} {day}: {ab.n} errors for {n} counted")
            add("metric", "", "n", count=n)
            add("metric", "", "abs", count=n, value=ab.value())
            add("metric", "", "sq", count=n, value=sq.value())
        if plan.pairs is not None:
            for (lab, pred), c in acc["_pairs"].get(di, {}).items():
                add("metric", "", json.dumps([lab, pred]), count=c)
    return rows
