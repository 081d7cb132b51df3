"""The alerts' history: when each alert was opened, how its severity changed, when it cleared.

``mlops-console check`` records the transitions it sees (``record``) in one small file of the
store, ``.console/alerts/history.json``, replaced atomically through ``console.fsio`` (a temp
file with the umask's mode, renamed into place; the folder is created with the umask's mode
too), so in a shared workspace (umask 002, a setgid group folder) every member's ``check``
updates it. Two ``check`` runs finishing at the same instant: the last rename wins, and the next
``check`` re-opens whatever is still firing — the file is a log of what was seen, never an input
to an alert. The TUI's Alerts screen only reads it (``annotate``).

The file::

    {"open":    {"<alert id>": {"id", "model", "version", "kind", "subject", "severity",
                                "since", "opened", "changes": [{"at", "severity"}]}},
     "cleared": [{... the same fields ..., "cleared"}],         # newest last, at most KEEP_CLEARED
     "checked": "<when the last check recorded it>", "new": ["<ids it opened>"]}

An alert is *opened* the first time a ``check`` sees it, *changed* when its severity differs
from the last one recorded, and *cleared* when a ``check`` that evaluated its model (every
rule of it computed: unknown is never "cleared") no longer reports it. An alert is *new* when
the last recorded ``check`` opened it (or no ``check`` has recorded it yet), *ongoing* when it
was open before (``is_new``). Who acknowledged or snoozed an alert is not here: the journal is
the authority for that (``console.governance.alert_acks``); this file is only a log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KEEP_CLEARED = 50
FIELDS = ("id", "model", "version", "kind", "subject", "severity", "since")


def history_path(ws: Any) -> Path:
    return Path(ws.store_dir) / "alerts" / "history.json"


def load(ws: Any) -> dict[str, Any]:
    """The recorded history (empty when there is none or it cannot be read: it is a log)."""
    from console.documents import loads_json

    try:
        doc = loads_json(history_path(ws).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {"open": {}, "cleared": []}
    if not isinstance(doc, dict):
        return {"open": {}, "cleared": []}
    opened = doc.get("open") if isinstance(doc.get("open"), dict) else {}
    cleared = doc.get("cleared") if isinstance(doc.get("cleared"), list) else []
    out = {"open": {k: _entry(v) for k, v in opened.items() if isinstance(v, dict)},
           "cleared": [_entry(c) for c in cleared if isinstance(c, dict)]}
    if isinstance(doc.get("checked"), str):
        out["checked"] = doc["checked"]
    if isinstance(doc.get("new"), list):
        out["new"] = [x for x in doc["new"] if isinstance(x, str)]
    return out


def _entry(e: dict[str, Any]) -> dict[str, Any]:
    """An entry as written, whatever a hand edit left of its ``changes``."""
    changes = e.get("changes") if isinstance(e.get("changes"), list) else []
    return e | {"changes": [c for c in changes if isinstance(c, dict)]}


def transitions(history: dict[str, Any], report: dict[str, Any], now: str) -> dict[str, Any]:
    """The history after a ``check_alerts`` ``report`` made at ``now`` (RFC 3339 text)."""
    opened = dict(history.get("open") or {})
    cleared = list(history.get("cleared") or [])
    failed = {e.get("model") for e in report.get("errors") or []}
    evaluated = set(report.get("models") or []) - failed
    seen = set()
    new = []
    for a in report.get("alerts") or []:
        seen.add(a["id"])
        entry = opened.get(a["id"])
        if entry is None:
            new.append(a["id"])
            entry = {k: a.get(k) for k in FIELDS} | {"opened": now, "changes": []}
        elif entry.get("severity") != a.get("severity"):
            entry = entry | {"severity": a.get("severity"),
                             "changes": [*entry.get("changes", []), {"at": now, "severity": a.get("severity")}]}
        entry = entry | {"since": a.get("since") or entry.get("since")}
        opened[a["id"]] = entry
    for key in [k for k, e in opened.items() if k not in seen and e.get("model") in evaluated]:
        cleared.append(opened.pop(key) | {"cleared": now})
    return {"open": opened, "cleared": cleared[-KEEP_CLEARED:], "checked": now, "new": new}


def save(ws: Any, history: dict[str, Any]) -> None:
    """Replace the store's history file with ``history`` (``OSError`` when it cannot be written)."""
    from console.fsio import write_atomic

    text = json.dumps(history, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomic(history_path(ws), text.encode("utf-8"))


def record(ws: Any, report: dict[str, Any], now: str) -> dict[str, Any]:
    """Write the transitions ``report`` shows into the store's history file; returns it.
    ``OSError`` when it cannot be written (the caller warns; the report stands)."""
    history = transitions(load(ws), report, now)
    save(ws, history)
    return history


def cleared_between(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The alerts open in ``before`` that ``after`` (the next ``transitions``) cleared."""
    still = after.get("open") or {}
    was = before.get("open") or {}
    gone = {k for k in was if k not in still}
    return [c for c in after.get("cleared") or [] if c.get("id") in gone][-len(gone):] if gone else []


def is_new(history: dict[str, Any], alert_id: str) -> bool:
    """Whether the last recorded ``check`` opened ``alert_id`` (or none has recorded it yet)."""
    return alert_id not in (history.get("open") or {}) or alert_id in (history.get("new") or [])


def annotate(report: dict[str, Any], history: dict[str, Any], cleared: int = 10) -> dict[str, Any]:
    """``report`` with ``opened`` (and ``changes``) on each alert the history knows, and
    ``cleared``: the most recently cleared alerts, newest first (at most ``cleared``)."""
    opened = history.get("open") or {}
    alerts = []
    for a in report.get("alerts") or []:
        entry = opened.get(a["id"]) or {}
        alerts.append(a | {"opened": entry.get("opened"), "changes": list(entry.get("changes") or [])})
    recent = sorted(history.get("cleared") or [], key=lambda c: str(c.get("cleared") or ""), reverse=True)
    return report | {"alerts": alerts, "cleared": recent[:cleared]}
