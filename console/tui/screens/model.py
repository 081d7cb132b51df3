"""The model screen: tabs for drift, performance, slices, ops, cost, versions and data quality (one panel
module each). ``v`` picks the version (production by default); operators can request retrain,
rollback or promotion from here (a confirmation dialog asks for the reason).

Loading: as the screen opens (and when the window or version changes) a ``prefetch`` worker
loads every tab — the visible one first, then the others in tab order, each painting its
panel as soon as its data is in, and last the long tail of progressive panels (the drift
trend) — so a tab switch usually finds its panel painted already. New data reloads only the
visible tab; the others reload when visited. Switching to a tab whose panel is not complete
yet loads it in the ``load`` worker (a stale one is cancelled); the backend computes a report
once even when both workers ask for it. Both groups are exclusive: a reload cancels both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.widgets import Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from console.store.registry import version_label
from console.tui.panels.cost import CostPanel
from console.tui.panels.drift import DriftPanel
from console.tui.panels.ops import OpsPanel
from console.tui.panels.performance import PerformancePanel
from console.tui.panels.quality import QualityPanel
from console.tui.panels.slices import SlicesPanel
from console.tui.panels.versions import VersionsPanel
from console.tui.screens.base import ConsoleScreen
from console.tui.screens.requesting import open_request_dialog

DONE = object()  # a load's last step: its panel is complete
PANELS = (DriftPanel, PerformancePanel, SlicesPanel, OpsPanel, CostPanel, VersionsPanel, QualityPanel)
TABS = tuple(p.TAB for p in PANELS)


def warm_tabs(backend, model: str, window, worker=None) -> None:
    """Compute ahead, into the backend's memo, the reports of ``model``'s tabs (production
    version, ``window``) in the order the screen's prefetch asks for them — each tab's first
    paint, then the long tail (the drift trend) — so the screen opens onto data and nothing
    heavy runs while the user switches tabs. Runs in a worker thread; stops between reports
    once ``worker`` is cancelled. The versions tab reads files only and is left to the screen;
    a failing report is left for the screen to say."""
    window = backend.window(window, model)  # ends at the model's newest data, as the screen's
    later = []
    for panel in PANELS:
        if worker is not None and worker.is_cancelled:
            return
        if panel is VersionsPanel:
            continue
        try:
            got = panel.fetch(backend, model, None, window)
            if isinstance(got, Iterator):  # a progressive panel: its first paint now, the rest later
                next(got, None)
                later.append(got)
        except Exception:  # noqa: BLE001 - the model screen reports it when it asks
            continue
    for steps in later:
        try:
            for _ in steps:
                if worker is not None and worker.is_cancelled:
                    break
        except Exception:  # noqa: BLE001
            pass
        finally:
            steps.close()


class ModelScreen(ConsoleScreen):
    SCOPE = "model"
    TITLE = "Model"

    def __init__(self, model: str, tab: str | None = None, version: str | None = None) -> None:
        super().__init__()
        self.model = model
        self.version = version
        self.initial_tab = tab if tab in TABS else "drift"

    @property
    def crumb(self) -> str:
        tab = self.active_tab()
        return f"{self.model}" + (f" {version_label(self.version)}" if self.version else "") + f" › {tab}"

    def compose_body(self) -> ComposeResult:
        yield Static("", id="model-title", classes="title")
        with TabbedContent(initial=self.initial_tab, id="model-tabs"):
            for i, panel in enumerate(PANELS, start=1):
                with TabPane(f"{i} {panel.LABEL}", id=panel.TAB):
                    yield panel(id=f"panel-{panel.TAB}")

    def show_window(self, window) -> None:
        """The header names the window this model's tabs cover (where it ends)."""
        self.window_shown = window
        self.repaint_status()

    def on_mount(self) -> None:
        # Nothing in production (a registry entry without a stage is a candidate): show the
        # newest version rather than tabs that can only fail for want of one.
        be = self.app.backend
        if self.version is None and be is not None and not be.fleet.production.get(self.model):
            versions = be.registry.versions_of(self.model)
            if versions:
                self.version = versions[-1].version
        self.paint_title()
        self.repaint_status()  # the first TabActivated loads the tab (no second load here)

    def paint_title(self) -> None:
        be = self.app.backend
        prod = be.fleet.production.get(self.model) if be else None
        versions = be.registry.versions_of(self.model) if be else []
        task = versions[-1].task if versions else "?"
        showing = self.version or prod
        stages = ", ".join(f"{v.version} {be.fleet.stage(self.model, v.version)}" for v in versions) if be else ""
        self.query_one("#model-title", Static).update(
            f"{self.model} ({task}) · showing "
            + (version_label(showing) if showing else "no version (nothing in production)")
            + (" (production)" if showing and showing == prod else "")
            + (" (nothing in production)" if showing and not prod else "") + f" · versions: {stages}")

    def active_tab(self) -> str:
        try:
            return self.query_one(TabbedContent).active or self.initial_tab
        except Exception:
            return self.initial_tab

    def active_panel(self):
        return self.query_one(f"#panel-{self.active_tab()}")

    generation = 0

    def panels(self) -> list:
        return [self.query_one(f"#panel-{tab}") for tab in TABS]

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.repaint_status()
        panel = self.active_panel()
        if self.generation and (panel.complete == self.generation or (
                panel.shown == self.generation and self.running("prefetch"))):
            # painted by the prefetch already (which finishes a progressive panel's later
            # paints): nothing to wait for, and no second worker competing with it
            self.focus_panel(panel)
        else:
            self.reload_tab()

    def reload(self) -> None:
        """Every tab again, in the prefetch worker: the visible one first."""
        if self.app.backend is None:
            return
        try:
            panels = self.panels()
        except NoMatches:  # not mounted yet: the first TabActivated loads
            return
        self.paint_title()  # stages and production as they are now (after a rollback, say)
        self.generation += 1
        for panel in panels:
            panel.complete = 0
            if not panel.shown:
                panel.loading()
        self.workers.cancel_group(self, "load")
        active = self.active_tab()
        start = TABS.index(active)  # then the tabs in the order ] walks them
        order = [TABS[(start + i) % len(TABS)] for i in range(len(TABS))]
        self._prefetch(self.generation, order)
        self.app.backend.cancel_stale()  # the older loads' queries stop

    def reload_tab(self) -> None:
        if self.app.backend is None:
            return
        if not self.generation:
            self.reload()
            return
        super().reload()

    def fetch(self) -> Any:
        return self._steps(self.active_panel(), self.generation)

    def _steps(self, panel, generation: int) -> Iterator[tuple]:
        """``(panel, payload, generation, index)`` for each paint of ``panel``'s load, then
        ``(panel, DONE, generation, index)``: the panel is complete. Two workers may load the
        same panel (the prefetch and the tab's own load): their steps are the same sequence, so
        a step no later than one already painted is dropped and the panel only moves forward."""
        window = self.app.backend.window(self.app.window, self.model)  # ends at the model's newest data
        if window != self.window_shown:
            self.app.call_from_thread(self.show_window, window)
        payload = panel.fetch(self.app.backend, self.model, self.version, window)
        steps = payload if isinstance(payload, Iterator) else iter([payload])
        index = 0
        for index, step in enumerate(steps, start=1):  # a progressive panel: paint each step
            yield panel, step, generation, index
        yield panel, DONE, generation, index + 1

    @work(thread=True, exclusive=True, exit_on_error=False, group="prefetch")
    def _prefetch(self, generation: int, order: list[str]) -> None:
        """Each tab's first paint in ``order``, then the rest of the progressive ones (the drift
        trend): every tab shows its data soonest, the long tail comes last."""
        worker = get_current_worker()
        later = []
        for tab in order:
            panel = self.query_one(f"#panel-{tab}")
            if panel.complete == generation:
                continue
            steps = self._steps(panel, generation)
            # a panel of one paint is complete with it (its DONE step costs nothing)
            if not self._prefetch_steps(worker, panel, steps, 1 if panel.PROGRESSIVE else None):
                return
            if panel.PROGRESSIVE:
                later.append((panel, steps))
        for panel, steps in later:
            if not self._prefetch_steps(worker, panel, steps, None):
                return

    def _prefetch_steps(self, worker, panel, steps: Iterator, count: int | None) -> bool:
        """Paint up to ``count`` steps (all: ``None``); False once the worker is cancelled."""
        try:
            for i, step in enumerate(steps, start=1):
                if worker.is_cancelled:
                    return False
                self.app.call_from_thread(self._apply, step)
                if count is not None and i >= count:
                    break
        except Exception as exc:  # the panel says it failed; a toast too when it is the visible tab
            if not worker.is_cancelled:
                self.app.call_from_thread(self.panel_failed, panel, exc)
                if panel.TAB == self.active_tab():
                    self.app.call_from_thread(self.show_error, exc)
        return not worker.is_cancelled

    def panel_failed(self, panel, exc: Exception) -> None:
        if panel.is_attached:
            panel.failed(exc)

    def show_error(self, exc: Exception) -> None:
        """A tab's own load failed (the ``load`` worker): its panel says so, not only a toast."""
        try:
            self.panel_failed(self.active_panel(), exc)
        except NoMatches:
            pass
        super().show_error(exc)

    def show(self, data: Any) -> None:
        panel, payload, generation, index = data
        if generation != self.generation or not panel.is_attached:
            return  # a stale load's last word
        if panel.shown == generation and index <= panel.step:
            return  # the other worker painted this step (or a later one) already
        panel.shown, panel.step = generation, index
        if payload is DONE:
            panel.complete = generation
            return
        panel.show(payload)
        if panel.TAB == self.active_tab():
            self.focus_panel(panel)

    def data_changed(self) -> None:
        """New data while the screen is open: the visible tab reloads; the others keep what they
        show until they are visited (then they reload)."""
        if self.app.backend is None or not self.generation:
            return self.reload()
        self.paint_title()  # stages and production as they are now (after a rollback, say)
        self.generation += 1
        self.reload_tab()

    def focus_panel(self, panel) -> None:
        if self.focused is None or panel not in self.focused.ancestors_with_self:
            tables = panel.query("DataTable")
            if tables:  # the keyboard lands in the tab's list, not on the tab bar
                tables.first().focus()

    # -- actions ---------------------------------------------------------------------------
    def action_next_tab(self) -> None:
        self._shift_tab(1)

    def action_prev_tab(self) -> None:
        self._shift_tab(-1)

    def _shift_tab(self, step: int) -> None:
        i = TABS.index(self.active_tab())
        self.query_one(TabbedContent).active = TABS[(i + step) % len(TABS)]

    def show_tab(self, tab: str) -> None:
        """Switch to the tab named ``tab`` (drift, performance, …), as ``:`` does."""
        if tab in TABS:
            self.query_one(TabbedContent).active = tab

    def action_tab(self, number: int) -> None:
        if 1 <= number <= len(TABS):
            self.query_one(TabbedContent).active = TABS[number - 1]

    def action_choose_version(self) -> None:
        be = self.app.backend
        if be is None:
            return
        prod = be.fleet.production.get(self.model)
        versions = ([None] if prod else []) + [v.version for v in be.registry.versions_of(self.model)]
        i = versions.index(self.version) if self.version in versions else 0
        self.version = versions[(i + 1) % len(versions)]
        self.notify(f"showing version {self.version or 'in production'}")
        self.repaint_status()
        self.reload()  # repaints the title too

    def action_request(self, action: str) -> None:
        """Retrain (from the version shown), rollback or promotion (to the version shown, else the
        dialog's default, which the user may change there)."""
        open_request_dialog(self, action, self.model, self.version, evidence=self._evidence())

    def action_break_glass(self) -> None:
        """Roll back now: to the version shown (``v``), else to the previous production one
        (the dialog names it and offers the others)."""
        open_request_dialog(self, "rollback", self.model, self.version, evidence=self._evidence(),
                            break_glass=True)

    def action_cost_by(self) -> None:
        if self.active_tab() != "cost":
            self.notify("d turns the cost tab's table per day: press 5 for the cost tab first")
            return
        self.active_panel().toggle_by()

    def action_explain_slice(self) -> None:
        """The highlighted slice's predictions (wrong ones first), to open one in the explain view."""
        if self.active_tab() != "slices":
            self.notify("e explains a prediction of a slice: press 3 for the slices tab first")
            return
        picked = self.active_panel().highlighted_slice()
        if picked is None:
            self.notify("no slice to explain yet", severity="warning")
            return
        from console.tui.screens.slice_predictions import SlicePredictionsScreen

        version, feature, value = picked
        self.app.push_screen(SlicePredictionsScreen(self.model, version, feature, value, self.app.window))

    def action_importance(self) -> None:
        """The highlighted version's global importance on the reference and on its traffic."""
        if self.active_tab() != "versions":
            self.notify("i shows a version's feature importance: press 6 for the versions tab first")
            return
        version = self.active_panel().highlighted_version()
        if version is None:
            self.notify("no version to show yet", severity="warning")
            return
        from console.tui.screens.importance import ImportanceScreen

        self.app.push_screen(ImportanceScreen(self.model, version))

    def _evidence(self) -> str:
        return f"from the {self.active_tab()} tab of {self.model} (window: {self.app.window.label})"
