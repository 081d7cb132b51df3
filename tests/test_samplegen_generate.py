"""The sample generator itself: same seed → same bytes, refusing to clobber, clear CLI errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.errors import UsageError
from console.samplegen import generate
from console.samplegen.writers import tree_digest
from console.workspace import load_dir

ROWS = 3_000  # tiny: the story's shape at 3% of the traffic


def test_same_seed_gives_byte_identical_workspaces_and_regenerating_replaces(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, rows=ROWS, seed=7)
    (a / "logs" / "stray.jsonl").write_text("{}\n")
    summary = generate(a, rows=ROWS, seed=7)  # a generated workspace is replaced as a whole
    generate(b, rows=ROWS, seed=7)
    da = tree_digest(a)
    assert da == tree_digest(b)
    assert "logs/stray.jsonl" not in da
    assert len(da) > 100 and any(k.endswith(".jsonl.gz") for k in da) and any(k.endswith(".parquet") for k in da)
    total = sum(m["predictions"] for m in summary["models"].values())
    assert 0.7 * ROWS < total < 1.4 * ROWS
    ws = load_dir(a)  # a valid workspace per docs/formats.md
    assert ws.operators == ["carol", "dave"]


def test_never_clears_a_directory_it_did_not_make(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not empty"):
        generate(foreign, rows=ROWS)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    for args in (["--out", str(tmp_path)], ["--out", str(tmp_path / "n"), "--rows", "5"],
                 ["--out", str(tmp_path / "n"), "--format", "jsonl"]):
        proc = subprocess.run([sys.executable, "-m", "console.samplegen", *args], capture_output=True, text=True)
        assert proc.returncode == 2, args
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert proc.stdout == ""
