"""Slices & fairness tab: every slice (feature = value) with rows, labelled rows, its metrics
and their confidence intervals; flagged slices first, each with the word "flagged". Numbers
from ``slices_report``."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.tui import format as fmt
from console.tui.panels.base import Panel


def ci_text(metric: str, m: dict, s: dict) -> str:
    value = m.get(metric)
    ci = (s.get("ci") or {}).get(metric) or m.get(f"{metric}_ci")
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci:
        return f"{fmt.num(value)} [{fmt.num(ci[0], 2)}–{fmt.num(ci[1], 2)}]"
    return fmt.num(value)


class SlicesPanel(Panel):
    TAB = "slices"
    LABEL = "Slices"

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note")
        yield DataTable(id="slices-table", cursor_type="row", zebra_stripes=True)

    def fetch(self, backend, model: str, version: str | None, window) -> Any:
        return backend.report("slices_report", model=model, version=version, **backend.span(window))

    def show(self, data: Any) -> None:
        slices = sorted(data.get("slices", []), key=lambda s: (not s.get("flagged"), s.get("feature", ""), str(s.get("value"))))
        metrics = []
        for s in slices:
            for k, v in (s.get("metrics") or {}).items():
                if k not in metrics and not k.endswith("_ci") and not isinstance(v, (list, dict)):
                    metrics.append(k)
        metrics = metrics[:3]
        t = self.query_one(DataTable)
        t.clear(columns=True)
        t.add_column("state", width=10)
        t.add_column("slice", width=20)
        t.add_column("rows", width=7)
        t.add_column("labelled", width=8)
        for m in metrics:
            t.add_column(f"{m} [95% CI]", width=22)
        t.add_column("why", width=30)
        for s in slices:
            state = Text("✗ flagged", style="red bold") if s.get("flagged") else Text("✓ ok", style="green")
            t.add_row(state, f"{s.get('feature')} = {s.get('value')}", fmt.num(s.get("rows")),
                      fmt.num(s.get("labelled")),
                      *[ci_text(m, s.get("metrics") or {}, s) for m in metrics],
                      str(s.get("reason") or s.get("why") or ""))
        n = sum(1 for s in slices if s.get("flagged"))
        self.note(f"{n} flagged slice(s) of {len(slices)} · flagged first")
