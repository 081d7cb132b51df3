"""Versions & lineage tab: every registered version with its current stage (governance state),
creation, offline metrics and parent; the highlighted version's model card (``governance.card``,
every field not given said so) and lineage; and the model's stage history as the journal
records it (requests, decisions, executions). Registry text is escaped before it meets Rich
markup."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from console.governance.card import LABELS, NOT_GIVEN, build_card
from console.tui import format as fmt
from console.tui.panels.base import Panel

HISTORY_ACTIONS = ("request", "approve", "reject", "executed", "failed", "cancel", "cancelled",
                   "expired", "execute", "promote", "rollback", "hook")


class VersionsPanel(Panel):
    TAB = "versions"
    LABEL = "Versions"

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel-note", markup=False)
        yield DataTable(id="versions-table", cursor_type="row")
        with Horizontal(classes="split"):
            with VerticalScroll(id="versions-card", classes="half"):
                yield Static("", id="versions-lineage")
            yield DataTable(id="versions-history", cursor_type="row", classes="half")

    @classmethod
    def fetch(cls, backend, model: str, version: str | None, window) -> Any:
        versions = backend.registry.versions_of(model)
        stages = {v.version: backend.fleet.stage(model, v.version) for v in versions}
        entries, requests = backend.journal_entries(), backend.requests()
        ids = {r.request_id for r in requests if r.model == model}
        history = [e for e in entries if e.get("model") == model or e.get("request_id") in ids]
        cards: dict[str, Any] = {}
        try:  # the cards read serving.json and the gate settings: off the UI thread, here
            for v in versions:
                cards[v.version] = build_card(backend.ws, model, v.version, registry=backend.registry,
                                              entries=entries, requests=requests, state=backend.fleet)
        except Exception as exc:  # noqa: BLE001 - said in the card pane; the versions still show
            text = str(exc).strip()
            cards = {"error": f"{type(exc).__name__}: {text.splitlines()[0] if text else 'failed'}"}
        reported = {v.version: backend.fleet.training[(model, v.version)] for v in versions
                    if (model, v.version) in backend.fleet.training}
        return {"versions": versions, "stages": stages, "history": history, "cards": cards, "reported": reported}

    def show(self, data: Any) -> None:
        self.note(f"{len(data['versions'])} version(s) · {len(data['history'])} journal entries")
        t = self.query_one("#versions-table", DataTable)
        t.clear(columns=True)
        for c in ("version", "stage", "created", "by", "parent", "offline metrics"):
            t.add_column(c)
        self.versions = {v.version: v for v in data["versions"]}
        self.cards = data.get("cards") or {}
        self.reported = data.get("reported") or {}
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

    def highlighted_version(self) -> str | None:
        """The version under the versions table's cursor, or None before the table is filled."""
        t = self.query_one("#versions-table", DataTable)
        if not t.row_count:
            return None
        return t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "versions-table" and event.row_key is not None:
            self.show_lineage(event.row_key.value)

    def show_lineage(self, version: str) -> None:
        v = getattr(self, "versions", {}).get(version)
        if v is None:
            return
        lines = card_lines(version, getattr(self, "cards", {}))
        lines += ["", f"[b]v{escape(v.version)} lineage[/b]"]
        for k, val in v.lineage.items():
            if k != "params":
                lines.append(escape(f"{k}: {val}"))
        if v.lineage.get("params"):
            lines.append(escape(f"params: {v.lineage['params']}"))
        cost = dict(v.cost)
        reported = getattr(self, "reported", {})
        if version in reported:  # the retrain hook's report (journaled) is the training cost
            cost["training_usd"] = reported[version]
        if cost:
            lines.append(escape("cost: " + ", ".join(f"{k} {'unknown' if val is None else val}"
                                                     for k, val in cost.items())))
        if version in reported:
            lines.append(escape("training_usd: as its retrain hook reported it (journal)"))
        self.query_one("#versions-lineage", Static).update("\n".join(lines))
        self.query_one("#versions-card", VerticalScroll).scroll_home(animate=False)


def card_lines(version: str, cards: dict[str, Any]) -> list[str]:
    """The model card of ``version`` as Rich markup lines, registry text escaped; a field not
    given says so (never blank); completeness in a symbol and words, not colour alone."""
    head = f"[b]v{escape(version)} model card[/b]"
    if "error" in cards:
        return [head, f"✗ could not be built: {escape(cards['error'])}"]
    card = cards.get(version)
    if card is None:
        return [head, "… loading"]
    if card["complete"]:
        lines = [f"{head} · ✓ complete"]
    else:
        lines = [f"{head} · ✗ incomplete: missing {escape(', '.join(card['missing_required']))}"]
    g = card.get("last_gates")
    if g is not None:
        verdict = "✓ all passed" if g["passed"] else f"✗ not passed: {', '.join(g['failing'])}"
        lines.append(escape(f"gates ({g['request_id']}, {g['source']}): {verdict}"))
    for name, label in LABELS.items():
        value = card["fields"].get(name)
        if value is None:
            lines.append(f"{label.lower()}: [dim]{NOT_GIVEN}[/dim]")
        elif isinstance(value, list):
            lines.append(f"{label.lower()}:")
            lines += [f"  • {escape(item)}" for item in value]
        else:
            lines.append(f"{label.lower()}: {escape(value)}")
    return lines
