"""Windowed reports computed once and then only where new data landed.

``windowed(db, ...)`` runs a report's aggregation for every window of a range in one DuckDB
query, caches each window's result, and on the next call:

- when the store's committed batch is unchanged, answers from the cache without a query;
- when new batches were committed, asks DuckDB which windows they touch — new predictions
  (``predictions.batch`` greater than the cached batch) and new labels (``_label_rows.batch``,
  joined to their predictions' windows) — and recomputes only those windows (and any window it
  has never seen). A late label therefore refreshes exactly the window of its prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.analytics.cache import cache_for
from console.analytics.source import Scope, StoreLike, naive
from console.analytics.windows import Window, iso, to_epoch_us

Compute = Callable[[str, list[Any], str], dict[int, Any]]


def bucket_sql(size: int | None, column: str = "ts") -> str:
    """Integer window id of a row: epoch-µs // size (0 for ``all``)."""
    if size is None:
        return "0::BIGINT"
    return f"(epoch_us({column}) // {int(size) * 1_000_000})::BIGINT"


def bucket_of(w: Window, size: int | None) -> int:
    return 0 if size is None else to_epoch_us(w.bucket) // (size * 1_000_000)


def _ranges_sql(ws: list[Window]) -> tuple[str, list[Any]]:
    conds, params = [], []
    for w in ws:
        conds.append("(ts >= ? AND ts < ?)")
        params += [naive(w.start), naive(w.end)]
    return "(" + " OR ".join(conds) + ")", params


def _has(db: StoreLike, relation: str, column: str) -> bool:
    try:
        cols = {r[0] for r in db.cursor().execute(f"DESCRIBE {relation}").fetchall()}
    except Exception:  # noqa: BLE001 - missing relation
        return False
    return column in cols


def dirty_buckets(db: StoreLike, scope: Scope, size: int | None, since_batch: int) -> set[int] | None:
    """Windows touched by batches after ``since_batch`` (None = cannot tell: recompute all)."""
    if not _has(db, "predictions", "batch") or not _has(db, "_label_rows", "batch"):
        return None
    cond, params = scope.where("p.")
    b = bucket_sql(size, "p.ts")
    cur = db.cursor()
    rows = cur.execute(
        f"SELECT DISTINCT {b} FROM predictions p WHERE {cond} AND p.batch > ?", params + [since_batch]
    ).fetchall()
    out = {int(r[0]) for r in rows}
    rows = cur.execute(
        f"SELECT DISTINCT {b} FROM predictions p JOIN "
        "(SELECT DISTINCT model, request_id FROM _label_rows WHERE batch > ?) l "
        "ON l.request_id = p.request_id AND (l.model IS NULL OR l.model = p.model) "
        f"WHERE {cond}",
        [since_batch] + params,
    ).fetchall()
    out |= {int(r[0]) for r in rows}
    return out


def windowed(
    db: StoreLike,
    scope: Scope,
    wins: list[Window],
    size: int | None,
    compute: Compute,
    key: dict[str, Any],
    use_cache: bool = True,
) -> dict[str, Any]:
    """``{window.key: result}`` for every window (``None`` = no rows in it).

    ``compute(condition_sql, params, bucket_sql)`` must return ``{bucket_id: result}`` for the
    rows matching the condition (which already restricts model, version and time).
    Each window is cached on its own, with the store batch it was computed at.
    """
    if not wins:
        return {}
    cache = cache_for(db, use_cache)
    batch = db.batch
    results: dict[str, Any] = {}
    stale: dict[str, tuple[Window, dict[str, Any], Any]] = {}
    todo: list[Window] = []
    keys = {}
    for w in wins:
        ckey = dict(key, scope=[scope.model, scope.version], size=size, window=w.key)
        keys[w.key] = ckey
        entry = cache.get(ckey) if isinstance(batch, int) else None
        if entry is None or not isinstance(entry.get("batch"), int) or entry["batch"] > batch:
            todo.append(w)
        elif entry["batch"] == batch:
            results[w.key] = entry["result"]
        else:
            stale[w.key] = (w, ckey, entry)
    if stale:
        since = min(e["batch"] for _, _, e in stale.values())
        dirty = dirty_buckets(db, scope, size, since)
        for wkey, (w, ckey, entry) in stale.items():
            if dirty is None or bucket_of(w, size) in dirty:
                todo.append(w)
            else:
                results[wkey] = entry["result"]
                cache.put(ckey, dict(entry, batch=batch))
    if todo:
        todo.sort(key=lambda w: w.start)
        base_cond, base_params = scope.where()
        if len(todo) == len(wins):
            cond, params = base_cond, base_params
        else:
            rsql, rparams = _ranges_sql(todo)
            cond, params = f"{base_cond} AND {rsql}", base_params + rparams
        by_bucket = compute(cond, params, bucket_sql(size))
        for w in todo:
            res = by_bucket.get(bucket_of(w, size))
            results[w.key] = res
            if isinstance(batch, int):
                cache.put(keys[w.key], {"batch": batch, "start": iso(w.start), "end": iso(w.end),
                                        "result": res})
    return results
