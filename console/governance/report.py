"""An auditor's report of one request: ``report ID --format md|html|json``.

It shows the request, the gates and their evidence (those bound to the decision by its
evidence hash; for an undecided promotion, gates evaluated now and marked so), a champion
versus challenger table (registry metrics plus the live numbers the gates measured), the
whole decision trail from the journal with each entry's seq and hash, and whether the
journal verifies.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from console.cells import cell
from console.governance.audit import verdict
from console.governance.engine import get_request
from console.governance.gates import evaluate_gates, evidence_hash, failing
from console.store.registry import load_registry
from console.workspace import Workspace

TRAIL_KEYS = ("comment", "justification", "reason", "detail", "override", "overridden_gates", "evidence_hash",
              "produced_version", "training_usd", "training_usd_source", "training_usd_error", "returncode",
              "timed_out", "duration_s", "attempt", "review")


def build_report(ws: Workspace, request_id: str) -> dict[str, Any]:
    req = get_request(ws, request_id)
    registry = load_registry(ws.registry, ws.root)
    gates, gates_source = req.gates, "bound to the decision" if req.decided_by and req.gates else "shown at request time"
    if req.action == "promote" and req.state == "pending":
        gates, gates_source = evaluate_gates(ws, req.model, req.version, registry=registry), "evaluated now (not yet decided)"
    if gates and req.evidence_hash and gates_source != "evaluated now (not yet decided)":
        hash_ok = evidence_hash(gates) == req.evidence_hash
    else:
        hash_ok = None
    comparison = []
    champ_v, chal_v = req.from_version, req.version
    champ = registry.get(req.model, champ_v) if champ_v else None
    chal = registry.get(req.model, chal_v) if chal_v else None
    names = sorted(set((champ.metrics if champ else {}) | (chal.metrics if chal else {})))
    for name in names:
        comparison.append({"metric": f"offline {name}", "champion": champ.metrics.get(name) if champ else None,
                           "challenger": chal.metrics.get(name) if chal else None})
    for g in gates or []:
        ev = g.get("evidence") or {}
        if g["gate"] == "offline_metric" and ev.get("champion_on_challenger_holdout") is not None:
            comparison.append({"metric": f"offline {ev.get('metric')} on the challenger's holdout",
                               "champion": ev.get("champion_on_challenger_holdout"),
                               "challenger": ev.get("challenger")})
        if g["gate"] == "live_metric" and ev.get("challenger") is not None:
            comparison.append({"metric": f"live {ev.get('metric')}", "champion": ev.get("champion"),
                               "challenger": ev.get("challenger")})
            comparison.append({"metric": "live labelled", "champion": ev.get("champion_labelled"),
                               "challenger": ev.get("challenger_labelled")})
    if chal is not None or champ is not None:
        for key in ("data_hash", "code_commit", "training_data"):
            comparison.append({"metric": f"lineage {key}",
                               "champion": (champ.lineage.get(key) if champ else None),
                               "challenger": (chal.lineage.get(key) if chal else None)})
    return {
        "request": req.row() | {"expires_at": req.expires_at, "decided_at": req.decided_at,
                                "decision_comment": req.decision_comment, "reviewed_by": req.reviewed_by,
                                "review_comment": req.review_comment, "produced_version": req.produced_version,
                                "failure": req.failure},
        "champion_version": champ_v,
        "challenger_version": chal_v,
        "gates": gates or [],
        "gates_source": gates_source if gates else None,
        "failing_gates": failing(gates) if gates else [],
        "evidence_hash": req.evidence_hash,
        "gates_hash": evidence_hash(gates) if gates else None,
        "evidence_hash_matches": hash_ok,
        "comparison": comparison,
        "hook": req.hook,
        "trail": req.trail,
        "journal": verdict(ws),
        "workspace": ws.name,
    }


def render(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "html":
        return _html(data)
    return _markdown(data)


def _fmt(value: Any) -> str:
    return cell(value, missing="—", digits=4)


MARK = {"passed": "✓ passed", "failed": "✗ failed", "not_evaluated": "? not evaluated"}


def sections(d: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]] | str]]:
    """(heading, columns, rows) or (heading, [], paragraph) — shared by md and html."""
    r = d["request"]
    out: list[tuple[str, list[str], list[list[str]] | str]] = []
    req_rows = [[k, _fmt(r.get(k))] for k in (
        "request_id", "action", "model", "version", "from_version", "state", "reason", "requested_by",
        "requested_at", "expires_at", "break_glass", "decided_by", "decided_at", "decision_comment",
        "override", "review", "reviewed_by", "review_comment", "produced_version", "failure")]
    out.append(("Request", ["field", "value"], req_rows))
    if d["gates"]:
        note = f"Gates {d['gates_source']}."
        if d["gates_source"] == "evaluated now (not yet decided)":
            note += (f" Evidence hash `{d['gates_hash']}`: approve with `--evidence {d['gates_hash']}`"
                     " to bind the decision to exactly this evidence.")
        elif d["evidence_hash"]:
            match = {True: "matches", False: "DOES NOT MATCH", None: "n/a"}[d["evidence_hash_matches"]]
            note += f" Evidence hash `{d['evidence_hash']}` ({match} the gates below)."
        if d["failing_gates"]:
            note += f" Not passed: {', '.join(d['failing_gates'])}."
        out.append(("Gates", [], note))
        out.append(("", ["gate", "status", "detail"],
                    [[g["gate"], MARK.get(g["status"], g["status"]), g["detail"]] for g in d["gates"]]))
        for g in d["gates"]:
            ev = g.get("evidence") or {}
            if ev:
                out.append((f"Evidence: {g['gate']}", ["name", "value"], [[k, _fmt(v)] for k, v in ev.items()]))
    if d["comparison"]:
        out.append(("Champion vs challenger",
                    ["metric", f"champion ({_fmt(d['champion_version'])})", f"challenger ({_fmt(d['challenger_version'])})"],
                    [[c["metric"], _fmt(c["champion"]), _fmt(c["challenger"])] for c in d["comparison"]]))
    if d["hook"]:
        h = d["hook"]
        out.append(("Hook", ["field", "value"], [[k, _fmt(h.get(k))] for k in
                                                 ("argv", "returncode", "timed_out", "duration_s", "error")]))
        for stream in ("stdout", "stderr"):
            if h.get(stream):
                out.append((f"Hook {stream}", ["text"], [[line] for line in str(h[stream]).splitlines()[-40:]]))
    trail = [[str(t["seq"]), t["ts"] or "", t["actor"] or "", t["action"] or "", t["details"], str(t["hash"] or "")[:16]]
             for t in trail_rows(d)]
    out.append(("Decision trail", ["seq", "ts", "actor", "action", "details", "hash"], trail))
    j = d["journal"]
    verdict = "verifies" if j["ok"] else f"does NOT verify (first bad seq {j['first_bad_seq']})"
    out.append(("Journal", [], f"journal.jsonl has {j['entries']} entries and {verdict}. "
                + " ".join(j.get("problems") or [])))
    return out


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def title(d: dict[str, Any]) -> str:
    r = d["request"]
    return f"{r['request_id']}: {r['action']} {r['model']} {_fmt(r['version'])} — {r['state']}"


def trail_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The decision trail, one row per journal entry (``report --format csv``)."""
    return [{"seq": e.get("seq"), "ts": e.get("ts"), "actor": e.get("actor"), "action": e.get("action"),
             "details": "; ".join(f"{k}={_fmt(e[k])}" for k in TRAIL_KEYS if k in e and e[k] not in (None, "")),
             "hash": e.get("hash")} for e in d["trail"]]


def _markdown(d: dict[str, Any]) -> str:
    return markdown_document(title(d), [f"Workspace `{d['workspace']}`."], sections(d))


def _html(d: dict[str, Any]) -> str:
    return html_document(title(d), [("Workspace ", d["workspace"], ".")], sections(d))


Sections = list[tuple[str, list[str], list[list[str]] | str]]


def markdown_document(title: str, intro: list[str], sections: Sections,
                      literal: Callable[[str], str] | None = None) -> str:
    """A report as Markdown: ``# title``, the ``intro`` lines, then each (heading, columns, rows)
    as a table (or a paragraph when rows is a string). Shared by the request and fleet reports;
    ``literal`` (when given) escapes every cell and paragraph so that no text becomes markup."""
    lit = literal or (lambda text: text)
    lines = [f"# {title}", ""]
    for line in intro:
        lines += [line, ""]
    for heading, cols, rows in sections:
        if heading:
            lines += [f"## {heading}", ""]
        if isinstance(rows, str):
            lines += [lit(rows), ""]
            continue
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "|".join("---" for _ in cols) + "|")
        lines += ["| " + " | ".join(_md_cell(lit(str(c))) for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def html_document(title: str, intro: list[tuple[str, str, str]], sections: Sections) -> str:
    """A report as one self-contained HTML file (inline style, no script, nothing fetched); every
    text escaped. ``intro``: paragraphs of (text, code, text)."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
             "table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:.2em .5em;"
             "text-align:left;vertical-align:top}</style>", "</head><body>", f"<h1>{e(title)}</h1>"]
    parts += [f"<p>{e(a)}<code>{e(code)}</code>{e(b)}</p>" for a, code, b in intro]
    for heading, cols, rows in sections:
        if heading:
            parts.append(f"<h2>{e(heading)}</h2>")
        if isinstance(rows, str):
            parts.append(f"<p>{e(rows)}</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
