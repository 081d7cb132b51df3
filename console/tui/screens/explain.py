"""The explain screen (``:explain <request id>``; docs/tui.md, 'Explain'): one logged prediction —
its features beside the version's reference (percentile or share, and a flag word), the
prediction, score, label, latency and cost, and its SHAP attributions as a text bar list with
the base value and the additivity check. The report (``console.analytics.explain``) is computed
in a worker: the screen says "explaining…", then the report or what failed."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.analytics.explain import decision_text
from console.tui.screens.base import ConsoleScreen

BAR = 24  # characters of the longest attribution bar


def _num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def render(rep: dict) -> str:
    """The report as plain text lines (80 columns)."""
    label = rep["label"] if rep["label"] is not None else "unknown"
    cost = "–" if rep["cost_usd"] is None else f"${rep['cost_usd']:.6f}"
    lines = [
        f"{rep['model']} v{rep['version']} · request {rep['request_id']}",
        f"prediction {rep['prediction']} · score {_num(rep['score'])} · label {label} · "
        f"latency {_num(rep['latency_ms'])} ms · cost {cost}",
        *([decision] if (decision := decision_text(rep)) else []),
        "",
        f"{'feature':<18} {'value':>12}  {'reference':<16} flag",
    ]
    for f in rep["features"]:
        if f.get("percentile") is not None:
            ref = f"p{f['percentile']:.1f}"
        elif f.get("share") is not None:
            ref = f"{100 * f['share']:.1f}% of rows"
        else:
            ref = "–"
        flag = ("✓ ok" if f["flag"] == "ok" else "? no reference" if f["flag"] == "no reference"
                else f"✗ {f['flag']}")
        lines.append(f"{f['feature'][:18]:<18} {_num(f['value'])[:12]:>12}  {ref:<16} {flag}")
    lines.append("")
    if (rep.get("artifact") or {}).get("writers"):
        lines.append(f"⚠ artifact writable by others: {rep['artifact']['writers']}")
    at = rep["attributions"]
    if not at:
        lines.append(f"attributions: none — {rep['attribution_note']}")
        return "\n".join(lines)
    lines.append(f"attributions ({at['output_space']}; {at['method']})")
    top = max((abs(a["attribution"]) for a in at["features"]), default=0.0) or 1.0
    for a in at["features"]:
        n = round(BAR * abs(a["attribution"]) / top)
        sign = "+" if a["attribution"] >= 0 else "−"
        bar = ("▶" if a["attribution"] >= 0 else "◀") * max(n, 1 if a["attribution"] else 0)
        lines.append(f"{a['feature'][:18]:<18} {sign}{abs(a['attribution']):.4f}  {bar}")
    add = at["additivity"]
    lines.append(f"base {at['base_value']:.4f} + sum {add['sum_plus_base'] - at['base_value']:.4f} "
                 f"= {add['sum_plus_base']:.4f} · output {at['output']:.4f} · "
                 + ("✓ additive" if add["holds"] else f"✗ not additive (error {add['abs_error']:.2g})"))
    if at.get("probability") is not None:
        lines.append(f"probability of the positive class {at['probability']:.4f}")
    return "\n".join(lines)


class ExplainScreen(ConsoleScreen):
    TITLE = "Explain"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, request_id: str, model: str | None = None, version: str | None = None) -> None:
        super().__init__()
        self.request_id = request_id
        self.model = model
        self.version = version
        self.report: dict | None = None

    @property
    def crumb(self) -> str:
        return f"Explain {self.request_id}"

    def compose_body(self) -> ComposeResult:
        yield Static(f"explaining {self.request_id}…", id="explain-state", classes="note")
        with VerticalScroll(id="explain-scroll"):
            yield Static("", id="explain-body")

    def fetch(self) -> Any:  # a worker thread
        from console.analytics.explain import explain_prediction

        be = self.app.backend
        return explain_prediction(be.db, be.ws.root, self.request_id, self.model, self.version)

    def show(self, data: Any) -> None:
        self.report = data
        flagged = data["outside_reference"]
        state = ("✓ every feature inside the reference" if not flagged
                 else f"✗ outside the reference: {', '.join(flagged)}")
        self.query_one("#explain-state", Static).update(state)
        self.query_one("#explain-body", Static).update(render(data))

    def show_error(self, exc: Exception) -> None:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.query_one("#explain-state", Static).update(f"✗ failed: {text}")
