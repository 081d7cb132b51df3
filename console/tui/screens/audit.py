"""Audit: the journal (newest first), filterable with ``/``, with its verification state on top;
``V`` verifies again. A broken chain marks the first bad entry and everything after it, and
the red banner shows on every screen."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.tui import format as fmt
from console.tui.screens.base import FilteredTableScreen
from console.tui.widgets.filterbar import FilterBar
from console.tui.widgets.fittable import FitTable

SKIP = {"seq", "ts", "actor", "action", "prev_hash", "hash"}


def detail(e: dict) -> str:
    return " ".join(f"{k}={json.dumps(v, default=str) if not isinstance(v, str) else v}"
                    for k, v in e.items() if k not in SKIP and v not in (None, "", [], {}))


class AuditScreen(FilteredTableScreen):
    SCOPE = "audit"
    TITLE = "Audit"
    VIEW = "audit"

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[dict] = []
        self.verdict: dict = {}
        self.filter_text = ""

    def compose_body(self) -> ComposeResult:
        yield Static("verifying…", id="audit-state", classes="note")
        yield FitTable(id="audit-table", cursor_type="row", zebra_stripes=True, flex="detail")
        yield FilterBar(id="audit-filter")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for label, w in (("seq", 5), ("chain", 7), ("when", 16), ("actor", 8), ("action", 10), ("detail", 80)):
            t.add_column(label, width=w, key=label)
        t.focus()
        super().on_mount()

    def fetch(self) -> Any:
        be = self.app.backend
        return be.journal_entries(), be.verify_journal()

    def show(self, data: Any) -> None:
        self.entries, self.verdict = data
        v = self.verdict
        if v.get("ok"):
            state = f"✓ chain verified: {v.get('entries', 0)} entries, hashes intact"
        else:
            state = (f"✗ CHAIN BROKEN at entry {v.get('first_bad_seq')}: "
                     + "; ".join(v.get("problems", [])[:2]))
        self.query_one("#audit-state", Static).update(state)
        self.app.status.chain_ok = v.get("ok")
        self.app.status.chain_first_bad = v.get("first_bad_seq")
        self.repaint_status()
        self.repaint()

    def repaint(self) -> None:
        t = self.query_one(DataTable)
        t.clear()
        bad = self.verdict.get("first_bad_seq")
        rows = list(reversed(self.entries))
        if self.filter_text:
            n = self.filter_text.lower()
            rows = [e for e in rows if n in json.dumps(e, default=str).lower()]
        for e in rows:
            seq = e.get("seq")
            broken = bad is not None and isinstance(seq, int) and seq >= bad
            chain = Text("✗ bad", style="red bold") if broken else Text("✓", style="green")
            t.add_row(str(seq), chain, fmt.when(e.get("ts")), str(e.get("actor", "—")),
                      str(e.get("action", "—")), detail(e))
        t.fit()

    def action_verify(self) -> None:
        self.reload()
