"""Model cards: the registry's card fields (types, blanks, a mistyped field skipping the file),
the ``card`` command in json/md/html (the HTML parsed back, registry text escaped, exit 2 for an
unknown model or version), and the ``model_card`` promotion gate failing with the missing names."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from console.cli import main
from console.errors import UsageError
from console.governance.card import build_card, render
from console.governance.gates import evaluate_gates, gate_config
from console.store.registry import CARD_FIELDS, load_registry
from console.workspace import load_dir
from tests.test_governance_helpers import build_workspace, write_version

LINEAGE = {"data_hash": "sha256:abc", "code_commit": "0123abc"}
HOSTILE = "<script>alert(1)</script> [bold]loud[/bold] & [link=https://evil]x[/link] | `tick`"
FULL = {
    "description": "Scores the risk that an applicant defaults within a year.",
    "owner": "credit-ml team",
    "intended_use": "Ranking applications for manual review.\nNot for automatic refusal.",
    "out_of_scope": ["automatic refusal", "applicants under 18"],
    "limitations": ["trained on 2026 data only"],
    "risks": "Over-refusal in regions with few applicants.",
    "training_data": "warehouse://acme/credit/training 2026-02..2026-07",
    "evaluation_data": "a 20% holdout of the same period",
    "fairness_considerations": "Parity across region checked by the fairness gate.",
    "contact": "credit-ml@acme.example",
}


def workspace(tmp_path: Path, extra_toml: str = "") -> Path:
    root = build_workspace(tmp_path / "ws", hooks=False, extra_toml=extra_toml)
    write_version(root, "4", "candidate", {"roc_auc": 0.85}, LINEAGE, **FULL)
    write_version(root, "5", "candidate", {"roc_auc": 0.85}, LINEAGE,
                  description=HOSTILE, owner="  ", limitations=[], risks=["", "   "])
    return root


def run(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--workspace", str(root)])
    out = capsys.readouterr()
    return code, out.out, out.err


# -- the registry ------------------------------------------------------------------------------

def test_card_fields_are_read_and_blanks_are_not_given(tmp_path):
    root = workspace(tmp_path)
    reg = load_registry(root / "registry", root)
    assert not reg.errors
    full = reg.get("credit", "4").card
    assert full == {k: v for k, v in FULL.items()} and set(full) == set(CARD_FIELDS)
    sparse = reg.get("credit", "5").card
    assert sparse == {"description": HOSTILE}  # blank text, an empty list, blank items: not given
    assert reg.get("credit", "2").card == {}  # no card at all is fine


@pytest.mark.parametrize("field, value, reason", [
    ("owner", 42, "'owner' must be a string"),
    ("description", ["a", "b"], "'description' must be a string"),
    ("limitations", ["ok", 3], "'limitations' must be a string or a list of strings"),
    ("risks", {"a": "b"}, "'risks' must be a string or a list of strings"),
    ("contact", "a\x1b[31mred", "'contact' must not contain control characters"),
])
def test_a_mistyped_card_field_skips_the_file_with_one_line(tmp_path, capsys, field, value, reason):
    root = build_workspace(tmp_path / "ws", hooks=False)
    write_version(root, "4", "candidate", {"roc_auc": 0.85}, LINEAGE, **{field: value})
    reg = load_registry(root / "registry", root)
    assert reg.get("credit", "4") is None and reg.get("credit", "3") is not None
    (err,) = reg.errors
    assert err.path.name == "4.json" and err.reason.startswith(reason) and "\n" not in err.reason
    code, _, stderr = run(capsys, root, "card", "--model", "credit", "--version", "3", "--format", "json")
    assert code == 0 and f"registry file skipped: {err}" in stderr


# -- the card ----------------------------------------------------------------------------------

def test_card_json_has_the_fields_and_what_the_console_knows(tmp_path, capsys):
    root = workspace(tmp_path)
    code, out, _ = run(capsys, root, "card", "--model", "credit", "--version", "4", "--format", "json")
    assert code == 0
    card = json.loads(out)
    assert card["fields"] == FULL and card["missing"] == []
    assert (card["model"], card["version"], card["task"], card["stage"]) == ("credit", "4", "binary", "candidate")
    assert card["production_version"] == "2" and card["created_at"] == "2026-09-14T08:00:00Z"
    assert card["metrics"] == {"roc_auc": 0.85} and card["lineage"] == LINEAGE
    assert card["required"] == ["description", "owner", "intended_use", "limitations"]
    assert card["complete"] is True and card["missing_required"] == [] and card["last_gates"] is None

    code, out, _ = run(capsys, root, "card", "--model", "credit", "--version", "2", "--format", "json")
    card = json.loads(out)
    assert card["fields"] == dict.fromkeys(CARD_FIELDS) and card["missing"] == list(CARD_FIELDS)
    assert card["complete"] is False and card["missing_required"] == card["required"]
    assert card["stage"] == "production"


def test_unknown_model_or_version_is_one_line_exit_2(tmp_path, capsys):
    root = workspace(tmp_path)
    code, out, err = run(capsys, root, "card", "--model", "credit", "--version", "9")
    assert (code, out) == (2, "") and err == "mlops-console: no version '9' of 'credit' in the registry\n"
    code, out, err = run(capsys, root, "card", "--model", "nope", "--version", "1", "--format", "html")
    assert (code, out) == (2, "") and err == "mlops-console: no model 'nope' in the registry\n"
    with pytest.raises(SystemExit) as exit_:  # argparse's own usage error: one line, exit 2
        main(["card", "--workspace", str(root), "--model", "credit", "--version", "4", "--format", "pdf"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "invalid choice: 'pdf'" in err and len(err.splitlines()) == 1


class _Page(HTMLParser):
    """Every tag, the text of each element by id/heading, and anything that would load or run."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.external: list[str] = []
        self.sections: dict[str, str] = {}
        self._section: str | None = None
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") or (value and "url(" in value):
                self.external.append(f"{tag} {name}={value}")
        if tag == "h2":
            self._in_h2, self._section = True, dict(attrs).get("id")
        if tag == "link":
            self.external.append("link")

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        elif tag in ("p", "ul"):  # a field is one paragraph or one list after its heading
            self._section = None

    def handle_data(self, data):
        self.text.append(data)
        if self._section and not self._in_h2 and data.strip():
            self.sections[self._section] = self.sections.get(self._section, "") + data


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def test_card_html_is_one_self_contained_file_with_registry_text_escaped(tmp_path, capsys):
    root = workspace(tmp_path)
    out_file = tmp_path / "card.html"
    code, out, _ = run(capsys, root, "card", "--model", "credit", "--version", "5", "--format", "html",
                       "--output", str(out_file))
    assert code == 0 and out == ""
    text = out_file.read_text(encoding="utf-8")
    page = parse(text)
    assert "script" not in page.tags and page.external == []  # the hostile text did not become markup
    assert set(page.tags) <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "table", "tr",
                              "th", "td", "p", "ul", "li", "code"}
    assert page.sections["description"] == HOSTILE  # shown literally, whole
    for name in ("owner", "limitations", "risks", "contact"):
        assert page.sections[name] == "— not given"
    assert "missing required owner, intended_use, limitations" in "".join(page.text)
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text

    full = parse(render(build_card(load_dir(root), "credit", "4"), "html"))
    assert full.sections["intended_use"] == FULL["intended_use"]
    assert full.sections["out_of_scope"] == "".join(FULL["out_of_scope"])  # one <li> each
    assert full.tags.count("li") == 3


def test_card_markdown_escapes_markup_and_says_not_given(tmp_path, capsys):
    root = workspace(tmp_path)
    code, out, _ = run(capsys, root, "card", "--model", "credit", "--version", "5", "--format", "md")
    assert code == 0 and out.startswith("# Model card: credit v5\n")
    assert "<script>" not in out and r"\<script\>alert(1)\</script\> \[bold\]loud\[/bold\]" in out
    assert r"\[link=https://evil\]x\[/link\] \| \`tick\`" in out
    sections = out.split("\n## ")
    owner = next(s for s in sections if s.startswith("Owner\n"))
    assert owner.strip().splitlines()[-1] == "— not given"
    assert out.count("— not given") == len(CARD_FIELDS) - 1


def test_card_names_the_gates_last_bound_to_a_decision(tmp_path):
    from console.governance import workflow
    from tests.test_governance_helpers import ALICE, CAROL

    root = workspace(tmp_path, extra_toml='[gates]\nenabled = ["lineage", "model_card"]\n')
    ws = load_dir(root)
    done = workflow.request(ws, CAROL, "promote", "credit", "5", "v5 please")
    workflow.decide(ws, ALICE, done.request.request_id, "approve", "card to follow", override=True)
    card = build_card(ws, "credit", "5")
    g = card["last_gates"]
    assert g["request_id"] == done.request.request_id and g["source"] == "bound to the decision"
    assert g["failing"] == ["model_card"] and g["override"] is True and g["passed"] is False
    assert card["stage"] == "production"
    md = render(card, "md")
    assert "not passed: model_card (bound to the decision" in md and "approved with an override" in md


# -- the gate ----------------------------------------------------------------------------------

def test_model_card_gate_fails_with_the_names_of_the_missing_fields(tmp_path):
    root = workspace(tmp_path, extra_toml='[gates]\nenabled = ["model_card"]\n')
    ws = load_dir(root)
    (full,) = evaluate_gates(ws, "credit", "4")
    assert full["status"] == "passed" and full["evidence"]["missing"] == []
    assert full["detail"] == "model card complete (description, owner, intended_use, limitations)"
    (sparse,) = evaluate_gates(ws, "credit", "5")
    assert sparse["status"] == "failed"
    assert sparse["detail"] == "model card incomplete: missing owner, intended_use, limitations"
    assert sparse["evidence"] == {"required": ["description", "owner", "intended_use", "limitations"],
                                  "missing": ["owner", "intended_use", "limitations"], "given": ["description"]}


def test_model_card_gate_is_opt_in_and_its_fields_are_configurable(tmp_path, capsys):
    root = workspace(tmp_path, extra_toml=(
        '[gates]\nenabled = ["lineage", "model_card"]\nmodel_card_required = ["contact", "risks"]\n'
        '[models."credit".gates]\nmodel_card_required = []\n'))
    assert "model_card" not in [g["gate"] for g in evaluate_gates(load_dir(build_workspace(tmp_path / "plain",
                                                                                         hooks=False)), "credit", "3")]
    ws = load_dir(root)
    assert gate_config(ws, "other")["model_card_required"] == ["contact", "risks"]
    gates = {g["gate"]: g for g in evaluate_gates(ws, "credit", "2")}
    assert gates["model_card"]["status"] == "passed" and "no model card field is required" in gates["model_card"]["detail"]
    (root / "console.toml").write_text((root / "console.toml").read_text().replace(
        '[models."credit".gates]\nmodel_card_required = []\n', ""))
    code, out, _ = run(capsys, root, "gates", "--model", "credit", "--version", "5", "--format", "json")
    result = json.loads(out)
    assert code == 1 and result["passed"] is False
    card_gate = next(g for g in result["gates"] if g["gate"] == "model_card")
    assert card_gate["detail"] == "model card incomplete: missing contact, risks"


@pytest.mark.parametrize("toml, message", [
    ('model_card_required = ["owner", "colour"]', "unknown card field 'colour'"),
    ('model_card_required = "owner"', "model_card_required"),
])
def test_bad_model_card_config_is_one_clear_error(tmp_path, toml, message):
    with pytest.raises(UsageError, match=message):
        ws = load_dir(build_workspace(tmp_path / "ws", hooks=False, extra_toml=f"[gates]\n{toml}\n"))
        gate_config(ws, "credit")


# -- the bundled sample ------------------------------------------------------------------------

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.mark.skipif(not (SAMPLE / "console.toml").is_file(), reason="sample_data not generated")
def test_the_sample_has_cards_and_its_candidate_misses_limitations():
    ws = load_dir(SAMPLE)
    reg = load_registry(ws.registry, ws.root)
    assert "model_card" in gate_config(ws, "credit-risk")["enabled"]
    incomplete = {}
    for (model, version) in reg.versions:
        card = build_card(ws, model, version, registry=reg)
        assert card["fields"]["description"] and card["fields"]["owner"]
        if not card["complete"]:
            incomplete[(model, version)] = card["missing_required"]
    assert incomplete == {("credit-risk", "3"): ["limitations"]}  # the demo's gate failure
    from console.governance.card import model_card_gate
    from console.governance.gates import _gate

    gate = model_card_gate(reg.get("credit-risk", "3"), gate_config(ws, "credit-risk")["model_card_required"], _gate)
    assert (gate["status"], gate["detail"]) == ("failed", "model card incomplete: missing limitations")


def test_card_as_table_and_csv_like_every_reporting_command(capsys, tmp_path: Path):
    """The default format is ``table`` (as for every command that reports); ``csv`` has the same
    rows: every card field by its label, a list joined with "; ", absent ones "— not given";
    ``--output`` replaces a symlink instead of writing through it."""
    import csv
    import io as _io

    from console.governance.card import LABELS, NOT_GIVEN

    root = workspace(tmp_path)
    code, table, _ = run(capsys, root, "card", "--model", "credit", "--version", "4")
    assert code == 0 and table.splitlines()[0] == "Model card: credit v4"
    assert "out_of_scope" not in table and "Out of scope" in table
    for version, expect in (("4", FULL), ("5", {"description": HOSTILE})):
        code, text, _ = run(capsys, root, "card", "--model", "credit", "--version", version, "--format", "csv")
        rows = dict(csv.reader(_io.StringIO(text)))
        assert code == 0 and rows.pop("field") == "value" and rows["model"] == "credit"
        for name, label in LABELS.items():
            given = expect.get(name)
            assert rows[label] == (NOT_GIVEN if given is None else "; ".join(given) if isinstance(given, list)
                                   else given)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = tmp_path / "card.txt"
    link.symlink_to(victim)
    code, _, _ = run(capsys, root, "card", "--model", "credit", "--version", "4", "--output", str(link))
    assert code == 0 and victim.read_text() == "keep" and not link.is_symlink()
    assert link.read_text().startswith("Model card: credit v4")
