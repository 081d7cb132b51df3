"""Per-record limits of ingest, read from ``[ingest]`` in console.toml (docs/formats.md, 'When a record is wrong').

- ``max_future_skew`` (default ``"1h"``): a record whose ``ts`` is later than the console's
  clock plus this is quarantined (``'ts' in the future``): one bad clock must not become
  "the latest data" that every window and alert is measured from.
- ``max_features_per_model`` (default 1000): distinct feature names one model may have; a
  record that would add one more is quarantined (``too many distinct features ...``), so a
  service logging ids as feature names cannot make the store, and ingest, unboundedly wide.

A bad value is a ``WorkspaceError`` (one line, exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from console.errors import WorkspaceError

DEFAULT_MAX_FUTURE_SKEW = "1h"
DEFAULT_MAX_FEATURES = 1000
KEYS = ("max_future_skew", "max_features_per_model")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class IngestLimits:
    """The limits one ingester applies (``None``: no limit, for reading reference files)."""

    max_future_skew_s: int | None = _UNITS["h"]
    max_features_per_model: int | None = DEFAULT_MAX_FEATURES


def parse_duration(text: str) -> int | None:
    """Seconds of ``30s``, ``15m``, ``1h``, ``2d``, ``1w``; ``None`` when not spelled so."""
    m = _DURATION.match(text)
    return int(m.group(1)) * _UNITS[m.group(2)] if m else None


def limits_from(section: dict, where: str = "console.toml") -> IngestLimits:
    """The limits of an ``[ingest]`` table (defaults for absent keys)."""
    skew_text = section.get("max_future_skew", DEFAULT_MAX_FUTURE_SKEW)
    skew = parse_duration(skew_text) if isinstance(skew_text, str) else None
    if skew is None:
        raise WorkspaceError(
            f"{where}: [ingest] max_future_skew must be a duration such as \"1h\" (a number and s/m/h/d/w), "
            f"not {skew_text!r}"
        )
    cap = section.get("max_features_per_model", DEFAULT_MAX_FEATURES)
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
        raise WorkspaceError(f"{where}: [ingest] max_features_per_model must be a whole number ≥ 1, not {cap!r}")
    return IngestLimits(max_future_skew_s=skew, max_features_per_model=cap)
