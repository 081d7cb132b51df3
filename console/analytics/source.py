"""What every report starts from: which model and version, which rows of the store's views
(``predictions``, ``predictions_labelled``), which time range — resolved once, with one-line
``UsageError``s for an unknown model, a model without a production version, or a bad range.

All timestamps in the views are naive UTC ``TIMESTAMP``s; this module converts aware datetimes
to naive UTC before they reach DuckDB so the session time zone never matters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from console import clock
from console.analytics import windows
from console.errors import UsageError
from console.store.snapshot import StoreSnapshot

# what every report reads: a store snapshot (``console.store.snapshot``), nothing more
StoreLike = StoreSnapshot


def naive(t: dt.datetime | None) -> dt.datetime | None:
    """``clock.naive_utc``, passing ``None`` through."""
    return None if t is None else clock.naive_utc(t)


def aware(t: dt.datetime | None) -> dt.datetime | None:
    """``clock.as_utc``, passing ``None`` through."""
    return None if t is None else clock.as_utc(t)


def logged_models(db: StoreLike) -> list[str]:
    """The models with stored predictions; remembered per store batch (``per_batch_saved``)."""
    from console.analytics.cache import per_batch_saved

    def compute() -> list[str]:
        return [r[0] for r in db.cursor().execute("SELECT DISTINCT model FROM predictions ORDER BY 1").fetchall()]

    return list(per_batch_saved(db, {"k": "logged_models"}, compute))


def check_model(db: StoreLike, model: str) -> None:
    """``UsageError`` naming the known models when ``model`` is neither registered nor logged."""
    known = set(db.registry.models())
    if model in known:
        return
    logged = logged_models(db)
    if model in logged:
        return
    names = sorted(known | set(logged))
    raise UsageError(f"unknown model {model!r} (known: {', '.join(names) or 'none'})")


def resolve_version(db: StoreLike, model: str, version: str | None) -> str:
    """``version``, else the model's production version (``UsageError`` when it has none)."""
    check_model(db, model)
    if version is not None:
        version = str(version)
        if db.registry.get(model, version) is None:
            row = db.cursor().execute(
                "SELECT count(*) FROM predictions WHERE model = ? AND version = ?", [model, version]
            ).fetchall()[0]
            if not row or not row[0]:
                known = [v.version for v in db.registry.versions_of(model)]
                raise UsageError(
                    f"unknown version {version!r} of model {model!r} (known: {', '.join(known) or 'none'})"
                )
        return version
    prod = (db.production or {}).get(model)
    if not prod:
        raise UsageError(f"model {model!r} has no production version; pass --version")
    return prod


def range_where(start: dt.datetime | None, end: dt.datetime | None, prefix: str = "") -> tuple[list[str], list[Any]]:
    """The conditions on ``ts`` for ``[start, end)`` and their parameters (none for an open end)."""
    conds: list[str] = []
    params: list[Any] = []
    if start is not None:
        conds.append(f"{prefix}ts >= ?")
        params.append(naive(start))
    if end is not None:
        conds.append(f"{prefix}ts < ?")
        params.append(naive(end))
    return conds, params


@dataclass(frozen=True)
class Scope:
    """Rows of one model (one version, or all when ``version`` is None) in ``[start, end)``."""

    model: str
    version: str | None
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def where(self, prefix: str = "") -> tuple[str, list[Any]]:
        """A SQL condition and its parameters."""
        conds = [f"{prefix}model = ?"]
        params: list[Any] = [self.model]
        if self.version is not None:
            conds.append(f"{prefix}version = ?")
            params.append(self.version)
        rconds, rparams = range_where(self.start, self.end, prefix)
        return " AND ".join(conds + rconds), params + rparams

    def with_range(self, start: dt.datetime | None, end: dt.datetime | None) -> Scope:
        return Scope(self.model, self.version, start, end)


def data_range(db: StoreLike, scope: Scope, view: str = "predictions") -> tuple[dt.datetime | None, dt.datetime | None]:
    """First and last ``ts`` of the scope's rows (aware UTC); remembered per store batch, on disk
    too (``per_batch_saved``)."""
    from console.analytics.cache import per_batch_saved

    def compute() -> tuple[dt.datetime | None, dt.datetime | None]:
        cond, params = scope.where()
        row = db.cursor().execute(f"SELECT min(ts), max(ts) FROM {view} WHERE {cond}", params).fetchall()[0]
        return aware(row[0]), aware(row[1])

    def load(v: list) -> tuple:
        return tuple(None if t is None else aware(dt.datetime.fromisoformat(t)) for t in v)

    return per_batch_saved(db, _range_key(scope, view), compute, _dump_range, load)


def _range_key(scope: Scope, view: str) -> dict[str, Any]:
    return {"k": "range", "view": view, "scope": [scope.model, scope.version, str(scope.start), str(scope.end)]}


def _dump_range(v: tuple) -> list:
    return [None if t is None else t.isoformat() for t in v]


def remember_range(db: StoreLike, scope: Scope, lo: dt.datetime | None, hi: dt.datetime | None) -> None:
    """Record what ``data_range(db, scope)`` would compute (a caller that scanned the rows)."""
    from console.analytics.cache import per_batch_put

    per_batch_put(db, _range_key(scope, "predictions"), (aware(lo), aware(hi)), _dump_range)


def recall_range(db: StoreLike, scope: Scope, lo: dt.datetime, hi: dt.datetime) -> None:
    """Give ``data_range(db, scope)`` a range known without a scan (the profiles' manifest keeps
    the one its scan found for the same store batch), unless it is known already; kept in
    memory only."""
    from console.analytics.cache import per_batch

    per_batch(db, _range_key(scope, "predictions"), lambda: (aware(lo), aware(hi)))


def latest_ts(db: StoreLike, scope: Scope, view: str = "predictions") -> dt.datetime | None:
    """The newest ``ts`` of the scope's stored rows that is not after ``console.clock.now()``:
    what "the latest data" means for alert windows, the budget month and the TUI's freshness.
    A record stamped in the future (a skewed clock, a typo'd year) is stored but never moves
    "latest" ahead of the clock, so it cannot push the alert windows past the real traffic."""
    from console import clock

    hi = data_range(db, scope, view)[1]
    now = clock.now()
    if hi is None or hi <= now:
        return hi  # the common case: the memoised range, no extra query
    cond, params = scope.where()
    row = db.cursor().execute(f"SELECT max(ts) FROM {view} WHERE {cond} AND ts <= ?",
                              [*params, naive(now)]).fetchall()[0]
    return aware(row[0])


def future_rows(db: StoreLike, model: str) -> dict[str, Any] | None:
    """``{"model", "rows", "newest"}`` when ``model`` has stored rows stamped after
    ``console.clock.now()`` (else ``None``)."""
    from console import clock

    hi = data_range(db, Scope(model, None))[1]
    now = clock.now()
    if hi is None or hi <= now:
        return None
    (n,) = db.cursor().execute("SELECT count(*) FROM predictions WHERE model = ? AND ts > ?",
                               [model, naive(now)]).fetchall()[0]
    return {"model": model, "rows": int(n), "newest": windows.iso(hi), "now": windows.iso(now)}


def report_range(
    db: StoreLike, scope: Scope
) -> tuple[dt.datetime, dt.datetime] | None:
    """The report's ``[start, end)``: ``--start/--end``, else the data's own range."""
    windows.check_range(scope.start, scope.end)
    lo, hi = (None, None)
    if scope.start is None or scope.end is None:
        lo, hi = data_range(db, Scope(scope.model, scope.version, scope.start, scope.end))
    return windows.resolve_range(scope.start, scope.end, lo, hi)


def columns_of(db: StoreLike, relation: str) -> dict[str, str]:
    """Column name → DuckDB type of a view or table."""
    rows = db.cursor().execute(f"DESCRIBE {relation}").fetchall()
    return {r[0]: r[1] for r in rows}


def model_features(db: StoreLike, model: str, version: str | None) -> list[tuple[str, str, str]]:
    """``(feature, column, kind)`` for a model: the version's registry features first (their
    declared kind), then any other feature the store catalogued for the model."""
    cur = db.cursor()
    rows = cur.execute(
        "SELECT feature, \"column\", kind FROM features WHERE model = ? ORDER BY feature", [model]
    ).fetchall()
    catalogue = {r[0]: (r[1], r[2]) for r in rows}
    out: list[tuple[str, str, str]] = []
    info = db.registry.get(model, version) if version is not None else None
    declared = dict(info.features) if info is not None else {}
    for name, kind in declared.items():
        col = catalogue.get(name, (f"f_{name}", kind))[0]
        out.append((name, col, kind))
    for name, (col, kind) in catalogue.items():
        if name not in declared:
            out.append((name, col, kind))
    return out
