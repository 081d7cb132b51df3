"""Performance tab: the primary metric per time bucket against the offline value the registry
recorded, and label coverage (labelled rows out of rows) per bucket — late labels fill in as
they arrive. Numbers from ``performance_report``. Beside the realized metric, its estimate
without labels (``estimate_report``: CBPE for binary, DLE for regression) per bucket, and a line
saying whether the realized value lies inside the estimate's band; a model the estimate cannot
serve (multiclass, a reference without labels) says why on that line, the rest of the tab stays."""

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
    PROGRESSIVE = True  # the realized numbers first, the estimate (a model fit on a first run) after

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note", markup=False)
        yield plot_pair("perf-metric", "perf-coverage")
        yield Static("", id="perf-estimate", classes="note", markup=False)
        yield Static("", id="perf-table", classes="note", markup=False)

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        report = backend.report("performance_report", model=model, version=version,
                                window=window.step, **backend.span(window))
        v = version or backend.fleet.production.get(model)
        info = backend.registry.get(model, v) if v else None
        task = info.task if info else "binary"
        first = {"report": report, "offline": dict(info.metrics) if info else {}, "task": task, "version": v,
                 "estimate": None}
        yield first
        yield dict(first, estimate=cls.fetch_estimate(backend, model, version, window, task))

    @staticmethod
    def fetch_estimate(backend, model: str, version: str | None, window, task: str) -> dict:
        """The primary metric's estimate per bucket, or ``{"error": why}`` when there is none."""
        from console.analytics.estimate import METRICS
        from console.analytics.runner import Cancelled
        from console.errors import UsageError

        metric = primary_metric(task)
        if metric not in METRICS.get(task, ()):
            return {"error": f"no estimate for a {task} model (binary and regression only)"}
        try:
            return backend.report("estimate.estimate_report", model=model, version=version, window=window.step,
                                  metric=metric, **backend.span(window))
        except Cancelled:
            raise
        except UsageError as exc:
            return {"error": str(exc).strip().splitlines()[0] if str(exc).strip() else "not available"}

    def show(self, data: Any) -> None:
        wins = data["report"].get("windows", [])
        metric = primary_metric(data["task"])
        offline = data["offline"].get(metric)
        xs = time_labels([w.get("start") for w in wins])
        ys = [(w.get("metrics") or {}).get(metric) for w in wins]
        est = estimated_series(data["estimate"] or {}, wins, metric)
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
            (lambda plt, mono: line(plt, mono, xs, [(metric, ys)] + ([("estimated", est)] if any(
                e is not None for e in est) else []), hline=("offline", offline) if offline is not None else None,
                title=f"{metric}: realized, estimated, offline")) if any(y is not None for y in ys + est) else None,
            "no labelled data in this window")
        self.query_one("#perf-estimate", Static).update(
            "… estimating without labels" if data["estimate"] is None else estimate_line(data["estimate"], metric))
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


def estimated_series(estimate: dict, wins: list[dict], metric: str) -> list[float | None]:
    """The estimate of ``metric`` for each performance bucket (matched by start; None where none)."""
    by_start = {w.get("start"): (w.get("metrics") or {}).get(metric) or {} for w in estimate.get("windows", [])}
    return [by_start.get(w.get("start"), {}).get("estimated") for w in wins]


def estimate_line(estimate: dict, metric: str) -> str:
    """One line: the newest bucket's estimate with its band and the realized value, and in how
    many labelled buckets the band held the realized value — words beside every mark."""
    if estimate.get("error"):
        return f"? estimate not available: {estimate['error']}"
    wins = [w for w in estimate.get("windows", []) if ((w.get("metrics") or {}).get(metric) or {}).get("estimated")
            is not None]
    if not wins:
        return "? estimate: no scored predictions in this window"
    m = wins[-1]["metrics"][metric]
    said = (f"{estimate.get('method')} estimate of {metric} (newest bucket): {fmt.num(m['estimated'])} "
            f"[{fmt.num(m['lower'])}, {fmt.num(m['upper'])}]")
    if m.get("realized") is None:
        said += " · realized: no labels yet"
    else:
        inside = m["lower"] is not None and m["lower"] <= m["realized"] <= m["upper"]
        said += f" · realized {fmt.num(m['realized'])} " + ("✓ inside band" if inside else "✗ outside band")
    pairs = [w["metrics"][metric] for w in wins if w["metrics"][metric].get("realized") is not None]
    held = sum(1 for p in pairs if p["lower"] is not None and p["lower"] <= p["realized"] <= p["upper"])
    if pairs:
        said += f" · band held in {held}/{len(pairs)} labelled buckets"
    return said
