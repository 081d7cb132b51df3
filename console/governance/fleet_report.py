"""The fleet compliance report: ``report --fleet [--start T] [--end T] --format md|html|json``.

Owns gathering, for a period ``[start, end)`` of the journal, what an auditor asks of the whole
fleet: every model and version with its stage, owner and model card completeness (as of the
report); every promotion request with a journal entry in the period and the gates it was
decided on (or shown with); every override with its justification; every break-glass rollback
and its review; the allowed signers and how many of the period's entries each wrote; and
whether the journal verifies. Rendering reuses the request report's Markdown and HTML
documents (``governance.report``), with every text escaped.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from console import clock
from console.cells import cell
from console.errors import UsageError
from console.governance.audit import verdict
from console.governance.card import build_card, md_literal
from console.governance.gates import failing
from console.governance.journal import Journal, parse_ts
from console.governance.report import MARK, html_document, markdown_document
from console.governance.requests import replay
from console.governance.signing import load_signers, public_b64
from console.governance.state import fleet_state
from console.store.registry import CARD_FIELDS, load_registry
from console.workspace import Workspace

FORMATS = ("md", "html", "json")
SUFFIXES = {".md": "md", ".html": "html", ".htm": "html", ".json": "json"}


def _when(text: Any) -> dt.datetime | None:
    try:
        return parse_ts(str(text))
    except ValueError:
        return None


def build_fleet_report(ws: Workspace, start: dt.datetime | None = None, end: dt.datetime | None = None
                       ) -> dict[str, Any]:
    """The report as a JSON-ready dict (docs/formats.md, ``report --fleet``)."""

    def in_period(ts: Any) -> bool:
        when = _when(ts)
        return when is not None and (start is None or when >= start) and (end is None or when < end)

    registry = load_registry(ws.registry, ws.root)
    entries = Journal(ws.journal_path).entries()
    state = fleet_state(ws, registry, entries)
    requests = list(replay(entries, clock.now()).values())
    period = [e for e in entries if in_period(e.get("ts"))]

    models = []
    for model in registry.models():
        for info in registry.versions_of(model):
            card = build_card(ws, model, info.version, registry=registry, entries=entries, requests=requests,
                              state=state)
            models.append({
                "model": model, "version": info.version, "task": info.task, "stage": card["stage"],
                "created_at": info.created_at, "created_by": info.created_by,
                "owner": card["fields"]["owner"],
                "card_complete": card["complete"], "card_missing_required": card["missing_required"],
                "card_fields_given": len(CARD_FIELDS) - len(card["missing"]),
            })

    justification = {e.get("request_id"): e.get("justification") for e in entries if e.get("action") == "override"}
    promotions = []
    for req in requests:
        if req.action != "promote" or not any(in_period(e.get("ts")) for e in req.trail):
            continue
        decided = bool(req.decided_by) and req.decided_at is not None
        promotions.append({
            "request_id": req.request_id, "model": req.model, "version": req.version,
            "from_version": req.from_version, "state": req.state,
            "requested_by": req.requested_by, "requested_at": req.requested_at,
            "decided_by": req.decided_by, "decided_at": req.decided_at,
            "gates_source": None if not req.gates else ("bound to the decision" if decided else "shown at request time"),
            "gates": [{"gate": g.get("gate"), "status": g.get("status"), "detail": g.get("detail")}
                      for g in req.gates or []],
            "failing_gates": failing(req.gates) if req.gates else [],
            "override": req.override, "justification": justification.get(req.request_id) if req.override else None,
            "evidence_hash": req.evidence_hash,
        })

    by_id = {r.request_id: r for r in requests}
    overrides = []
    for e in period:
        if e.get("action") != "override":
            continue
        req = by_id.get(e.get("request_id"))
        overrides.append({
            "seq": e.get("seq"), "ts": e.get("ts"), "actor": e.get("actor"), "request_id": e.get("request_id"),
            "model": req.model if req else e.get("model"), "version": req.version if req else e.get("version"),
            "overridden_gates": e.get("overridden_gates") or [], "justification": e.get("justification"),
            "evidence_hash": e.get("evidence_hash"),
        })

    break_glass = []
    for req in requests:
        if not req.break_glass or not any(in_period(e.get("ts")) for e in req.trail):
            continue
        review = next((e for e in req.trail if e.get("action") in ("approve", "reject")), None)
        break_glass.append({
            "request_id": req.request_id, "model": req.model, "version": req.version,
            "from_version": req.from_version, "requested_by": req.requested_by, "requested_at": req.requested_at,
            "reason": req.reason, "state": req.state, "review": req.review, "reviewed_by": req.reviewed_by,
            "reviewed_at": review.get("ts") if review else None, "review_comment": req.review_comment,
        })

    journal = verdict(ws)
    journal["entries_in_period"] = len(period)
    journal["first_seq_in_period"] = period[0].get("seq") if period else None
    journal["last_seq_in_period"] = period[-1].get("seq") if period else None
    wrote: dict[str, int] = {}
    for e in period:
        wrote[str(e.get("actor"))] = wrote.get(str(e.get("actor")), 0) + 1
    try:
        signers = load_signers(ws)
        signer_info: dict[str, Any] = {
            "file": str(signers.path), "exists": signers.exists, "error": None,
            "users": [{"user": user, "keys": [public_b64(k) for k in keys], "entries_in_period": wrote.get(user, 0)}
                      for user, keys in sorted(signers.keys.items())],
            "unregistered_actors": sorted(a for a in wrote if a not in signers.keys),
        }
    except Exception as exc:  # noqa: BLE001 - an unreadable signers file is a finding, not a crash
        signer_info = {"file": None, "exists": None, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                       "users": [], "unregistered_actors": sorted(wrote)}

    return {
        "workspace": ws.name,
        "generated_at": clock.rfc3339(clock.now()),
        "period": {"start": clock.rfc3339(start) if start else None, "end": clock.rfc3339(end) if end else None},
        "models": models,
        "promotions": promotions,
        "overrides": overrides,
        "break_glass": break_glass,
        "signers": signer_info,
        "journal": journal,
    }


def title(data: dict[str, Any]) -> str:
    return f"Fleet compliance report: {data['workspace']}"


def render(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    title_ = title(data)
    p = data["period"]
    if p["start"] is None and p["end"] is None:
        span = "the whole journal"
    else:
        span = f"from {p['start'] or 'the first entry'} until {p['end'] or 'now'} (end exclusive)"
    if fmt == "html":
        return html_document(title_, [("Period: ", span, f"; generated {data['generated_at']}.")], sections(data))
    literal = _md_literal
    return markdown_document(literal(title_), [literal(f"Period: {span}; generated {data['generated_at']}.")],
                             sections(data), literal=literal)


def _md_literal(text: str) -> str:
    return md_literal(text, "\\`<>[]*")  # '|' and newlines: the table cell's own escaping


def _fmt(value: Any) -> str:
    return cell(value, missing="—", digits=4)


def sections(d: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]] | str]]:
    """The report's sections as ``(heading, columns, rows or a paragraph)``: what the Markdown
    and HTML documents render, and what the TUI shows."""
    out: list[tuple[str, list[str], list[list[str]] | str]] = []
    incomplete = [m for m in d["models"] if not m["card_complete"]]
    out.append(("Models and versions", [], f"{len(d['models'])} version(s) of "
                f"{len({m['model'] for m in d['models']})} model(s), as of the report; "
                f"{len(incomplete)} without every required model card field."))
    out.append(("", ["model", "version", "task", "stage", "owner", "card", "created"],
                [[m["model"], m["version"], m["task"], _fmt(m["stage"]), _fmt(m["owner"]),
                  ("✓ complete" if m["card_complete"] else "✗ missing " + ", ".join(m["card_missing_required"]))
                  + f" ({m['card_fields_given']}/{len(CARD_FIELDS)} fields)",
                  f"{_fmt(m['created_at'])} by {_fmt(m['created_by'])}"] for m in d["models"]]))
    out.append(("Promotions and their gates", [], f"{len(d['promotions'])} promotion request(s) with a journal "
                "entry in the period." if d["promotions"] else "No promotion request has a journal entry in the period."))
    for r in d["promotions"]:
        head = (f"{r['request_id']}: {r['model']} {_fmt(r['from_version'])} → {_fmt(r['version'])}, {r['state']}; "
                f"requested by {r['requested_by']} at {r['requested_at']}"
                + (f", decided by {r['decided_by']} at {r['decided_at']}" if r["decided_by"] else ""))
        if r["override"]:
            head += f"; OVERRIDE of {', '.join(r['failing_gates'])}: {r['justification'] or '—'}"
        if not r["gates"]:
            out.append(("", [], head + ". No gates in the journal for it."))
            continue
        out.append(("", [], head + f". Gates {r['gates_source']}:"))
        out.append(("", ["gate", "status", "detail"],
                    [[g["gate"], MARK.get(g["status"], g["status"]), _fmt(g["detail"])] for g in r["gates"]]))
    out.append(("Overrides", ["seq", "ts", "actor", "request", "model", "version", "overridden gates", "justification"],
                [[str(o["seq"]), _fmt(o["ts"]), _fmt(o["actor"]), _fmt(o["request_id"]), _fmt(o["model"]),
                  _fmt(o["version"]), ", ".join(o["overridden_gates"]) or "—", _fmt(o["justification"])]
                 for o in d["overrides"]] or "No override in the period."))
    out.append(("Break-glass rollbacks and their reviews",
                ["request", "model", "to", "from", "by", "at", "reason", "review", "reviewed by", "reviewed at",
                 "review comment"],
                [[b["request_id"], b["model"], _fmt(b["version"]), _fmt(b["from_version"]), b["requested_by"],
                  b["requested_at"], _fmt(b["reason"]), _fmt(b["review"]), _fmt(b["reviewed_by"]),
                  _fmt(b["reviewed_at"]), _fmt(b["review_comment"])] for b in d["break_glass"]]
                or "No break-glass rollback in the period."))
    s = d["signers"]
    if s["error"]:
        out.append(("Signers", [], f"The allowed-signers file cannot be read: {s['error']}"))
    else:
        note = f"Allowed signers ({s['file']}{'' if s['exists'] else ', which does not exist'})."
        if s["unregistered_actors"]:
            note += f" Entries in the period by accounts with no key: {', '.join(s['unregistered_actors'])}."
        out.append(("Signers", [], note))
        if s["users"]:
            out.append(("", ["user", "public keys", "entries in the period"],
                        [[u["user"], ", ".join(u["keys"]), str(u["entries_in_period"])] for u in s["users"]]))
    j = d["journal"]
    result = "verifies" if j["ok"] else f"does NOT verify (first bad seq {_fmt(j.get('first_bad_seq'))})"
    seqs = (f"seq {j['first_seq_in_period']}–{j['last_seq_in_period']}" if j["entries_in_period"] else "none")
    out.append(("Journal", [], f"The journal has {j['entries']} entries ({j['entries_in_period']} in the period: "
                f"{seqs}), {j.get('signed', 0)} with a verified signature, and {result}; the hash chain is "
                "verified whole, so the period's entries stand only if it verifies. "
                + " ".join(j.get("problems") or [])))
    return out


def export(data: dict[str, Any], name: str, base: Path) -> tuple[Path, str]:
    """Write the report ``data`` to the file ``name`` (relative to ``base``; no shell, nothing
    expanded) in the format its suffix names (``.md``, ``.html``, ``.json``): replaced whole or
    not at all, a new file with the umask's mode. The folder must exist. Returns the path and the
    format; a bad name or a file that cannot be written is one line (``UsageError``)."""
    from console.fsio import write_atomic

    text = name.strip()
    if not text:
        raise UsageError("give a file name ending in .md, .html or .json")
    if any(ord(c) < 32 or c == "\x7f" for c in text):
        raise UsageError("the file name holds a control character")
    path = Path(text) if Path(text).is_absolute() else Path(base) / text
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"{text}: the name must end in .md, .html or .json (the format)")
    if path.is_dir():
        raise UsageError(f"{text} is a folder: give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {text}: no folder {path.parent}")
    try:
        write_atomic(path, render(data, fmt).encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {text}: {exc.strerror or exc}") from None
    return path, fmt
