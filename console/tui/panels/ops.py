"""Ops tab: requests per bucket with the error rate on a y axis of its own (a few errors beside
thousands of requests would be a flat line on the requests' scale), and latency percentiles
(p50, p95, p99). Numbers from ``ops_report``."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Static

from console.analytics.axes import time_labels
from console.tui import format as fmt
from console.tui.panels.base import Panel
from console.tui.widgets.plots import ConsolePlot, line, plot_pair


class OpsPanel(Panel):
    TAB = "ops"
    LABEL = "Ops"

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note", markup=False)
        yield plot_pair("ops-traffic", "ops-latency")

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        span = backend.span(window)
        series = backend.report("ops_report", model=model, version=version, window=window.step, **span)
        total = backend.report("ops_report", model=model, version=version, window="all", **span)
        return {"series": series, "total": total}

    def show(self, data: Any) -> None:
        wins = data["series"].get("windows", [])
        tot = (data["total"].get("windows") or [{}])[-1]
        lat = tot.get("latency_ms") or {}
        self.note(f"{fmt.num(tot.get('requests'))} requests · {fmt.num(tot.get('errors'))} errors "
                  f"({fmt.pct(tot.get('error_rate'))}) · latency p50 {fmt.ms(lat.get('p50'))} "
                  f"p95 {fmt.ms(lat.get('p95'))} p99 {fmt.ms(lat.get('p99'))}")
        xs = time_labels([w.get("start") for w in wins])
        rate = [None if w.get("error_rate") is None else 100 * w["error_rate"] for w in wins]
        self.query_one("#ops-traffic", ConsolePlot).draw_with(
            (lambda plt, mono: line(plt, mono, xs, [("requests", [w.get("requests") for w in wins])],
                                    right=("error %", rate),
                                    title="requests and error rate")) if wins else None)
        self.query_one("#ops-latency", ConsolePlot).draw_with(
            (lambda plt, mono: line(plt, mono, xs, [(p, [(w.get("latency_ms") or {}).get(p) for w in wins])
                                                    for p in ("p50", "p95", "p99")],
                                    title="latency ms")) if wins else None)
