"""The store as a reader sees it right now: how far ingest lags behind the sources, how many
rows it quarantined, the newest data, and how many records are stamped after the console's
clock (the TUI's header; any reader may ask); and the span of a model's (or every model's)
data, which the TUI's windows end at (``data_span``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from console import clock
from console.analytics.cache import per_batch
from console.analytics.source import Scope, aware, data_range, latest_ts, logged_models, naive
from console.store.snapshot import StoreSnapshot


def store_status(db: StoreSnapshot) -> dict[str, Any]:
    """``{"lag_bytes", "quarantined", "latest_ts", "future_rows"}``. ``latest_ts`` is the newest
    record not after ``console.clock.now()`` (aware UTC, ``None`` without data): one record
    stamped in 2031 must not make "the latest data" look fresh."""
    now = clock.now()
    newest = _span(db)[1]  # every record's newest (remembered per batch): none in the future, no scan
    cur = db.cursor()
    try:
        lag, quarantined = cur.execute(
            "SELECT sum(lag_bytes), sum(quarantined) FROM ingest_status").fetchone()
        future = 0
        if newest is not None and newest > now:
            (future,) = cur.execute("SELECT count(*) FROM predictions WHERE ts > ?", [naive(now)]).fetchone()
    finally:
        cur.close()
    return {"lag_bytes": int(lag) if lag is not None else 0,
            "quarantined": int(quarantined) if quarantined is not None else 0,
            "latest_ts": data_span(db)[1], "future_rows": int(future or 0)}


def _span(db: StoreSnapshot) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first and last record of every model (future ones included), from each logged
    model's range — kept on disk per batch (and handed over by the profiles' scan), so a new
    process does not scan every row for it again."""
    def compute() -> tuple[dt.datetime | None, dt.datetime | None]:
        spans = [data_range(db, Scope(m, None)) for m in logged_models(db)]
        los, his = [s[0] for s in spans if s[0] is not None], [s[1] for s in spans if s[1] is not None]
        return (min(los) if los else None), (max(his) if his else None)

    return per_batch(db, {"k": "range", "view": "predictions", "scope": None}, compute)


def data_span(db: StoreSnapshot, model: str | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``(oldest, newest)`` record of ``model`` (of every model when ``None``), the newest one
    not after ``console.clock.now()`` (as ``store_status``'s ``latest_ts``): where the TUI's
    windows end by default, so data that stopped days ago is still in "the last 24 h"."""
    if model is not None:
        return data_range(db, Scope(model, None))[0], latest_ts(db, Scope(model, None))

    lo, hi = _span(db)
    now = clock.now()
    if hi is not None and hi > now:  # a record stamped in the future never moves "newest" ahead
        cur = db.cursor()
        try:
            hi = aware(cur.execute("SELECT max(ts) FROM predictions WHERE ts <= ?", [naive(now)]).fetchone()[0])
        finally:
            cur.close()
    return lo, hi
