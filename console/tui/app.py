"""The Textual application: the fleet of models with their versions and stages."""

from __future__ import annotations

from textual import work
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

from console.governance.state import fleet_state
from console.store.registry import load_registry
from console.workspace import Workspace


class ConsoleApp(App):
    """mlops-console."""

    TITLE = "mlops-console"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, workspace: Workspace, read_only: bool = False, identity=None):
        super().__init__()
        self.workspace = workspace
        self.read_only = read_only
        self.identity = identity or workspace.identity()
        self.sub_title = f"{workspace.name} · {self.identity.user} ({self.identity.role})"

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="fleet", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#fleet", DataTable)
        table.add_columns("model", "task", "production", "versions")
        self.load_fleet()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load_fleet(self) -> None:
        registry = load_registry(self.workspace.registry, self.workspace.root)
        state = fleet_state(self.workspace, registry)
        rows = []
        for model in registry.models():
            versions = registry.versions_of(model)
            rows.append((model, versions[-1].task, state.production.get(model) or "—",
                         ", ".join(f"{v.version} {state.stage(model, v.version)}" for v in versions)))
        self.call_from_thread(self._show_fleet, rows)

    def _show_fleet(self, rows) -> None:
        table = self.query_one("#fleet", DataTable)
        table.clear()
        for row in rows:
            table.add_row(*row, key=row[0])
