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

from dataclasses import dataclass

from console import durations
from console.errors import UsageError, WorkspaceError

DEFAULT_MAX_FUTURE_SKEW = "1h"
DEFAULT_MAX_FEATURES = 1000
KEYS = ("max_future_skew", "max_features_per_model")


@dataclass(frozen=True)
class IngestLimits:
    """The limits one ingester applies (``None``: no limit, for reading reference files)."""

    max_future_skew_s: int | None = 3600
    max_features_per_model: int | None = DEFAULT_MAX_FEATURES


def limits_from(section: dict, where: str = "console.toml") -> IngestLimits:
    """The limits of an ``[ingest]`` table (defaults for absent keys)."""
    skew_text = section.get("max_future_skew", DEFAULT_MAX_FUTURE_SKEW)
    try:
        skew = durations.whole_seconds(skew_text, f"[ingest] max_future_skew in {where}", at_least=0)
    except UsageError as exc:
        raise WorkspaceError(str(exc)) from None
    cap = section.get("max_features_per_model", DEFAULT_MAX_FEATURES)
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
        raise WorkspaceError(f"{where}: [ingest] max_features_per_model must be a whole number ≥ 1, not {cap!r}")
    return IngestLimits(max_future_skew_s=skew, max_features_per_model=cap)
