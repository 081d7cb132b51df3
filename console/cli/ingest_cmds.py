"""Sub-commands of the ingest area (filled in by the ingest work)."""

from __future__ import annotations


def register(sub, parents) -> None:
    """Add this area's sub-commands to the parser."""
