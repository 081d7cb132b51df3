"""Versions & lineage tab: every registered version with its current stage (governance state),
creation, offline metrics and parent; the highlighted version's lineage; and the model's stage
history as the journal records it (requests, decisions, executions)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from console.tui import format as fmt
from console.tui.panels.base import Panel

HISTORY_ACTIONS = ("request", "approve", "reject", "executed", "failed", "cancel", "cancelled",
                   "expired", "execute", "promote", "rollback", "hook")


class VersionsPanel(Panel):
    TAB = "versions"
    LABEL = "Versions"

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note")
        yield DataTable(id="versions-table", cursor_type="row")
        with Horizontal(classes="split"):
            yield Static("", id="versions-lineage", classes="half")
            yield DataTable(id="versions-history", cursor_type="row", classes="half")

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        versions = backend.registry.versions_of(model)
        stages = {v.version: backend.fleet.stage(model, v.version) for v in versions}
        history = [e for e in backend.journal_entries() if e.get("model") == model
                   or e.get("request_id") in _ids(backend, model)]
        return {"versions": versions, "stages": stages, "history": history}

    def show(self, data: Any) -> None:
        self.note(f"{len(data['versions'])} version(s) · {len(data['history'])} journal entries")
        t = self.query_one("#versions-table", DataTable)
        t.clear(columns=True)
        for c in ("version", "stage", "created", "by", "parent", "offline metrics"):
            t.add_column(c)
        self.versions = {v.version: v for v in data["versions"]}
        for v in reversed(data["versions"]):
            stage = data["stages"].get(v.version) or "—"
            mark = {"production": "● ", "candidate": "◐ ", "staging": "◐ ", "archived": "○ "}.get(stage, "")
            t.add_row(Text(v.version, style="bold"), mark + stage, fmt.when(v.created_at), v.created_by or "—",
                      str(v.lineage.get("parent_version") or "—"),
                      "  ".join(f"{k} {fmt.num(x)}" for k, x in list(v.metrics.items())[:3]), key=v.version)
        h = self.query_one("#versions-history", DataTable)
        h.clear(columns=True)
        for c in ("seq", "when", "who", "what"):
            h.add_column(c)
        for e in reversed(data["history"]):
            what = " ".join(str(x) for x in (e.get("action"), e.get("kind") or "", e.get("version") or "",
                                              e.get("request_id") or "", e.get("state") or "") if x)
            h.add_row(str(e.get("seq")), fmt.when(e.get("ts")), e.get("actor", "—"), what)
        if data["versions"]:
            self.show_lineage(data["versions"][-1].version)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "versions-table" and event.row_key is not None:
            self.show_lineage(event.row_key.value)

    def show_lineage(self, version: str) -> None:
        v = getattr(self, "versions", {}).get(version)
        if v is None:
            return
        lines = [f"[b]v{v.version} lineage[/b]"]
        for k, val in v.lineage.items():
            if k != "params":
                lines.append(f"{k}: {val}")
        if v.lineage.get("params"):
            lines.append(f"params: {v.lineage['params']}")
        if v.cost:
            lines.append("cost: " + ", ".join(f"{k} {val}" for k, val in v.cost.items()))
        self.query_one("#versions-lineage", Static).update("\n".join(lines))


def _ids(backend, model: str) -> set[str]:
    return {r.request_id for r in backend.requests() if r.model == model}
