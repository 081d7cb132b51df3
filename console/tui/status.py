"""What the header shows, as plain data: the live ingest state, data freshness and the audit
chain's verification state, and whether the governance files can be trusted. Filled by the app's refresh loop from the store and governance;
the header only formats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Status:
    """A snapshot of the console's surroundings, refreshed by the app's loop."""

    ingest_state: str = "starting"  # "live", "follower" (another console ingests), "off", "error"
    lag_bytes: int | None = None
    rows_per_s: float | None = None
    quarantined: int | None = None
    latest_ts: datetime | None = None  # newest prediction in the store not after the clock
    future_rows: int = 0  # predictions stamped after the clock (stored, flagged)
    chain_ok: bool | None = None  # None: not verified yet
    chain_entries: int = 0
    chain_first_bad: int | None = None
    untrusted: list[str] = field(default_factory=list)  # governance.trust problems (actions refused)
    problems: list[str] = field(default_factory=list)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n}"


def human_age(then: datetime | None, now: datetime) -> str:
    """``"3m ago"``-style freshness, or ``"no data"``."""
    if then is None:
        return "no data"
    secs = (now - then).total_seconds()
    if secs < 0:
        return "in the future"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if secs >= size:
            return f"{int(secs // size)}{unit} ago"
    return f"{int(secs)}s ago"
