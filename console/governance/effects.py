"""The effects of an approved request: the hook, ``serving.json``, and the outcome in the journal.

``execute(ws, ident, request_id)`` runs the configured ``[hooks]`` command for the request's
action as an argv list (never a shell), with ``cwd`` = the workspace root, the decision in
``MLOPS_*`` environment variables, a timeout (``[governance] hook_timeout``, default ``10m``),
and stdout/stderr captured (the last ``hook_output_bytes``, default 16384, of each) into a
``hook`` journal entry. The hook runs in its own session (its own process group): when it
times out, when it exits, or when the console is interrupted (Ctrl-C, SIGTERM) while it
runs, the whole group is killed, so nothing it started can act after its outcome is
journaled. Only when the hook succeeds (exit 0 within the timeout; no hook
configured counts as success) is ``serving.json`` replaced atomically for promote and
rollback, and the request journaled ``executed`` with its ``stage_changes``; otherwise it is
journaled ``failed`` and serving is untouched. A ``serving.json`` that exists but cannot
be read is never replaced (that would drop the other models' entries): the action is refused. A retrain's new version is found by comparing
the registry before and after the hook and recorded as ``produced_version``.

A retrain hook reports what its training cost through ``training_report``: a number written to
the file named by ``MLOPS_TRAINING_USD_FILE`` (created empty by the console in a private folder
for this run), else the last ``MLOPS_TRAINING_USD=<number>`` line of its standard output. The
``executed`` entry records it as ``training_usd`` with ``training_usd_source`` (``file`` or
``stdout``), or ``training_usd_error`` when the report is not a number ≥ 0; governance's
``fleet_state`` makes it the produced version's training cost (over the registry entry's).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from console import clock, durations, inflight
from console.errors import UsageError
from console.fsio import write_atomic
from console.governance.engine import writer_for
from console.governance.journal import format_ts
from console.governance.requests import replay
from console.governance.state import fleet_state, read_serving_strict
from console.identity import SYSTEM, Identity
from console.store.registry import load_registry, version_sort_key
from console.workspace import Workspace

DEFAULT_TIMEOUT = "10m"
DEFAULT_OUTPUT_BYTES = 16384
HISTORY_LIMIT = 50
TRAINING_FILE_ENV = "MLOPS_TRAINING_USD_FILE"
TRAINING_LINE = re.compile(r"^MLOPS_TRAINING_USD=(.*)$", re.MULTILINE)
TRAINING_FILE_LIMIT = 4096


def hook_timeout(ws: Workspace) -> float:
    value = ws.section("governance").get("hook_timeout", DEFAULT_TIMEOUT)
    return durations.seconds(value, f"[governance] hook_timeout in {ws.config_path}")


def _tail(data: bytes, limit: int) -> str:
    text = data[-limit:].decode("utf-8", errors="replace")
    return ("…" + text) if len(data) > limit else text


def hook_env(ws: Workspace, ident: Identity, req, to_version: str | None) -> dict[str, str]:
    """The environment a hook sees: the console's own plus the decision."""
    env = dict(os.environ)
    env.update(
        {
            "MLOPS_REQUEST_ID": req.request_id,
            "MLOPS_ACTION": req.action,
            "MLOPS_MODEL": req.model,
            "MLOPS_VERSION": to_version or "",
            "MLOPS_FROM_VERSION": req.from_version or "",
            "MLOPS_ACTOR": ident.user,
            "MLOPS_REQUESTED_BY": req.requested_by,
            "MLOPS_APPROVED_BY": req.decided_by or "",
            "MLOPS_REASON": req.reason,
            "MLOPS_COMMENT": req.decision_comment or "",
            "MLOPS_BREAK_GLASS": "1" if req.break_glass else "0",
            "MLOPS_WORKSPACE": str(ws.root),
            "MLOPS_REGISTRY": str(ws.registry),
            "MLOPS_JOURNAL": str(ws.journal_path),
            "MLOPS_NOW": format_ts(clock.now()),  # the console's clock: hooks need no other
        }
    )
    return env


def _training_value(text: str, where: str) -> tuple[float | None, str | None]:
    """A reported training cost: (USD, None), or (None, why it is not one)."""
    raw = text.strip()
    try:
        usd = float(raw)
    except ValueError:
        usd = math.nan
    if not math.isfinite(usd) or usd < 0:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        return None, f"the hook's {where} reported {shown!r} as its training cost: not a number >= 0 (USD)"
    return usd, None


def training_report(report_file: Path | None, stdout: str) -> dict[str, Any]:
    """What a retrain hook reported as its training cost (``{}``: nothing).

    The file named by ``MLOPS_TRAINING_USD_FILE`` when the hook wrote anything to it (opened
    without following a link, at most 4 KiB read), else the last ``MLOPS_TRAINING_USD=`` line
    of its captured standard output."""
    text = None
    if report_file is not None:
        try:
            fd = os.open(report_file, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            fd = None  # the hook removed or replaced it with a link: not a report
        if fd is not None:
            with os.fdopen(fd, "rb") as fh:
                data = fh.read(TRAINING_FILE_LIMIT + 1)
            if data.strip():
                if len(data) > TRAINING_FILE_LIMIT:
                    return {"training_usd": None, "training_usd_source": "file",
                            "training_usd_error": f"the hook's {TRAINING_FILE_ENV} holds more than "
                                                  f"{TRAINING_FILE_LIMIT} bytes: not a training cost"}
                text, source = data.decode("utf-8", errors="replace"), "file"
    if text is None:
        lines = TRAINING_LINE.findall(stdout or "")
        if not lines:
            return {}
        text, source = lines[-1], "stdout"
    usd, error = _training_value(text, "output file" if source == "file" else "standard output")
    out: dict[str, Any] = {"training_usd": usd, "training_usd_source": source}
    if error:
        out["training_usd_error"] = error
    return out


@contextlib.contextmanager
def _training_file(action: str):
    """For a retrain: an empty file in a private folder (mode 0700) for the hook's training
    cost, removed afterwards; for other actions nothing."""
    if action != "retrain":
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="mlops-console-hook-"))
    try:
        path = folder / "training_usd"
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL every process of the hook's process group (the hook and whatever it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def _sigterm_raises():
    """While a hook runs in the main thread, SIGTERM unwinds (so the hook's group is killed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _drain(pipe, sink: bytearray) -> None:
    with contextlib.suppress(OSError, ValueError):
        while chunk := os.read(pipe.fileno(), 65536):
            sink.extend(chunk)


def run_hook(ws: Workspace, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one hook in its own process group; never raises for the hook's own failure.

    The outcome is the hook process's own exit (or its timeout); at that moment every process
    left in its group is killed, whether or not it still holds the hook's output open.
    """
    limit = int(ws.section("governance").get("hook_output_bytes", DEFAULT_OUTPUT_BYTES))
    timeout = hook_timeout(ws)
    if argv and argv[0] in ("python", "python3"):
        argv = [sys.executable, *argv[1:]]  # the console's own interpreter (its venv)
    started = time.monotonic()
    out: dict[str, Any] = {"argv": argv, "returncode": None, "timed_out": False, "stdout": "", "stderr": ""}
    try:
        proc = subprocess.Popen(
            argv, cwd=ws.root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
        )
    except OSError as exc:
        out["error"] = f"cannot run {argv[0]!r}: {exc.strerror or exc}"
        out["duration_s"] = round(time.monotonic() - started, 3)
        return out
    captured = (bytearray(), bytearray())
    readers = [threading.Thread(target=_drain, args=(pipe, sink), daemon=True)
               for pipe, sink in zip((proc.stdout, proc.stderr), captured, strict=True)]
    for reader in readers:
        reader.start()
    with _sigterm_raises():
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            out.update(timed_out=True, error=f"timed out after {timeout:g}s")
        finally:  # timed out, exited, or the console interrupted: the whole group goes
            _kill_group(proc)
            proc.wait()
    for reader in readers:
        reader.join(timeout=5)  # a process that left the group (setsid) may hold a pipe open
    for pipe in (proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            pipe.close()
    out.update(stdout=_tail(bytes(captured[0]), limit), stderr=_tail(bytes(captured[1]), limit))
    if not out["timed_out"]:
        out["returncode"] = proc.returncode
    out["duration_s"] = round(time.monotonic() - started, 3)
    return out


def execute(ws: Workspace, ident: Identity, request_id: str, now: dt.datetime | None = None):
    """Carry out an approved request; returns the request as journaled afterwards. A console
    leaving early (``console.tui.hangup``) waits for this to end (``console.inflight``)."""
    with inflight.must_finish():
        return _execute(ws, ident, request_id, now)


def _execute(ws: Workspace, ident: Identity, request_id: str, now: dt.datetime | None):
    journal = writer_for(ws, ident)
    entries = journal.entries()
    req = replay(entries).get(request_id)
    if req is None:
        raise UsageError(f"no request {request_id!r}")
    if req.state != "approved":
        raise UsageError(f"{request_id} is {req.state}, not approved; nothing to execute")
    if req.action in ("promote", "rollback"):
        read_serving_strict(ws)  # unreadable: refused before the hook deploys anything
    registry = load_registry(ws.registry, ws.root)
    before = set(registry.versions)
    argv = ws.hooks.get(req.action)
    to_version = req.version
    report: dict[str, Any] = {}
    if argv:
        with _training_file(req.action) as report_file:
            env = hook_env(ws, ident, req, to_version)
            env.pop(TRAINING_FILE_ENV, None)  # only ever the file of this run (a retrain's)
            if report_file is not None:
                env[TRAINING_FILE_ENV] = str(report_file)
            hook = run_hook(ws, list(argv), env)
            ok = hook.get("returncode") == 0 and not hook.get("timed_out") and "error" not in hook
            if ok and req.action == "retrain":
                report = training_report(report_file, hook.get("stdout", ""))
    elif req.action == "retrain":  # nothing can retrain without a hook
        hook, ok = {"argv": [], "returncode": None, "error": "no [hooks] retrain command is configured"}, False
    else:
        hook, ok = None, True
    with journal.locked() as txn:
        now = now or clock.now()
        current = replay(txn.entries()).get(request_id)
        if current is None or current.state != "approved":
            raise UsageError(f"{request_id} changed while its hook ran ({current.state if current else 'gone'})")
        if hook is not None:
            txn.append(ident.user, "hook", now=now, request_id=request_id, **hook)
        if not ok:
            detail = hook.get("error") or f"hook exited with {hook.get('returncode')}"
            txn.append(ident.user, "failed", now=now, request_id=request_id, detail=detail)
            return replay(txn.entries())[request_id]
        fields: dict[str, Any] = {"request_id": request_id, "model": req.model}
        if req.action in ("promote", "rollback"):
            registry = load_registry(ws.registry, ws.root)
            state = fleet_state(ws, registry, txn.entries())
            old = state.production.get(req.model)
            changes = []
            if old is not None and old != to_version:
                changes.append({"model": req.model, "version": old, "from": "production", "to": "archived"})
            changes.append(
                {"model": req.model, "version": to_version, "from": state.stage(req.model, to_version), "to": "production"}
            )
            try:
                serving = _new_serving(ws, req, to_version, old, now)
            except UsageError as exc:  # serving.json was damaged while the hook ran
                txn.append(ident.user, "failed", now=now, request_id=request_id, detail=str(exc))
                return replay(txn.entries())[request_id]
            try:
                write_atomic(ws.serving_path, (json.dumps(serving, indent=2, sort_keys=True) + "\n").encode())
            except OSError as exc:
                txn.append(ident.user, "failed", now=now, request_id=request_id,
                           detail=f"cannot write {ws.serving_path.name}: {exc.strerror or exc}")
                return replay(txn.entries())[request_id]
            fields.update(version=to_version, from_version=old, stage_changes=changes,
                          serving=serving["models"][req.model])
        else:  # retrain: the hook registered something new (or not)
            after = load_registry(ws.registry, ws.root)
            new = sorted(
                (v for (m, v) in set(after.versions) - before if m == req.model), key=version_sort_key
            )
            fields["produced_version"] = new[-1] if new else None
            fields["stage_changes"] = []
            fields.update(report)
            if not new:
                fields["detail"] = "the retrain hook succeeded but registered no new version"
        txn.append(ident.user, "executed", now=now, **fields)
        return replay(txn.entries())[request_id]


def _new_serving(ws: Workspace, req, version: str, old: str | None, now: dt.datetime) -> dict:
    doc = read_serving_strict(ws)
    models = doc.setdefault("models", {})
    prior = models.get(req.model) if isinstance(models.get(req.model), dict) else {}
    history = list(prior.get("history") or [])
    history.append(
        {
            "version": version,
            "from_version": old,
            "action": req.action,
            "request_id": req.request_id,
            "break_glass": req.break_glass,
            "at": format_ts(now),
        }
    )
    models[req.model] = {
        "production": version,
        "previous": old,
        "updated_at": format_ts(now),
        "request_id": req.request_id,
        "action": req.action,
        "history": history[-HISTORY_LIMIT:],
    }
    doc["updated_at"] = format_ts(now)
    return doc


RESUME_GRACE = dt.timedelta(seconds=60)


def resume(ws: Workspace, ident: Identity, request_id: str, now: dt.datetime | None = None):
    """Execute an approved request whose execution never reported back (its process died).

    Allowed to a reviewer (or, for break-glass, an operator) once nothing has been journaled
    about the request for longer than the hook timeout plus a minute, so a hook that may still
    be running is never started twice. The claim is a ``resume`` entry, written under the lock:
    a second resume right after it finds the request busy again.
    """
    from console.errors import PermissionDenied
    from console.governance.journal import parse_ts

    now = now or clock.now()
    with writer_for(ws, ident).locked() as txn:
        req = replay(txn.entries(), now).get(request_id)
        if req is None:
            raise UsageError(f"no request {request_id!r}")
        if ident.user == SYSTEM or not (ident.reviewer or (req.break_glass and ident.operator)):
            txn.append(ident.user, "refused", now=now, attempt="execute", request_id=request_id,
                       detail=f"{ident.user} may not execute requests")
            raise PermissionDenied(f"{ident.user} is not a reviewer; only reviewers may resume an execution")
        if req.state != "approved":
            raise UsageError(f"{request_id} is {req.state}; only an approved request can be executed")
        last = max(parse_ts(e["ts"]) for e in req.trail if e.get("action") != "refused")
        ready = last + dt.timedelta(seconds=hook_timeout(ws)) + RESUME_GRACE
        if now < ready:
            raise UsageError(
                f"{request_id} may still be executing (last journaled {format_ts(last)}); "
                f"resume after {format_ts(ready)}"
            )
        txn.append(ident.user, "resume", now=now, request_id=request_id, last_activity=format_ts(last))
    return execute(ws, ident, request_id, now=now)
