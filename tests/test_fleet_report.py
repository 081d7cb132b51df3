"""The fleet compliance report (``report --fleet``): the inventory with stages, owners and card
completeness; the period's promotions with their gates, overrides with their justification,
break-glass rollbacks with their reviews, signers and the journal's verdict — each checked
against the journal read directly; the HTML parsed back (self-contained, text escaped); the
one-line errors of the command line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from html.parser import HTMLParser

import pytest

from console.cli import main
from console.governance import workflow
from console.governance.fleet_report import build_fleet_report, render
from console.governance.journal import parse_ts
from console.workspace import load_dir
from tests.test_governance_helpers import ALICE, BOB, CAROL, PEOPLE, journal
from tests.test_model_card import FULL, HOSTILE, workspace

UTC = dt.UTC
START, END = dt.datetime(2026, 11, 5, tzinfo=UTC), dt.datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(name="story")
def story_fixture(tmp_path):
    """credit v4 (full card) promoted before the period; v5 (no owner…) promoted inside it with
    an override whose justification is hostile text; a break-glass rollback back to v4, signed off."""
    root = workspace(tmp_path, extra_toml='[gates]\nenabled = ["lineage", "model_card"]\n')
    ws = load_dir(root)

    def at(day: int, hour: int = 10) -> dt.datetime:
        return dt.datetime(2026, 11, day, hour, tzinfo=UTC)

    r1 = workflow.request(ws, CAROL, "promote", "credit", "4", "v4 is better", now=at(1)).request
    workflow.decide(ws, ALICE, r1.request_id, "approve", "looks good", now=at(1, 12))
    r2 = workflow.request(ws, CAROL, "promote", "credit", "5", "v5 now", now=at(8)).request
    workflow.decide(ws, BOB, r2.request_id, "approve", f"card follows {HOSTILE}", override=True, now=at(8, 12))
    r3 = workflow.request(ws, CAROL, "rollback", "credit", "4", "3am page", break_glass=True, now=at(12)).request
    workflow.decide(ws, ALICE, r3.request_id, "approve", "the page was real", now=at(13))
    return root, (r1.request_id, r2.request_id, r3.request_id)


def test_fleet_report_table_and_csv(story, capsys):
    root, _ = story
    args = ["report", "--fleet", "--workspace", str(root), "--start", "2026-11-05", "--end", "2026-11-20"]
    assert main([*args, "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert main(args) == 0  # table by default: the sections as text, no Markdown
    table = capsys.readouterr().out
    assert table.startswith("Fleet compliance report: ") and "Models and versions\n---" in table
    assert "| model |" not in table and "## " not in table
    assert main([*args, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["model"], r["version"], r["stage"]) for r in rows] == \
        [(m["model"], m["version"], m["stage"]) for m in rep["models"]]


def test_fleet_report_json_against_the_journal(story, capsys):
    root, (r1, r2, r3) = story
    assert main(["report", "--fleet", "--workspace", str(root), "--start", "2026-11-05", "--end", "2026-11-20",
                 "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["period"] == {"start": "2026-11-05T00:00:00Z", "end": "2026-11-20T00:00:00Z"}

    inv = {m["version"]: m for m in rep["models"]}
    assert sorted(inv) == ["1", "2", "3", "4", "5"]
    assert (inv["4"]["stage"], inv["4"]["owner"], inv["4"]["card_complete"]) == ("production", FULL["owner"], True)
    assert inv["4"]["card_fields_given"] == 10
    assert inv["5"]["stage"] == "archived" and inv["5"]["owner"] is None
    assert inv["5"]["card_missing_required"] == ["owner", "intended_use", "limitations"]
    assert inv["5"]["card_fields_given"] == 1

    (promo,) = rep["promotions"]  # r1 lies wholly before the period
    assert promo["request_id"] == r2 and promo["state"] == "executed" and promo["override"] is True
    assert promo["gates_source"] == "bound to the decision" and promo["failing_gates"] == ["model_card"]
    assert [(g["gate"], g["status"]) for g in promo["gates"]] == [("lineage", "passed"), ("model_card", "failed")]
    assert promo["justification"] == f"card follows {HOSTILE}"

    entries = journal(root)
    in_period = [e for e in entries if START <= parse_ts(e["ts"]) < END]
    (override,) = rep["overrides"]
    (entry,) = [e for e in in_period if e["action"] == "override"]
    assert override == {"seq": entry["seq"], "ts": entry["ts"], "actor": "bob", "request_id": r2, "model": "credit",
                        "version": "5", "overridden_gates": ["model_card"], "justification": entry["justification"],
                        "evidence_hash": entry["evidence_hash"]}

    (bg,) = rep["break_glass"]
    assert (bg["request_id"], bg["version"], bg["from_version"], bg["review"]) == (r3, "4", "5", "signed_off")
    assert (bg["reviewed_by"], bg["reviewed_at"], bg["review_comment"]) == ("alice", "2026-11-13T10:00:00.000Z",
                                                                            "the page was real")

    s = rep["signers"]
    assert [u["user"] for u in s["users"]] == sorted(PEOPLE) and s["unregistered_actors"] == []
    wrote = Counter(e["actor"] for e in in_period)
    assert {u["user"]: u["entries_in_period"] for u in s["users"]} == {p: wrote.get(p, 0) for p in PEOPLE}
    j = rep["journal"]
    assert j["ok"] is True and j["entries"] == len(entries) and j["entries_in_period"] == len(in_period)
    assert (j["first_seq_in_period"], j["last_seq_in_period"]) == (in_period[0]["seq"], in_period[-1]["seq"])

    whole = build_fleet_report(load_dir(root))  # no period: every request
    assert [p["request_id"] for p in whole["promotions"]] == [r1, r2] and whole["journal"]["entries_in_period"] == len(entries)


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.paragraphs: list[str] = []
        self._cell: list[str] | None = None
        self._p: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.external += [f"{tag} {k}" for k, v in attrs if k in ("src", "href") or (v and "url(" in v)]
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "p":
            self._p = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "p" and self._p is not None:
            self.paragraphs.append("".join(self._p))
            self._p = None

    def handle_data(self, data):
        for buf in (self._cell, self._p):
            if buf is not None:
                buf.append(data)


def test_fleet_report_html_is_self_contained_and_escaped(story, capsys, tmp_path):
    root, (r1, r2, r3) = story
    out = tmp_path / "fleet.html"
    assert main(["report", "--fleet", "--workspace", str(root), "--start", "2026-11-05", "--end", "2026-11-20",
                 "--format", "html", "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    page = _Tables()
    page.feed(out.read_text(encoding="utf-8"))
    page.close()
    assert "script" not in page.tags and "link" not in page.tags and page.external == []
    inventory = page.tables[0]
    assert inventory[0] == ["model", "version", "task", "stage", "owner", "card", "created"]
    assert ["credit", "5", "binary", "archived", "—", "✗ missing owner, intended_use, limitations (1/10 fields)",
            "2026-09-15T08:00:00Z by test"] in inventory
    overrides = next(t for t in page.tables if t[0][0] == "seq")
    assert overrides[1][-1] == f"card follows {HOSTILE}"  # the hostile text, literally
    breakglass = next(t for t in page.tables if t[0][0] == "request")
    assert breakglass[1][:4] == [r3, "credit", "4", "5"] and breakglass[1][7:9] == ["signed_off", "alice"]
    assert any(p.startswith(f"{r2}: credit 4 → 5, executed") and "OVERRIDE of model_card" in p for p in page.paragraphs)
    assert any(p.startswith("The journal has") and "and verifies" in p for p in page.paragraphs)

    md = render(build_fleet_report(load_dir(root), START, END), "md")
    assert "<script>" not in md and r"\<script\>alert(1)\</script\> \[bold\]loud\[/bold\]" in md


@pytest.mark.parametrize("args, message", [
    (["REQ-0001", "--fleet"], "give a request ID or --fleet, not both"),
    ([], "give a request ID, or --fleet"),
    (["REQ-0001", "--start", "2026-11-01"], "--start and --end go with --fleet"),
    (["--fleet", "--start", "soon"], "bad --start 'soon'"),
    (["--fleet", "--start", "2026-11-05", "--end", "2026-11-01"], "--end must be after --start"),
])
def test_fleet_report_usage_errors_are_one_line(story, capsys, args, message):
    root, _ = story
    assert main(["report", "--workspace", str(root), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1
