"""Formatting the engine's numbers for the screen: states as a symbol plus a word (colour is
only an extra), sparklines from a series the engine returned, compact numbers. No arithmetic on
the data beyond display scaling (a rate shown as a percentage).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.text import Text

BLOCKS = "▁▂▃▄▅▆▇█"
STATES = {
    "ok": ("✓ ok", "green"),
    "warn": ("▲ warn", "yellow"),
    "drift": ("✗ drift", "red"),
    "fail": ("✗ fail", "red"),
    "pass": ("✓ pass", "green"),
    "over": ("✗ over", "red"),
    "high": ("✗ high", "red"),
    "critical": ("✗ critical", "red"),
    "warning": ("▲ warning", "yellow"),
    "info": ("· info", ""),
    "pending": ("… pending", "yellow"),
    "approved": ("✓ approved", "green"),
    "rejected": ("✗ rejected", "red"),
    "executed": ("✓ executed", "green"),
    "failed": ("✗ failed", "red"),
    "none": ("— n/a", "italic"),  # not dim: a dimmed word falls below a readable contrast
}


def state(word: str) -> Text:
    """A state as symbol + word, coloured as a bonus: ``✓ ok``, ``▲ warn``, ``✗ drift``."""
    label, colour = STATES.get(word, (f"· {word}", ""))
    return Text(label, style=colour)


def sparkline(values: Sequence[float | None], width: int = 12) -> str:
    """The last ``width`` values as block characters (scaled to their own max)."""
    vals = [v for v in values if v is not None][-width:]
    if not vals:
        return "—"
    top = max(vals)
    if top <= 0:
        return BLOCKS[0] * len(vals)
    return "".join(BLOCKS[min(len(BLOCKS) - 1, int(v / top * (len(BLOCKS) - 1) + 0.5))] for v in vals)


def num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "—"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


def count(value: int | None) -> str:
    """A compact count: ``20``, ``999``, ``1.2k``, ``34k``, ``1.2M`` (``—`` for None)."""
    if value is None:
        return "—"
    for size, unit in ((1_000_000, "M"), (1_000, "k")):
        if value >= size:
            scaled = value / size
            return f"{scaled:.1f}{unit}" if scaled < 10 else f"{scaled:.0f}{unit}"
    return str(value)


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def usd(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.0f}" if abs(value) >= 10 or value == int(value) else f"${value:,.2f}"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}ms"


def when(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM`` (UTC), whatever form the engine gave it in."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    return text.replace("T", " ")[:16]
