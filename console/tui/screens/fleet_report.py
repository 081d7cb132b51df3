"""The fleet compliance report (``:report``, ``F6``, ``r`` on the audit screen; docs/tui.md):
the very document ``mlops-console report --fleet`` writes (``governance.fleet_report``: every
version with its stage, owner and card, the period's promotions with their gates, overrides,
break-glass rollbacks, signers, the journal's verdict), built in a worker. Its sections are shown
in a pane that scrolls: paragraphs wrap to the screen, each table is a table of its own whose
cells never get cut (``tab`` reaches it, ← → scroll it). The period follows the window
(``w``/``W``): all data is the whole journal, a span the last hour/day/… until now, a custom
range its start and end. ``e`` exports what is shown to a file whose name says the format
(``.md``, ``.html``, ``.json``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from console.tui.screens.base import ConsoleScreen


def period_of(window, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The journal period a window stands for: a custom range as typed, a span ending now, all
    data the whole journal (the journal's time is the clock's, not the data's)."""
    if window.custom:
        return window.start, window.end
    if window.choice.span is None:
        return None, None
    return now - window.choice.span, None


class FleetReportScreen(ConsoleScreen):
    SCOPE = "report"
    TITLE = "Fleet report"
    VIEW = "report"
    DEFAULT_CSS = """
    FleetReportScreen .report-heading { text-style: bold; margin-top: 1; }
    FleetReportScreen .report-table { margin-bottom: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("… building the fleet compliance report", id="report-state", classes="note")
        yield VerticalScroll(id="report-scroll", can_focus=True)

    def on_mount(self) -> None:
        self.query_one("#report-scroll").focus()
        super().on_mount()

    def fetch(self) -> Any:  # a worker thread
        from console.governance.fleet_report import build_fleet_report, sections

        start, end = period_of(self.app.window, self.app.now())
        data = build_fleet_report(self.app.workspace, start, end)
        return data, sections(data)

    def show(self, data: Any) -> None:
        self.data, parts = data
        j = self.data["journal"]
        p = self.data["period"]
        span = ("the whole journal" if p["start"] is None and p["end"] is None
                else f"{p['start'] or 'the first entry'} until {p['end'] or 'now'}")
        chain = "✓ journal verifies" if j["ok"] else f"✗ journal does NOT verify (first bad seq {j.get('first_bad_seq')})"
        self.query_one("#report-state", Static).update(
            f"period: {span} · {j['entries_in_period']} entries · {chain} · e: export · w/W: period")
        self.call_later(self._paint, parts)

    async def _paint(self, parts: list) -> None:
        scroll = self.query_one("#report-scroll", VerticalScroll)
        widgets: list[Any] = [Static(Text(f"Fleet compliance report: {self.data['workspace']} · generated "
                                          f"{self.data['generated_at']}"), classes="report-heading")]
        for heading, cols, rows in parts:
            if heading:
                widgets.append(Static(Text(heading), classes="report-heading"))
            if isinstance(rows, str):
                widgets.append(Static(Text(rows)))
                continue
            t = DataTable(cursor_type="cell", zebra_stripes=True, classes="report-table")
            t.add_columns(*cols)
            t.add_rows([[Text(str(c)) for c in row] for row in rows])  # Text: no cell is markup
            t.styles.height = min(len(rows) + 2, 14)  # the header, the rows, a horizontal scrollbar
            widgets.append(t)
        await scroll.remove_children()
        await scroll.mount_all(widgets)

    def show_error(self, exc: Exception) -> None:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.query_one("#report-state", Static).update(f"✗ failed: {text}")

    def action_export(self) -> None:
        from console.governance.fleet_report import export
        from console.tui.screens.export_dialog import ExportDialog

        if self.data is None:
            self.notify("the report is still being built", severity="warning")
            return
        data, root = self.data, self.app.workspace.root
        stamp = self.app.now().strftime("%Y%m%d-%H%M%S")

        def write(name: str):
            if Path(name.strip()).parent == Path("exports"):  # the default folder (as the query export's)
                (root / "exports").mkdir(exist_ok=True)
            return export(data, name, root)

        self.app.push_screen(ExportDialog(
            "Export the fleet compliance report", f"exports/fleet-report-{stamp}.md",
            "a file name ending in .md, .html or .json (relative to the workspace); enter writes, esc cancels",
            write), self._exported)

    def _exported(self, result: Any) -> None:
        if result is None:
            return
        path, fmt = result
        self.notify(f"wrote the fleet report ({fmt}) to {path}")
        self.query_one("#report-state", Static).update(f"✓ wrote the fleet report ({fmt}) to {path}")
