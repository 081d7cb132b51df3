"""The importance screen (``i`` on the versions tab; docs/tui.md, 'Importance'): a version's
global feature importance — mean |SHAP| on a seeded reference sample and on its latest logged
traffic, or permutation importance without shap — and how each feature's importance changed
between the two (attribution drift). ``console.analytics.explain.global_importance`` computes
it in a worker, the same function as ``mlops-console explain --global``: the screen says
"computing…", then the table or what failed (or why it cannot be computed)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.errors import NotComputable
from console.tui.screens.base import ConsoleScreen


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.4f}"


def render(rep: dict) -> str:
    """The report as plain text lines (fits 80 columns): feature, reference, current, change."""
    lines = [f"{rep['model']} v{rep['version']} · {rep['method']}",
             f"reference {rep['reference_rows']} rows · current {rep['current_rows']} rows (latest logged)"]
    if rep.get("note"):
        lines.append(rep["note"])
    writers = (rep.get("artifact") or {}).get("writers")
    if writers:
        lines.append(f"⚠ artifact writable by others: {writers}")
    lines += ["", f"{'feature':<24} {'reference':>10} {'current':>10} {'change':>10}"]
    for f in rep["features"]:
        change = f["change"]
        word = "" if change is None else " ▲ more" if change > 0 else " ▼ less" if change < 0 else " = same"
        lines.append(f"{f['feature'][:24]:<24} {_num(f['reference']):>10} {_num(f['current']):>10} "
                     f"{'–' if change is None else f'{change:+.4f}':>10}{word}")
    return "\n".join(lines)


class ImportanceScreen(ConsoleScreen):
    TITLE = "Importance"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, model: str, version: str) -> None:
        super().__init__()
        self.model = model
        self.version = version
        self.report: dict | None = None

    @property
    def crumb(self) -> str:
        return f"{self.model} v{self.version} importance"

    def compose_body(self) -> ComposeResult:
        yield Static(f"computing the importance of {self.model} v{self.version}…", id="importance-state",
                     classes="note", markup=False)
        with VerticalScroll(id="importance-scroll"):
            yield Static("", id="importance-body", markup=False)

    def fetch(self) -> Any:  # a worker thread
        from console.analytics.explain import global_importance

        be = self.app.backend
        return global_importance(be.db, be.ws.root, self.model, self.version)

    def show(self, data: Any) -> None:
        self.report = data
        top = data["features"][0]["feature"] if data["features"] else None
        self.query_one("#importance-state", Static).update(
            f"✓ {len(data['features'])} features · most important on the reference: {top}" if top
            else "? no features")
        self.query_one("#importance-body", Static).update(render(data))

    def show_error(self, exc: Exception) -> None:
        if isinstance(exc, NotComputable):
            self.query_one("#importance-state", Static).update(f"? not computed: {exc.reason}")
            return
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.query_one("#importance-state", Static).update(f"✗ failed: {text}")
