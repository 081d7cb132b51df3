"""The model screen: tabs for drift, performance, slices, ops, cost and versions (one panel
module each). Only the visible tab loads, in a worker; switching tabs cancels a stale load.
``v`` picks the version (production by default); operators can request retrain, rollback or
promotion from here (a confirmation dialog asks for the reason).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Static, TabbedContent, TabPane

from console.tui.panels.cost import CostPanel
from console.tui.panels.drift import DriftPanel
from console.tui.panels.ops import OpsPanel
from console.tui.panels.performance import PerformancePanel
from console.tui.panels.slices import SlicesPanel
from console.tui.panels.versions import VersionsPanel
from console.tui.screens.base import ConsoleScreen
from console.tui.screens.requesting import open_request_dialog

PANELS = (DriftPanel, PerformancePanel, SlicesPanel, OpsPanel, CostPanel, VersionsPanel)
TABS = tuple(p.TAB for p in PANELS)


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
        return f"{self.model}" + (f" v{self.version}" if self.version else "") + f" › {tab}"

    def compose_body(self) -> ComposeResult:
        yield Static("", id="model-title", classes="title")
        with TabbedContent(initial=self.initial_tab, id="model-tabs"):
            for i, panel in enumerate(PANELS, start=1):
                with TabPane(f"{i} {panel.LABEL}", id=panel.TAB):
                    yield panel(id=f"panel-{panel.TAB}")

    def on_mount(self) -> None:
        self.paint_title()
        self.repaint_status()  # the first TabActivated loads the tab (no second load here)

    def paint_title(self) -> None:
        be = self.app.backend
        prod = be.fleet.production.get(self.model) if be else None
        versions = be.registry.versions_of(self.model) if be else []
        task = versions[-1].task if versions else "?"
        showing = self.version or prod or "—"
        stages = ", ".join(f"{v.version} {be.fleet.stage(self.model, v.version)}" for v in versions) if be else ""
        self.query_one("#model-title", Static).update(
            f"{self.model} ({task}) · showing v{showing}"
            + (" (production)" if showing == prod else "") + f" · versions: {stages}")

    def active_tab(self) -> str:
        try:
            return self.query_one(TabbedContent).active or self.initial_tab
        except Exception:
            return self.initial_tab

    def active_panel(self):
        return self.query_one(f"#panel-{self.active_tab()}")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.repaint_status()
        self.reload()

    def fetch(self) -> Any:
        panel = self.active_panel()
        payload = panel.fetch(self.app.backend, self.model, self.version, self.app.window)
        if isinstance(payload, Iterator):  # a progressive panel: paint each step
            return ((panel, step) for step in payload)
        return panel, payload

    def show(self, data: Any) -> None:
        panel, payload = data
        if panel.is_attached:
            panel.show(payload)
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

    def action_tab(self, number: int) -> None:
        if 1 <= number <= len(TABS):
            self.query_one(TabbedContent).active = TABS[number - 1]

    def action_choose_version(self) -> None:
        be = self.app.backend
        if be is None:
            return
        versions = [None] + [v.version for v in be.registry.versions_of(self.model)]
        i = versions.index(self.version) if self.version in versions else 0
        self.version = versions[(i + 1) % len(versions)]
        self.notify(f"showing version {self.version or 'in production'}")
        self.paint_title()
        self.repaint_status()
        self.reload()

    def action_request(self, action: str) -> None:
        open_request_dialog(self, action, self.model, self.version if action != "retrain" else self.version,
                            evidence=self._evidence())

    def action_break_glass(self) -> None:
        """Roll back now to the version shown (``v``), or to the previous production one."""
        be = self.app.backend
        prod = be.fleet.production.get(self.model) if be else None
        target = self.version if self.version and self.version != prod else None
        open_request_dialog(self, "rollback", self.model, target, break_glass=True)

    def _evidence(self) -> str:
        return f"from the {self.active_tab()} tab of {self.model} (window: {self.app.window.label})"
