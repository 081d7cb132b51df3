"""Drift's data: the values of every tested column of one side of a comparison, fetched at once.

A side (the reference, or the current rows of one window) becomes a ``SideData``: per column,
numeric values as one *sorted* float64 array of the finite values, categorical values as
``{text: count}``, and the number of missing values (null, and for numeric columns NaN/±inf).
Every drift statistic is computed from these, so how the rows were fetched never changes a
number:

- **store parts** (``PartsIndex``): a real store keeps predictions as immutable Parquet parts
  per ``(model, day)`` folder (``console.store.layout``). A window reads only the parts of its
  days with pyarrow (categorical columns as dictionaries), skips the ``version``/``ts`` filter
  when a part's footer statistics show it is not needed, and reads each part once however
  many windows it serves. The parts' names and sizes are also the window's *data fingerprint*
  for the cache — no query at all, and a late part in a day changes only that day's windows.
- **SQL** (``sql_side``): any other relation (the ``predictions`` view of a store without
  parts, a registered table): one query per side selecting every column, cast as the view
  casts them (``::DOUBLE``, ``::VARCHAR``).

A part whose column types differ from what the view would give (a numeric feature stored as
text, a categorical one stored as numbers) makes ``PartsIndex`` answer ``None`` and the caller
falls back to SQL, which casts exactly as the views do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from console import clock
from console.analytics.windows import to_epoch_us
from console.store.layout import PartFile
from console.store.snapshot import StoreSnapshot
from console.store.sql import ident

_US = dt.timedelta(microseconds=1)


class Unsupported(Exception):
    """The parts cannot be read as the view would read them: use SQL instead."""


# -- one side's values ----------------------------------------------------------------------


@dataclass
class Column:
    """One column of one side: sorted finite values (numeric) or counts (categorical)."""

    kind: str
    rows: int
    missing: int
    values: np.ndarray | None = None  # numeric: sorted finite float64
    counts: dict[str, int] | None = None  # categorical: non-null value -> count
    outside: tuple[int, int] | None = None  # numeric read against bounds: finite values below / above them
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def missing_share(self) -> float | None:
        return self.missing / self.rows if self.rows else None

    def memo(self, name: str, compute) -> Any:
        """A derived value computed once (a reference column serves many windows)."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]


@dataclass
class SideData:
    rows: int
    columns: dict[str, Column]


class SideBuilder:
    """Accumulates Arrow tables (or slices of them) into a ``SideData``.

    ``bounds`` (numeric column → ``(lo, hi)``): those columns keep no values, only how many
    finite values fell below ``lo`` and above ``hi`` (``Column.outside``) — what the data
    quality rules ask of the current rows, in memory that does not grow with the window."""

    def __init__(self, cols: list[tuple[str, str]], bounds: dict[str, tuple[float, float]] | None = None):
        self.cols = cols
        self.rows = 0
        self.bounds = bounds or {}
        self._tally: dict[str, list[int]] = {c: [0, 0, 0] for c in self.bounds}  # finite, below, above
        self._num: dict[str, list[np.ndarray]] = {c: [] for c, k in cols if k == "numeric" and c not in self.bounds}
        self._missing: dict[str, int] = {c: 0 for c, _ in cols}
        self._counts: dict[str, dict[str, int]] = {c: {} for c, k in cols if k != "numeric"}

    def add(self, table, mask: np.ndarray | None = None, copy: bool = False) -> None:
        """Rows of ``table`` (where ``mask``, when given); a column it lacks is all missing.
        ``copy``: keep copies of its numeric values, never views (a view keeps the whole table
        alive: a streamed batch is dropped once added)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        n = table.num_rows if mask is None else int(np.count_nonzero(mask))
        if n == 0:
            return
        self.rows += n
        names = set(table.column_names)
        amask = None if mask is None else pa.array(mask)
        for col, kind in self.cols:
            if col not in names:
                self._missing[col] += n
                continue
            arr = table.column(col)
            if kind == "numeric":
                t = arr.type
                if not pa.types.is_floating(t):
                    if not (pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_null(t)):
                        raise Unsupported(f"{col} is {t}")
                    arr = arr.cast(pa.float64())
                values = arr.to_numpy(zero_copy_only=False)  # a batch's Array as a table's ChunkedArray
                if mask is not None:
                    values = values[mask]
                if col in self.bounds:
                    finite = values[np.isfinite(values)]
                    lo, hi = self.bounds[col]
                    tally = self._tally[col]
                    tally[0] += int(finite.size)
                    tally[1] += int(np.count_nonzero(finite < lo))
                    tally[2] += int(np.count_nonzero(finite > hi))
                    continue
                if copy and mask is None and not values.flags.owndata:
                    values = values.copy()
                self._num[col].append(values)  # nulls are NaN; non-finite values go at sort time
            else:
                t = arr.type
                if pa.types.is_dictionary(t):
                    t = t.value_type
                if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
                    raise Unsupported(f"{col} is {t}")
                if amask is not None:
                    arr = arr.filter(amask)
                counts = self._counts[col]
                valid = 0
                for value, c in _value_counts(arr, pc):
                    counts[value] = counts.get(value, 0) + c
                    valid += c
                self._missing[col] += n - valid

    def finish(self) -> SideData:
        out: dict[str, Column] = {}
        for col, kind in self.cols:
            if col in self._tally:
                finite, below, above = self._tally[col]
                out[col] = Column(kind, self.rows, self.rows - finite, outside=(below, above))
            elif kind == "numeric":
                pieces = self._num.pop(col)
                if len(pieces) == 1:
                    values = np.sort(pieces[0], kind="quicksort")  # a sorted copy (Arrow's is read-only)
                else:
                    values = np.concatenate(pieces) if pieces else np.empty(0, dtype=np.float64)
                    values.sort(kind="quicksort")
                del pieces
                # sorted: -inf first, +inf then NaN (nulls) last; the finite values are one slice
                lo = int(np.searchsorted(values, -np.inf, side="right"))
                hi = int(np.searchsorted(values, np.inf, side="left"))
                if lo or hi < values.size:
                    values = values[lo:hi]
                out[col] = Column(kind, self.rows, self.rows - int(values.size), values=values)
            else:
                out[col] = Column(kind, self.rows, self._missing[col], counts=self._counts[col])
        return SideData(self.rows, out)


def _value_counts(arr, pc) -> list[tuple[str, int]]:
    """(value, count) of the non-null values of a (chunked) string or dictionary array."""
    import pyarrow as pa

    if pa.types.is_dictionary(arr.type):
        out: list[tuple[str, int]] = []
        for chunk in getattr(arr, "chunks", [arr]):
            if len(chunk) == 0:
                continue
            idx = chunk.indices
            if chunk.null_count:
                idx = idx.filter(chunk.is_valid())
            bins = np.bincount(idx.to_numpy(), minlength=len(chunk.dictionary))
            nz = np.flatnonzero(bins)
            values = chunk.dictionary.take(pa.array(nz)).to_pylist()
            out += list(zip(values, bins[nz].tolist(), strict=True))
        return out
    vc = pc.value_counts(arr)
    return [(v, c) for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True)
            if v is not None]


def from_table(table, cols: list[tuple[str, str]]) -> SideData:
    b = SideBuilder(cols)
    b.add(table)
    return b.finish()


SQL_BATCH = 1 << 16  # rows per batch of ``sql_side``'s query (DuckDB holds batches ahead, outside its limit)


def sql_side(cur, relation: str, where: str, params: list[Any], cols: list[tuple[str, str]],
             bounds: dict[str, tuple[float, float]] | None = None) -> SideData:
    """Every column of one side in one query (cast as the views cast: DOUBLE / VARCHAR);
    ``bounds`` as ``SideBuilder``'s."""
    if not cols:
        (n,) = cur.execute(f"SELECT count(*) FROM {relation} WHERE {where}", params).fetchone()
        return SideData(int(n), {})
    select = ", ".join(
        f"{ident(c)}::DOUBLE AS {ident(c)}" if k == "numeric" else f"{ident(c)}::VARCHAR AS {ident(c)}"
        for c, k in cols
    )
    # streamed in batches: the builder keeps each numeric column's values once (or, with
    # bounds, none), where a whole Arrow table and the arrays converted from it held them twice
    b = SideBuilder(cols, bounds)
    for batch in cur.sql(f"SELECT {select} FROM {relation} WHERE {where}", params=params).to_arrow_reader(SQL_BATCH):
        b.add(batch, copy=True)
    return b.finish()


# -- the store's parts ------------------------------------------------------------------------


Part = PartFile  # one committed prediction part (``console.store.layout``)


@dataclass(frozen=True)
class PartMeta:
    rows: int
    types: dict[str, Any]
    ts_min: int | None  # epoch µs over every row group (None = unknown)
    ts_max: int | None
    version: str | None  # the one version of every row (None = several, nulls, or unknown)


_META: OrderedDict[tuple[str, int, int], PartMeta] = OrderedDict()
_MLOCK = threading.Lock()


def _part_meta(part: Part) -> PartMeta:
    key = (part.path, part.size, part.mtime_ns)
    with _MLOCK:
        hit = _META.get(key)
    if hit is not None:
        return hit
    import pyarrow as pa
    import pyarrow.parquet as pq

    md = pq.ParquetFile(part.path).metadata
    schema = md.schema.to_arrow_schema()
    types = {f.name: f.type for f in schema}
    names = [md.schema.column(i).path for i in range(md.num_columns)]

    def stats(name: str):
        if name not in names:
            return None
        i = names.index(name)
        out = []
        for g in range(md.num_row_groups):
            st = md.row_group(g).column(i).statistics
            if st is None or not st.has_min_max:
                return None
            out.append(st)
        return out

    ts_min = ts_max = None
    t = types.get("ts")
    ts_stats = stats("ts")
    if ts_stats and t is not None and pa.types.is_timestamp(t) and t.unit == "us" and t.tz is None:
        ts_min = min(int(s.min_raw) for s in ts_stats)
        ts_max = max(int(s.max_raw) for s in ts_stats)
    version = None
    v_stats = stats("version")
    vt = types.get("version")
    if v_stats and vt is not None and (pa.types.is_string(vt) or pa.types.is_large_string(vt)):
        values = {s.min for s in v_stats} | {s.max for s in v_stats}
        nulls = sum(s.null_count for s in v_stats) if all(s.has_null_count for s in v_stats) else None
        if len(values) == 1 and nulls == 0:
            version = str(values.pop())
    meta = PartMeta(md.num_rows, types, ts_min, ts_max, version)
    with _MLOCK:
        _META[key] = meta
        while len(_META) > 100_000:
            _META.popitem(last=False)
    return meta


def _us(t: dt.datetime) -> int:
    return to_epoch_us(t)


class PartsIndex:
    """The committed prediction parts of one model, by day, as the store's views name them."""

    def __init__(self, parts: list[Part]):
        self.parts = parts
        self.by_day: dict[dt.date, list[Part]] = {}
        for p in parts:
            self.by_day.setdefault(p.day, []).append(p)

    @classmethod
    def of(cls, db: StoreSnapshot, model: str) -> PartsIndex | None:
        """``None`` when ``db`` does not keep its rows as parts (then use SQL)."""
        parts = db.parts(model)
        return None if parts is None else cls(parts)

    def days(self, start: dt.datetime, end: dt.datetime) -> list[dt.date]:
        first = _naive(start).date()
        last = (_naive(end) - _US).date()
        return [d for d in sorted(self.by_day) if first <= d <= last]

    def files(self, start: dt.datetime, end: dt.datetime) -> list[Part]:
        return [p for d in self.days(start, end) for p in self.by_day[d]]

    def rows(self, start: dt.datetime, end: dt.datetime) -> int:
        """Rows of the parts of the days of ``[start, end)`` (every version: an upper bound)."""
        return sum(_part_meta(p).rows for p in self.files(start, end))

    def fingerprint(self, start: dt.datetime, end: dt.datetime) -> str:
        """Identity of the rows a window can see: the parts of its days (names and sizes)."""
        raw = ";".join(f"{p.rel}:{p.size}" for p in self.files(start, end))
        return "parts:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


_naive = clock.naive_utc


def _check_types(meta: PartMeta, cols: list[tuple[str, str]]) -> None:
    import pyarrow as pa

    for col, kind in cols:
        t = meta.types.get(col)
        if t is None:
            continue
        if pa.types.is_dictionary(t):
            t = t.value_type
        if kind == "numeric":
            ok = pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_null(t)
        else:
            ok = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)
        if not ok:
            raise Unsupported(f"{col} is {t}")


def read_windows(
    index: PartsIndex, version: str | None, wins: list[tuple[dt.datetime, dt.datetime]],
    cols: list[tuple[str, str]], bounds: dict[str, tuple[float, float]] | None = None,
) -> list[SideData]:
    """``SideData`` of the rows of ``version`` in each ``[start, end)``; every part is read once
    (``bounds`` as ``SideBuilder``'s).

    Windows must be sorted and not overlap. Raises ``Unsupported`` when a part's types differ
    from what the view would give."""
    import pyarrow.parquet as pq

    out: list[SideData] = []
    loaded: dict[str, tuple[Any, np.ndarray | None, np.ndarray | None]] = {}
    want = [c for c, _ in cols]
    dict_cols = [c for c, k in cols if k != "numeric"]
    for start, end in wins:
        lo, hi = _us(start), _us(end)
        builder = SideBuilder(cols, bounds)
        files = index.files(start, end)
        for part in files:
            meta = _part_meta(part)
            if version is not None and meta.version is not None and meta.version != version:
                continue
            if meta.ts_min is not None and (meta.ts_max < lo or meta.ts_min >= hi):
                continue
            _check_types(meta, cols)
            need_v = version is not None and meta.version is None
            inside = meta.ts_min is not None and meta.ts_min >= lo and meta.ts_max < hi
            got = loaded.get(part.path)
            if got is None:
                present = [c for c in want if c in meta.types]
                extra = []
                if need_v:
                    extra.append("version")
                if not inside or meta.ts_min is None:
                    extra.append("ts")
                table = pq.read_table(part.path, columns=present + [c for c in extra if c in meta.types],
                                      read_dictionary=[c for c in dict_cols if c in present] or None,
                                      use_threads=False)
                ts = vmask = None
                if "ts" in table.column_names:
                    import pyarrow as pa

                    tcol = table.column("ts")
                    if not pa.types.is_timestamp(tcol.type):
                        raise Unsupported(f"ts is {tcol.type}")
                    if tcol.type.unit != "us":
                        tcol = tcol.cast(pa.timestamp("us", tz=tcol.type.tz))
                    ts = tcol.cast(pa.int64()).to_numpy(zero_copy_only=False)
                    table = table.drop_columns(["ts"])
                if "version" in table.column_names:
                    vcol = table.column("version")
                    import pyarrow.compute as pc

                    vmask = pc.fill_null(pc.equal(vcol, version), False).to_numpy(zero_copy_only=False)
                    table = table.drop_columns(["version"])
                elif need_v:  # no version column: every row is NULL, never equal
                    vmask = np.zeros(table.num_rows, dtype=bool)
                got = (table, ts, vmask)
                # a part that reaches past this window serves the next one too
                if meta.ts_max is None or meta.ts_max >= hi:
                    loaded[part.path] = got
            table, ts, vmask = got
            mask = vmask
            if ts is not None and not inside:
                tmask = (ts >= lo) & (ts < hi)
                mask = tmask if mask is None else (mask & tmask)
            builder.add(table, mask)
        for path in [p for p, (_, ts, _) in loaded.items() if ts is None or ts.size == 0 or ts.max() < hi]:
            loaded.pop(path, None)
        out.append(builder.finish())
    return out


# -- the reference, kept in memory ----------------------------------------------------------

_REFS: OrderedDict[tuple[Any, ...], SideData] = OrderedDict()
_REF_MAX = 6
_REF_MAX_ROWS = 2_000_000


def remembered(key: tuple[Any, ...], load) -> SideData:
    """``load()`` once per key in this process (the few latest references, ≤ 2M rows each)."""
    with _MLOCK:
        hit = _REFS.get(key)
        if hit is not None:
            _REFS.move_to_end(key)
            return hit
    side = load()
    if side.rows <= _REF_MAX_ROWS:
        with _MLOCK:
            _REFS[key] = side
            while len(_REFS) > _REF_MAX:
                _REFS.popitem(last=False)
    return side
