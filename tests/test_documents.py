"""Bad JSON/TOML never blocks and never lies: every document the console reads from a workspace
(registry files, console.toml, serving.json, journal and its head, checkpoint, caches, themes,
keymaps, query history) that is nested 100,000 deep, too big or garbage is one line naming the
file and the reason — never a RecursionError — and the good files still load."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from console.documents import MAX_BYTES, MAX_DEPTH, DocumentError, loads_json, loads_toml, read_json
from console.errors import WorkspaceError
from console.store.registry import load_registry
from console.workspace import load_dir
from tests.frozen_time import CONSOLE

from .conftest import write_workspace

DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_TOML = "a = " + "[" * 100_000 + "]" * 100_000 + "\n"
GOOD = {"model": "m", "version": "1", "task": "binary", "stage": "production",
        "features": {"x": "numeric"}, "metrics": {"roc_auc": 0.9}}


def _run(ws: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_CONSOLE_WORKSPACE"}
    return subprocess.run([*CONSOLE, *args, "--workspace", str(ws)], capture_output=True, text=True, env=env)


@pytest.fixture
def bad_registry(tmp_path: Path) -> Path:
    """A workspace with one good registry file and bad ones of every sort, and a little traffic."""
    ws = write_workspace(tmp_path / "ws")
    d = ws / "registry" / "m"
    d.mkdir(parents=True)
    (d / "1.json").write_text(json.dumps(GOOD))
    (d / "2.json").write_text(DEEP_JSON)  # valid JSON, 100,000 deep
    (d / "3.json").write_text('{"model": "m", "version": "3", "task": "binary", "pad": "'
                              + "x" * (MAX_BYTES + 10) + '"}')
    (d / "4.json").write_bytes(b"\xff\xfe\x00garbage")
    (d / "5.json").write_text('{"model": "m", "version": "5", "task": "binary", "threshold": NaN}')
    (d / "6.json").write_text('{"model": "m", "version": "6", "task": "binary", "created_by": {"a": 1}}')
    (d / "7.json").write_text('{"model": "m", "version": "7", "task": "binary", "threshold": 1e999}')
    os.mkfifo(d / "8.json")  # would block a plain open().read() forever
    other = ws / "registry" / "other"
    other.mkdir()
    (other / "1.json").write_text('{"model": "other", "version": "1", "task": "binary", "lineage": '
                                  + '{"a": ' * 70 + "1" + "}" * 70 + "}")
    logs = ws / "logs" / "p.jsonl"
    logs.write_text("".join(
        json.dumps({"ts": f"2026-11-21T10:{i:02d}:00Z", "model": "m", "version": "1", "request_id": f"r{i}",
                    "prediction": 1, "score": 0.7, "latency_ms": 5, "x": i}) + "\n" for i in range(30)))
    return ws


EXPECTED = {
    "2.json": f"nested too deeply (more than {MAX_DEPTH} levels)",
    "3.json": "too big",
    "4.json": "not UTF-8 text",
    "5.json": "NaN is not a JSON number",
    "6.json": "'created_by' must be a string",
    "7.json": "out of range",
    "8.json": "not a regular file",
}


def test_registry_skips_each_bad_file_with_its_reason(bad_registry: Path) -> None:
    reg = load_registry(bad_registry / "registry", bad_registry)
    assert sorted(reg.versions) == [("m", "1")]
    reasons = {e.path.name if e.path.parent.name == "m" else "other": e.reason for e in reg.errors}
    for name, text in EXPECTED.items():
        assert text in reasons[name], (name, reasons[name])
    assert "nested too deeply" in reasons["other"]


def test_models_reports_invalid_files_in_table_and_json(bad_registry: Path) -> None:
    result = _run(bad_registry, "models", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    by_model = {m["model"]: m for m in doc}
    assert [v["version"] for v in by_model["m"]["versions"]] == ["1"]
    assert by_model["m"]["production"] == "1"
    invalid = {Path(f["path"]).name: f["reason"] for f in by_model["m"]["invalid"]}
    assert set(invalid) == set(EXPECTED)
    assert by_model["other"]["versions"] == [] and by_model["other"]["task"] is None
    table = _run(bad_registry, "models")
    assert table.returncode == 0 and "Traceback" not in table.stderr
    assert "invalid registry files (8, skipped)" in table.stdout
    assert "nested too deeply" in table.stdout and str(bad_registry / "registry" / "m" / "2.json") in table.stdout


@pytest.mark.parametrize(
    "args",
    [("ingest",), ("check",), ("drift", "--model", "m", "--reference-start", "2026-11-21T10:00:00Z",
                   "--reference-end", "2026-11-21T10:15:00Z", "--start", "2026-11-21T10:15:00Z"), ("gates", "--model", "m", "--version", "1"), ("cost",)],
)
def test_other_commands_warn_and_still_work(bad_registry: Path, args: tuple[str, ...]) -> None:
    if args[0] != "ingest":
        assert _run(bad_registry, "ingest").returncode == 0
    result = _run(bad_registry, *args, "--format", "json")
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert result.returncode in (0, 1), result.stderr
    json.loads(result.stdout)  # the command's own document, intact
    warnings = [line for line in result.stderr.splitlines() if "warning: registry file skipped" in line]
    assert len(warnings) == len(EXPECTED) + 1, result.stderr
    assert any("2.json: nested too deeply" in w for w in warnings)


# -- the other documents ---------------------------------------------------------------------


def test_helper_limits() -> None:
    with pytest.raises(DocumentError, match="nested too deeply"):
        loads_json(DEEP_JSON, "x.json")
    with pytest.raises(DocumentError, match="nested too deeply"):
        loads_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))  # under Python's limit, over ours
    assert loads_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(DocumentError, match="nested too deeply"):
        loads_toml(DEEP_TOML, "x.toml")
    with pytest.raises(DocumentError, match="nested too deeply"):
        loads_toml("a = " + "{b = " * 100_000 + "1" + "}" * 100_000)
    with pytest.raises(DocumentError, match="nested too deeply"):
        loads_toml("a" + ".a" * 100 + " = 1\n")  # dotted keys nest tables too
    with pytest.raises(DocumentError, match="not valid JSON"):
        loads_json("1" * 5000)  # more digits than Python converts
    assert loads_json('{"a": NaN}', allow_nan=True)["a"] != 0


def test_console_toml_deep_huge_garbage_is_one_line(tmp_path: Path) -> None:
    for name, content in (("deep", DEEP_TOML.encode()), ("huge", b"# " + b"x" * (MAX_BYTES + 1)),
                          ("garbage", b"\xff\xfe[sources\x00")):
        ws = write_workspace(tmp_path / name)
        (ws / "console.toml").write_bytes(content)
        with pytest.raises(WorkspaceError):
            load_dir(ws)
        result = _run(ws, "models")
        assert result.returncode == 2, (name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "console.toml" in lines[0], (name, result.stderr)


def test_serving_journal_checkpoint_cache_history(tmp_path: Path, monkeypatch) -> None:
    from console.analytics.cache import Cache, key_hash
    from console.governance.journal import Journal
    from console.governance.state import read_serving
    from console.store.checkpoint import CheckpointUnreadable, read_checkpoint
    from console.tui.screens.query import history_path, load_history

    ws = load_dir(write_workspace(tmp_path / "ws"))
    ws.serving_path.write_text('{"models": ' + DEEP_JSON + "}")
    assert read_serving(ws) == {"models": {}}

    journal = Journal(ws.journal_path)
    ws.journal_path.write_text(DEEP_JSON + "\n")
    journal.head_path.write_text(DEEP_JSON)
    verdict = journal.verify()
    assert verdict["ok"] is False and verdict["first_bad_seq"] == 1
    assert journal.read_head()["unreadable"] is True

    cp = tmp_path / "checkpoint.json"
    cp.write_text('{"batch": 3, "sources": ' + DEEP_JSON + "}")
    with pytest.raises(CheckpointUnreadable, match="nested too deeply"):  # unknown, never an empty store
        read_checkpoint(cp)

    cache = Cache(tmp_path / "cache", True, namespace="t")
    h = key_hash({"ns": "t", "key": {"k": 1}})
    (tmp_path / "cache" / h[:2]).mkdir(parents=True)
    (tmp_path / "cache" / h[:2] / f"{h}.json").write_text(DEEP_JSON)
    assert cache.get({"k": 1}) is None  # a miss, not a crash

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the history is the account's own
    history_path(ws).parent.mkdir(parents=True)
    history_path(ws).write_text(json.dumps({"sql": "SELECT 1"}) + "\n" + DEEP_JSON + "\n[1]\n"
                                + json.dumps({"sql": "SELECT 2"}) + "\n")
    assert load_history(ws) == ["SELECT 1", "SELECT 2"]


def test_theme_and_keymap_files(tmp_path: Path) -> None:
    from console.tui.keymap import load_keymap
    from console.tui.themes import load_themes

    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "deep.toml").write_text(DEEP_TOML)
    (themes / "typo.toml").write_text('primary = "#fff"\nluminosity_spread = [1]\n')
    (themes / "ok.toml").write_text('name = "mine"\nprimary = "#112233"\n')
    loaded, problems = load_themes(themes)
    assert [t.name for t in loaded] == ["mine"]
    assert any("deep.toml" in p and "nested too deeply" in p for p in problems)
    assert any("typo.toml" in p and "luminosity_spread" in p for p in problems)

    (tmp_path / "keys.toml").write_text(DEEP_TOML)
    keymap, problems = load_keymap({"keymap": "keys.toml"}, tmp_path)
    assert keymap == {} and len(problems) == 1 and "nested too deeply" in problems[0]
    (tmp_path / "keys.toml").write_bytes(b"\xff\xfe")
    keymap, problems = load_keymap({"keymap": "keys.toml"}, tmp_path)
    assert "not UTF-8" in problems[0]


def test_read_json_missing_file_passes_through(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "none.json")


def test_a_registry_that_is_a_file_is_exit_2_not_an_empty_fleet(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    reg = ws / "registry"
    if reg.is_dir():
        import shutil

        shutil.rmtree(reg)
    reg.write_text("not a folder\n")
    for cmd in (["check"], ["models"]):
        r = _run(ws, *cmd)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert "registry" in r.stderr and "not a folder" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_a_registry_file_outside_a_model_folder_is_reported_not_a_model(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    d = ws / "registry" / "m"
    d.mkdir(parents=True, exist_ok=True)
    (d / "1.json").write_text(json.dumps(GOOD))
    (ws / "registry" / "m.json").write_text(json.dumps(GOOD))
    reg = load_registry(ws / "registry", ws)
    assert [e.path.name for e in reg.errors] == ["m.json"]
    assert "not in a model folder" in reg.errors[0].reason
    r = _run(ws, "models", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [m["model"] for m in json.loads(r.stdout)] == ["m"]
    assert "m.json: not in a model folder" in r.stderr
    table = _run(ws, "models")
    assert "not in a model folder" in table.stdout and "registry " not in table.stdout.splitlines()[2]
