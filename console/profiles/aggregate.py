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
(``cost_usd``, a regression's absolute and squared errors) stay ``math.fsum`` over the values
(fetched for those groups alone), so they are correctly rounded as ``profile_group``'s.

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


class _Plan:
    """The aggregate statement of one version's spec over a relation's columns, and how to read
    its result row back into profile rows."""

    def __init__(self, spec: VersionSpec, kinds: dict[str, str]):
        self.spec, self.kinds = spec, kinds
        self.inner: list[str] = []  # per-row expressions (inner SELECT)
        self.aggs: list[str] = []  # aggregates (outer SELECT)
        self.read: list[Callable[[list, Callable], None]] = []
        self.guards: list[int] = []  # aggregates: a text column's values DuckDB did not read as numbers
        self.ok = True
        self._n = 0
        self.i_rows = 0  # ``count(*)`` is the first aggregate
        self.i_cost: int | None = None
        self.cost = ""
        self.err: tuple[str, str] | None = None
        self.i_err_n = 0
        self.pairs: tuple[str, str, str] | None = None
        self.read_metrics: Callable[[list, Callable], None] | None = None
        self.terr: dict[str, str] = {}  # inner column of a text read as a number -> its type-error test
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
        i_err = self._agg(f"count(*) FILTER (WHERE {st} = 'error')")
        i_lab = self._agg(f"count(*) FILTER (WHERE {lb})")

        def read_head(r: list, add: Callable) -> None:
            add("rows", count=r[i_rows])
            add("errors", count=r[i_err])
            add("labelled", count=r[i_lab])

        self.read.append(read_head)
        numeric = [(name, src) for name, src, kind in spec.features if kind == "numeric"]
        for name, src in [(LATENCY, LATENCY), *numeric]:
            self._numeric(name, src)
        for name, src, kind in spec.features:
            if kind != "numeric":
                self._categorical(name, src)
        # cost: the count here, the fsum from the values (``sums``)
        cost = self._number(COST)
        if cost is None:
            self.ok = False
            return
        cv = self.cost = cost
        self.i_cost = self._agg(f"count(*) FILTER (WHERE isfinite({cv}))")
        self._metrics(st, lb, lp)

    def _number(self, src: str) -> str | None:
        """The inner column of ``src`` as a DOUBLE (``_num``); for a text column, its texts that
        DuckDB did not read are collected (``_parses`` checks them against Python's ``float``)
        and counted (``self.terr[name]``)."""
        num = _num(src, self._kind(src))
        if num is None:
            return None
        v = self._inner(num[0])
        if num[1]:
            t = self._inner(ident(src))
            terr = f"({t} IS NOT NULL AND {v} IS NULL)"
            self.guards.append(self._agg(f"list(DISTINCT {t}) FILTER (WHERE {terr})"))
            self.terr[v] = terr
        return v

    def _numeric(self, name: str, src: str) -> None:
        v = self._number(src)
        if v is None:
            self.ok = False
            return
        terr = self.terr.get(v)
        fin = f"isfinite({v})"
        i_fin = self._agg(f"count(*) FILTER (WHERE {fin})")
        i_terr = self._agg(f"count(*) FILTER (WHERE {terr})") if terr else None
        i_min = self._agg(f"min({v}) FILTER (WHERE {fin})")
        i_max = self._agg(f"max({v}) FILTER (WHERE {fin})")
        m = _mapping()
        low = _f(m.min_possible)
        i_zero = self._agg(f"count(*) FILTER (WHERE {fin} AND abs({v}) < {low})")
        # bucket k of a positive value as 2k, of a negative one as 2k + 1
        key = f"CAST(ceil(log2(abs({v})) * {_f(_multiplier(ALPHA))}) AS BIGINT)"
        big = f"{fin} AND abs({v}) >= {low}"  # (the expression is evaluated before the filter)
        i_sk = self._agg(f"histogram(CASE WHEN {big} THEN {key} * 2 + CAST({v} < 0 AS BIGINT) END) FILTER (WHERE {big})")
        edges = self.spec.edges.get(name) or ()
        hist = None
        if edges:
            e = [float(x) for x in edges]
            nb = len(e) - 1
            e0, ek = _f(e[0]), _f(e[-1])
            inside = f"{fin} AND {v} >= {e0} AND {v} <= {ek}"
            if nb >= 1 and e[-1] > e[0]:
                lst = "[" + ", ".join(_f(x) for x in e) + "]"
                a = self._inner(f"CASE WHEN {inside} THEN least(greatest(CAST(floor(({v} - {e0}) * "
                                f"{_f(nb / (e[-1] - e[0]))}) AS BIGINT), 0), {nb - 1}) END")
                # one step down when below its lower edge, one up when at or above the next one
                # (the last bin is closed: never past it)
                b = (f"({a} - CAST({v} < {lst}[{a} + 1] AS BIGINT) + "
                     f"CAST({a} < {nb - 1} AND {v} >= {lst}[{a} + 2] AS BIGINT))")
                i_body = self._agg(f"histogram({b}) FILTER (WHERE {inside})")
            else:
                i_body = None
            i_under = self._agg(f"count(*) FILTER (WHERE {fin} AND {v} < {e0})")
            i_over = self._agg(f"count(*) FILTER (WHERE {fin} AND {v} > {ek})")
            hist = (e, i_body, i_under, i_over)

        def read(r: list, add: Callable) -> None:
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
            for code, c in (r[i_sk] or {}).items():
                s = code & 1
                sk[f"{'-' if s else '+'}{(code - s) // 2}"] = int(c)
            for kk, c in sorted(sk.items()):
                add("sketch", name, kk, count=c)
            if hist is not None:
                e, i_body, i_under, i_over = hist
                for i, x in enumerate(e):
                    add("edge", name, f"{i:04d}", value=float(x))
                if r[i_under]:
                    add("hist", name, UNDER, count=int(r[i_under]))
                body = (r[i_body] or {}) if i_body is not None else {}
                for i in sorted(body):
                    if body[i]:
                        add("hist", name, f"{int(i):04d}", count=int(body[i]))
                if i_body is None:  # one degenerate bin: np.histogram's [e0, e0]
                    inside_n = int(nfin - r[i_under] - r[i_over])
                    if inside_n:
                        add("hist", name, f"{0:04d}", count=inside_n)
                if r[i_over]:
                    add("hist", name, OVER, count=int(r[i_over]))

        self.read.append(read)

    def _categorical(self, name: str, src: str) -> None:
        t = _text(src, self._kind(src))
        if t is None:
            self.ok = False
            return
        v = self._inner(t)
        i_miss = self._agg(f"count(*) FILTER (WHERE {v} IS NULL)")
        i_h = self._agg(f"histogram({v}) FILTER (WHERE {v} IS NOT NULL)")

        def read(r: list, add: Callable) -> None:
            add("missing", name, count=int(r[i_miss]))
            add("type_error", name, count=0)
            ranked = sorted(((str(a), int(c)) for a, c in (r[i_h] or {}).items()), key=lambda kv: (-kv[1], kv[0]))
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
            ok = f"{which} AND isfinite({pv}) AND isfinite({yv})"
            self.err = (f"{pv} - {yv}", ok)
            i_n = self._agg(f"count(*) FILTER (WHERE {ok})")
            self.i_err_n = i_n
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
                         f"WHEN isfinite({sv}) THEN {sv} >= {_f(thr)} END)")
            actual = f"({lt} = {literal(pos)})"
            idx = {}
            for cell, cond in (("tp", f"{predicted} AND {actual}"), ("fp", f"{predicted} AND NOT {actual}"),
                               ("fn", f"NOT {predicted} AND {actual}"), ("tn", f"NOT {predicted} AND NOT {actual}")):
                idx[cell] = self._agg(f"count(*) FILTER (WHERE {which} AND {cond})")

            def read(r: list, add: Callable) -> None:
                for cell, i in idx.items():
                    add("metric", "", cell, count=int(r[i]))

            self.read_metrics = read
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
    import warnings

    res = con.execute(f"SELECT * FROM ({relation}) LIMIT 0")
    reader = getattr(res, "to_arrow_reader", None) or res.fetch_record_batch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        schema = reader().schema
    return {f.name: _kind(f.type) for f in schema}


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
    rows: list[tuple] = []
    sums: list[tuple[Any, str, int]] = []
    done: set = set()
    for rec in result:
        day, r = rec[0], list(rec[1:])
        if any(_parses(t) for g in plan.guards for t in (r[g] or [])):
            rows += fallback(model, version, day)  # a text Python reads as a number and DuckDB not
            continue
        done.add(day)

        def add(stat: str, column: str = "", key: str = "", count: int | None = None,
                value: float | None = None, _day=day, _rows=rows) -> None:
            _rows.append((model, version, _day, stat, column, key, None if count is None else int(count), value))

        for read in plan.read:
            read(r, add)
        if plan.read_metrics is not None:
            plan.read_metrics(r, add)
        if plan.i_cost is not None:
            sums.append((day, "cost", int(r[plan.i_cost])))
        if plan.err is not None:
            sums.append((day, "err", int(r[plan.i_err_n])))
    rows += _sums(con, inner, plan, model, version, sums)
    if plan.pairs is not None and done:
        lt, pt, which = plan.pairs
        for day, lab, pred, c in con.execute(
                f"SELECT day, {lt}, {pt}, count(*) FROM ({inner}) WHERE {which} AND {pt} IS NOT NULL "
                "GROUP BY ALL").fetchall():
            if day in done:
                rows.append((model, version, day, "metric", "", json.dumps([lab, pred]), int(c), None))
    return rows


def _sums(con: Any, inner: str, plan: _Plan, model: str, version: str, sums: list) -> list[tuple]:
    """``math.fsum`` of the cost and of a regression's absolute and squared errors, per day,
    over the values of the days that have some (fetched once per kind, as NumPy arrays)."""
    rows: list[tuple] = []
    for kind in ("cost", "err"):
        days = [(d, n) for d, k, n in sums if k == kind]
        if not days:
            continue
        if kind == "cost":
            expr, cond = plan.cost, f"isfinite({plan.cost})"
        else:
            expr, cond = plan.err
        need = [d for d, n in days if n]
        per: dict[Any, np.ndarray] = {}
        if need:  # ordered by day: each day's values are the next ``n`` (its count above)
            res = con.execute(f"SELECT {expr} AS v FROM ({inner}) WHERE {cond} AND day IN "
                              f"({', '.join(literal(str(d)) + '::DATE' for d in need)}) ORDER BY day")
            v = res.fetchnumpy()["v"]
            v = np.asarray(v.filled(np.nan) if hasattr(v, "filled") else v, dtype=np.float64)
            counts = [n for _, n in days if n]
            if int(sum(counts)) != v.size:
                raise RuntimeError(f"profile sums of {model} {version}: {v.size} values for {sum(counts)} counted")
            for d, chunk in zip(need, np.split(v, np.cumsum(counts)[:-1]), strict=True):
                per[d] = chunk
        for day, n in days:
            vals = per.get(day, np.empty(0))
            if kind == "cost":
                rows.append((model, version, day, "sum", COST, "", n, math.fsum(vals.tolist())))
            else:
                rows.append((model, version, day, "metric", "", "n", n, None))
                rows.append((model, version, day, "metric", "", "abs", n, math.fsum(np.abs(vals).tolist())))
                rows.append((model, version, day, "metric", "", "sq", n, math.fsum((vals * vals).tolist())))
    return rows
