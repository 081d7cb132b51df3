"""Sub-commands of the governance area (docs/formats.md, 'The command line'; docs/governance.md): ``request``, ``approve``, ``reject``,
``cancel``, ``requests``, ``gates``, ``audit verify``, ``report``, ``card`` and ``keys show``.

The acting identity is always the OS account running this process (``Workspace.identity()``);
no option or environment variable changes it. A refused attempt exits 2 with one line. The
steps themselves (ingest pass, gates, decision, execution) are ``governance.workflow``'s, the
same the TUI runs; this module only parses and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

from console import fsio
from console.cli.output import emit, render_sections
from console.errors import UsageError
from console.governance import engine, workflow
from console.governance.gates import evidence_hash, failing
from console.governance.requests import ACTIONS


def register(sub, parents) -> None:
    """Add this area's sub-commands to the parser."""
    common, fmt = parents["common"], parents["format"]

    p = sub.add_parser("request", parents=[common, fmt], help="request a promotion, rollback or retrain")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="promote: the version; rollback: the target (default: the previous one)")
    p.add_argument("--reason", required=True, help="why (required, journaled)")
    p.add_argument("--break-glass", action="store_true",
                   help="rollback only, operators only: execute now, review afterwards")
    p.set_defaults(handler=run_request)

    for verdict in ("approve", "reject"):
        p = sub.add_parser(verdict, parents=[common, fmt], help=f"{verdict} a request (reviewers)")
        p.add_argument("request_id", metavar="ID")
        p.add_argument("--comment", required=True, help="the decision's comment (with --override: the justification)")
        if verdict == "approve":
            p.add_argument("--override", action="store_true", help="approve despite gates that did not pass")
            p.add_argument("--evidence", metavar="HASH",
                           help="the evidence_hash you reviewed (from `gates` or `report`); refused if it changed")
        p.set_defaults(handler=run_decide, verdict=verdict)

    p = sub.add_parser("execute", parents=[common, fmt],
                       help="carry out an approved request whose execution never finished (reviewers)")
    p.add_argument("request_id", metavar="ID")
    p.set_defaults(handler=run_execute)

    p = sub.add_parser("cancel", parents=[common, fmt], help="withdraw your own pending request")
    p.add_argument("request_id", metavar="ID")
    p.set_defaults(handler=run_cancel)

    p = sub.add_parser("requests", parents=[common, fmt], help="list requests and their states")
    p.add_argument("--state", choices=("pending", "approved", "executed", "failed", "rejected", "cancelled",
                                       "expired"), help="only requests in this state")
    p.add_argument("--model", help="only this model's requests")
    p.set_defaults(handler=run_requests)

    p = sub.add_parser("gates", parents=[common, fmt], help="evaluate the promotion gates of a version")
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    p.set_defaults(handler=run_gates)

    p = sub.add_parser("audit", parents=[common], help="check the journal")
    audit_sub = p.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    v = audit_sub.add_parser("verify", parents=[common, fmt], help="verify the journal's hash chain")
    v.set_defaults(handler=run_verify)

    p = sub.add_parser("keys", parents=[common], help="your journal signing key")
    keys_sub = p.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    k = keys_sub.add_parser("show", parents=[common, fmt],
                            help="print your public key line for the workspace's signers file "
                                 "(creates your key on first use)")
    k.set_defaults(handler=run_keys_show)

    p = sub.add_parser("report", parents=[common],
                       help="an auditor's report of one request, or of the whole fleet (--fleet)")
    p.add_argument("request_id", metavar="ID", nargs="?", help="the request (without --fleet)")
    p.add_argument("--fleet", action="store_true",
                   help="the fleet compliance report: versions, cards, gates, overrides, break-glass, signers")
    p.add_argument("--start", metavar="T", help="--fleet: the period's start (RFC 3339 time or date, inclusive)")
    p.add_argument("--end", metavar="T", help="--fleet: the period's end (exclusive)")
    p.add_argument("--format", choices=("table", "csv", "json", "md", "html"), default="table",
                   help="table (default: the sections as text), csv (the decision trail; --fleet: the versions), "
                        "json, md or html (a document)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(handler=run_report)

    p = sub.add_parser("card", parents=[common], help="the model card of a version")
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--format", choices=("table", "csv", "json", "md", "html"), default="table")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(handler=run_card)


def _result(req, **extra) -> dict:
    out = {"request_id": req.request_id, "state": req.state}
    out.update(
        action=req.action, model=req.model, version=req.version, from_version=req.from_version,
        requested_by=req.requested_by, decided_by=req.decided_by, break_glass=req.break_glass,
        review=req.review, produced_version=req.produced_version,
    )
    if req.failure:
        out["failure"] = req.failure
    out.update(extra)
    return out


def _print_gates(gates: list[dict], fmt: str) -> None:
    """Show gates on stderr in table mode (stdout stays the command's own result)."""
    if fmt != "table" or not gates:
        return
    emit(gates, "table", rows=[{"gate": g["gate"], "status": _mark(g["status"]), "detail": g["detail"]}
                              for g in gates], out=sys.stderr, title="gates")


def _mark(status: str) -> str:
    return {"passed": "✓ passed", "failed": "✗ failed", "not_evaluated": "? not evaluated"}.get(status, status)


def run_request(ctx) -> int:
    ws = ctx.workspace()
    registry = ctx.registry()  # warns about invalid registry files
    a = ctx.args
    done = workflow.request(ws, ws.identity(), a.action, a.model, a.version, a.reason,
                            break_glass=a.break_glass, registry=registry)
    req, gates = done.request, done.gates
    result = _result(req, gates=gates) if gates is not None else _result(req)
    _print_gates(gates or [], ctx.fmt)
    emit(result, ctx.fmt, rows=[{k: v for k, v in result.items() if k != "gates"}])
    return 1 if req.state == "failed" else 0


def run_decide(ctx) -> int:
    ws = ctx.workspace()
    registry = ctx.registry()  # warns about invalid registry files
    a = ctx.args
    done = workflow.decide(ws, ws.identity(), a.request_id, a.verdict, a.comment,
                           override=getattr(a, "override", False), expected_evidence=getattr(a, "evidence", None),
                           registry=registry, show_gates=lambda gates: _print_gates(gates, ctx.fmt))
    req, gates = done.request, done.gates
    extra = {}
    if gates is not None:
        extra = {"gates": gates, "override": req.override, "failing_gates": failing(gates)}
    result = _result(req, **extra)
    emit(result, ctx.fmt, rows=[{k: v for k, v in result.items() if k != "gates"}])
    return 1 if req.state == "failed" else 0


def run_execute(ctx) -> int:
    ws = ctx.workspace()
    req = workflow.execute(ws, ws.identity(), ctx.args.request_id).request
    emit(_result(req), ctx.fmt)
    return 1 if req.state == "failed" else 0


def run_cancel(ctx) -> int:
    ws = ctx.workspace()
    req = workflow.cancel(ws, ws.identity(), ctx.args.request_id).request
    emit(_result(req), ctx.fmt)
    return 0


def run_requests(ctx) -> int:
    ws = ctx.workspace()
    rows = [r.row() for r in engine.list_requests(ws)]
    if ctx.args.state:
        rows = [r for r in rows if r["state"] == ctx.args.state]
    if ctx.args.model:
        rows = [r for r in rows if r["model"] == ctx.args.model]
    table_rows = [{k: r[k] for k in ("request_id", "action", "model", "version", "state", "requested_by",
                                     "decided_by", "break_glass", "review")} for r in rows]
    emit(rows, ctx.fmt, rows=table_rows if ctx.fmt == "table" else rows)
    return 0


def run_gates(ctx) -> int:
    ws = ctx.workspace()
    registry = ctx.registry()  # an invalid registry file is a warning on stderr
    if registry.get(ctx.args.model, ctx.args.version) is None:
        raise UsageError(f"no version {ctx.args.version!r} of {ctx.args.model!r} in the registry")
    gates = workflow.fresh_gates(ws, ctx.args.model, ctx.args.version, registry=registry)
    result = {"model": ctx.args.model, "version": ctx.args.version, "passed": not failing(gates),
              "evidence_hash": evidence_hash(gates), "gates": gates}
    rows = [{"gate": g["gate"], "status": _mark(g["status"]) if ctx.fmt == "table" else g["status"],
             "detail": g["detail"]} for g in gates]
    emit(result, ctx.fmt, rows=rows)
    if ctx.fmt == "table":
        sys.stdout.write(f"evidence_hash {result['evidence_hash']}\n")
    return 0 if result["passed"] else 1  # usable as a CI step: a failed gate fails it


def run_verify(ctx) -> int:
    from console.governance.audit import verify_workspace

    ws = ctx.workspace()
    result = verify_workspace(ws)
    emit(result, ctx.fmt, rows=[{"ok": result["ok"], "entries": result["entries"],
                                 "signed": result["signed"], "first_bad_seq": result["first_bad_seq"],
                                 "problem": "; ".join(result["problems"])}])
    return 0 if result["ok"] else 1


def run_keys_show(ctx) -> int:
    """This account's ``user ed25519 <key>`` line; whether the workspace (if any) has it."""
    from console.governance.signing import key_path, load_signers, own_key, signers_line
    from console.identity import os_user

    user = os_user()
    key = own_key(create=True)
    result = {"user": user, "line": signers_line(user, key), "key_file": str(key_path())}
    try:
        ws = ctx.workspace()
    except UsageError:
        ws = None
    if ws is not None:
        signers = load_signers(ws)
        result.update(signers=str(signers.path), registered=signers.has(user, key))
    if ctx.fmt == "table":
        sys.stdout.write(result["line"] + "\n")
        if ws is not None and not result["registered"]:
            sys.stderr.write(f"not registered yet: ask the administrator to add this line to {result['signers']}\n")
    else:
        emit(result, ctx.fmt)
    return 0


def run_report(ctx) -> int:
    from console.governance.report import build_report, render

    a = ctx.args
    if a.fleet:
        if a.request_id:
            raise UsageError("report: give a request ID or --fleet, not both")
        return run_fleet_report(ctx)
    if not a.request_id:
        raise UsageError("report: give a request ID, or --fleet for the fleet compliance report")
    if a.start is not None or a.end is not None:
        raise UsageError("report: --start and --end go with --fleet")
    ws = ctx.workspace()
    ctx.registry()  # warns about invalid registry files
    req = engine.get_request(ws, ctx.args.request_id)
    if req.action == "promote" and req.state == "pending":
        workflow.ingest_pass(ws)  # its gates are evaluated now
    from console.governance import report

    data = build_report(ws, ctx.args.request_id)
    _write_output(ctx.args.output, _document(data, ctx.args.format, report.title, report.sections,
                                             report.trail_rows, render))
    return 0


def _document(data, fmt: str, title, sections, csv_rows, render) -> str:
    """A governance report as ``fmt``: its sections as plain text tables (``table``), its main
    list as CSV (``csv``), else the module's own document (json, md, html)."""
    import io

    if fmt not in ("table", "csv"):
        return render(data, fmt)
    buf = io.StringIO()
    if fmt == "table":
        render_sections(title(data), sections(data), buf)
    else:
        emit(None, "csv", rows=csv_rows(data), out=buf)
    return buf.getvalue()


def _write_output(path: str | None, text: str) -> None:
    """A document to ``path`` (``--output``), else to stdout; a file that cannot be written is one line."""
    if path:
        try:  # replaced atomically through a new O_EXCL|O_NOFOLLOW file: never written through a link
            fsio.write_atomic(Path(path), text.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)


def run_fleet_report(ctx) -> int:
    from console.analytics.windows import parse_range
    from console.governance import fleet_report

    start, end = parse_range(ctx.args.start, ctx.args.end)
    ws = ctx.workspace()
    ctx.registry()  # warns about invalid registry files
    data = fleet_report.build_fleet_report(ws, start, end)
    _write_output(ctx.args.output, _document(data, ctx.args.format, fleet_report.title, fleet_report.sections,
                                             lambda d: d["models"], fleet_report.render))
    return 0


def run_card(ctx) -> int:
    import io

    from console.governance.card import build_card, render, rows, title

    ws = ctx.workspace()
    registry = ctx.registry()  # warns about invalid registry files
    card = build_card(ws, ctx.args.model, ctx.args.version, registry=registry)
    if ctx.args.format in ("table", "csv"):  # printed as every report is: field and value columns
        buf = io.StringIO()
        emit(card, ctx.args.format, rows=rows(card), title=title(card), out=buf)
        text = buf.getvalue()
    else:
        text = render(card, ctx.args.format)
    _write_output(ctx.args.output, text)
    return 0
