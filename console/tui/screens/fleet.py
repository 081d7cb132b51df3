"""Fleet (home): every model with its production and candidate versions, traffic sparkline,
error rate, p95 latency, drift state, latest labelled metric against offline, cost today and
month-to-date against budget, open alerts and pending requests. Sortable (``s``), filterable
(``/``); enter opens the model.

Loading (``fleetdata`` has the stages): the registry rows paint first; then one worker (the
screen's ``load``) fills traffic, errors, latency, cost and pending requests of every model;
when it has painted, two workers start side by side — the latest labelled metric and drift —
and, once the metric column is in, a third for the alerts; each fills its column as it finishes
(until then the last known value stays, and the note says what is still loading). A reload
(another window) cancels all of them; new data (``data_changed``) lets a slow column being
computed finish and paint, then computes it once more (``_start``). The alerts wait for the
metric because both can be minutes of exact work on a large store (a binary model's label
join, every model's windows of drift): on a few cores, side by side they only slowed each
other, and together they were the console's peak memory (docs/benchmarks.md).

The highlighted model is the one enter opens: once the cheap columns are in, a fourth worker
computes that model's tab reports ahead (``model.warm_tabs``), so the model screen opens onto
data; moving the cursor moves it to the new row, leaving the screen cancels it.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from console.profiles.glance import PROFILED_TASKS
from console.tui import format as fmt
from console.tui.fleetdata import (
    FleetRow,
    add_summary,
    base_rows,
    drift_of,
    metric_of,
    primary_metric,
    severity_rank,
    snapshot,
)
from console.tui.screens.base import FilteredTableScreen
from console.tui.widgets.filterbar import FilterBar

COLUMNS = (
    # label, width, sort key — the most urgent first, so 80 columns show what matters
    ("model", 13, lambda r: r.model),
    ("prod", 4, lambda r: r.production or ""),
    ("drift", 8, lambda r: {"drift": 0, "warn": 1, "ok": 2}.get(r.drift, 3)),
    ("alerts", 12, lambda r: (-(r.alerts), severity_rank(r.worst_alert or "info"))),
    ("err", 6, lambda r: -(r.error_rate or 0)),
    ("p95", 6, lambda r: -(r.p95_ms or 0)),
    # live value/offline value of the primary metric, n = the labelled rows behind the live
    # value; "~" before it: fewer than [performance] min_labelled (the note names the metric)
    ("live/offl. n", 16, lambda r: (r.metric_low, r.metric_value if r.metric_value is not None else -1e9)),
    ("traffic", 12, lambda r: -(r.requests or 0)),
    ("today", 6, lambda r: -(r.cost_today or 0)),
    ("month/budget", 12, lambda r: -(r.cost_mtd or 0)),
    ("reqs", 4, lambda r: -r.pending),
    ("cand", 4, lambda r: ",".join(r.candidates)),
)


def live_note(r: FleetRow) -> str:
    """The highlighted model's live metric in words: its name, value and the labels behind it,
    and "~ low confidence" when they are fewer than ``[performance] min_labelled``."""
    if not r.metric or r.metric_value is None or r.state("metric") != "ok":
        return ""
    text = f"{r.model}: live {r.metric} {fmt.num(r.metric_value, 2)} on {fmt.num(r.metric_labelled)} labels"
    if r.metric_low:
        text += f" ~ low confidence (< {fmt.num(r.metric_min)})"
    return text


def _from_profiles(r: FleetRow) -> str:
    """What of the highlighted row the daily profiles answered (the exact paths say nothing)."""
    parts = [name for name, src in (("p95 (±1 %)", r.ops_source), ("drift", r.drift_source),
                                      ("live metric", r.metric_source)) if src == "profiles"]
    if not parts:
        return ""
    named = f"{', '.join(parts[:-1])} and {parts[-1]}" if len(parts) > 1 else parts[0]
    return f"{named} from daily profiles"


class FleetScreen(FilteredTableScreen):
    SCOPE = "fleet"
    TITLE = "Fleet"
    VIEW = "fleet"

    SLOW = ("metric", "drift", "alerts")  # the columns filled after the first data paint
    CARRIED = ("metric_value", "metric_labelled", "metric_low", "metric_min", "metric_source", "drift", "drifted_features",
               "drift_source", "alerts", "worst_alert", "alerts_skipped")
    PART_OF = {"metric": "metric", "drift": "drift", "alerts": "alerts"}

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[FleetRow] = []
        self.sort_col = 3  # open alerts first
        self.sort_reverse = False
        self.filter_text = ""
        self.generation = 0
        self.waiting_for: set[str] = set()  # "summary" and the SLOW parts not painted yet
        self.problems: dict[str, list[str]] = {}
        self.started: dict[str, int] = {}  # SLOW part -> the load (generation) its worker computes
        self.busy: set[str] = set()  # SLOW parts whose worker has not reported done
        self.again: set[str] = set()  # ... and which to compute once more when it has (new data meanwhile)

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="fleet", cursor_type="row", zebra_stripes=True)
        yield Static("", id="fleet-note", classes="note", markup=False)
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
        self._begin_load(keep=False)

    def data_changed(self) -> None:
        """New data (a live ingester's batch): the cheap columns load again, but a slow column
        still being computed is left to finish and paint, then computed once more — on a large
        store, where the metric and the alerts take minutes, a batch every few seconds would
        otherwise cancel them each time and they would never be shown."""
        self._begin_load(keep=True)

    def _begin_load(self, keep: bool) -> None:
        self.show_registry_rows()
        if self.app.backend is None:
            return
        if self.running("fleet-warm"):  # cut short: the new load computes it again, whatever the minute says
            self._warmed_for = None
        self.workers.cancel_group(self, "fleet-warm")
        for part in self.SLOW:  # stale: a newer load restarts them (new data: once they are done)
            if keep and part in self.busy:
                self.again.add(part)
                continue
            self.workers.cancel_group(self, f"fleet-{part}")
            self.started.pop(part, None)
            self.busy.discard(part)
            self.again.discard(part)
        self.generation += 1
        self.waiting_for = {"summary", *self.SLOW}
        super().reload()

    def fetch(self) -> Any:
        """The cheap columns of every model (ops, cost and budget reports side by side; requests)."""
        generation = self.generation
        be = self.app.backend
        window = be.window(self.app.window)  # ends at the fleet's newest data
        now = self.app.now()
        problems: list[str] = [f"registry file skipped: {e}" for e in be.registry.errors]
        rows = base_rows(be)
        try:
            pending = be.pending_by_model()
        except Exception as exc:
            pending = {}
            problems.append(f"requests: {type(exc).__name__}: {exc}")
        for row in rows:
            row.pending = pending.get(row.model, 0)
        add_summary(be, rows, window, now, problems)
        return "rows", generation, rows, problems, window

    def show(self, data: Any) -> None:
        kind, generation = data[0], data[1]
        if generation != (self.generation if kind == "rows" else self.started.get(data[2])):
            return  # a stale load's last word
        if kind == "rows":
            _, _, rows, problems, window = data
            old = {r.model: r for r in self.rows}
            for r in rows:  # the slow columns keep their last known values (and states) until reported
                if r.model in old:
                    for name in self.CARRIED:
                        setattr(r, name, getattr(old[r.model], name))
                    for part in self.SLOW:
                        if part in old[r.model].states:
                            r.states[part] = old[r.model].states[part]
                        if part in old[r.model].failures:
                            r.failures[part] = old[r.model].failures[part]
            self.rows = rows
            self.problems = {"summary": problems}
            self.waiting_for.discard("summary")
            self.window_shown = window
            self.repaint_status()  # the header says where the window ends
            self._start("metric")
            self._start("drift")
            self.warm(self.selected_model())  # (the alerts start once the metric column is in: below)
        else:  # ("fields", generation, part, {model: {field: value}}, problems, done)
            _, _, part, fields, problems, done = data
            for r in self.rows:
                for name, value in fields.get(r.model, {}).items():
                    if name == "failure":  # the part's outcome for this row: None when it was computed
                        r.mark(part, value)
                    else:
                        setattr(r, name, value)
            self.problems[part] = problems
            if done:
                self.busy.discard(part)
                if part in self.again:  # new data came meanwhile: its values are shown, and computed again
                    self.again.discard(part)
                    self._start(part)
                else:
                    self.waiting_for.discard(part)
                if part == "metric":
                    self._start("alerts")
        self.paint_note()
        self.repaint()

    def _start(self, part: str) -> None:
        """Start the worker of the slow column ``part`` for the current load — or, while one is
        still computing it for an earlier load (kept by ``data_changed``), once more after it."""
        if part in self.busy:
            self.again.add(part)
            return
        self.busy.add(part)
        self.started[part] = generation = self.generation
        if part == "alerts":
            self._alerts(generation, [r.model for r in self.rows])
        else:
            (self._metric if part == "metric" else self._drift)(generation, snapshot(self.rows), self.window_shown)

    def paint_note(self) -> None:
        """What is still loading; then the highlighted model's failures (why a cell says
        "✗ failed"), else the first problem of any."""
        problems = [p for part in self.problems.values() for p in part]
        waiting = [k for k in self.SLOW if k in self.waiting_for]
        pending = f"loading {', '.join(waiting)}…" if waiting and "summary" not in self.waiting_for else ""
        mine = next((r for r in self.rows if r.model == self.selected_model()), None)
        live = ""
        if mine is not None and mine.failures:
            text = f"✗ {mine.model}: " + "; ".join(f"{part} failed: {why}" for part, why in mine.failures.items())
        else:
            text = f"✗ {len(problems)} problem(s): {problems[0]}" if problems else ""
            live = live_note(mine) if mine is not None else ""
            if mine is not None:
                live = " · ".join(t for t in (live, _from_profiles(mine)) if t)
            if mine is not None and mine.alerts_skipped and not mine.alerts:
                text = " · ".join(t for t in (f"? {mine.model}: alerts not evaluated ({mine.alerts_skipped})", text) if t)
        self.query_one("#fleet-note", Static).update(" · ".join(t for t in (live, pending, text) if t))

    # -- the slow columns, one worker each ------------------------------------------------
    def _post(self, data: Any) -> bool:
        if get_current_worker().is_cancelled:
            return False
        self.app.call_from_thread(self._apply, data)
        return True

    def _per_model(self, part: str, generation: int, rows: list[FleetRow], fn, window) -> None:
        """``fn`` for each row, each result painted as it comes; the part is done at the end."""
        problems: list[str] = []
        try:
            for row in rows:
                try:
                    got = {**fn(self.app.backend, row, window), "failure": None}
                except Exception as exc:  # keep the other rows coming; this one says it failed
                    text = str(exc).strip()
                    reason = f"{type(exc).__name__}: {text.splitlines()[0] if text else 'failed'}"
                    got = {"failure": reason}
                    problems.append(f"{row.model}: {part}: {reason}")
                if not self._post(("fields", generation, part, {row.model: got}, list(problems), False)):
                    return
        finally:
            self._post(("fields", generation, part, {}, problems, True))

    @work(thread=True, exit_on_error=False, group="fleet-metric")  # (one at a time: ``_start``)
    def _metric(self, generation: int, rows: list[FleetRow], window) -> None:
        # the models whose live metric fresh profiles can give (in a second) before those the
        # exact report must scan for (minutes on 100M rows)
        self._per_model("metric", generation, sorted(rows, key=lambda r: r.task not in PROFILED_TASKS),
                        metric_of, window)

    @work(thread=True, exit_on_error=False, group="fleet-drift")  # (one at a time: ``_start``)
    def _drift(self, generation: int, rows: list[FleetRow], window) -> None:
        self._per_model("drift", generation, rows, drift_of, window)

    @work(thread=True, exit_on_error=False, group="fleet-alerts")  # (one at a time: ``_start``)
    def _alerts(self, generation: int, models: list[str]) -> None:
        """Every model's open alerts (``check_alerts``); a model whose rules could not all be
        computed — or all of them when the report failed — is marked failed, never "none"."""
        try:
            rep = self.app.backend.alerts()
            alerts, errors = rep.get("alerts", []), rep.get("errors") or []
            skipped = rep.get("skipped") or []
            problems = [f"{e.get('model')}: alerts ({'/'.join(e.get('kinds', []))}): {e.get('error')}"
                        for e in errors]
            everyone = None
        except Exception as exc:
            text = str(exc).strip()
            everyone = f"{type(exc).__name__}: {text.splitlines()[0] if text else 'failed'}"
            alerts, errors, skipped, problems = [], [], [], [f"alerts: {everyone}"]
        fields: dict[str, dict[str, Any]] = {}
        for model in models:
            mine = [a for a in alerts if a.get("model") == model]
            worst = min((a.get("severity") or "info" for a in mine), key=severity_rank) if mine else None
            failed = [e for e in errors if e.get("model") in (model, None)]
            failure = everyone or ("; ".join(f"{'/'.join(e.get('kinds', []))}: {e.get('error')}" for e in failed)
                                   if failed else None)
            why = sorted({str(s.get("reason")) for s in skipped if s.get("model") == model})
            fields[model] = {"alerts": len(mine), "worst_alert": worst, "failure": failure,
                             "alerts_skipped": "; ".join(why) or None}
        self._post(("fields", generation, "alerts", fields, problems, True))

    # -- the highlighted model's tabs, ahead ----------------------------------------------
    WARM_AGAIN_S = 60.0  # the same model and window after new data: at most this often
    warmed: str | None = None  # the model last computed ahead
    _warmed_for: tuple | None = None  # (model, window choice, load generation, monotonic time)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self.warm(event.row_key.value)
            self.paint_note()  # the highlighted model's failures, if any

    def warm(self, model: str | None) -> None:
        """Start computing ``model``'s tab reports — not before the cheap columns are in (so
        they never wait for it), once per load, and for the same model and window again after
        new data at most every ``WARM_AGAIN_S`` (live data reloads the fleet every few seconds;
        an idle console must not recompute a model's every tab each time)."""
        if model is None or self.app.backend is None or "summary" in self.waiting_for:
            return
        now = monotonic()
        window = self.app.window.key
        last = self._warmed_for
        if last is not None and last[:2] == (model, window) and (
                last[2] == self.generation or now - last[3] < self.WARM_AGAIN_S):
            return
        self.warmed, self._warmed_for = model, (model, window, self.generation, now)
        self._warm(model, self.app.window)

    def on_screen_suspend(self) -> None:
        if self.running("fleet-warm"):  # cut short: the next highlight computes it again
            self._warmed_for = None
        self.workers.cancel_group(self, "fleet-warm")

    @work(thread=True, exclusive=True, exit_on_error=False, group="fleet-warm")
    def _warm(self, model: str, window) -> None:
        from console.tui.screens.model import warm_tabs

        warm_tabs(self.app.backend, model, window, get_current_worker())  # resolved per model there

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
        """Each cell in one of three states: its value, "…" while loading, "✗ failed" (or
        "✗ fail" where the column is narrow) when its report failed — never a made-up value."""
        def part(name: str, value: Any, narrow: bool = False) -> Any:
            state = r.state(name)
            if state == "loading":
                return Text("…" if narrow else "… loading", style="italic")
            if state == "failed":
                return Text("✗ fail" if narrow else "✗ failed", style="red")
            return value

        metric: Any = "—"
        if r.metric:
            metric = f"{fmt.num(r.metric_value, 2)}/{fmt.num(r.metric_offline, 2)}"
            if r.metric_value is not None:
                metric += f" n={fmt.count(r.metric_labelled)}"
            if r.metric_low:  # the symbol says it; the colour only adds to it
                metric = Text("~" + metric, style="yellow italic")
        budget: Any = fmt.usd(r.cost_mtd)
        if r.budget is not None:
            budget += f"/{fmt.usd(r.budget)}"
            if r.cost_mtd is not None and r.cost_mtd > r.budget:
                budget = Text("✗ " + budget, style="red")
        if r.state("alerts") == "failed":  # what did fire still counts; the rest is unknown
            alerts: Any = Text(f"{r.alerts} " if r.alerts else "") + Text("✗ failed", style="red")
        elif r.alerts:
            alerts = Text(f"{r.alerts} ") + fmt.state(r.worst_alert or "warning")
        elif r.alerts_skipped and r.state("alerts") == "ok":  # rules not evaluated: unknown, not "none"
            alerts = Text("? not eval.", style="yellow")
        else:
            alerts = part("alerts", Text("✓ none", style="green"))
        return [
            Text(r.model, style="bold"), r.production or "—",
            part("drift", fmt.state(r.drift)), alerts,
            part("ops", fmt.pct(r.error_rate), narrow=True), part("ops", fmt.ms(r.p95_ms), narrow=True),
            # a task with a primary metric: loading, failed or the value; else nothing to show
            part("metric", metric) if r.metric or primary_metric(r.task) else metric,
            part("ops", fmt.sparkline(r.traffic, 12)), part("cost", fmt.usd(r.cost_today), narrow=True),
            part("budget", budget),
            f"{r.pending}" if r.pending else "—", ",".join(r.candidates) or "—",
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
