"""Cost tab: serving cost per day with the monthly budget's daily pace as a line, and the cost
by version. Numbers from ``cost_report``'s rows (the budget from the registry)."""

from __future__ import annotations

import calendar
from typing import Any

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.analytics.axes import time_labels
from console.tui import format as fmt
from console.tui.panels.base import Panel
from console.tui.widgets.plots import ConsolePlot, line


class CostPanel(Panel):
    TAB = "cost"
    LABEL = "Cost"

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note")
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
        return {"daily": daily, "versions": by_version, "budget": budget, "now": backend.clock()}

    def show(self, data: Any) -> None:
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
        for c in ("version", "predictions", "serving", "training", "total", "per 1k"):
            t.add_column(c)
        for r in data["versions"].get("rows", []):
            t.add_row(r.get("version", "—"), fmt.num(r.get("predictions")), fmt.usd(r.get("serving_usd")),
                      fmt.usd(r.get("training_usd")), fmt.usd(r.get("total_usd")), fmt.usd(r.get("usd_per_1k")))
        self.note(f"monthly budget {fmt.usd(budget)} (daily pace line)" if budget else "no budget registered")
