"""Benchmark data: workspaces written by ``python -m console.samplegen --profile bench``, cached
under ``<out>/data/`` by their parameters (re-runs skip generation), and ingested stores kept
next to them (re-runs skip the ingest too, unless the sources changed).

A workspace directory is complete only when its ``meta.json`` exists: generation writes into
``<key>.tmp`` and renames it at the end, so an interrupted run never leaves a half workspace
that a later run would trust.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from tests.benchmarks.common import CONSOLE, Measured, log, run_measured


def workspace_key(rows: int, fmt: str, seed: int, reference_rows: int) -> str:
    return f"r{rows}-{fmt}-s{seed}-ref{reference_rows}"


def ensure_workspace(out: Path, rows: int, fmt: str = "parquet", seed: int = 0,
                     reference_rows: int = 100_000, regen: bool = False) -> tuple[Path, dict[str, Any]]:
    """The generated workspace (for ``fmt="both"`` the folder holding ``jsonl/`` and ``parquet/``)
    and its metadata (samplegen's summary plus ``generated_seconds`` and ``cached``)."""
    root = out / "data" / workspace_key(rows, fmt, seed, reference_rows)
    meta_path = root / "meta.json"
    if meta_path.is_file() and not regen:
        meta = json.loads(meta_path.read_text())
        return root, {**meta, "cached": True}
    tmp = root.with_name(root.name + ".tmp")
    for p in (tmp, root):
        if p.exists():
            shutil.rmtree(p)
    log(f"generating {rows:,} predictions ({fmt}) into {root}")
    argv = [sys.executable, "-m", "console.samplegen", "--profile", "bench", "--rows", str(rows),
            "--format", fmt, "--seed", str(seed), "--reference-rows", str(reference_rows), "--out", str(tmp)]
    m = run_measured(argv).check()
    summary = m.json()
    tmp.rename(root)
    meta = {**summary, "workspaces": [str(Path(w).name) for w in summary.get("workspaces", [])],
            "argv": " ".join(argv[1:]), "generated_seconds": round(m.wall_s, 2),
            "generated_max_rss_mb": round(m.max_rss_mb, 1)}
    meta_path.write_text(json.dumps(meta, indent=2))
    return root, {**meta, "cached": False}


def source_files(ws: Path) -> list[Path]:
    return sorted(p for d in ("logs", "labels") for p in (ws / d).rglob("*") if p.is_file())


def source_bytes(ws: Path) -> int:
    return sum(p.stat().st_size for p in source_files(ws))


def ingest(ws: Path, timeout: float | None = None) -> Measured:
    """One whole-process ``mlops-console ingest`` of the workspace (its store as it is)."""
    ws = ws.resolve()
    return run_measured([CONSOLE, "ingest", "--workspace", str(ws), "--format", "json"], cwd=ws,
                        timeout=timeout).check()


def fresh_ingest(ws: Path) -> Measured:
    """Delete the store, then ingest everything (a fresh copy of the store each time)."""
    shutil.rmtree(ws / ".console", ignore_errors=True)
    return ingest(ws)


def ensure_ingested(ws: Path, again: bool = False) -> dict[str, Any]:
    """Ingest the workspace once and remember it (``.console/bench-ingest.json``); a later call
    reuses that store unless ``again`` (then the store is deleted and rebuilt)."""
    marker = ws / ".console" / "bench-ingest.json"
    if marker.is_file() and not again:
        return {**json.loads(marker.read_text()), "cached": True}
    log(f"ingesting {ws}")
    m = fresh_ingest(ws)
    info = {"result": m.json(), "wall_s": round(m.wall_s, 3), "max_rss_mb": round(m.max_rss_mb, 1)}
    marker.write_text(json.dumps(info))
    return {**info, "cached": False}


def clear_analytics_cache(ws: Path) -> None:
    shutil.rmtree(ws / ".console" / "cache", ignore_errors=True)
