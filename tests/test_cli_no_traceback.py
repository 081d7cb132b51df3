"""No Python traceback reaches a user: whatever escapes a command is one line on stderr —
``mlops-console: error: <what> (<ExceptionType>); rerun with MLOPS_CONSOLE_DEBUG=1 for the
traceback`` — and exit 2, checked on real subprocess runs over broken workspaces. With
``MLOPS_CONSOLE_DEBUG=1`` the traceback is printed too (for a bug report)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.frozen_time import CONSOLE


def run(root: Path, *args: str, debug: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLOPS_CONSOLE_WORKSPACE", "MLOPS_CONSOLE_DEBUG")}
    if debug:
        env["MLOPS_CONSOLE_DEBUG"] = "1"
    return subprocess.run([*CONSOLE, *args, "--workspace", str(root)], capture_output=True, text=True,
                          env=env, cwd=root, timeout=300)


def one_line_error(res: subprocess.CompletedProcess) -> str:
    lines = [x for x in res.stderr.splitlines() if not x.startswith("warning:")]
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    assert "Traceback" not in res.stderr and len(lines) == 1, res.stderr[-3000:]
    return lines[0]


@pytest.fixture(name="broken")
def broken_fixture(sample_ws: Path):
    def make(how: str) -> Path:
        if how == "garbage store part":
            part = sorted((sample_ws / ".console" / "parts" / "predictions").rglob("*.parquet"))[0]
            part.write_bytes(b"this is not parquet\n")
        elif how == "journal is a directory":
            (sample_ws / "journal.jsonl").unlink()
            (sample_ws / "journal.jsonl").mkdir()
        return sample_ws
    return make


def test_a_garbage_store_part_is_one_line_in_every_command_that_reads_it(broken) -> None:
    root = broken("garbage store part")
    for args in (["check"], ["drift", "--model", "credit-risk"], ["query", "SELECT count(*) FROM predictions"],
                 ["ops", "--model", "credit-risk"], ["cost"]):
        line = one_line_error(run(root, *args))
        assert line.startswith("mlops-console: error: ") and "(InvalidInputException)" in line, (args, line)
        assert line.endswith("rerun with MLOPS_CONSOLE_DEBUG=1 for the traceback")
    debug = run(root, "check", debug=True)
    assert debug.returncode == 2 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith("mlops-console: error: ")


def test_a_journal_that_is_a_directory_is_one_line(broken) -> None:
    root = broken("journal is a directory")
    for args in (["models"], ["requests"], ["check"]):
        line = one_line_error(run(root, *args))
        assert "(IsADirectoryError)" in line and "journal.jsonl" in line, (args, line)


def test_console_errors_keep_their_own_one_line(tmp_path: Path) -> None:
    """A ConsoleError is printed as before (no 'error:' prefix, no hint)."""
    from tests.conftest import write_workspace

    root = write_workspace(tmp_path / "ws")
    res = run(root, "drift", "--model", "nope")
    assert res.returncode == 2 and res.stderr.startswith("mlops-console: unknown model 'nope'")
    assert "MLOPS_CONSOLE_DEBUG" not in res.stderr


def test_an_unexpected_exception_in_process(monkeypatch, capsys, tmp_path: Path) -> None:
    """main() itself: the last-resort handler's line and exit 2 for an exception of any type."""
    from console import cli
    from console.cli import analytics_cmds

    def boom(ctx):
        raise KeyError("the thing")

    monkeypatch.setattr(analytics_cmds, "run_cost", boom)
    monkeypatch.delenv("MLOPS_CONSOLE_DEBUG", raising=False)
    assert cli.main(["cost", "--workspace", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == ("mlops-console: error: 'the thing' (KeyError); rerun with MLOPS_CONSOLE_DEBUG=1 "
                   "for the traceback\n")
