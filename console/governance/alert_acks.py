"""Acknowledging and snoozing alerts, and the lifecycle state of every alert ``check`` reports.

An operator (the on-call role: ``[access] operators``) acknowledges an alert (``ack``, a
comment required: "I am on it") or snoozes it until a time (``snooze``, a comment optional).
Both are journal entries (``alert_ack``, ``alert_snooze``), signed by the actor like every
governance step; an attempt by someone without the role is refused and journaled as
``refused``. The journal is the authority for who acknowledged what: the store's alert history
(``console.analytics.alert_history``, in a group-writable folder) is only a log of what
``check`` saw, and is consulted only for *when the current episode of an alert opened*.

An alert's ``state`` (``annotate``):

- ``snoozed``: a snooze holds — its time has not come, the alert has not cleared since
  (the episode open now opened before the snooze) and its severity has not risen above the
  one snoozed;
- ``acked``: an acknowledgement holds — the alert has not cleared since it and its severity
  has not risen above the one acknowledged (an ack lasts for the episode; an escalation or a
  new episode needs a new one);
- otherwise ``new`` (the last ``check`` opened it, or none recorded it yet) or ``ongoing``.

The newest entry that holds decides (an ack under an expired snooze still counts). Entries
count only when their hash and signature verify against the signers file and their actor is
an operator now: an entry appended by hand, or by someone who has since lost the role, never
silences an alert. Headless; the CLI (``alerts ack``/``snooze``, ``check``) and the TUI's
Alerts screen call the same functions (through ``governance.workflow``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from console import clock, durations
from console.errors import UsageError
from console.governance import engine
from console.governance.journal import entry_hash, parse_ts
from console.identity import Identity
from console.workspace import Workspace

ACK = "alert_ack"
SNOOZE = "alert_snooze"
STATES = ("new", "ongoing", "acked", "snoozed")
RANK = {"warning": 1, "critical": 2}
FIELDS = ("model", "version", "kind", "subject", "severity")

Alerts = list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]


def _time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return clock.as_utc(parse_ts(text))
    except ValueError:
        return None


def parse_until(value: str, now: dt.datetime, what: str = "--until") -> dt.datetime:
    """When a snooze ends: a duration from now (``2h``, ``1d``) or a time (RFC 3339 or a date,
    ``analytics.windows.parse_time``); it must be in the future."""
    from console.analytics.windows import parse_time

    text = (value or "").strip()
    if not text:
        raise UsageError(f"{what} is required: a duration such as 2h or 1d, or an RFC 3339 time")
    if durations.is_duration(text):
        delta = durations.parse(text, what)
        if delta <= dt.timedelta(0):
            raise UsageError(f"bad {what} {value!r}: a snooze must last longer than 0s")
        return now + delta
    try:
        until = clock.as_utc(parse_time(text, what))
    except UsageError:
        raise UsageError(f"bad {what} {value!r}: use a duration (2h, 1d) or an RFC 3339 time "
                         "(2026-12-01T09:00:00Z) or a date") from None
    if until <= now:
        raise UsageError(f"{what} {clock.rfc3339(until)} is not in the future (now {clock.rfc3339(now)})")
    return until


def find_alert(alerts: list[dict[str, Any]], alert_id: str) -> dict[str, Any]:
    """The firing alert ``alert_id`` names (its full id, or a prefix of at least 4 characters
    that only it has); ``UsageError`` otherwise."""
    key = (alert_id or "").strip()
    if not key:
        raise UsageError("an alert id is required (mlops-console check lists them)")
    exact = [a for a in alerts if a.get("id") == key]
    if exact:
        return exact[0]
    matches = [a for a in alerts if len(key) >= 4 and str(a.get("id", "")).startswith(key)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UsageError(f"alert id {key!r} is ambiguous ({len(matches)} alerts start with it)")
    raise UsageError(f"no alert {key!r} is firing now (mlops-console check lists the alerts and their ids)")


def _act(ws: Workspace, ident: Identity, action: str, alert_id: str, comment: str | None, alerts: Alerts,
         now: dt.datetime | None, until: str | None = None) -> dict[str, Any]:
    now = now or clock.now()
    attempt = "alerts ack" if action == ACK else "alerts snooze"
    if not ident.operator:
        reason = f"{ident.user} is not an operator of this workspace; only operators (on call) may {attempt[7:]} alerts"
        journal = engine._refusal_writer(ws, ident, reason)
        with journal.locked() as txn:
            raise engine._refuse(txn, ident, now, attempt, reason, alert_id=alert_id)
    if action == ACK:
        text = engine.required_text(comment, "--comment")
    else:
        text = (comment or "").strip()
        if text:
            text = engine.required_text(text, "--comment")
    ends = parse_until(until or "", now) if action == SNOOZE else None
    journal = engine.writer_for(ws, ident)  # trust and key: refused before the alerts are computed
    alert = find_alert(alerts() if callable(alerts) else alerts, alert_id)
    fields: dict[str, Any] = {"alert_id": alert["id"], **{k: alert.get(k) for k in FIELDS}}
    if text:
        fields["comment"] = text
    if ends is not None:
        fields["until"] = clock.rfc3339(ends)
    with journal.locked() as txn:
        engine._journal_expiries(txn, ident.user, now)
        return txn.append(ident.user, action, now=now, **fields)


def ack(ws: Workspace, ident: Identity, alert_id: str, comment: str, alerts: Alerts,
        now: dt.datetime | None = None) -> dict[str, Any]:
    """Journal ``ident``'s acknowledgement of the firing alert ``alert_id`` (one of ``alerts``,
    the current ``check_alerts`` alerts, or a function computing them — called only once the
    role, the comment and the signing key are known good); returns the journal entry.
    ``PermissionDenied`` (journaled) for a non-operator, ``UsageError`` for bad input."""
    return _act(ws, ident, ACK, alert_id, comment, alerts, now)


def snooze(ws: Workspace, ident: Identity, alert_id: str, until: str, comment: str | None, alerts: Alerts,
           now: dt.datetime | None = None) -> dict[str, Any]:
    """Journal a snooze of ``alert_id`` until ``until`` (a duration from now or a future time;
    ``parse_until``), with an optional comment; as ``ack`` otherwise."""
    return _act(ws, ident, SNOOZE, alert_id, comment, alerts, now, until=until)


# -- the state of each alert -------------------------------------------------------------------


def acknowledgements(ws: Workspace, entries: list[dict[str, Any]] | None = None) -> dict[str, list[dict]]:
    """The ``alert_ack``/``alert_snooze`` entries that count, per alert id, oldest first: hash
    and signature verified, actor an operator now. A signers file that cannot be read: none."""
    from console.governance.signing import load_signers, signature_problem

    if entries is None:
        entries = engine.journal_of(ws).entries()
    wanted = [e for e in entries if e.get("action") in (ACK, SNOOZE)]
    if not wanted:
        return {}
    try:
        signers = load_signers(ws)
    except UsageError:
        return {}
    out: dict[str, list[dict]] = {}
    for e in wanted:
        if (e.get("actor") in ws.operators and e.get("hash") == entry_hash(e)
                and signature_problem(e, signers) is None and isinstance(e.get("alert_id"), str)):
            out.setdefault(e["alert_id"], []).append(e)
    return out


def holds(entry: dict[str, Any], alert: dict[str, Any], history: dict[str, Any], now: dt.datetime) -> bool:
    """Whether ``entry`` (an ack or snooze of ``alert``) still applies: the episode open now
    began before it (its ``opened`` in the alert history; a history that has not recorded the
    alert yet — no ``check`` since it fired — counts when it records no clear of it after the
    entry), the severity is not above the one it covered, and for a snooze its time has not come."""
    at = _time(entry.get("ts"))
    if at is None:
        return False
    opened = ((history.get("open") or {}).get(alert["id"]) or {}).get("opened")
    if opened is not None:
        began = _time(opened)
        if began is None or began > at:
            return False
    elif any(c.get("id") == alert["id"] and (_time(c.get("cleared")) or at) >= at
             for c in history.get("cleared") or []):
        return False
    if RANK.get(str(alert.get("severity")), 3) > RANK.get(str(entry.get("severity")), 0):
        return False
    if entry.get("action") == SNOOZE:
        ends = _time(entry.get("until"))
        return ends is not None and now < ends
    return entry.get("action") == ACK


def state_of(alert: dict[str, Any], history: dict[str, Any], acks: dict[str, list[dict]],
             now: dt.datetime) -> tuple[str, dict[str, Any] | None]:
    """``(state, the entry behind it or None)`` of one firing alert."""
    from console.analytics.alert_history import is_new

    for entry in reversed(acks.get(alert["id"], [])):
        if holds(entry, alert, history, now):
            return ("snoozed" if entry["action"] == SNOOZE else "acked"), entry
    return ("new" if is_new(history, alert["id"]) else "ongoing"), None


def annotate(ws: Workspace, report: dict[str, Any], history: dict[str, Any], now: dt.datetime | None = None,
             entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``report`` (``check_alerts``) with the history's ``opened``/``changes``/``cleared``
    (``alert_history.annotate``) and, on each alert, ``state`` and ``ack`` (``{"action",
    "by", "at", "comment", "until"}`` of the entry behind an ``acked``/``snoozed`` state, else
    null); ``states`` counts the alerts per state."""
    from console.analytics.alert_history import annotate as with_history

    now = now or clock.now()
    rep = with_history(report, history)
    acks = acknowledgements(ws, entries)
    alerts = []
    for a in rep.get("alerts") or []:
        state, entry = state_of(a, history, acks, now)
        ack = None
        if entry is not None:
            ack = {"action": "snooze" if entry["action"] == SNOOZE else "ack", "by": entry.get("actor"),
                   "at": entry.get("ts"), "comment": entry.get("comment"), "until": entry.get("until")}
        alerts.append(a | {"state": state, "ack": ack})
    counts = {s: sum(1 for a in alerts if a["state"] == s) for s in STATES}
    return rep | {"alerts": alerts, "states": counts}


def pages(report: dict[str, Any]) -> bool:
    """Whether an annotated report has an alert that is not snoozed (``check`` exits 1)."""
    return any(a.get("state") != "snoozed" for a in report.get("alerts") or [])
