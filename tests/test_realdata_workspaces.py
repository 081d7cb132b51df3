"""The console on workspaces it has never seen, built from scikit-learn's bundled datasets by
``tests.realdata``: five models, every log format, late labels, full and minimal registry
entries, feature names with spaces, dots, quotes, upper case and non-ASCII letters. Each test
is a bug a user met on such a workspace, checked through the real command line entry point
(in-process, ``console.cli.main``) against scikit-learn on the same rows."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from sklearn import metrics as skm

from console.cli import main
from tests import realdata


def cli(ws: Path, *args: str, fmt: str = "json") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--workspace", str(ws), "--format", fmt])
    return code, out.getvalue(), err.getvalue()


def js(ws: Path, *args: str, expect: int = 0):
    code, out, err = cli(ws, *args)
    assert code == expect, (args, code, err)
    assert "Traceback" not in err
    return json.loads(out)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    root = tmp_path_factory.mktemp("realdata") / "ws"
    info = realdata.build(root, rows_per_day=6, seed=3)
    assert js(root, "ingest")["quarantined"] == 0
    return root, info


def test_performance_matches_sklearn_for_every_task(real):
    ws, info = real
    for model, version in [("breast-cancer", "1"), ("wine", "1"), ("diabetes", "1"), ("digits", "1")]:
        mi = info[model]
        w = js(ws, "performance", "--model", model, "--version", version, "--window", "all")["windows"][0]
        lab = [r for (v, _), r in mi.rows.items() if v == version and r["label"] is not None]
        y, p = [r["label"] for r in lab], [r["prediction"] for r in lab]
        assert w["labelled"] == len(lab)
        if mi.task == "binary":
            want = {"accuracy": skm.accuracy_score(y, p), "roc_auc": skm.roc_auc_score(y, [r["score"] for r in lab])}
        elif mi.task == "multiclass":
            want = {"macro_f1": skm.f1_score([str(a) for a in y], [str(b) for b in p], average="macro")}
        else:
            want = {"rmse": skm.root_mean_squared_error(y, p), "r2": skm.r2_score(y, p)}
        for name, value in want.items():
            assert w["metrics"][name] == pytest.approx(value, rel=1e-9), (model, name)


def test_quality_without_a_reference_still_counts_the_rows(real):
    # A minimal registry entry has no reference: the feature checks cannot run, but the rows in
    # the range are there and must be counted, not reported as 0 ("current 0 rows vs reference None").
    ws, info = real
    rep = js(ws, "quality", "--model", "wine", "--version", "1")
    rows = sum(1 for (v, _) in info["wine"].rows if v == "1")
    assert rep["current"]["rows"] == rows
    assert rep["current"]["start"] == rep["start"]
    assert "no registered reference" in rep["note"]
    code, out, _ = cli(ws, "quality", "--model", "wine", "--version", "1", fmt="table")
    assert code == 0
    assert f"current {rows} rows vs no reference" in out
    assert "None" not in out.splitlines()[0]


def test_explain_a_prediction_of_a_minimal_registry_entry(real):
    # Only model, version and task registered: no features, no reference. The prediction is
    # still explained as far as it can be: its logged features (the store's catalogue, odd names
    # and all), each "no reference", instead of exit 2 "has no registered reference".
    ws, info = real
    (version, rid), row = next(((k, r) for k, r in info["diabetes"].rows.items()))
    rep = js(ws, "explain", rid, "--model", "diabetes")
    assert rep["reference"] is None and rep["attributions"] is None
    got = {f["feature"]: f for f in rep["features"]}
    assert set(got) == set(row["features"])  # 'BMI', 'S1.tc', 'ldl "bad"', ...
    for name, value in row["features"].items():
        assert got[name]["value"] == pytest.approx(value)
        assert got[name]["flag"] == "no reference" and got[name]["percentile"] is None
    assert rep["outside_reference"] == []
    code, out, err = cli(ws, "explain", rid, "--model", "diabetes", fmt="table")
    assert code == 0, err
    assert "? no reference" in out and "score –" in out and "None" not in out


async def test_tui_on_minimal_registry_entries(real):
    # Fleet: a model whose alert rules check could not evaluate (nothing in production) says
    # "? not eval." with the reason, never "✓ none". Its model screen shows its newest version
    # instead of tabs that can only fail, and notes keep registry/config text literal
    # ("[value]" is not markup).
    from tests.tui_helpers import EVE, flat_text, make_app, settle

    ws, _info = real
    app = make_app(ws, EVE)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        line = next(x for x in app.screen.query_one("DataTable").get_row("wine") if "eval" in str(x))
        assert "? not eval." in str(line)
        app.screen.query_one("DataTable").move_cursor(row=app.screen.query_one("DataTable").get_row_index("wine"))
        await settle(app, pilot)
        text = flat_text(app)
        assert "? wine: alerts not evaluated (" in text and "no production version" in text, text
        await pilot.press("enter")
        await settle(app, pilot)
        text = flat_text(app)
        assert "showing v1 (nothing in production)" in text, text
        await pilot.press("2")
        await settle(app, pilot)
        text = flat_text(app)
        assert "✗ failed" not in text and "macro_f1: live" in text, text
        await pilot.press("5")
        await settle(app, pilot)
        assert "([value] in console.toml" in flat_text(app)
        # wine's minimal entry has no reference: drift and quality are not computed (a reason in
        # words, no command-line option), never "✗ failed"; the multiclass estimate likewise
        for tab in ("1", "7"):
            await pilot.press(tab)
            await settle(app, pilot)
            text = flat_text(app)
            assert "? not computed: wine version 1 has no registered reference" in text, text
            assert "✗ failed" not in text and "--reference-start" not in text, text
