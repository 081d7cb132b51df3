"""Model cards (docs/formats.md, 'Registry' and ``card``; docs/governance.md, 'Model cards'):
owns building the card of one registered version — the registry's card fields (``description``,
``owner``, … ``store.registry.CARD_FIELDS``) beside what the console knows of the version (its
current stage from the journal, creation, offline metrics, lineage, the gates last evaluated
for its promotion) — rendering it as JSON, Markdown or one self-contained HTML file, and the
``model_card`` promotion gate (the card fields ``[gates] model_card_required`` names).

Card fields are text written by whoever registers a model: HTML escapes them
(``html.escape``), Markdown backslash-escapes the characters that would make them markup
(raw HTML, links, code, table cells); the TUI escapes Rich markup itself.
"""

from __future__ import annotations

import html
import json
from typing import Any

from console.errors import UsageError
from console.governance.engine import list_requests
from console.governance.gates import failing, gate_config
from console.governance.journal import Journal
from console.governance.state import FleetState, fleet_state
from console.store.registry import CARD_FIELDS, Registry, VersionInfo, load_registry, version_label
from console.workspace import Workspace

NOT_GIVEN = "— not given"
LABELS = {
    "description": "Description",
    "owner": "Owner",
    "intended_use": "Intended use",
    "out_of_scope": "Out of scope",
    "limitations": "Limitations",
    "risks": "Risks",
    "training_data": "Training data",
    "evaluation_data": "Evaluation data",
    "fairness_considerations": "Fairness considerations",
    "contact": "Contact",
}
FORMATS = ("table", "csv", "json", "md", "html")


def missing_fields(info: VersionInfo, fields: list[str] | tuple[str, ...]) -> list[str]:
    """The names among ``fields`` that the version's registry file does not give, in order."""
    return [f for f in fields if f not in info.card]


def model_card_gate(info: VersionInfo, required: list[str], make) -> dict[str, Any]:
    """The ``model_card`` gate's dict (``make``: gates._gate): failed with the names of the
    required card fields the challenger's registry file does not give."""
    missing = missing_fields(info, required)
    given = [f for f in required if f not in missing]
    if missing:
        return make("model_card", "failed", f"model card incomplete: missing {', '.join(missing)}",
                    required=list(required), missing=missing, given=given)
    if not required:
        return make("model_card", "passed", "no model card field is required ([gates] model_card_required is empty)",
                    required=[], missing=[], given=[])
    return make("model_card", "passed", f"model card complete ({', '.join(required)})",
                required=list(required), missing=[], given=given)


def last_gates(requests: list, model: str, version: str) -> dict[str, Any] | None:
    """The gates last evaluated for promoting ``model`` ``version`` that the journal holds (those
    bound to the latest decision, else those shown at the latest request), or None."""
    for req in reversed(requests):
        if req.action != "promote" or req.model != model or req.version != version or not req.gates:
            continue
        decided = bool(req.decided_by and not req.break_glass)
        return {
            "request_id": req.request_id,
            "state": req.state,
            "at": req.decided_at if decided else req.requested_at,
            "source": "bound to the decision" if decided else "shown at request time",
            "passed": not failing(req.gates),
            "failing": failing(req.gates),
            "override": bool(req.override),
            "gates": [{"gate": g.get("gate"), "status": g.get("status"), "detail": g.get("detail")}
                      for g in req.gates],
        }
    return None


def find_version(registry: Registry, model: str, version: str) -> VersionInfo:
    """The registered version, or a one-line ``UsageError`` (exit 2) naming what is unknown."""
    info = registry.get(model, version)
    if info is None:
        if model not in registry.models():
            raise UsageError(f"no model {model!r} in the registry")
        raise UsageError(f"no version {version!r} of {model!r} in the registry")
    return info


def build_card(
    ws: Workspace,
    model: str,
    version: str,
    registry: Registry | None = None,
    entries: list[dict[str, Any]] | None = None,
    requests: list | None = None,
    state: FleetState | None = None,
) -> dict[str, Any]:
    """The card of ``model`` ``version`` as a JSON-ready dict (docs/formats.md, ``card``).
    ``registry``, the journal's ``entries``, the replayed ``requests`` and the fleet ``state``
    may be given by a caller that already holds them (the TUI, the fleet report); else they are
    read."""
    registry = registry if registry is not None else load_registry(ws.registry, ws.root)
    info = find_version(registry, model, version)
    if entries is None:
        entries = Journal(ws.journal_path).entries()
    state = state if state is not None else fleet_state(ws, registry, entries)
    if requests is None:
        requests = list_requests(ws)
    required = list(gate_config(ws, model)["model_card_required"])
    missing = missing_fields(info, CARD_FIELDS)
    lineage = {k: v for k, v in (info.lineage or {}).items() if k != "params"}
    return {
        "model": model,
        "version": version,
        "task": info.task,
        "stage": state.stage(model, version),
        "registry_stage": info.stage,
        "production_version": state.production.get(model),
        "created_at": info.created_at,
        "created_by": info.created_by,
        "fields": {f: info.card.get(f) for f in CARD_FIELDS},
        "missing": missing,
        "required": required,
        "missing_required": [f for f in required if f in missing],
        "complete": not any(f in missing for f in required),
        "metrics": dict(info.metrics),
        "lineage": lineage,
        "last_gates": last_gates(requests, model, version),
        "registry_file": str(info.path),
        "workspace": ws.name,
    }


def rows(card: dict[str, Any]) -> list[dict[str, str]]:
    """The card as ``{"field", "value"}`` rows (``table`` and ``csv``): what the console knows,
    then every card field (a list joined with "; ", "— not given" when absent)."""
    out = [{"field": k, "value": v} for k, v in facts(card)]
    for name in CARD_FIELDS:
        value = card["fields"].get(name)
        text = NOT_GIVEN if value is None else "; ".join(value) if isinstance(value, list) else str(value)
        out.append({"field": LABELS[name], "value": text})
    return out


def render(card: dict[str, Any], fmt: str) -> str:
    """The card as ``json``, ``md`` or ``html`` text (``table`` and ``csv``: ``rows``, printed
    by the command line like every other report)."""
    if fmt == "json":
        return json.dumps(card, indent=2, ensure_ascii=False) + "\n"
    if fmt == "html":
        return _html(card)
    if fmt == "md":
        return _markdown(card)
    raise UsageError(f"bad card format {fmt!r}: render gives json, md or html")


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def facts(card: dict[str, Any]) -> list[tuple[str, str]]:
    """What the console knows of the version, as (name, value) rows — shared by md, html and the TUI."""
    g = card.get("last_gates")
    if g is None:
        gates = "none in the journal (no promotion request with gates)"
    else:
        verdict = "all passed" if g["passed"] else f"not passed: {', '.join(g['failing'])}"
        gates = f"{verdict} ({g['source']}, {g['request_id']} {g['state']}, {_text(g['at'])})"
        if g["override"]:
            gates += "; approved with an override"
    required = ", ".join(card["required"]) or "none"
    completeness = ("complete" if card["complete"]
                    else f"missing required {', '.join(card['missing_required'])}") + f" (required: {required})"
    rows = [
        ("model", card["model"]),
        ("version", card["version"]),
        ("task", card["task"]),
        ("stage", _text(card["stage"]) + ("" if card["stage"] == card["registry_stage"]
                                          else f" (registered as {card['registry_stage']})")),
        ("production version", version_label(card["production_version"]) if card["production_version"] else "none"),
        ("created", f"{_text(card['created_at'])} by {_text(card['created_by'])}"),
        ("offline metrics", ", ".join(f"{k} {_text(v)}" for k, v in card["metrics"].items()) or "—"),
        ("parent version", _text(card["lineage"].get("parent_version"))),
        ("card", completeness),
        ("gates last evaluated", gates),
    ]
    return rows


MD_SPECIAL = "\\`<>[]|*"


def md_literal(text: str, special: str = MD_SPECIAL) -> str:
    """Text as literal Markdown: each character of ``special`` backslash-escaped, so registry or
    journal text becomes no raw HTML, link, code, emphasis or table break."""
    return "".join("\\" + ch if ch in special else ch for ch in str(text))



def _md_field(value: Any) -> list[str]:
    if value is None:
        return [NOT_GIVEN]
    if isinstance(value, list):
        return [f"- {md_literal(item)}".replace("\n", "\n  ") for item in value]
    return [md_literal(line) if line.strip() else "" for line in str(value).splitlines()]


def title(card: dict[str, Any]) -> str:
    return f"Model card: {card['model']} {version_label(card['version'])}"


def _markdown(card: dict[str, Any]) -> str:
    lines = [f"# {md_literal(title(card))}", ""]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {md_literal(k)} | {md_literal(v).replace(chr(10), ' ')} |" for k, v in facts(card)]
    lines.append("")
    for name in CARD_FIELDS:
        lines += [f"## {LABELS[name]}", ""]
        lines += _md_field(card["fields"].get(name))
        lines.append("")
    g = card.get("last_gates")
    if g:
        lines += ["## Gates last evaluated", "", "| gate | status | detail |", "|---|---|---|"]
        lines += [f"| {md_literal(x['gate'])} | {md_literal(x['status'])} | {md_literal(x['detail'] or '').replace(chr(10), ' ')} |"
                  for x in g["gates"]]
        lines.append("")
    lines += [f"Registry file `{card['registry_file'].replace('`', '')}`, workspace {md_literal(card['workspace'])}.", ""]
    return "\n".join(lines)


def _html_field(value: Any) -> str:
    e = html.escape
    if value is None:
        return f'<p class="missing">{e(NOT_GIVEN)}</p>'
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{e(item)}</li>" for item in value) + "</ul>"
    return f'<p class="text">{e(value)}</p>'


STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.4}"
         "table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:.2em .5em;"
         "text-align:left;vertical-align:top}.text{white-space:pre-wrap}.missing{color:#555;font-style:italic}")


def _html(card: dict[str, Any]) -> str:
    """One self-contained HTML file: inline style, no script, no external asset."""
    e = html.escape
    heading = title(card)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(heading)}</title>",
             f"<style>{STYLE}</style>", "</head><body>", f"<h1>{e(heading)}</h1>", '<table class="facts">']
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts(card)]
    parts.append("</table>")
    for name in CARD_FIELDS:
        parts.append(f'<h2 id="{name}">{e(LABELS[name])}</h2>')
        parts.append(_html_field(card["fields"].get(name)))
    g = card.get("last_gates")
    if g:
        parts.append("<h2>Gates last evaluated</h2>")
        parts.append('<table class="gates"><tr><th>gate</th><th>status</th><th>detail</th></tr>')
        parts += [f"<tr><td>{e(str(x['gate']))}</td><td>{e(str(x['status']))}</td><td>{e(str(x['detail'] or ''))}</td></tr>"
                  for x in g["gates"]]
        parts.append("</table>")
    parts.append(f"<p>Registry file <code>{e(card['registry_file'])}</code>, workspace {e(card['workspace'])}.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
