"""Finding and loading a workspace (docs/formats.md, 'Where the console looks') and the one-line errors for bad ones."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from console.errors import WorkspaceError
from console.workspace import load
from tests.frozen_time import CONSOLE

from .conftest import write_workspace


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    full_env = {k: v for k, v in os.environ.items() if k != "MLOPS_CONSOLE_WORKSPACE"}
    full_env.update(env or {})
    return subprocess.run(
        [*CONSOLE, *args], capture_output=True, text=True, cwd=cwd, env=full_env
    )


def test_explicit_env_and_upward_search(tmp_path: Path, monkeypatch) -> None:
    ws = write_workspace(tmp_path / "a")
    other = write_workspace(tmp_path / "b")
    deep = ws / "logs" / "x" / "y"
    deep.mkdir(parents=True)
    monkeypatch.delenv("MLOPS_CONSOLE_WORKSPACE", raising=False)
    assert load(cwd=deep).root == ws.resolve()
    monkeypatch.setenv("MLOPS_CONSOLE_WORKSPACE", str(other))
    assert load(cwd=deep).root == other.resolve()  # the environment beats the search
    assert load(ws, cwd=deep).root == ws.resolve()  # --workspace beats both


def test_paths_roles_and_hooks(tmp_path: Path) -> None:
    ws_dir = write_workspace(
        tmp_path / "ws", extra_toml='[hooks]\nretrain = "python hooks/retrain.py --fast \'a b\'"\n'
    )
    ws = load(ws_dir)
    assert ws.name == "test-ws"
    assert ws.predictions == [(ws_dir / "logs").resolve()]
    assert ws.hooks["retrain"] == ["python", "hooks/retrain.py", "--fast", "a b"]
    assert ws.identity("carol").operator and not ws.identity("carol").reviewer
    assert ws.identity("alice").reviewer
    assert ws.identity("mallory").role == "read-only"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[workspace\nname='x'", "malformed TOML"),
        ('[sources]\npredictions = ["nope"]\n', "predictions path 'nope' does not exist"),
        ('[access]\nadmins = ["root"]\n', r"unknown key \[access\] admins \(known: operators, reviewers\)"),
        ('[access]\noperators = "carol"\n', "operators must be a list of strings"),
        ('[hooks]\ndeploy = "x"\n', r"unknown key \[hooks\] deploy"),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path: Path, toml: str, expected: str) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "logs").mkdir()
    (ws / "registry").mkdir()
    (ws / "console.toml").write_text(toml)
    with pytest.raises(WorkspaceError, match=expected):
        load(ws)
    result = run_cli("models", "--workspace", str(ws))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "console.toml" in lines[0] and re.search(expected, lines[0])
    assert "Traceback" not in result.stderr


def test_missing_workspace_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_cli("models", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "console.toml" in result.stderr


def test_models_json_contract(tmp_path: Path) -> None:
    import json

    ws = write_workspace(tmp_path / "ws")
    for version, stage in (("1", "archived"), ("2", "production"), ("10", "candidate")):
        d = ws / "registry" / "credit-risk"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{version}.json").write_text(
            json.dumps({"model": "credit-risk", "version": version, "task": "binary", "stage": stage})
        )
    (ws / "registry" / "broken").mkdir()
    (ws / "registry" / "broken" / "1.json").write_text("{not json")
    result = run_cli("models", "--format", "json", "--workspace", str(ws))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    broken = str((ws / "registry" / "broken" / "1.json").resolve())
    assert doc[0]["model"] == "broken" and doc[0]["invalid"][0]["path"] == broken
    assert doc[0]["invalid"][0]["reason"].startswith("not valid JSON")
    assert doc[1:] == [
        {
            "model": "credit-risk",
            "task": "binary",
            "production": "2",
            "versions": [
                {"version": "1", "stage": "archived"},
                {"version": "2", "stage": "production"},
                {"version": "10", "stage": "candidate"},
            ],
            "invalid": [],
        }
    ]
