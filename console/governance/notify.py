"""Notification sinks: telling people when an alert opens, escalates or clears.

``[notify.<name>]`` tables of ``console.toml`` (docs/formats.md) each name one sink:

- ``command = ["argv", ...]``: run without a shell (``cwd`` the workspace, ``python``/``python3``
  as argv[0] is the console's own interpreter, as for hooks), the event as JSON on stdin and
  in ``MLOPS_*`` environment variables; exit 0 is delivered. Its program file is protected
  like a hook's (``governance.trust``), and no command runs while the workspace's
  configuration is untrusted (whoever could change it could run anything as the account that
  runs ``check``, root's cron included);
- ``webhook = "http(s)://..."``: the event as a JSON body, ``POST``, a 2xx answer is
  delivered; redirects are not followed.

Each attempt is bounded by ``timeout`` (per network operation for a webhook, the whole run for a
command, whose process group is then killed); a failed attempt is retried ``attempts - 1``
times after ``backoff``, ``2 × backoff``, ``4 × backoff``, …

``check`` calls ``notify(ws, report, history, now)`` after recording the alert history. What was
delivered is recorded per sink and alert in the store (``.console/alerts/notified.json``,
replaced atomically after each delivery) so a persistent alert pages once: ``open`` when the
sink has no record of the alert, ``escalate`` when its severity is above the one recorded (a
lower severity is recorded silently, so a later rise pages again), ``clear`` when the recorded
alert is no longer open in the history (only a ``check`` that computed the alert's rules
clears it). A failed delivery is not recorded, so the next ``check`` tries again; after one
failure a sink gets nothing more in this ``check`` (a dead endpoint costs one event's retries,
not every event's). The whole step holds ``.console/alerts/notify.lock`` (an ``flock``) so two
members' ``check`` never page twice for the same event. Nothing here raises for a sink's
failure: each outcome is a result row, and ``check`` prints failures as ``warning:`` lines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console import clock, durations
from console.errors import WorkspaceError
from console.workspace import Workspace

EVENTS = ("open", "escalate", "clear")
RANK = {"warning": 1, "critical": 2}
DEFAULT_TIMEOUT = "10s"
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = "1s"
MAX_ATTEMPTS = 10
MAX_WAIT_S = 300.0  # the longest timeout or backoff a sink may set
OUTPUT_BYTES = 4096  # what is kept of a command's stderr or a webhook's answer, for the warning


@dataclass(frozen=True)
class Sink:
    """One ``[notify.<name>]`` table, checked."""

    name: str
    command: tuple[str, ...] | None
    webhook: str | None
    events: tuple[str, ...]
    timeout: float
    attempts: int
    backoff: float

    @property
    def target(self) -> str:
        return self.webhook or " ".join(self.command or ())


def sinks(ws: Workspace) -> list[Sink]:
    """The workspace's sinks; a bad table is a ``WorkspaceError`` of one line naming it."""
    out = []
    for name, table in (ws.section("notify") or {}).items():
        out.append(_sink(ws, str(name), table if isinstance(table, dict) else {}))
    return out


def _sink(ws: Workspace, name: str, t: dict[str, Any]) -> Sink:
    where = f"[notify.{name}]"

    def fail(problem: str) -> WorkspaceError:
        return WorkspaceError(f"{ws.config_path}: {where} {problem}")

    command, webhook = t.get("command"), t.get("webhook")
    if (command is None) == (webhook is None):
        raise fail("needs exactly one of command = [\"program\", \"arg\", ...] or webhook = \"https://...\"")
    if command is not None and (not command or not all(isinstance(a, str) and a for a in command)):
        raise fail("command must be a non-empty list of non-empty strings (argv; no shell)")
    if webhook is not None:
        url = urllib.parse.urlsplit(str(webhook))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise fail(f"webhook must be an http:// or https:// URL, not {str(webhook)[:60]!r}")
    events = tuple(t.get("events", EVENTS))
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        raise fail(f"events must be a non-empty list of {', '.join(EVENTS)}"
                   + (f", not {unknown[0]!r}" if unknown else ""))

    def wait(key: str, default: str) -> float:
        secs = durations.seconds(t.get(key, default), f"{where} {key} in {ws.config_path}")
        if (key == "timeout" and secs <= 0) or secs > MAX_WAIT_S:
            raise fail(f"{key} must be {'more than 0s and ' if key == 'timeout' else ''}at most {MAX_WAIT_S:g}s")
        return secs

    attempts = t.get("attempts", DEFAULT_ATTEMPTS)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
        raise fail(f"attempts must be a whole number from 1 to {MAX_ATTEMPTS}")
    return Sink(name, tuple(command) if command is not None else None, str(webhook) if webhook else None,
                events, wait("timeout", DEFAULT_TIMEOUT), attempts, wait("backoff", DEFAULT_BACKOFF))


# -- delivering one event ----------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib's hook
        return None  # the 3xx answer becomes an HTTPError: not delivered


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(sink: Sink, body: bytes) -> str | None:
    req = urllib.request.Request(sink.webhook or "", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "mlops-console"})
    try:
        with _OPENER.open(req, timeout=sink.timeout) as resp:
            resp.read(OUTPUT_BYTES)
            status = resp.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return f"no answer within {sink.timeout:g}s"
        return f"cannot reach {sink.webhook}: {getattr(reason, 'strerror', None) or reason}"
    except TimeoutError:
        return f"no answer within {sink.timeout:g}s"
    except (OSError, ValueError) as exc:
        return f"cannot reach {sink.webhook}: {getattr(exc, 'strerror', None) or exc}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def event_env(event: dict[str, Any]) -> dict[str, str]:
    """The ``MLOPS_*`` variables a command sink sees (with the console's environment)."""
    a = event["alert"]
    env = dict(os.environ)
    env.update({
        "MLOPS_EVENT": event["event"], "MLOPS_ALERT_ID": str(a.get("id") or ""),
        "MLOPS_MODEL": str(a.get("model") or ""), "MLOPS_VERSION": str(a.get("version") or ""),
        "MLOPS_KIND": str(a.get("kind") or ""), "MLOPS_SUBJECT": str(a.get("subject") or ""),
        "MLOPS_SEVERITY": str(a.get("severity") or ""),
        "MLOPS_PREVIOUS_SEVERITY": str(event.get("previous_severity") or ""),
        "MLOPS_WORKSPACE": str(event.get("workspace") or ""), "MLOPS_NOW": str(event.get("at") or ""),
    })
    return env


def _run(ws: Workspace, sink: Sink, event: dict[str, Any], body: bytes) -> str | None:
    argv = list(sink.command or ())
    if argv[0] in ("python", "python3"):
        argv = [sys.executable, *argv[1:]]
    try:
        proc = subprocess.Popen(argv, cwd=ws.root, env=event_env(event), stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return f"cannot run {argv[0]!r}: {exc.strerror or exc}"
    try:
        _, err = proc.communicate(body, timeout=sink.timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return f"timed out after {sink.timeout:g}s"
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever it left behind in its group
    if proc.returncode != 0:
        tail = err[-OUTPUT_BYTES:].decode("utf-8", "replace").strip().splitlines()
        return f"exit {proc.returncode}" + (f": {tail[-1][:200]}" if tail else "")
    return None


def deliver(ws: Workspace, sink: Sink, event: dict[str, Any]) -> str | None:
    """Send ``event`` to ``sink`` with its retries; None when delivered, else why not (one line)."""
    body = json.dumps(event, sort_keys=True, ensure_ascii=False).encode("utf-8")
    why = None
    for attempt in range(sink.attempts):
        if attempt:
            time.sleep(sink.backoff * 2 ** (attempt - 1))
        why = _run(ws, sink, event, body) if sink.command else _post(sink, body)
        if why is None:
            return None
    return f"{why} (after {sink.attempts} attempt{'s' if sink.attempts > 1 else ''})"


# -- what to send, and the record of what was sent ---------------------------------------------


def notified_path(ws: Workspace) -> Path:
    return Path(ws.store_dir) / "alerts" / "notified.json"


def load_sent(ws: Workspace) -> dict[str, dict[str, dict[str, Any]]]:
    """``{sink: {alert id: {"severity", "event", "at"}}}``; empty when missing or unreadable
    (then open alerts are announced again: better twice than never)."""
    from console.documents import loads_json

    try:
        doc = loads_json(notified_path(ws).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {str(s): {str(k): v for k, v in per.items() if isinstance(v, dict)}
            for s, per in doc.items() if isinstance(per, dict)}


def _save_sent(ws: Workspace, sent: dict[str, Any]) -> None:
    from console.fsio import write_atomic

    text = json.dumps(sent, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomic(notified_path(ws), text.encode("utf-8"))


@contextlib.contextmanager
def _locked(ws: Workspace) -> Iterator[None]:
    path = notified_path(ws).with_name("notify.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


ALERT_KEYS = ("id", "model", "version", "kind", "subject", "severity", "detail", "since", "opened", "cleared")


def plan(sent: dict[str, dict[str, Any]], alerts: list[dict[str, Any]],
         history: dict[str, Any]) -> list[tuple[str, dict[str, Any], str | None]]:
    """``(event, alert, previous severity)`` for one sink whose record is ``sent``, given the
    firing ``alerts`` and the alert ``history`` after this check; ``event`` ``"lower"`` is a
    severity drop (recorded, never sent)."""
    out: list[tuple[str, dict[str, Any], str | None]] = []
    firing = {a["id"]: a for a in alerts}
    for a in alerts:
        rec = sent.get(a["id"])
        if rec is None:
            out.append(("open", a, None))
            continue
        was, now = RANK.get(str(rec.get("severity")), 0), RANK.get(str(a.get("severity")), 0)
        if now > was:
            out.append(("escalate", a, rec.get("severity")))
        elif now < was:
            out.append(("lower", a, rec.get("severity")))
    still_open = history.get("open") or {}
    cleared = {c.get("id"): c for c in history.get("cleared") or []}
    for alert_id, rec in sent.items():
        if alert_id not in firing and alert_id not in still_open:
            last = cleared.get(alert_id) or {"id": alert_id, **{k: rec.get(k) for k in ("model", "kind", "subject")}}
            out.append(("clear", last | {"severity": rec.get("severity")}, rec.get("severity")))
    return out


def notify(ws: Workspace, report: dict[str, Any], history: dict[str, Any],
           now: dt.datetime | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Fire every sink for what changed since it was last told. Returns one row per event,
    ``{"sink", "event", "id", "model", "kind", "severity", "delivered", "error"}``, and the
    problems of the step itself (the record could not be written), one line each."""
    configured = sinks(ws)
    if not configured and not notified_path(ws).exists():
        return [], []
    now = now or clock.now()
    rows: list[dict[str, Any]] = []
    problems: list[str] = []

    def save(sent: dict[str, Any]) -> None:
        try:
            _save_sent(ws, sent)
        except OSError as exc:
            text = f"{notified_path(ws)} not written ({exc.strerror or exc}): the next check sends these again"
            if text not in problems:
                problems.append(text)

    with _locked(ws):
        sent = load_sent(ws)
        names = {k.name for k in configured}
        for gone in [s for s in sent if s not in names]:
            del sent[gone]  # a sink removed from console.toml: forget its record
        untrusted = None
        if any(s.command for s in configured):
            from console.governance.trust import trust_problems

            found = trust_problems(ws)
            untrusted = found[0] if found else None
        for sink in configured:
            record = sent.setdefault(sink.name, {})
            failed = f"command not run: untrusted governance file: {untrusted}" if sink.command and untrusted else None
            for event, alert, previous in plan(record, report.get("alerts") or [], history):
                if event == "lower" or event not in sink.events:  # not sent, only remembered
                    _remember(record, event, alert, now)
                    continue
                row = {"sink": sink.name, "event": event, "id": alert.get("id"), "model": alert.get("model"),
                       "kind": alert.get("kind"), "severity": alert.get("severity")}
                if failed is not None:
                    rows.append(row | {"delivered": False, "error": failed})
                    continue
                payload = {"event": event, "sink": sink.name, "workspace": ws.name, "at": clock.rfc3339(now),
                           "previous_severity": previous,
                           "alert": {k: alert.get(k) for k in ALERT_KEYS if k in alert}}
                why = deliver(ws, sink, payload)
                rows.append(row | {"delivered": why is None, "error": why})
                if why is not None:
                    failed = f"not attempted: an earlier event to {sink.name} failed ({why})"
                    continue
                _remember(record, event, alert, now)
                save(sent)  # at once: a crash later does not page this event again
        save(sent)
    return rows, problems


def _remember(record: dict[str, Any], event: str, alert: dict[str, Any], now: dt.datetime) -> None:
    if event == "clear":
        record.pop(alert.get("id"), None)
        return
    record[alert["id"]] = {"severity": alert.get("severity"), "event": event, "at": clock.rfc3339(now),
                           "model": alert.get("model"), "kind": alert.get("kind"), "subject": alert.get("subject")}


def warnings(rows: list[dict[str, Any]]) -> list[str]:
    """One line per sink with undelivered events, for ``check``'s stderr."""
    out = []
    for name in dict.fromkeys(r["sink"] for r in rows if not r["delivered"]):
        bad = [r for r in rows if r["sink"] == name and not r["delivered"]]
        first = bad[0]
        what = f"{first['event']} of {first['model']} {first['kind']} ({first['id']})"
        more = f" (and {len(bad) - 1} more event(s))" if len(bad) > 1 else ""
        out.append(f"notify {name}: {what} not delivered: {first['error']}{more}; the next check tries again")
    return out
