"""Sub-commands of the alerts area (docs/formats.md, 'The command line'): ``alerts ack``,
``alerts snooze`` and ``alerts history``.

``ack`` and ``snooze`` act as the OS account running the process (operators only: the on-call
role), through ``governance.workflow`` — the same functions the TUI's Alerts screen calls; the
alert must be firing now (``check_alerts`` is evaluated to find it, after the role, the comment
and the time were checked). ``history`` prints the store's alert history with the
acknowledgements the journal holds for each alert. Bad input is one line, exit 2.
"""

from __future__ import annotations

from typing import Any

from console.cli.output import emit


def register(sub, parents) -> None:
    """Add this area's sub-commands to the parser."""
    common, fmt = parents["common"], parents["format"]
    p = sub.add_parser("alerts", parents=[common], help="acknowledge, snooze and look back at alerts")
    alerts_sub = p.add_subparsers(dest="alerts_command", metavar="COMMAND", required=True)

    a = alerts_sub.add_parser("ack", parents=[common, fmt], help="acknowledge a firing alert (operators)")
    a.add_argument("alert_id", metavar="ALERT_ID", help="the alert's id (from check), or a unique prefix")
    a.add_argument("--comment", required=True, help="what you are doing about it (required, journaled)")
    a.set_defaults(handler=run_ack)

    s = alerts_sub.add_parser("snooze", parents=[common, fmt], help="silence a firing alert until a time (operators)")
    s.add_argument("alert_id", metavar="ALERT_ID", help="the alert's id (from check), or a unique prefix")
    s.add_argument("--until", required=True, metavar="T",
                   help="a duration from now (2h, 1d) or an RFC 3339 time or date; must be in the future")
    s.add_argument("--comment", help="why (optional, journaled)")
    s.set_defaults(handler=run_snooze)

    h = alerts_sub.add_parser("history", parents=[common, fmt],
                              help="alerts open and recently cleared, with their acknowledgements")
    h.add_argument("--model", help="only this model's alerts")
    h.set_defaults(handler=run_history)


def _firing(ctx):
    """A function computing the alerts firing now (``check_alerts``, as ``check``)."""
    def alerts() -> list[dict[str, Any]]:
        from console.analytics.runner import run_report
        from console.cli.analytics_cmds import _open
        from console.profiles import glance

        return run_report(_open(ctx), glance.check_alerts)["alerts"]
    return alerts


def _result(entry: dict[str, Any]) -> dict[str, Any]:
    return {"alert_id": entry.get("alert_id"), "action": "snooze" if entry.get("action") == "alert_snooze" else "ack",
            "by": entry.get("actor"), "at": entry.get("ts"), "model": entry.get("model"),
            "version": entry.get("version"), "kind": entry.get("kind"), "subject": entry.get("subject"),
            "severity": entry.get("severity"), "comment": entry.get("comment"), "until": entry.get("until"),
            "seq": entry.get("seq")}


def run_ack(ctx) -> int:
    from console.governance import workflow

    ws = ctx.workspace()
    a = ctx.args
    entry = workflow.ack_alert(ws, ws.identity(), a.alert_id, a.comment, _firing(ctx))
    emit(_result(entry), ctx.fmt)
    return 0


def run_snooze(ctx) -> int:
    from console.governance import workflow

    ws = ctx.workspace()
    a = ctx.args
    entry = workflow.snooze_alert(ws, ws.identity(), a.alert_id, a.until, a.comment, _firing(ctx))
    emit(_result(entry), ctx.fmt)
    return 0


def run_history(ctx) -> int:
    """Open alerts (oldest opened first), then cleared ones (newest first), each with ``acks``:
    the journal's acknowledgements and snoozes of it that count (``alert_acks.acknowledgements``)."""
    from console.analytics import alert_history
    from console.governance.alert_acks import acknowledgements

    ws = ctx.workspace()
    history = alert_history.load(ws)
    acks = acknowledgements(ws)

    def with_acks(e: dict[str, Any], status: str) -> dict[str, Any]:
        told = [_result(x) for x in acks.get(str(e.get("id")), [])]
        return e | {"status": status, "acks": [{k: t[k] for k in ("action", "by", "at", "comment", "until")}
                                               for t in told]}

    opened = sorted((history.get("open") or {}).values(), key=lambda e: str(e.get("opened") or ""))
    cleared = sorted(history.get("cleared") or [], key=lambda e: str(e.get("cleared") or ""), reverse=True)
    if ctx.args.model:
        opened = [e for e in opened if e.get("model") == ctx.args.model]
        cleared = [e for e in cleared if e.get("model") == ctx.args.model]
    result = {"checked": history.get("checked"), "open": [with_acks(e, "open") for e in opened],
              "cleared": [with_acks(e, "cleared") for e in cleared]}
    rows = []
    for e in result["open"] + result["cleared"]:
        last = e["acks"][-1] if e["acks"] else None
        rows.append({"status": e["status"], "id": e.get("id"), "model": e.get("model"), "kind": e.get("kind"),
                     "subject": e.get("subject"), "severity": e.get("severity"), "opened": e.get("opened"),
                     "cleared": e.get("cleared"),
                     "last_ack": f"{last['action']} by {last['by']} {last['at']}" if last else None})
    emit(result, ctx.fmt, rows=rows)
    return 0
