"""Plots with plotext, one ``Plot`` object per widget (plotext's global ``plt`` is shared, so it
is never used), drawn on the main thread in ``render``. Series are told apart by marker and
label as well as colour, so they read in monochrome (``NO_COLOR``) and at 80×24.

A drawn plot is kept until its data, size or theme changes: showing a tab again (a repaint of
the same plot) costs nothing, where plotext would build the whole chart anew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.containers import Horizontal
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from console.analytics.axes import fit_ticks

MARKERS = ("braille", "dot", "+", "x")


class SizedPlot(Plot):
    """plotext's figure and the width it is being drawn at (plotext's own idea of its size is
    capped at the terminal's, which is not the widget's)."""

    columns: int | None = None


class ConsolePlot(PlotextPlot):
    """A plot drawn from a ``draw(plt, mono)`` callback set with ``draw_with``."""

    DEFAULT_CSS = """
    ConsolePlot { height: 1fr; min-height: 7; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._plot = SizedPlot()
        self._draw: Callable | None = None
        self._empty = "no data yet"
        self._drawn: tuple[tuple, Any] | None = None  # (what it was drawn for, the drawing)

    def draw_with(self, draw: Callable | None, empty: str = "no data yet") -> None:
        self._draw = draw
        self._empty = empty
        self._drawn = None
        self.refresh()

    def render(self):
        mono = bool(getattr(self.app, "no_color", False))
        key = (self.size.width, self.size.height, self.app.theme, self.theme, mono)
        if self._drawn is not None and self._drawn[0] == key:
            return self._drawn[1]
        drawing = self._build(mono)
        self._drawn = (key, drawing)
        return drawing

    def _build(self, mono: bool):
        plt = self.plt
        plt.clear_figure()
        plt.columns = self.size.width  # known while drawing: the x labels are fitted to it
        if mono:
            plt.theme("clear")
        if self._draw is None:
            plt.title(self._empty)
        else:
            try:
                self._draw(plt, mono)
            except Exception as exc:  # a bad series must not take the screen down
                plt.clear_figure()
                plt.title(f"cannot draw: {exc}")
        return super().render()


def series_colour(i: int, mono: bool) -> str | None:
    if mono:
        return None
    return ("cyan", "orange", "magenta", "green")[i % 4]


def line(plt, mono: bool, xs: list[str], series: list[tuple[str, list[float | None]]],
         hline: tuple[str, float] | None = None, title: str = "", ylabel: str = "",
         right: tuple[str, list[float | None]] | None = None) -> None:
    """Lines over labelled x ticks (dates); gaps where a value is missing; an optional
    horizontal reference line (offline value, threshold, budget); an optional series on a y
    axis of its own on the right (a rate beside counts), named "(right)" in the legend."""
    idx = list(range(len(xs)))
    sides = [(label, ys, "left") for label, ys in series]
    if right is not None:
        sides.append((f"{right[0]} (right)", right[1], "right"))
    for i, (label, ys, side) in enumerate(sides):
        pts = [(x, y) for x, y in zip(idx, ys, strict=False) if y is not None]
        if not pts:
            continue
        kw = {"label": label, "marker": MARKERS[i % len(MARKERS)], "yside": side}
        colour = series_colour(i, mono)
        if colour:
            kw["color"] = colour
        plt.plot([p[0] for p in pts], [p[1] for p in pts], **kw)
    if hline is not None:
        label, value = hline
        plt.plot(idx or [0], [value] * (len(idx) or 1), label=label, marker="-",
                 **({} if mono else {"color": "red"}))
    xticks(plt, idx, xs)
    if title:
        plt.title(title)
    if ylabel:
        plt.ylabel(ylabel)


def bars(plt, mono: bool, labels: list[str], series: list[tuple[str, list[float]]], title: str = "") -> None:
    """Side-by-side bars (reference vs current shares)."""
    fills = ["█", "░", "▒", "▓"]  # told apart by texture too, so monochrome still reads
    if len(series) == 1:
        plt.bar(labels, series[0][1], label=series[0][0], marker=fills[0])
    else:
        plt.multiple_bar(labels, [s[1] for s in series], labels=[s[0] for s in series],
                         marker=fills[: len(series)],
                         **({} if mono else {"color": [series_colour(i, False) for i in range(len(series))]}))
    xticks(plt, list(range(1, len(labels) + 1)), labels)
    if title:
        plt.title(title)


def xticks(plt, positions: list[float], labels: list[str]) -> None:
    """The x labels that fit the plot's width (``fit_ticks``), so plotext never drops one
    itself — it would pick which in an order that differs from run to run."""
    keep = fit_ticks(labels, getattr(plt, "columns", None))
    plt.xticks([positions[i] for i in keep], [labels[i] for i in keep])


def plot_pair(left: str, right: str, id: str | None = None) -> Horizontal:
    """Two plots side by side, each half the panel's width (drift, performance, ops)."""
    return Horizontal(ConsolePlot(id=left, classes="half"), ConsolePlot(id=right, classes="half"),
                      id=id, classes="split")
