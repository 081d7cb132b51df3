"""Fleet (home): every model with its production and candidate versions, traffic sparkline,
error rate, p95 latency, drift state, latest labelled metric against offline, cost today and
month-to-date against budget, open alerts and pending requests. Sortable (``s``), filterable
(``/``); enter opens the model.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.tui import format as fmt
from console.tui.fleetdata import (
    FleetRow,
    add_alerts,
    add_drift,
    add_fast,
    base_rows,
    severity_rank,
    snapshot,
)
from console.tui.screens.base import FilteredTableScreen
from console.tui.widgets.filterbar import FilterBar

COLUMNS = (
    # label, width, sort key — the most urgent first, so 80 columns show what matters
    ("model", 13, lambda r: r.model),
    ("prod", 4, lambda r: r.production or ""),
    ("cand", 4, lambda r: ",".join(r.candidates)),
    ("drift", 8, lambda r: {"drift": 0, "warn": 1, "ok": 2}.get(r.drift, 3)),
    ("alerts", 12, lambda r: (-(r.alerts), severity_rank(r.worst_alert or "info"))),
    ("err", 5, lambda r: -(r.error_rate or 0)),
    ("p95", 6, lambda r: -(r.p95_ms or 0)),
    ("live/offl.", 10, lambda r: r.metric_value if r.metric_value is not None else -1e9),
    ("traffic", 12, lambda r: -(r.requests or 0)),
    ("today", 6, lambda r: -(r.cost_today or 0)),
    ("month/budget", 12, lambda r: -(r.cost_mtd or 0)),
    ("reqs", 4, lambda r: -r.pending),
)


class FleetScreen(FilteredTableScreen):
    SCOPE = "fleet"
    TITLE = "Fleet"
    VIEW = "fleet"

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[FleetRow] = []
        self.sort_col = 4  # open alerts first
        self.sort_reverse = False
        self.filter_text = ""
        self._drift_cache: dict[str, str] = {}  # last known, shown while drift reloads
        self._alerts_cache: list[dict] | None = None

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="fleet", cursor_type="row", zebra_stripes=True)
        yield Static("", id="fleet-note", classes="note")
        yield FilterBar(id="fleet-filter")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, width, _ in COLUMNS:
            table.add_column(label, width=width, key=label)
        table.focus()
        self.show_registry_rows()
        super().on_mount()

    def show_registry_rows(self) -> None:
        """First paint: versions and stages (files only) before any query returns."""
        be = self.app.backend or self.app.preview  # the preview: registry + stages, read at start
        if be is None or self.rows:
            return
        self.rows = base_rows(be)
        self.repaint()

    def reload(self) -> None:
        self.show_registry_rows()
        super().reload()

    def fetch(self) -> Any:
        """Progressive: quick reports for every model, then pending requests, drift, alerts."""
        be = self.app.backend
        window, now = self.app.window, self.app.now()
        problems: list[str] = []
        rows = base_rows(be)
        try:
            pending = be.pending_by_model()
        except Exception as exc:
            pending = {}
            problems.append(f"requests: {type(exc).__name__}: {exc}")
        add_alerts(rows, self._alerts_cache, pending)
        for row in rows:
            add_fast(be, row, window, now)
            row.drift = self._drift_cache.get(row.model, "none")
        yield snapshot(rows), list(problems), "loading drift…"
        for row in rows:
            add_drift(be, row, window)
            yield snapshot(rows), list(problems), "loading drift…"
        try:
            alerts = be.report("check_alerts").get("alerts", [])
        except Exception as exc:
            alerts = None
            problems.append(f"alerts: {type(exc).__name__}: {exc}")
        add_alerts(rows, alerts, pending)
        yield snapshot(rows), problems, ""

    def show(self, data: Any) -> None:
        rows, problems, pending_note = data
        self.rows = rows
        for r in rows:
            problems.extend(f"{r.model}: {p}" for p in dict.fromkeys(r.problems))
            if r.drift != "none":
                self._drift_cache[r.model] = r.drift
        if not pending_note:
            self._alerts_cache = [{"model": r.model, "severity": r.worst_alert}
                                  for r in rows for _ in range(r.alerts)]
        note = self.query_one("#fleet-note", Static)
        text = f"▲ {len(problems)} problem(s): {problems[0]}" if problems else ""
        note.update(" · ".join(t for t in (pending_note, text) if t))
        self.repaint()

    # -- table -----------------------------------------------------------------------------
    def visible_rows(self) -> list[FleetRow]:
        rows = self.rows
        if self.filter_text:
            needle = self.filter_text.lower()
            rows = [r for r in rows if needle in " ".join(
                [r.model, r.task, r.drift, r.production or "", *r.candidates]).lower()]
        key = COLUMNS[self.sort_col][2]
        return sorted(rows, key=lambda r: (key(r), r.model), reverse=self.sort_reverse)

    def repaint(self) -> None:
        table = self.query_one(DataTable)
        selected = self.selected_model()
        table.clear()
        for r in self.visible_rows():
            table.add_row(*self.cells(r), key=r.model)
        if selected is not None:
            try:
                table.move_cursor(row=table.get_row_index(selected))
            except Exception:
                pass
        label, _, _ = COLUMNS[self.sort_col]
        arrow = "▼" if self.sort_reverse else "▲"
        self.sub_title = f"sorted by {label} {arrow}"
        for i, (lab, _w, _k) in enumerate(COLUMNS):
            col = table.columns.get(lab)
            if col is not None:
                col.label = Text(f"{lab}{arrow}" if i == self.sort_col else lab)
        table.refresh()

    def cells(self, r: FleetRow) -> list[Any]:
        metric = "—"
        if r.metric:
            metric = f"{fmt.num(r.metric_value, 2)}/{fmt.num(r.metric_offline, 2)}"
        budget = fmt.usd(r.cost_mtd)
        if r.budget is not None:
            budget += f"/{fmt.usd(r.budget)}"
            if r.cost_mtd is not None and r.cost_mtd > r.budget:
                budget = Text("✗ " + budget, style="red")
        alerts = Text("✓ none", style="green") if not r.alerts else fmt.state(r.worst_alert or "warning")
        if r.alerts:
            alerts = Text(f"{r.alerts} ") + alerts
        return [
            Text(r.model, style="bold"), r.production or "—", ",".join(r.candidates) or "—",
            fmt.state(r.drift), alerts, fmt.pct(r.error_rate), fmt.ms(r.p95_ms), metric,
            fmt.sparkline(r.traffic, 12), fmt.usd(r.cost_today), budget,
            f"{r.pending}" if r.pending else "—",
        ]

    def selected_model(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return key.value

    # -- actions ---------------------------------------------------------------------------
    def action_open_model(self) -> None:
        model = self.selected_model()
        if model:
            self.app.open_model(model)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            self.app.open_model(event.row_key.value)

    def action_sort(self) -> None:
        self.sort_col = (self.sort_col + 1) % len(COLUMNS)
        self.repaint()

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.repaint()
