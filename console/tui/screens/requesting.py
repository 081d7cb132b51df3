"""Raising a request from anywhere (model screen, alerts): a confirmation dialog naming the
action, model and version, with the evidence pre-filled into the reason; the request is then
created through ``governance.engine.create_request`` in a worker, as the app's identity."""

from __future__ import annotations

from typing import Any

from textual.worker import get_current_worker

from console.tui.widgets.confirm import ConfirmDialog


def open_request_dialog(screen, action: str, model: str, version: str | None,
                        evidence: str = "", break_glass: bool = False) -> None:
    app = screen.app
    if app.read_only:
        screen.notify("read-only mode: no actions", severity="warning")
        return
    what = f"{action} {model}" + (f" to v{version}" if version else "")
    title = ("BREAK-GLASS " if break_glass else "Request ") + what
    body = (f"Creates a {action} request for {model}"
            + (f" version {version}" if version else "")
            + (". It executes AT ONCE and stays open for review." if break_glass
               else ". A reviewer other than you must approve it.")
            + (f"\nEvidence: {evidence}" if evidence else ""))

    def done(comment: str | None) -> None:
        if comment:
            reason = comment + (f"\nEvidence: {evidence}" if evidence else "")
            submit_request(app, action, model, version, reason, break_glass)

    app.push_screen(ConfirmDialog(title, body, "Break glass" if break_glass else "Request",
                                  placeholder="reason (required; the evidence is attached)",
                                  danger=break_glass), done)


def submit_request(app, action: str, model: str, version: str | None, reason: str,
                   break_glass: bool) -> None:
    def job() -> Any:
        worker = get_current_worker()
        try:
            req = app.backend.create_request(action, model, version, reason, break_glass)
        except Exception as exc:
            if not worker.is_cancelled:
                app.call_from_thread(app.notify, str(exc).splitlines()[0], severity="error", timeout=10)
            return
        app.call_from_thread(app.notify, f"{req.request_id}: {req.action} {req.model} "
                             f"{req.version or ''} — {req.state}", timeout=8)
        app.call_from_thread(app.action_refresh_now)

    app.run_worker(job, thread=True, exit_on_error=False, group="act")
