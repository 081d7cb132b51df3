"""The plots' axes: time labels at the precision the data's span needs, x labels thinned to the
plot's width so that none is dropped by the drawing library — whose own dropping depended on
the process's string hash seed, so the same screen drew different labels on every run — and a
rate drawn on a y axis of its own beside counts."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import textwrap

from console.analytics.axes import fit_ticks, time_labels
from console.tui.widgets.plots import SizedPlot, bars, line

UTC = dt.UTC


def test_time_labels_show_the_year_when_the_data_spans_years() -> None:
    assert time_labels(["2025-12-30T00:00:00Z", "2026-01-01T00:00:00Z", None]) == [
        "2025-12-30", "2026-01-01", "—"]
    hourly = [dt.datetime(2025, 12, 31, 23, tzinfo=UTC), dt.datetime(2026, 1, 1, 0, tzinfo=UTC)]
    assert time_labels(hourly) == ["2025-12-31 23:00", "2026-01-01 00:00"]


def test_time_labels_show_the_date_when_the_data_spans_days_and_the_hour_within_a_day() -> None:
    days = [dt.date(2026, 11, d) for d in (14, 15, 16)]
    assert time_labels(days) == ["11-14", "11-15", "11-16"]
    assert time_labels(["2026-11-14T23:00:00Z", "2026-11-15T00:00:00Z"]) == ["11-14 23:00", "11-15 00:00"]
    assert time_labels(["2026-11-14T10:00:00Z", "2026-11-14T11:00:00Z"]) == ["10:00", "11:00"]
    assert time_labels([]) == [] and time_labels([None, "garbage"]) == ["—", "—"]


def test_fit_ticks_spaces_labels_evenly_from_the_first() -> None:
    labels = [f"11-{d:02d}" for d in range(1, 29)]
    assert fit_ticks(labels, None) == [0, 5, 10, 15, 20, 25]
    wide, narrow = fit_ticks(labels, 200), fit_ticks(labels, 40)
    assert wide[0] == narrow[0] == 0 and wide[-1] == narrow[-1] == 27 and len(wide) > len(narrow) >= 2
    assert len({b - a for a, b in zip(wide[:-1], wide[1:-1], strict=False)}) == 1  # even, then the last
    assert fit_ticks(["a very long label indeed"], 20) == [0] and fit_ticks([], 80) == []


def _bottom(plt, width: int) -> str:
    plt.plotsize(width, 10)
    plt._set_size(width, 10)  # as textual-plotext sizes it, past plotext's terminal cap
    return re.sub(r"\x1b\[[0-9;]*m", "", plt.build()).splitlines()[-1]


def test_every_fitted_label_is_drawn_at_every_width() -> None:
    bins = ["< 8.5k", "8.5k", "37.3k", "66k", "94.8k", "124k", "152k", "181k", "> 210k"]
    days = [f"11-{d:02d}" for d in range(1, 29)]
    stamps = [f"2025-11-{d:02d} 14:00" for d in range(1, 25)]
    for width in range(20, 130, 3):
        for labels, draw in (
            (bins, lambda p, lab: bars(p, False, lab, [("reference", [0.1] * len(lab)), ("current", [0.2] * len(lab))])),
            (days, lambda p, lab: line(p, False, lab, [("x", [float(i) for i in range(len(lab))])])),
            (stamps, lambda p, lab: line(p, True, lab, [("x", [float(i) for i in range(len(lab))])])),
        ):
            plt = SizedPlot()
            plt.columns = width
            draw(plt, labels)
            axis = _bottom(plt, width)
            assert all(labels[i] in axis for i in fit_ticks(labels, width)), (width, axis)


def test_a_rate_beside_counts_has_its_own_y_axis() -> None:
    plt = SizedPlot()
    plt.columns = 60
    line(plt, True, ["11-14", "11-15", "11-16", "11-17"], [("requests", [2000.0, 2100.0, 1900.0, 2131.0])],
         right=("error %", [0.05, 0.3, 0.1, 0.2]))
    plt.plotsize(60, 12)
    plt._set_size(60, 12)
    rows = re.sub(r"\x1b\[[0-9;]*m", "", plt.build()).splitlines()
    right = [r.rsplit("├", 1)[1].strip() for r in rows if "├" in r]
    assert right[0] == "0.300" and right[-1] == "0.050"  # its own scale, not squashed under 2131
    assert any("error % (right)" in r for r in rows) and any("requests" in r for r in rows)


DRAW = textwrap.dedent("""
    import re
    from console.tui.widgets.plots import SizedPlot, bars, line
    labels = ["8.5k", "37.3k", "66k", "94.8k", "124k", "152k", "181k", "210k", "239k", "268k",
              "296k", "325k", "354k", "382k", "411k", "440k", "469k"]
    for width in (40, 57, 80):
        for draw in (lambda p: bars(p, False, labels, [("r", [0.1] * 17), ("c", [0.2] * 17)]),
                     lambda p: line(p, False, [f"11-{d:02d}" for d in range(14, 22)], [("s", [1.0] * 8)])):
            p = SizedPlot()
            p.columns = width
            draw(p)
            p.plotsize(width, 10)
            p._set_size(width, 10)
            print(re.sub(r"\\x1b\\[[0-9;]*m", "", p.build()).splitlines()[-1])
""")


def test_axis_labels_are_the_same_in_every_process() -> None:
    """Before, plotext chose which overlapping labels to drop in ``set`` order: the drift tab's
    axis changed from run to run (and so its snapshot could not be kept)."""
    outs = set()
    for seed in ("0", "1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        res = subprocess.run([sys.executable, "-c", DRAW], capture_output=True, text=True, env=env, check=True)
        outs.add(res.stdout)
    assert len(outs) == 1, outs
