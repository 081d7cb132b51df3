"""Alerts: what ``check`` reports (``check_alerts``), most severe first and newest first within a
severity. Enter opens the alert's model on the matching tab; ``r`` (operators) opens a
pre-filled retrain request (drift, performance, slice) or rollback request (errors, latency,
budget) with the alert attached as evidence; ``a`` acknowledges the alert (a comment required)
and ``z`` snoozes it (a duration such as ``2h`` or ``1d``, then an optional comment), through
``governance.workflow`` as ``mlops-console alerts ack``/``snooze`` do. The ``state`` column says
in words where each alert is in its lifecycle (new, ongoing, acked, snoozed:
``governance.alert_acks``, as ``check``), the detail line who acknowledged or snoozed it.

Three states, never confused: "… loading alerts" until ``check_alerts`` answers; "✗ failed"
when it raised (the reason in the summary line) or when some rules could not be computed (each
a "✗ failed" row naming the model, the rules and the reason); "✓ ok" only when every rule was
computed and none fired.

``since`` is when the condition began (``check_alerts`` walks back over earlier windows), the
detail line adds when ``check`` first recorded the alert open and its severity changes, and a
line under the table lists the alerts ``check`` saw clear most recently (the store's alert
history, ``analytics.alert_history``; this screen only reads it)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.analytics.alerts import not_evaluated
from console.store.registry import version_label
from console.tui import format as fmt
from console.tui.fleetdata import severity_rank
from console.tui.screens.base import FilteredTableScreen
from console.tui.screens.requesting import open_request_dialog
from console.tui.widgets.filterbar import FilterBar
from console.tui.widgets.fittable import FitTable

REMEDY = {"drift": "retrain", "performance": "retrain", "slice": "retrain",
          "errors": "rollback", "latency": "rollback", "budget": "rollback",
          "output_drift": "retrain", "fairness": "retrain",
          "missing": "retrain", "new_category": "retrain", "range": "retrain", "volume": "rollback",
          "no_data": "rollback", "quarantine": "rollback"}
TAB_OF = {"drift": "drift", "performance": "performance", "slice": "slices", "errors": "ops",
          "latency": "ops", "budget": "cost", "output_drift": "drift", "fairness": "slices",
          **dict.fromkeys(("missing", "new_category", "range", "volume", "no_data", "quarantine"), "quality")}


def alert_time(a: dict) -> str:
    return str(a.get("since") or a.get("until") or "")


def sort_alerts(alerts: list[dict]) -> list[dict]:
    """Most severe first; within a severity, newest first."""
    newest = sorted(alerts, key=alert_time, reverse=True)
    return sorted(newest, key=lambda a: severity_rank(a.get("severity") or "info"))


def started_text(a: dict) -> str:
    """``since …`` (the condition began) and ``opened …`` / severity changes from the history."""
    parts = [f"since {fmt.when(a.get('since'))}"] if a.get("since") else []
    if a.get("opened"):
        parts.append(f"opened {fmt.when(a.get('opened'))}")
    for c in a.get("changes") or []:
        parts.append(f"→ {c.get('severity')} {fmt.when(c.get('at'))}")
    return " · ".join(parts)


def cleared_text(cleared: list[dict], limit: int = 3) -> str:
    if not cleared:
        return ""
    shown = [f"{c.get('model')} {c.get('kind')}{'/' + str(c['subject']) if c.get('subject') else ''} "
             f"{fmt.when(c.get('cleared'))[5:]}" for c in cleared[:limit]]
    more = f" +{len(cleared) - limit}" if len(cleared) > limit else ""
    return "✓ cleared recently: " + " · ".join(shown) + more


def state_cell(a: dict) -> Text:
    """The lifecycle state in words (a failed row has none); quiet ones dimmed as a bonus."""
    word = a.get("state") or ("—" if a.get("failed") else "?")
    return Text(word, style="dim" if word in ("acked", "snoozed") else "")


def ack_text(a: dict) -> str:
    """Who acknowledged or snoozed the alert, when, until when, and why."""
    ack = a.get("ack") or {}
    if not ack:
        return ""
    what = "snoozed" if ack.get("action") == "snooze" else "acked"
    text = f"{what} by {ack.get('by')} {fmt.when(ack.get('at'))[5:]}"
    if ack.get("until"):
        text += f" until {fmt.when(ack.get('until'))[5:]}"
    return text + (f": {ack['comment']}" if ack.get("comment") else "")


def evidence_text(a: dict) -> str:
    return (f"{a.get('kind')} alert ({a.get('severity')}) on {a.get('model')} {version_label(a.get('version'))}: "
            f"{a.get('detail')}")


class AlertsScreen(FilteredTableScreen):
    SCOPE = "alerts"
    TITLE = "Alerts"
    VIEW = "alerts"

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[dict] = []
        self.filter_text = ""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="alerts-summary", classes="note")
        yield FitTable(id="alerts-table", cursor_type="row", zebra_stripes=True, flex="detail")
        yield Static("", id="alerts-detail", classes="note")
        yield Static("", id="alerts-cleared", classes="note")
        yield FilterBar(id="alerts-filter")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for label, w in (("severity", 11), ("state", 8), ("kind", 12), ("model", 14), ("ver", 4), ("since", 11), ("detail", 60)):
            t.add_column(label, width=w, key=label)
        t.focus()
        super().on_mount()

    def reload(self) -> None:
        if self.app.backend is not None and not self.alerts:
            self.query_one("#alerts-summary", Static).update("… loading alerts")
        super().reload()

    def fetch(self) -> Any:
        be = self.app.backend
        return be.alert_states(be.alerts())

    def show(self, data: Any) -> None:
        errors = data.get("errors") or []
        failed = [{"failed": True, "severity": "failed", "kind": "/".join(e.get("kinds") or []),
                   "model": e.get("model") or "—", "version": None,
                   "detail": f"could not be computed: {e.get('error')}"} for e in errors]
        self.alerts = failed + sort_alerts(data.get("alerts", []))
        n = len(self.alerts) - len(failed)
        if failed:
            head = f"✗ failed: {len(failed)} rule set(s) could not be computed · {n} alert(s)"
        elif data.get("ok"):
            head = "✓ ok: nothing to report"
        else:
            head = f"✗ {n} alert(s)"
        skipped = not_evaluated(data)
        self.query_one("#alerts-summary", Static).update(
            head + (f" · {skipped}" if skipped else "") + " · most severe first, newest first · enter: open model"
            + self.act_hint())
        self.query_one("#alerts-cleared", Static).update(cleared_text(data.get("cleared") or []))
        self.repaint()

    def show_error(self, exc: Exception) -> None:
        """The report itself failed: say so where the alerts would be (not an empty "no alerts")."""
        text = str(exc).strip()
        reason = f"{type(exc).__name__}: {text.splitlines()[0] if text else 'failed'}"
        self.alerts = []
        self.repaint()
        self.query_one("#alerts-summary", Static).update(f"✗ failed: alerts could not be computed: {reason}")
        super().show_error(exc)

    def act_hint(self) -> str:
        from console.tui.screens.base import role_block

        allowed, reason = role_block(self.app, "operator")
        if allowed is True:
            return " · r: request retrain/rollback · a: ack · z: snooze"
        return "" if allowed is False else f" · ✗ r/a/z: {reason}"

    def visible(self) -> list[dict]:
        if not self.filter_text:
            return self.alerts
        needle = self.filter_text.lower()
        return [a for a in self.alerts if needle in " ".join(str(v) for v in a.values()).lower()]

    def repaint(self) -> None:
        t = self.query_one(DataTable)
        t.clear()
        for i, a in enumerate(self.visible()):
            t.add_row(fmt.state(a.get("severity") or "info"), state_cell(a), a.get("kind", "—"), Text(a.get("model", "—"), style="bold"),
                      str(a.get("version") or "—"), fmt.when(alert_time(a) or None)[5:], a.get("detail", ""), key=str(i))
        t.fit()
        self.show_detail()

    def current(self) -> dict | None:
        rows = self.visible()
        t = self.query_one(DataTable)
        if not rows or t.cursor_row >= len(rows):
            return None
        return rows[t.cursor_row]

    def show_detail(self) -> None:
        a = self.current()
        if a and a.get("failed"):
            text = f"✗ {a.get('model')}: {a.get('kind')} {a.get('detail')}"
        else:
            text = evidence_text(a) if a else ""
            if a and started_text(a):
                text = f"{started_text(a)} · {text}"
            if a and ack_text(a):
                text = f"{ack_text(a)} · {text}"
        self.query_one("#alerts-detail", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_model()

    def action_open_model(self) -> None:
        a = self.current()
        if a:
            self.app.open_model(a["model"], tab=TAB_OF.get(a.get("kind")))

    def action_act(self) -> None:
        a = self.current()
        if not a:
            return
        if a.get("failed"):
            self.notify("not an alert: these rules could not be computed", severity="warning")
            return
        action = REMEDY.get(a.get("kind"), "retrain")
        version = None if action == "rollback" else a.get("version")
        open_request_dialog(self, action, a["model"], version if action == "retrain" else None,
                            evidence=evidence_text(a))

    def _target(self) -> dict | None:
        a = self.current()
        if a and a.get("failed"):
            self.notify("not an alert: these rules could not be computed", severity="warning")
            return None
        if a and self.app.read_only:
            self.notify("read-only mode: no actions", severity="warning")
            return None
        return a if a and self.app.backend is not None else None

    def action_ack(self) -> None:
        """Acknowledge the highlighted alert: a dialog requires the comment, the journal entry is
        written by ``Backend.ack_alert`` while it stays open (a refusal is shown in it)."""
        from console.tui.widgets.confirm import ConfirmDialog

        a = self._target()
        if a is None:
            return
        body = (f"{evidence_text(a)}\nJournaled as yours; it holds until the alert clears or its severity "
                f"rises above {a.get('severity')}.")
        self.app.push_screen(ConfirmDialog(
            f"Acknowledge {a.get('kind')} alert on {a.get('model')}", body, "Acknowledge",
            placeholder="what you are doing about it (required)",
            submit=lambda comment, _choice: self.app.backend.ack_alert(a["id"], comment)), self._done)

    def action_snooze(self) -> None:
        """Snooze the highlighted alert: the dialog's text is a duration (``2h``, ``1d``) or a
        time, then an optional comment; ``Backend.snooze_alert`` checks it is in the future."""
        from console.tui.widgets.confirm import ConfirmDialog

        a = self._target()
        if a is None:
            return
        body = (f"{evidence_text(a)}\nType how long (2h, 1d) or until when (RFC 3339), then why: "
                f"\"2h fix deploying\". It stops paging (check exits 0 for it) until then, unless it "
                f"clears or its severity rises above {a.get('severity')}.")

        def submit(text: str, _choice):
            until, _, comment = text.strip().partition(" ")
            return self.app.backend.snooze_alert(a["id"], until, comment.strip() or None)

        self.app.push_screen(ConfirmDialog(
            f"Snooze {a.get('kind')} alert on {a.get('model')}", body, "Snooze",
            placeholder="duration, then an optional comment: 2h fix deploying", submit=submit), self._done)

    def _done(self, entry) -> None:
        if not entry:
            return
        what = "snoozed until " + fmt.when(entry.get("until")) if entry.get("action") == "alert_snooze" else "acknowledged"
        self.notify(f"{entry.get('model')} {entry.get('kind')} alert {what}", timeout=8)
        self.reload()
