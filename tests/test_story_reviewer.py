"""The reviewer's story of the sample (README, "A short tour"): a reviewer sees why credit-risk v3
declined a specific applicant, reads v3's model card, and sees its expected value against v2 —
walked in the TUI at 80×24 as alice (a reviewer) and on the command line, the figures on screen
checked against the reports they come from."""

from __future__ import annotations

import json

import pytest

from console.cli import main
from console.tui import format as fmt
from tests.tui_helpers import ALICE, make_app, screen_text, settle

pytest.importorskip("shap", reason="shap is not installed: pip install 'mlops-console[explain]'")

APPLICANT = "cr-20261104-00001"


def _cli(capsys, *args: str):
    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().out


def _per_1k(rows: list[dict], version: str) -> str:
    r = next(r for r in rows if r["version"] == version)
    return f"{fmt.usd(r['net_usd'] / r['predictions'] * 1000)} per 1k"


async def test_reviewer_story_in_the_tui(sample_ws, capsys) -> None:
    code, out = _cli(capsys, "value", "--model", "credit-risk", "--workspace", str(sample_ws), "--format", "json")
    assert code == 0
    rows = json.loads(out)["rows"]
    v2, v3 = _per_1k(rows, "2"), _per_1k(rows, "3")
    app = make_app(sample_ws, ALICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        # 1. the pending promotion: gates and champion v2 vs challenger v3 with the expected value
        await pilot.press("f3", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SignoffScreen"
        app.screen.query_one("#signoff-body").scroll_end(animate=False)
        await pilot.pause()
        line = next(x for x in screen_text(app).splitlines() if "net value (expected)" in x)
        assert line.split()[3:] == [*v2.split(), *v3.split()]
        assert "challenger better" in screen_text(app)
        # 2. v3's model card (the versions tab, newest version highlighted)
        await pilot.press("escape", "escape", "colon", *"credit-risk/versions", "enter")
        await settle(app, pilot)
        text = screen_text(app)
        assert "v3 model card · ✗ incomplete: missing" in text and "limitations" in text
        # 3. why v3 declined the applicant
        await pilot.press("colon", *f"explain {APPLICANT} credit-risk 3", "enter")
        await settle(app, pilot)
        text = screen_text(app)
        assert f"credit-risk v3 · request {APPLICANT}" in text
        assert "score 0.5407 ≥ threshold 0.5: the positive label (1)" in text
        body = str(app.screen.query_one("#explain-body").render())
        top = [x for x in body.splitlines() if x.startswith("debt_ratio")]
        assert top[0].split()[:3] == ["debt_ratio", "0.734", "p98.4"] and top[1].startswith("debt_ratio         +2.7904")


def test_reviewer_story_on_the_command_line(sample_ws, capsys) -> None:
    root = str(sample_ws)
    code, out = _cli(capsys, "explain", APPLICANT, "--model", "credit-risk", "--version", "3", "--workspace", root)
    assert code == 0 and "score 0.5407 ≥ threshold 0.5: the positive label (1)" in out
    code, out = _cli(capsys, "explain", APPLICANT, "--model", "credit-risk", "--version", "3", "--workspace", root,
                     "--format", "json")
    rep = json.loads(out)
    top = rep["attributions"]["features"][0]
    assert (top["feature"], round(top["attribution"], 4)) == ("debt_ratio", 2.7904)
    assert (rep["prediction"], rep["threshold"], rep["positive_label"]) == ("1", 0.5, 1)
    code, out = _cli(capsys, "card", "--model", "credit-risk", "--version", "3", "--workspace", root)
    assert code == 0 and "missing required limitations" in out
    code, out = _cli(capsys, "cost", "--model", "credit-risk", "--by", "version", "--workspace", root, "--format", "json")
    by = {r["version"]: r["value"] for r in json.loads(out)["rows"]}
    code, out = _cli(capsys, "value", "--model", "credit-risk", "--workspace", root, "--format", "json")
    val = {r["version"]: r for r in json.loads(out)["rows"]}
    for v in ("2", "3"):
        assert by[v]["net_usd"] == pytest.approx(val[v]["net_usd"], rel=1e-12)  # the same report (a sum's
        assert by[v]["roi"] == pytest.approx(val[v]["roi"], rel=1e-12)  # order may move its last bit)
    per_1k = {v: val[v]["net_usd"] / val[v]["predictions"] * 1000 for v in ("2", "3")}
    assert per_1k["3"] > per_1k["2"]  # v3 earns more per prediction, amortised training included
