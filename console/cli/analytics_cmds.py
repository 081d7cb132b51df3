"""Sub-commands of the analytics area (filled in by the analytics work)."""

from __future__ import annotations


def register(sub, parents) -> None:
    """Add this area's sub-commands to the parser."""
