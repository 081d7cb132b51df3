"""Raising a request from anywhere (model screen, approvals, alerts): a confirmation dialog
naming the action, the model and the target version, with the evidence attached to the reason.

A rollback (and a break-glass one) names where it goes: the version shown, else the default
target of ``governance.workflow.rollback_choice`` (the previous production version from the
journal or serving history), and the dialog lets the user choose any other registered version.
A promotion likewise offers every version but the one in production. The request is created by
``governance.workflow`` (as the CLI's ``request``) in a worker while the dialog stays open: a
refusal is shown in the dialog with the reason and the choice kept."""

from __future__ import annotations

from typing import Any

from console.store.registry import version_label
from console.tui.widgets.confirm import ConfirmDialog


def open_request_dialog(screen, action: str, model: str, version: str | None,
                        evidence: str = "", break_glass: bool = False) -> None:
    """Open the dialog for ``action`` on ``model`` (``version``: the target shown, if any)."""
    app = screen.app
    if app.read_only:
        screen.notify("read-only mode: no actions", severity="warning")
        return
    if app.backend is None:
        return
    if action not in ("rollback", "promote"):
        _push(app, action, model, version, evidence, break_glass, None)
        return

    def job() -> Any:  # the journal and serving.json are read off the event loop
        return app.backend.rollback_choice(model) if action == "rollback" else _promote_choice(app.backend, model)

    def chosen(worker_result) -> None:
        _push(app, action, model, version, evidence, break_glass, worker_result)

    def run() -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        try:
            choice = job()
        except Exception as exc:  # noqa: BLE001 - said in one line, never a crash
            if not worker.is_cancelled:
                app.call_from_thread(app.notify, str(exc).splitlines()[0] or type(exc).__name__,
                                     severity="error", timeout=10)
            return
        if not worker.is_cancelled:
            app.call_from_thread(chosen, choice)

    app.run_worker(run, thread=True, exit_on_error=False, group="act-prepare")


def _promote_choice(backend, model: str):
    from console.governance.workflow import RollbackChoice

    current = backend.fleet.production.get(model)
    versions = [v.version for v in reversed(backend.registry.versions_of(model)) if v.version != current]
    return RollbackChoice(model, current, versions[0] if versions else None, "the newest registered version",
                          versions)


def _push(app, action: str, model: str, version: str | None, evidence: str, break_glass: bool,
          choice) -> None:
    choices: list[tuple[str, str]] = []
    initial = version
    current = None
    if choice is not None:
        current = choice.current
        if action == "rollback" and current is None:
            app.notify(f"{model} has nothing in production to roll back", severity="warning", timeout=8)
            return
        if not choice.candidates:
            what = "roll back to" if action == "rollback" else "promote"
            app.notify(f"{model} has no other registered version to {what}", severity="warning", timeout=8)
            return
        if initial not in choice.candidates:
            initial = choice.default or choice.candidates[0]
        stage = app.backend.fleet.stage if app.backend is not None else (lambda m, v: None)
        for v in choice.candidates:
            notes = [stage(model, v) or "unknown stage"]
            if v == choice.default:
                notes.append("previous production" if action == "rollback" else "newest")
            choices.append((f"{version_label(v)} · {', '.join(notes)}", v))

    def describe(target: str | None) -> tuple[str, str]:
        what = f"{action} {model}" + (f" to {version_label(target)}" if target else "")
        title = ("BREAK-GLASS " if break_glass else "Request ") + what
        if action == "rollback":
            where = f"production {version_label(current)} goes back to {version_label(target)}"
            if choice is not None and target == choice.default:
                where += f" ({choice.why})"
            elif choice is not None and choice.default:
                where += f" (chosen; the default is {version_label(choice.default)}, {choice.why})"
            body = f"Creates a rollback request for {model}: {where}"
        elif action == "promote":
            body = (f"Creates a promotion request for {model}: {version_label(target)} replaces "
                    f"{version_label(current)} in production; its gates are evaluated now and kept as evidence")
        else:
            body = f"Creates a {action} request for {model}" + (f" from {version_label(target)}" if target else "")
        body += (". It executes AT ONCE and stays open for review." if break_glass
                 else ". A reviewer other than you must approve it.")
        if choices:
            body += "\ntab: choose another version"
        if evidence:
            body += f"\nEvidence: {evidence}"
        return title, body

    def submit(comment: str, target: str | None):
        reason = comment + (f"\nEvidence: {evidence}" if evidence else "")
        return app.backend.create_request(action, model, target, reason, break_glass)

    def done(req) -> None:
        if req is None:
            return
        app.notify(f"{req.request_id}: {req.action} {req.model}"
                   + (f" {version_label(req.version)}" if req.version else "") + f" — {req.state}", timeout=8)
        app.action_refresh_now()

    app.push_screen(ConfirmDialog("", "", "Break glass" if break_glass else "Request",
                                  placeholder="reason (required; the evidence is attached)", danger=break_glass,
                                  choices=choices or None, choice=initial,
                                  choice_label="to version" if action == "rollback" else "version",
                                  describe=describe, submit=submit), done)
