"""Performance tab: the primary metric per time bucket against the offline value the registry
recorded, and label coverage (labelled rows out of rows) per bucket — late labels fill in as
they arrive. Numbers from ``performance_report``."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Static

from console.analytics.axes import time_labels
from console.store.registry import version_label
from console.tui import format as fmt
from console.tui.fleetdata import primary_metric
from console.tui.panels.base import Panel
from console.tui.widgets.plots import ConsolePlot, line, plot_pair


class PerformancePanel(Panel):
    TAB = "performance"
    LABEL = "Performance"

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note")
        yield plot_pair("perf-metric", "perf-coverage")
        yield Static("", id="perf-table", classes="note")

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        report = backend.report("performance_report", model=model, version=version,
                                window=window.step, **backend.span(window))
        v = version or backend.fleet.production.get(model)
        info = backend.registry.get(model, v) if v else None
        return {"report": report, "offline": dict(info.metrics) if info else {},
                "task": info.task if info else "binary", "version": v}

    def show(self, data: Any) -> None:
        wins = data["report"].get("windows", [])
        metric = primary_metric(data["task"])
        offline = data["offline"].get(metric)
        xs = time_labels([w.get("start") for w in wins])
        ys = [(w.get("metrics") or {}).get(metric) for w in wins]
        cov = [w.get("label_coverage") for w in wins]
        live = data["report"].get("live") or {}  # the fleet's live value: the same words
        said = f"live {fmt.num(live.get('value'))}"
        if live.get("value") is not None:
            said += f" on {fmt.num(live.get('labelled'))} labels"
            if live.get("low_confidence"):
                said += f" ~ low confidence (< {fmt.num(live.get('min_labelled'))})"
        self.note(f"{version_label(data['version'])} · {metric}: {said} vs offline {fmt.num(offline)} · "
                  f"{sum(1 for y in ys if y is not None)}/{len(wins)} buckets with labels")
        self.query_one("#perf-metric", ConsolePlot).draw_with(
            (lambda plt, mono: line(plt, mono, xs, [(metric, ys)],
                                    hline=("offline", offline) if offline is not None else None,
                                    title=f"{metric} vs offline")) if any(y is not None for y in ys) else None,
            "no labelled data in this window")
        self.query_one("#perf-coverage", ConsolePlot).draw_with(
            (lambda plt, mono: line(plt, mono, xs, [("coverage", cov)], title="label coverage")) if wins else None,
            "no predictions in this window")
        other = sorted({k for w in wins for k in (w.get("metrics") or {})})
        last = next((w for w in reversed(wins) if w.get("labelled")), None)
        if last:
            self.query_one("#perf-table", Static).update(
                "latest labelled bucket: " + "  ".join(
                    f"{k} {fmt.num(last['metrics'].get(k))}" + (f" (offline {fmt.num(data['offline'][k])})"
                                                              if k in data["offline"] else "")
                    for k in other))
