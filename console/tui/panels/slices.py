"""Slices & fairness tab: every slice (feature = value) with rows, labelled rows, its metrics
and their confidence intervals; flagged slices first, each with the word "flagged". Numbers
from ``slices_report``."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.analytics.config import load_config
from console.analytics.fairness import GAPS
from console.tui import format as fmt
from console.tui.panels.base import Panel
from console.tui.widgets.fittable import FitTable


def ci_text(metric: str, m: dict, s: dict) -> str:
    value = m.get(metric)
    ci = s.get(f"{metric}_ci") or (s.get("ci") or {}).get(metric)
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci:
        return f"{fmt.num(value)} [{fmt.num(ci[0], 2)}–{fmt.num(ci[1], 2)}]"
    return fmt.num(value)


def fairness_lines(f: dict[str, Any], limits: dict[str, float | None]) -> list[Text]:
    """One line per gap of a sensitive feature: its value, the two values compared, the class of
    a multiclass (one-vs-rest) gap, and ✗ over / ✓ within its ``[alerts]`` threshold (words and
    symbols, not colour alone; "no threshold" when none is set)."""
    lines = []
    for key, gap, _, label in GAPS:
        line = Text(f"  {f.get('feature')} · {label}: ")
        value = f.get(key)
        if value is None:
            lines.append(line + Text("not computed (too few rows per value)"))
            continue
        line.append(f"{value:.3f}")
        cls = f.get(f"{gap}_class")
        if cls is not None:
            line.append(f" for class {cls} vs rest")
        groups = f.get(f"{gap}_groups") or []
        if len(groups) == 2:
            line.append(f" ({groups[0]} vs {groups[1]})")
        limit = limits.get(gap)
        if limit is None:
            line.append(" · no threshold set")
        elif value > limit:
            line.append(f" ✗ over {limit:g}", style="red bold")
        else:
            line.append(f" ✓ within {limit:g}", style="green")
        lines.append(line)
    return lines


class SlicesPanel(Panel):
    TAB = "slices"
    LABEL = "Slices"
    version: str | None = None  # the version the rows are about (the report's)
    order: list[tuple[str, str]] = []  # (feature, value) of each table row, in table order
    data: Any = None  # the report shown

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note", markup=False)
        yield FitTable(id="slices-table", cursor_type="row", zebra_stripes=True, flex="slice")
        yield Static("", id="slices-fairness", classes="note")

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        rep = backend.report("slices_report", model=model, version=version, **backend.span(window))
        a = load_config(backend.ws.config, model).alerts
        return rep | {"_limits": {gap: getattr(a, th) for _, gap, th, _ in GAPS}}

    def show(self, data: Any) -> None:
        slices = sorted(data.get("slices", []),
                        key=lambda s: (not s.get("flagged"), s.get("feature", ""), -(s.get("rows") or 0)))
        rule = data.get("rule") or {}
        metric = rule.get("metric", "accuracy")
        t = self.query_one(DataTable)
        t.clear(columns=True)
        for label, w in (("state", 10), ("slice", 22), ("rows", 7), ("labelled", 8),
                         (f"{metric} [95% CI]", 22), ("vs all", 7), ("p adj.", 9)):  # 5.37e-100
            t.add_column(label, width=w, key=label)
        for s in slices:
            state = Text("✗ flagged", style="red bold") if s.get("flagged") else Text("✓ ok", style="green")
            diff = (s.get("diff") or {}).get(metric)
            t.add_row(state, f"{s.get('feature')} = {s.get('value')}", fmt.num(s.get("rows")),
                      fmt.num(s.get("labelled")), ci_text(metric, s.get("metrics") or {}, s),
                      (f"{diff:+.3f}" if isinstance(diff, float) else "—"), fmt.num(s.get("p_adjusted"), 3))
        t.fit()
        self.data = data
        self.version = data.get("version")
        self.order = [(str(s.get("feature")), str(s.get("value"))) for s in slices]
        overall = data.get("overall") or {}
        n = sum(1 for s in slices if s.get("flagged"))
        self.note(f"{n} flagged slice(s) of {len(slices)} · flagged first · overall {metric} "
                  f"{fmt.num((overall.get('metrics') or {}).get(metric))} · test: {rule.get('correction', '')} "
                  f"α={rule.get('alpha', '')}" + (" · e: explain its predictions" if slices else ""))
        limits = data.get("_limits") or {}
        lines = [line for f in data.get("fairness") or [] for line in fairness_lines(f, limits)]
        self.query_one("#slices-fairness", Static).update(
            Text("\n").join([Text("fairness: the largest gap between a slice feature's values"), *lines])
            if lines else "")

    def highlighted_slice(self) -> tuple[str, str, str] | None:
        """``(version, feature, value)`` of the highlighted row (None before the data is in)."""
        row = self.query_one(DataTable).cursor_row
        if self.version is None or not 0 <= row < len(self.order):
            return None
        return (self.version, *self.order[row])
