"""Files the console creates in a shared workspace: the umask decides their mode, and a name
planted in advance (a symlink at a temp name, a temp left by a dead process, a link at the
lock) is never written through. The one atomic-write helper is ``console.fsio``."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import stat
import subprocess
from pathlib import Path

import pytest

from console import fsio
from console.ingest.engine import Ingester
from console.workspace import load_dir
from tests.conftest import write_workspace
from tests.frozen_time import CONSOLE
from tests.test_governance_helpers import build_workspace

HOOKS = Path(__file__).resolve().parent.parent / "console" / "samplegen" / "hooks"


@pytest.fixture
def umask002():
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    return victim


def _fixed_tokens(monkeypatch, *tokens: str) -> None:
    """Make the random part of temp names predictable, so a test can plant a name first."""
    seq = iter(tokens)
    monkeypatch.setattr(fsio.secrets, "token_hex", lambda n: next(seq))


# -- the helper ------------------------------------------------------------------------------


def test_write_atomic_honours_the_umask(tmp_path: Path, umask002) -> None:
    target = tmp_path / "a" / "b" / "serving.json"
    fsio.write_atomic(target, b"{}\n")
    assert target.read_bytes() == b"{}\n"
    assert _mode(target) == 0o664
    assert _mode(target.parent) == 0o775 and _mode(target.parent.parent) == 0o775
    os.umask(0o022)
    fsio.write_atomic(target, b"[]\n")
    assert _mode(target) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["serving.json"]  # no temp left behind


def test_a_link_planted_at_the_temp_name_is_never_written_through(tmp_path: Path, monkeypatch) -> None:
    victim = _victim(tmp_path)
    serving = tmp_path / "ws" / "serving.json"
    serving.parent.mkdir()
    serving.write_text('{"old": true}\n')
    pid = os.getpid()
    # every temp-name pattern the console ever used, and the one it will draw first
    for name in (f".serving.json.{pid}.tmp", ".serving.json.tmp", f".serving.json.{pid}.aaaa.tmp"):
        (serving.parent / name).symlink_to(victim)
    _fixed_tokens(monkeypatch, "aaaa", "bbbb")
    fsio.write_atomic(serving, b'{"new": true}\n')
    assert victim.read_text() == "precious\n"
    assert serving.read_text() == '{"new": true}\n' and not serving.is_symlink()
    assert (serving.parent / f".serving.json.{pid}.aaaa.tmp").is_symlink()  # left alone, not followed


def test_a_dead_process_temp_is_skipped_not_reused(tmp_path: Path, monkeypatch) -> None:
    final = tmp_path / "journal.head"
    stale = tmp_path / f".journal.head.{os.getpid()}.aaaa.tmp"
    stale.write_text("half a write from a killed process")
    _fixed_tokens(monkeypatch, "aaaa", "bbbb")
    fsio.write_atomic(final, b"head\n")
    assert final.read_text() == "head\n"
    assert stale.read_text() == "half a write from a killed process"


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    final = tmp_path / "checkpoint.json"
    final.write_text("old")
    with pytest.raises(RuntimeError), fsio.replacing(final) as tmp:
        tmp.write(b"new, half")
        raise RuntimeError("crash while writing")
    assert final.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json"]


@pytest.mark.parametrize("writer", ["polars", "pyarrow"])
def test_target_writes_this_file_even_when_the_name_is_swapped_for_a_link(tmp_path: Path, writer: str) -> None:
    """Parts and the reference copy are written by polars/pyarrow, which open a path: the
    path they get names the file fsio created, not whatever its name points at later."""
    import polars as pl
    import pyarrow.parquet as pq

    victim = _victim(tmp_path)
    tmp = fsio.TempFile(tmp_path / "b1-0.parquet")
    os.unlink(tmp.path)  # another member swaps the temp name for a link before the writer runs
    tmp.path.symlink_to(victim)
    df = pl.DataFrame({"a": [1, 2, 3]})
    if writer == "polars":
        df.write_parquet(tmp.target)
    else:
        pq.write_table(df.to_arrow(), tmp.target)
    assert os.fstat(tmp.fd).st_size > 0  # the data is in the file fsio created
    with open(f"/proc/self/fd/{tmp.fd}", "rb") as fh:
        assert pl.read_parquet(fh)["a"].to_list() == [1, 2, 3]
    tmp.close()
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([tmp.path.name, "elsewhere"])


# -- the console's own files -----------------------------------------------------------------


def test_links_at_store_temp_names_are_not_written_through(tmp_path: Path) -> None:
    """An ingest (parts, checkpoint) and a governance write (serving.json via the helper) with
    links planted at every predictable temp name of the old code: the victim stays intact."""
    victim = _victim(tmp_path)
    root = build_workspace(tmp_path / "ws", logs_days=2, rows_per_day=20)
    store = root / ".console"
    pid = os.getpid()
    part_dirs = [store / "parts" / "predictions" / "model=credit" / f"day=2026-10-0{d}" for d in (1, 2)]
    plants = [store / f".checkpoint.json.{pid}.tmp", store / "parts" / "labels" / f".b1-0.parquet.{pid}.tmp"]
    plants += [d / f".b1-{n}.parquet.{pid}.tmp" for d in part_dirs for n in range(2)]
    for p in plants:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.symlink_to(victim)
    ing = Ingester(load_dir(root))
    try:
        result = ing.run_once()
    finally:
        ing.close()
    assert result.predictions == 40
    assert victim.read_text() == "precious\n"
    assert json.loads((store / "checkpoint.json").read_text())["batch"] == 1


def test_every_file_ingest_check_and_drift_create_honours_the_umask(tmp_path: Path) -> None:
    """The second account of a shared workspace must be able to replace what the first wrote:
    with umask 002 every file under .console/ is group-writable (the lock, the checkpoint, the
    parts, the analytics cache, the drift reference copy), every folder group-rwx."""
    root = build_workspace(tmp_path / "ws", logs_days=6, rows_per_day=60)
    for args, codes in ((["ingest"], {0}), (["check"], {0, 1}), (["drift", "--model", "credit"], {0, 1})):
        proc = subprocess.run([*CONSOLE, *args, "--workspace", str(root)], capture_output=True, text=True,
                              umask=0o002, timeout=300)
        assert proc.returncode in codes, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    created = [Path(d) / f for d, _, fs in os.walk(root / ".console") for f in fs]
    assert any(p.name == "ingest.lock" for p in created)
    assert any(p.suffix == ".json" and "cache" in p.parts for p in created)
    assert any(p.suffix == ".parquet" and "cache" in p.parts for p in created)  # the reference copy
    bad = [f"{p.relative_to(root)} {oct(_mode(p))}" for p in created if _mode(p) & 0o060 != 0o060]
    bad += [f"{Path(d).relative_to(root)} {oct(_mode(Path(d)))}" for d, _, _ in os.walk(root / ".console")
            if _mode(Path(d)) & 0o070 != 0o070]
    assert bad == []


def test_a_link_planted_at_the_ingest_lock_is_refused_in_one_line(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    root = write_workspace(tmp_path / "ws")
    (root / ".console").mkdir()
    (root / ".console" / "ingest.lock").symlink_to(victim)
    proc = subprocess.run([*CONSOLE, "ingest", "--workspace", str(root)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "cannot write the store" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert victim.read_text() == "precious\n"


def test_query_history_is_not_appended_through_a_link(tmp_path: Path, monkeypatch) -> None:
    from console.tui.screens.query import append_history, history_path

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the history is the account's own
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    victim = _victim(tmp_path)
    ws = load_dir(write_workspace(tmp_path / "ws"))
    history_path(ws).parent.mkdir(parents=True)
    history_path(ws).symlink_to(victim)
    append_history(ws, "SELECT 1")  # history is a convenience: silently not kept
    assert victim.read_text() == "precious\n"


def test_sample_hooks_write_safely(tmp_path: Path, monkeypatch) -> None:
    """The retrain hook runs as a plain script (it cannot import the console): its own atomic
    write creates temps exclusively, never through a link, and honours the umask."""
    spec = importlib.util.spec_from_file_location("sample_retrain_hook", HOOKS / "retrain.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    victim = _victim(tmp_path)
    final = tmp_path / "registry" / "credit" / "4.json"
    final.parent.mkdir(parents=True)
    (final.parent / ".4.json.tmp").symlink_to(victim)  # the name the old hook always used
    tokens = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(tokens))
    (final.parent / f".4.json.{os.getpid()}.aaaa.tmp").symlink_to(victim)
    old = os.umask(0o002)
    try:
        hook.write_atomic(final, b"{}\n")
    finally:
        os.umask(old)
    assert final.read_text() == "{}\n" and _mode(final) == 0o664
    assert victim.read_text() == "precious\n"
