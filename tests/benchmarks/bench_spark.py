"""Spark benchmark (issue 17; not run by CI): the daily profiles of the generated workspace's
prediction logs — its ``logs/`` folder of Parquet, read as a lake — computed by the command a
user runs, once with the local engine and once with Spark, and the two tables compared.

    python -m tests.benchmarks.bench_spark --rows 1000000
    python -m tests.benchmarks.bench_spark --rows 10000000    # the 10M store of `make bench`

Each engine is one whole process, ``mlops-console --workspace WS profile --source WS/logs
--out DIR --format json`` (``--engine spark --master local[2]`` for Spark; the workspace gives
the registry's reference edges and tasks): wall clock from exec to exit, and peak memory as the
largest **sum of the resident sets of the process and all its descendants** sampled every
0.2 s (Spark's driver is a JVM child of the Python process, its Python workers are children
of the JVM: the kernel's ``wait4`` peak would count one of them). Both write Parquet the
console reads (``console.profiles.local.read_profiles``); the comparison reads those files back.

Comparison (``compare``): every row outside the sketch — counts, histograms, category counts,
edges, min/max, sums and metric counts — must be equal exactly; sketch buckets are compared
exactly too, and where a bucket differs the p50/p95/p99 of both sketches must lie within
``2·ALPHA`` of each other (each is within ``ALPHA`` of the true order statistic).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.common import CONSOLE, Measured, log, run_measured

PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss_mb(root: int) -> float:
    """The resident sets of ``root`` and its descendants, summed (MiB)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        todo += children.get(pid, [])
    return total / 2**20


def run_tree_measured(argv: list[str], timeout: float | None = None) -> Measured:
    """``run_measured`` with ``extra["tree_peak_rss_mb"]``: the peak of the process tree's summed RSS."""
    peak = [0.0]
    stop = threading.Event()
    me = os.getpid()

    def sample() -> None:
        while not stop.wait(0.2):
            for pid in _direct_children(me):
                peak[0] = max(peak[0], _tree_rss_mb(pid))

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        m = run_measured(argv, timeout=timeout)
    finally:
        stop.set()
        t.join()
    m.extra["tree_peak_rss_mb"] = round(max(peak[0], m.max_rss_mb), 1)
    return m


def _direct_children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def profile_run(ws: Path, engine: str, out: Path, master: str = "local[2]", timeout: float | None = None) -> Measured:
    """One ``mlops-console profile`` of the workspace's ``logs/`` as a lake, into ``out``."""
    argv = [CONSOLE, "--workspace", str(ws), "profile", "--engine", engine, "--source", str(ws / "logs"),
            "--out", str(out), "--format", "json"]
    if engine == "spark":
        argv += ["--master", master]
    return run_tree_measured(argv, timeout=timeout).check()


def compare(a, b) -> dict[str, Any]:
    """Two profile tables (``read_profiles`` order): exact outside the sketch, sketches within bound."""
    import pyarrow.compute as pc

    from console.profiles import core

    if a.equals(b):
        return {"identical": True, "rows": a.num_rows, "exact_rows_equal": True, "sketch_rows_equal": True,
                "sketch_quantiles_within_bound": True, "max_sketch_quantile_rel_diff": 0.0}
    keys = ["model", "version", "day", "stat", "column", "key"]

    def split(t):
        sk = t.filter(pc.equal(t["stat"], "sketch"))
        rest = t.filter(pc.not_equal(t["stat"], "sketch"))
        return rest.sort_by([(k, "ascending") for k in keys]), sk.sort_by([(k, "ascending") for k in keys])

    ra, sa = split(a)
    rb, sb = split(b)
    worst, within = 0.0, True
    if not sa.equals(sb):
        groups = {tuple(r) for r in zip(*(sa.column(k).to_pylist() for k in ("model", "version", "day", "column")),
                                        strict=True)}
        for m, v, d, col in sorted(groups):
            qs = []
            for t in (a, b):
                sel = t.filter(pc.and_(pc.and_(pc.equal(t["model"], m), pc.equal(t["version"], v)),
                                       pc.equal(t["day"], d)))
                qs.append(core.quantiles(core.merge(sel), col, [0.5, 0.95, 0.99]))
            for x, y in zip(*qs, strict=True):
                if x is None or y is None:
                    within &= x is y
                    continue
                rel = abs(x - y) / max(abs(x), abs(y)) if max(abs(x), abs(y)) else 0.0
                worst = max(worst, rel)
                within &= rel <= 2 * core.ALPHA
    return {"identical": False, "rows": [a.num_rows, b.num_rows], "exact_rows_equal": ra.equals(rb),
            "sketch_rows_equal": sa.equals(sb), "sketch_quantiles_within_bound": within,
            "max_sketch_quantile_rel_diff": worst}


def bench(ws: Path, reps: int = 1, master: str = "local[2]", timeout: float | None = None) -> dict[str, Any]:
    """Both engines on ``ws`` (``reps`` runs each), then the tables compared."""
    from console.profiles import local
    from tests.benchmarks.common import summary

    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        runs: dict[str, dict[str, Any]] = {}
        tables = {}
        for engine in ("local", "spark"):
            walls, trees, owns, res = [], [], [], {}
            for i in range(reps):
                out = work / f"{engine}-{i}"
                m = profile_run(ws, engine, out, master, timeout)
                res = m.json()
                walls.append(m.wall_s)
                trees.append(m.extra["tree_peak_rss_mb"])
                owns.append(m.max_rss_mb)
                log(f"profile --engine {engine} rep {i + 1}/{reps}: {m.wall_s:.1f} s, "
                    f"tree peak {m.extra['tree_peak_rss_mb']:.0f} MiB")
            tables[engine] = local.read_profiles(work / f"{engine}-0")
            runs[engine] = {"wall_s": summary(walls), "tree_peak_rss_mb": summary(trees, 1),
                            "wait4_peak_rss_mb": summary(owns, 1), "files": res.get("files"),
                            "profile_rows": res.get("profile_rows")}
        runs["local"]["command"] = "mlops-console --workspace WS profile --source WS/logs --out DIR"
        runs["spark"]["command"] = (f"mlops-console --workspace WS profile --engine spark --master {master} "
                                    "--source WS/logs --out DIR")
        cmp = compare(tables["spark"], tables["local"])
        log(f"spark vs local: {cmp}")
        import pyspark

        return {"engines": runs, "master": master, "pyspark": pyspark.__version__, "java": _java_version(),
                "lake_files": len(local.lake_files(ws / "logs")),
                "lake_mib": round(sum(p.stat().st_size for p in local.lake_files(ws / "logs")) / 2**20, 1),
                "model_days": len({(m, d) for m, d in zip(tables["local"]["model"].to_pylist(),
                                                          tables["local"]["day"].to_pylist(), strict=True)}),
                "equal": cmp, "spark_over_local": round(runs["spark"]["wall_s"]["median"]
                                                        / runs["local"]["wall_s"]["median"], 2),
                "what": "whole process each (exec to exit, Spark's JVM start included); peak memory = the "
                        "largest summed RSS of the process tree, sampled every 0.2 s"}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=60)
        return (out.stderr or out.stdout).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def main() -> None:
    from tests.benchmarks.data import ensure_workspace

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--master", default="local[2]")
    a = ap.parse_args()
    ws, _ = ensure_workspace(a.out, a.rows, "parquet")
    t0 = time.perf_counter()
    res = bench(ws, a.reps, a.master)
    res["rows"] = a.rows
    res["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
