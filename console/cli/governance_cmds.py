"""Sub-commands of the governance area (filled in by the governance work)."""

from __future__ import annotations


def register(sub, parents) -> None:
    """Add this area's sub-commands to the parser."""
