"""The store as a reader sees it right now: how far ingest lags behind the sources, how many
rows it quarantined, the newest data, and how many records are stamped after the console's
clock (the TUI's header; any reader may ask)."""

from __future__ import annotations

from typing import Any

from console import clock
from console.analytics.source import aware, naive
from console.store.snapshot import StoreSnapshot


def store_status(db: StoreSnapshot) -> dict[str, Any]:
    """``{"lag_bytes", "quarantined", "latest_ts", "future_rows"}``. ``latest_ts`` is the newest
    record not after ``console.clock.now()`` (aware UTC, ``None`` without data): one record
    stamped in 2031 must not make "the latest data" look fresh."""
    cur = db.cursor()
    try:
        lag, quarantined = cur.execute(
            "SELECT sum(lag_bytes), sum(quarantined) FROM ingest_status").fetchone()
        now = naive(clock.now())
        latest, future = cur.execute(
            "SELECT max(ts) FILTER (WHERE ts <= ?), count(*) FILTER (WHERE ts > ?) FROM predictions",
            [now, now]).fetchone()
    finally:
        cur.close()
    return {"lag_bytes": int(lag) if lag is not None else 0,
            "quarantined": int(quarantined) if quarantined is not None else 0,
            "latest_ts": aware(latest), "future_rows": int(future or 0)}
