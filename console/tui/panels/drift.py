"""Drift tab: features ranked by drift (drifted first, then by how far past the threshold), each
with method, score, threshold, state and a trend over the window's last buckets; the highlighted
feature's reference-vs-current distribution and its score over time. Every number comes from
``drift_report`` and, for the trend, ``drift_windows`` — over all data, from fresh daily
profiles (``profiles.glance``: the note line says so).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.analytics.axes import time_labels
from console.profiles import glance
from console.store.registry import version_label
from console.tui import format as fmt
from console.tui.panels.base import Panel
from console.tui.widgets.fittable import FitTable
from console.tui.widgets.plots import ConsolePlot, bars, line, plot_pair

P_VALUE_METHODS = ("ks", "chisquare", "z")
TREND_BUCKETS = 8


def severity(f: dict) -> tuple:
    """Sort key: drifted first, then by how strongly (p-values small, distances large)."""
    score, thr = f.get("score"), f.get("threshold") or 1
    if score is None:
        return (2, 0.0)
    ratio = (thr / score if score else float("inf")) if f.get("method") in P_VALUE_METHODS else score / thr
    return (0 if f.get("drifted") else 1, -ratio)


class DriftPanel(Panel):
    TAB = "drift"
    LABEL = "Drift"
    PROGRESSIVE = True  # the ranked table first, the trend later

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note", id="drift-summary", markup=False)
        yield FitTable(id="drift-features", cursor_type="row", zebra_stripes=True, flex="feature")
        yield plot_pair("drift-dist", "drift-trend", id="drift-plots")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for label, width in (("feature", 14), ("method", 13), ("score", 7), ("thr", 5),
                             ("state", 8), ("trend", TREND_BUCKETS)):
            t.add_column(label, width=width, key=label)
        self.data: dict | None = None

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        """Progressive: the ranked table first, then the trend (``drift_windows``)."""
        span = backend.span(window)
        report = backend.report(glance.drift_report, model=model, version=version, **span)
        yield {"report": report, "trend": {"points": []}}
        yield {"report": report, "trend": {"points": backend.drift_trend(model, version, window, TREND_BUCKETS)}}

    def show(self, data: Any) -> None:
        self.data = data
        report = data["report"]
        feats = sorted(report.get("features", []), key=severity)
        ds = report.get("dataset_drift", {})
        cur = report.get("current", {})
        if ds.get("drifted"):
            state = "✗ dataset drift"
        elif not ds.get("tested_features"):  # nothing could be tested: unknown, not "no drift"
            state = "? drift not tested" + (" (no current data)" if not cur.get("rows") else "")
        else:
            state = "✓ no dataset drift"
        source = " · from daily profiles (numeric: ± score bound)" if report.get("source") == "profiles" else ""
        self.note(f"{report.get('model')} {version_label(report.get('version'))} · {state} · "
                  f"{fmt.pct(ds.get('share'), 0)} of features drifted (threshold {fmt.pct(ds.get('threshold'), 0)}) · "
                  f"current {fmt.num(cur.get('rows'))} rows vs reference {fmt.num(report.get('reference', {}).get('rows'))}"
                  f"{source}")
        t = self.query_one(DataTable)
        keep = t.cursor_row
        t.clear()
        for f in feats:
            scores = [pt.get(f["feature"]) for pt in data["trend"].get("points", [])]
            t.add_row(Text(f["feature"], style="bold"), f.get("method") or f.get("note") or "—", fmt.num(f.get("score")),
                      fmt.num(f.get("threshold"), 2),
                      fmt.state("none" if f.get("method") is None else "drift" if f.get("drifted") else "ok"),
                      fmt.sparkline([s for s in scores], TREND_BUCKETS), key=f["feature"])
        t.fit()
        if feats:
            t.move_cursor(row=min(keep, len(feats) - 1))
            self.show_feature(feats[min(keep, len(feats) - 1)]["feature"])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self.show_feature(event.row_key.value)

    def show_feature(self, name: str) -> None:
        if not self.data:
            return
        f = next((x for x in self.data["report"].get("features", []) if x["feature"] == name), None)
        if f is None:
            return
        dist = distribution(f.get("stats") or {})
        plot = self.query_one("#drift-dist", ConsolePlot)
        if dist is None:
            plot.draw_with(None, f"{name}: no distribution in the report")
        else:
            labels, ref, cur = dist
            plot.draw_with(lambda plt, mono: bars(plt, mono, labels, [("reference", ref), ("current", cur)],
                                                  title=f"{name}: reference vs current"))
        trend = self.data["trend"]
        xs = time_labels([p.get("start") for p in trend.get("points", [])])
        ys = [p.get(name) for p in trend.get("points", [])]
        thr = f.get("threshold")
        self.query_one("#drift-trend", ConsolePlot).draw_with(
            (lambda plt, mono: line(plt, mono, xs, [(f"{f.get('method')} score", ys)],
                                    hline=("threshold", thr) if thr is not None else None,
                                    title=f"{name}: score over time")) if any(y is not None for y in ys) else None,
            f"{name}: no history in this window")


def distribution(stats: dict) -> tuple[list[str], list[float], list[float]] | None:
    """Reference and current shares as the engine binned them for the plot: numeric values in
    clipped bins with ``< x``/``> y`` overflow bins (``plot_bins``), else the categories."""
    hist = stats.get("plot_bins") or stats.get("histogram") or stats.get("distribution")
    if isinstance(hist, dict):
        labels, ref, cur = hist.get("labels"), hist.get("reference"), hist.get("current")
        if labels and ref is not None and cur is not None:
            return [str(x) for x in labels], list(ref), list(cur)
    # No binned shares in the report: compare the summary statistics it does carry.
    if stats.get("reference_mean") is not None and stats.get("current_mean") is not None:
        return ["mean"], [stats["reference_mean"]], [stats["current_mean"]]
    return None
