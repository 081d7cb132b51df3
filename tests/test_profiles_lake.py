"""``trend`` and ``fleet`` over a folder of lake profiles alone (``--profiles DIR``,
console.profiles.lake): on the ingested sample written out as a lake and profiled with
``profile --source … --out DIR``, every figure but drift equals the store's own answer from its
profiles; outside a workspace every version is merged; bad input is one line and exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from console.cli import main
from tests.test_profiles import _sample_lake
from tests.test_profiles_reader import _open

MODEL = "credit-risk"
KEYS = ("requests", "errors", "error_rate", "latency_ms", "cost_usd", "labelled")


@pytest.fixture(name="lake_profiles")
def lake_profiles_fixture(sample_ws: Path, tmp_path: Path, capsys) -> Path:
    db = _open(sample_ws)
    try:
        lake = _sample_lake(db, tmp_path / "lake")
    finally:
        db.close()
    out = tmp_path / "lake-profiles"
    assert main(["--workspace", str(sample_ws), "profile", "--source", str(lake), "--out", str(out),
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] > 0
    return out


def _json(capsys, *args: str) -> dict:
    assert main([*args, "--format", "json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_lake_fleet_and_trend_equal_the_stores_answers_but_drift(sample_ws, lake_profiles, capsys):
    ws = ["--workspace", str(sample_ws)]
    lake = _json(capsys, *ws, "fleet", "--profiles", str(lake_profiles))
    store = _json(capsys, *ws, "fleet")
    assert lake["source"] == "profiles" and "reference" in lake["why"]
    assert [r["model"] for r in lake["models"]] == [r["model"] for r in store["models"]]
    for a, b in zip(lake["models"], store["models"], strict=True):
        assert (a["version"], a["start"], a["end"]) == (b["version"], b["start"], b["end"]), a["model"]
        for k in KEYS:
            assert a[k] == b[k], (a["model"], k)
        assert a["drift"] is None and b["drift"] is not None
    args = ["trend", "--model", MODEL, "--window", "1d", "--start", "2026-11-10", "--end", "2026-11-22"]
    lt = _json(capsys, *ws, *args, "--profiles", str(lake_profiles))
    st = _json(capsys, *ws, *args)
    assert lt["version"] == st["version"] is not None and len(lt["windows"]) == len(st["windows"]) == 12
    for a, b in zip(lt["windows"], st["windows"], strict=True):
        for k in (*KEYS, "start", "end", "metrics"):
            assert a[k] == b[k], (a["start"], k)
        # every feature the model has values in (a lake's columns are every model's; the store
        # lists its drift plan's), with the same share
        want = {f: v for f, v in b["missing_share"].items() if v < 1}
        assert len(want) >= 8 and {f: a["missing_share"].get(f) for f in want} == want
        assert a["drift"] is None


def test_outside_a_workspace_every_version_is_merged(sample_ws, lake_profiles, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPS_CONSOLE_WORKSPACE", raising=False)
    lake = _json(capsys, "fleet", "--profiles", str(lake_profiles), "--model", MODEL)
    (row,) = lake["models"]
    assert row["version"] is None
    db = _open(sample_ws)
    try:
        (n,) = db.cursor().execute("SELECT count(*) FROM predictions WHERE model = ?", [MODEL]).fetchone()
    finally:
        db.close()
    assert row["requests"] == n
    # a workspace named but unusable is one line, not "no workspace"
    assert main(["--workspace", str(tmp_path / "nowhere"), "fleet", "--profiles", str(lake_profiles)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("args,says", [
    (["fleet", "--profiles", "{missing}"], "no such folder"),
    (["trend", "--model", "nope", "--profiles", "{dir}"], "no profiles of model 'nope'"),
    (["trend", "--model", MODEL, "--profiles", "{dir}", "--start", "2026-11-20T12:00:00Z"], "midnight"),
    (["trend", "--model", MODEL, "--profiles", "{dir}", "--window", "1h"], "whole days"),
    (["trend", "--model", MODEL, "--profiles", "{dir}", "--exact"], "--exact"),
    (["trend", "--model", MODEL, "--profiles", "{dir}", "--version", "9"], "version 9"),
    (["trend", "--model", MODEL, "--profiles", "{dir}", "--feature", "age"], "no drift"),
])
def test_bad_input_is_one_line_and_exit_2(sample_ws, lake_profiles, capsys, args, says):
    args = [a.format(dir=lake_profiles, missing=lake_profiles.parent / "missing") for a in args]
    assert main(["--workspace", str(sample_ws), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (lake_profiles.parent / "missing").exists()
    assert os.listdir(lake_profiles)  # nothing removed
