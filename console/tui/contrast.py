"""Readable colour: the WCAG contrast ratio, the terminal palette each console theme maps the
ANSI colour names to, and the ``NO_COLOR`` filter that keeps text readable in grey.

The screens colour states with ANSI names (``red``, ``green``, ``yellow``, ``dim``); Textual
turns those into RGB through a terminal palette. Textual's own palettes (Monokai, Alabaster) are
not ours: their yellow on the light theme's near-white, or their red on a dark row, fall below
a readable contrast. ``ansi_palette`` maps red/green/yellow to the theme's ``error``,
``success`` and ``warning`` instead, so a theme file decides — and ``tests/test_tui_contrast.py``
checks every state of every bundled theme against its backgrounds (≥ 4.5, ≥ 3 for bold).

``NO_COLOR``: Textual's ``Monochrome`` filter turns each colour into the grey of its luminance,
which puts a red word on a dark row at about 1.5:1. ``ReadableMonochrome`` does the same and
then, where a word's grey is too close to its background's, draws it in the theme's foreground
or background grey, whichever reads.
"""

from __future__ import annotations

from functools import lru_cache

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from rich.terminal_theme import TerminalTheme
from textual.color import Color
from textual.filter import LineFilter
from textual.theme import Theme

MIN_RATIO = 4.5  # WCAG AA for text
MIN_RATIO_BOLD = 3.0  # AA for large text; bold terminal text is held to it


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG relative luminance of an sRGB triplet."""
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio of two colours, 1 to 21."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rgb(colour: str | None, fallback: tuple[int, int, int]) -> tuple[int, int, int]:
    if not colour:
        return fallback
    c = Color.parse(colour)
    return (c.r, c.g, c.b)


def ansi_palette(theme: Theme, base: TerminalTheme) -> TerminalTheme:
    """``base`` with red, green and yellow (normal and bright) taken from the theme's error,
    success and warning colours, and its foreground and background."""
    normal = [tuple(base.ansi_colors[i]) for i in range(8)]
    bright = [tuple(base.ansi_colors[i]) for i in range(8, 16)]
    for index, colour in ((1, theme.error), (2, theme.success), (3, theme.warning)):
        if colour:
            normal[index] = bright[index] = _rgb(colour, normal[index])
    return TerminalTheme(_rgb(theme.background, tuple(base.background_color)),
                         _rgb(theme.foreground, tuple(base.foreground_color)), normal, bright)


@lru_cache(1024)
def readable_grey(style: Style, background: RichColor) -> Style:
    """``style`` in grey; its text forced to black or white when its grey would not read on
    its (grey) background."""
    fg, bg = style.color, style.bgcolor or background
    grey_fg = Color.from_rich_color(fg).monochrome if fg is not None else None
    grey_bg = Color.from_rich_color(bg).monochrome if bg is not None else None
    if grey_fg is not None and grey_bg is not None:
        need = MIN_RATIO_BOLD if style.bold else MIN_RATIO
        f, b = (grey_fg.r,) * 3, (grey_bg.r,) * 3
        if ratio(f, b) < need:
            grey_fg = Color(255, 255, 255) if ratio((255,) * 3, b) >= ratio((0,) * 3, b) else Color(0, 0, 0)
    return style + Style.from_color(grey_fg.rich_color if grey_fg is not None else None,
                                    grey_bg.rich_color if style.bgcolor is not None and grey_bg else None)


class ReadableMonochrome(LineFilter):
    """Textual's ``Monochrome`` (``NO_COLOR``), with every word kept readable."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        bg = background.rich_color
        return [Segment(text, readable_grey(style, bg) if style is not None else None, None)
                for text, style, _ in segments]
