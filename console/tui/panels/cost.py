"""Cost tab: serving cost per day with the monthly budget's daily pace as a line, and a table of
the cost by version with its expected net value and ROI — or, after ``d``, per day: cost with
amortised training, expected value, net value, ROI and cost per correct prediction. Numbers
from ``cost_report``'s rows (the budget from the registry) and ``value_report``
(docs/analytics.md, "Cost" and "Value and ROI")."""

from __future__ import annotations

import calendar
from typing import Any

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.analytics.axes import time_labels
from console.tui import format as fmt
from console.tui.panels.base import Panel
from console.tui.widgets.plots import ConsolePlot, line


def signed_usd(x: float | None) -> str:
    """``-$1,234`` / ``$56``; ``?`` when unknown (never a 0 for a value nobody set)."""
    return "?" if x is None else ("-" if x < 0 else "") + fmt.usd(abs(x))


def unit_usd(x: float | None) -> str:
    """A cost per prediction: ``$0.0038`` (two significant digits under a cent), ``?`` unknown."""
    if x is None:
        return "?"
    return f"${x:.2g}" if 0 < abs(x) < 0.01 else fmt.usd(x)


def roi_text(roi: float | None) -> str:
    return f"{roi * 100:,.0f}%" if roi is not None else "?"


class CostPanel(Panel):
    TAB = "cost"
    LABEL = "Cost"
    by_day = False  # the table per day (``d``) instead of per version
    data: Any = None  # the last data shown (``d`` repaints the table from it)

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note", markup=False)
        yield ConsolePlot(id="cost-daily")
        yield DataTable(id="cost-versions", cursor_type="row")

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        span = backend.span(window)
        # cost_report's rows (engine's cost_rows) without its labels join: this tab shows no
        # per-correct figures, and the join costs seconds on a large store
        rows = {by: backend.report("cost.cost_rows", model=model, version=version, by=by, labels=False, **span)
                for by in ("day", "version")}
        daily, by_version = {"rows": rows["day"]}, {"rows": rows["version"]}
        prod = backend.fleet.production.get(model)
        info = backend.registry.get(model, prod) if prod else None
        budget = (info.cost or {}).get("monthly_budget_usd") if info else None
        value = backend.report("value_report", model=model, version=version, by="version", **span)
        value_daily = backend.report("value_report", model=model, version=version, by="day", **span)
        return {"daily": daily, "versions": by_version, "budget": budget, "now": backend.clock(), "value": value,
                "value_daily": value_daily}

    def toggle_by(self) -> None:
        """``d``: the table per day / per version (no new query: both are fetched)."""
        self.by_day = not self.by_day
        if self.data is not None:
            self.show(self.data)

    def show(self, data: Any) -> None:
        self.data = data
        rows = data["daily"].get("rows", [])
        budget = data["budget"]
        now = data["now"]
        xs = time_labels([r.get("day") for r in rows])
        ys = [r.get("total_usd") for r in rows]
        pace = budget / calendar.monthrange(now.year, now.month)[1] if budget else None
        self.query_one("#cost-daily", ConsolePlot).draw_with(
            (lambda plt, mono: line(plt, mono, xs, [("USD/day", ys)],
                                    hline=("budget/day", pace) if pace else None,
                                    title="daily cost" + (f" · budget {fmt.usd(budget)}/month" if budget else ""))) if rows else None,
            "no cost in this window")
        t = self.query_one(DataTable)
        t.clear(columns=True)
        value = data.get("value") or {}
        nets = {r.get("version"): r for r in value.get("rows", [])}
        if self.by_day:
            self._days(t, data.get("value_daily") or {})
        else:
            for c in ("version", "predictions", "serving", "training", "total", "per 1k", "net value", "ROI"):
                t.add_column(c)
            for r in data["versions"].get("rows", []):
                v = nets.get(r.get("version")) or {}
                t.add_row(r.get("version", "—"), fmt.num(r.get("predictions")), fmt.usd(r.get("serving_usd")),
                          fmt.usd(r.get("training_usd")), fmt.usd(r.get("total_usd")), fmt.usd(r.get("usd_per_1k")),
                          signed_usd(v.get("net_usd")), roi_text(v.get("roi")))
        unvalued = value.get("not_valued") or []
        self.note(" · ".join(filter(None, [
            f"monthly budget {fmt.usd(budget)} (daily pace line)" if budget else "no budget registered",
            "net value = expected value − serving − amortised training" if nets else None,
            (f"? not valued: {unvalued[0]['reason']}" if unvalued else None),
            "d: per version" if self.by_day else "d: per day"])))

    @staticmethod
    def _days(t: DataTable, value: dict) -> None:
        """Per day, newest first: cost with amortised training, expected value, net, ROI, cost
        per correct prediction (training included)."""
        for c in ("day", "predictions", "cost", "value", "net value", "ROI", "per correct"):
            t.add_column(c)
        for r in sorted(value.get("rows", []), key=lambda r: r.get("day") or "", reverse=True):
            t.add_row(r.get("day") or "—", fmt.num(r.get("predictions")), fmt.usd(r.get("cost_usd")),
                      signed_usd(r.get("expected_value_usd")), signed_usd(r.get("net_usd")), roi_text(r.get("roi")),
                      unit_usd(r.get("usd_per_correct")))
