"""The benchmark driver (``make bench``): one run, on the same generated data, of every figure of
issue 7 — ingest throughput against DuckDB's raw read, exact drift against Evidently 0.7, the
30 daily drift windows, performance and slice reports, and the TUI — with repetitions, medians
and spreads, the machine and its load, and each target marked met or missed.

    .venv/bin/python -m tests.benchmarks.run                 # full: 1M and 10M predictions
    .venv/bin/python -m tests.benchmarks.run --quick         # 100k / 300k, to iterate
    .venv/bin/python -m tests.benchmarks.run --only ingest,drift --reps 3 --out bench-out

Writes ``<out>/results/<UTC stamp>.json`` and ``.md`` and ``<out>/latest.json|md``; a full run
also publishes them as ``docs/benchmarks.json`` and ``docs/benchmarks.md`` and rewrites the
README's "Performance" section with the targets table (``--no-publish`` to skip). Generated workspaces are cached under ``<out>/data/`` by their parameters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from tests.benchmarks import bench_big, report
from tests.benchmarks.common import (
    REPO,
    fmt_s,
    loadavg,
    log,
    machine_info,
    other_busy_processes,
    percentile,
    run_measured,
    summary,
)
from tests.benchmarks.data import (
    clear_analytics_cache,
    ensure_ingested,
    ensure_workspace,
    fresh_ingest,
    source_bytes,
)

SECTIONS = ("ingest", "badlines", "drift", "windows", "reports", "tui", "explain", "spark")
OPTIONAL_SECTIONS = ("big100m",)  # only with --only: most of an hour (bench_big.py)
PY = sys.executable
DRIFT_MODEL = "bench-binary"
OTHER_MODEL = "bench-regression"  # not highlighted in the fleet while it loads
# bench-binary gets a third of the rows, spread evenly over 30 days: nine days are 1M rows at 10M
REF_WINDOW = ("2026-10-23T00:00:00+00:00", "2026-11-01T00:00:00+00:00")  # days 0–8, before the shift
CUR_WINDOW = ("2026-11-12T00:00:00+00:00", "2026-11-21T00:00:00+00:00")  # days 20–28, shifted

TARGETS = {
    "ingest_jsonl_rps": 300_000,
    "ingest_parquet_rps": 2_000_000,
    "bad_lines_rss_ratio": 1.5,
    "drift_speedup": 30.0,
    "drift_memory_fraction": 1 / 3,
    "windows_first_s": 5.0,
    "windows_cached_s": 0.5,
    "tui_first_paint_s": 1.0,
    "tui_populated_s": 1.5,
    "tui_switch_p95_s": 0.2,
    "explain_1000_s": 5.0,
    "big_adopt_rps": 2_000_000,
    "big_trend_s": 2.0,
    "big_fleet_s": 1.5,
    "big_rss_mb": 2048,
}


class Budget:
    """The run's time budget: a repetition beyond the second starts only while time is left, so
    the run keeps its order (every section gets at least two repetitions) and says what it cut."""

    def __init__(self, minutes: float):
        self.started = time.perf_counter()
        self.seconds = minutes * 60
        self.cut: list[str] = []

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.started)

    def more(self, what: str, done: int) -> bool:
        if done < 2 or self.left() > 0:
            return True
        self.cut.append(f"{what}: stopped after {done} repetitions (time budget)")
        return False


BUDGET = Budget(30)


def reps_of(what: str, n: int, slow: float | None = None):
    """``range(n)`` that stops early (after two) once the budget is spent, or when the first two
    repetitions averaged more than ``slow`` seconds."""
    t = time.perf_counter()
    for i in range(n):
        if not BUDGET.more(what, i):
            return
        if slow is not None and i >= 2 and (time.perf_counter() - t) / i > slow:
            BUDGET.cut.append(f"{what}: {i} repetitions (each took over {slow:g} s)")
            return
        yield i


def job(*args: str, timeout: float | None = None):
    return run_measured([PY, "-m", "tests.benchmarks.jobs", *args], cwd=REPO, timeout=timeout).check()


def tui_job(*args: str, timeout: float | None = None):
    return run_measured([PY, "-m", "tests.benchmarks.tui_jobs", *args], cwd=REPO, timeout=timeout).check()


def snapshot_load(tag: str, res: dict[str, Any]) -> None:
    res.setdefault("load", []).append({"at": tag, "time": dt.datetime.now(dt.UTC).strftime("%H:%M:%S"),
                                       "loadavg": loadavg(), "busy": other_busy_processes(5)})


# -- sections -----------------------------------------------------------------------------------


def adopt_workspace(parquet_ws: Path) -> Path:
    """A copy of the Parquet ingest workspace with ``[ingest] adopt_parquet = true`` (its sources
    adopted in place: docs/formats.md), next to it (so ``--regen`` replaces it too)."""
    dst = parquet_ws.parent / "parquet-adopt"
    if not (dst / "console.toml").is_file():
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(parquet_ws, tmp, ignore=shutil.ignore_patterns(".console"))
        with open(tmp / "console.toml", "a", encoding="utf-8") as fh:
            fh.write("\n[ingest]\nadopt_parquet = true\n")
        tmp.rename(dst)
    return dst


def bench_ingest(small: Path, big: Path, big_ingest: dict[str, Any], reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {"workspace_rows": None, "formats": {}}
    for fmt in ("jsonl", "parquet", "parquet-adopt"):
        ws = adopt_workspace(small / "parquet") if fmt == "parquet-adopt" else small / fmt
        source_fmt = "jsonl" if fmt == "jsonl" else "parquet"
        walls, rss, cpu, result = [], [], [], None
        for i in reps_of(f"ingest {fmt}", reps):
            m = fresh_ingest(ws)
            result = m.json()
            walls.append(m.wall_s)
            rss.append(m.max_rss_mb)
            cpu.append(m.user_s + m.sys_s)
            log(f"ingest {fmt} rep {i + 1}/{reps}: {m.wall_s:.2f} s, {m.max_rss_mb:.0f} MiB")
        records = int(result["predictions"]) + int(result["labels"])
        raw: dict[str, Any] = {}
        for mode in ("count", "table", "copy") if source_fmt == "parquet" else ("table", "copy"):
            rw, rr, rc = [], [], []
            for _ in reps_of(f"duckdb {fmt} {mode}", reps):
                m = job("raw", "--ws", str(ws), "--fmt", source_fmt, "--mode", mode)
                got = m.json()
                if got["records"] != records:
                    raise RuntimeError(f"DuckDB read {got['records']} {fmt} records, the ingester {records}")
                rw.append(m.wall_s)
                rr.append(m.max_rss_mb)
                rc.append(max(got.get("cpu_s", 0.0), 1e-6))
            raw[mode] = {"wall_s": summary(rw), "records_per_s": summary([records / w for w in rw], 0),
                         "max_rss_mb": summary(rr, 1), "statement_cpu_s": summary(rc),
                         "records_per_cpu_s": summary([records / c for c in rc], 0)}
            log(f"duckdb raw {fmt} {mode}: median {raw[mode]['wall_s']['median']} s")
        inproc: dict[str, Any] = {}
        if source_fmt == "parquet":  # the ingester alone: no interpreter start-up, no CLI
            secs, cpus, adopted = [], [], 0
            for _ in reps_of(f"in-process ingest {fmt}", reps):
                got = job("ingest", "--ws", str(ws)).json()
                if got["records"] != records:
                    raise RuntimeError(f"in-process ingest read {got['records']} records, the CLI {records}")
                secs.append(got["seconds"])
                cpus.append(got["cpu_s"])
                adopted = got["adopted_files"]
            inproc = {"seconds": summary(secs), "records_per_s": summary([records / x for x in secs], 0),
                      "cpu_s": summary(cpus), "records_per_cpu_s": summary([records / x for x in cpus], 0),
                      "adopted_files": adopted}
            log(f"in-process ingest {fmt}: median {inproc['seconds']['median']} s, {adopted} files adopted")
        ours = summary([records / w for w in walls], 0)
        out["formats"][fmt] = {"in_process": inproc,
            "records": records, "predictions": int(result["predictions"]), "labels": int(result["labels"]),
            "source_mib": round(source_bytes(ws) / 2**20, 1),
            "wall_s": summary(walls), "records_per_s": ours, "cpu_s": summary(cpu),
            "max_rss_mb": summary(rss, 1), "duckdb_raw": raw,
            "ratio_to_duckdb_table": round(raw["table"]["wall_s"]["median"] / summary(walls)["median"], 3),
            "ratio_to_duckdb_copy": round(raw["copy"]["wall_s"]["median"] / summary(walls)["median"], 3),
            "timing": "whole process: `mlops-console ingest --format json` on a deleted store, and a Python "
                      "process running one DuckDB statement over the same files",
        }
        out["workspace_rows"] = int(result["predictions"])
    if big_ingest:
        res = big_ingest["result"]
        n = int(res["predictions"]) + int(res["labels"])
        out["big_parquet_single_run"] = {
            "records": n, "wall_s": big_ingest["wall_s"], "records_per_s": round(n / big_ingest["wall_s"]),
            "max_rss_mb": big_ingest["max_rss_mb"], "cached": bool(big_ingest.get("cached")),
            "note": "the one ingest that built the big store (n=1)" + (
                ", in an EARLIER run (pass --reingest to time the current ingester)" if big_ingest.get("cached")
                else ", in this run")}
    return out


def bench_bad_lines(out: Path, rows: int, reps: int) -> dict[str, Any]:
    """Peak RSS of ``mlops-console ingest`` over ``rows`` bad lines (each good line cut in half:
    not JSON, quarantined with its text) against the same number of good lines."""
    from tests.benchmarks.bench_ingest import make_workspace, write_bad_jsonl, write_jsonl

    root = out / "data" / f"lines-{rows}"
    if not (root / "meta.json").is_file():
        shutil.rmtree(root, ignore_errors=True)
        sizes = {"good": write_jsonl(make_workspace(root / "good") / "logs" / "app.jsonl", rows, seed=1),
                 "bad": write_bad_jsonl(make_workspace(root / "bad") / "logs" / "app.jsonl", rows, seed=1)}
        (root / "meta.json").write_text(json.dumps(sizes))
    sizes = json.loads((root / "meta.json").read_text())
    res: dict[str, Any] = {"rows": rows}
    for which, expect in (("good", "predictions"), ("bad", "quarantined")):
        walls, rss = [], []
        for i in reps_of(f"{which} lines", reps):
            m = fresh_ingest(root / which)
            got = m.json()
            if got[expect] != rows:
                raise RuntimeError(f"{which} lines: {got}, expected {rows} {expect}")
            walls.append(m.wall_s)
            rss.append(m.max_rss_mb)
            log(f"{which} lines rep {i + 1}/{reps}: {m.wall_s:.1f} s, {m.max_rss_mb:.0f} MiB")
        shutil.rmtree(root / which / ".console", ignore_errors=True)
        res[which] = {"source_mib": round(sizes[which] / 2**20, 1), "wall_s": summary(walls),
                      "max_rss_mb": summary(rss, 1), "records_per_s": summary([rows / w for w in walls], 0)}
    res["ratio"] = round(res["bad"]["max_rss_mb"]["median"] / res["good"]["max_rss_mb"]["median"], 3)
    res["what"] = ("whole process: `mlops-console ingest --format json` on a deleted store; good = JSONL records "
                   "with nested features, bad = the same lines each cut in half (not JSON: every one quarantined "
                   "with its text)")
    return res


def bench_drift(big: Path, reps: int, ev_reps: int, work: Path) -> dict[str, Any]:
    from tests.benchmarks.evidently_env import ensure_env, run_evidently

    env = ensure_env()
    frames = work / "frames"
    shutil.rmtree(frames, ignore_errors=True)
    exp = job("export", "--ws", str(big), "--model", DRIFT_MODEL, "--ref", *REF_WINDOW, "--cur", *CUR_WINDOW,
              "--out", str(frames)).json()
    ours_runs = []
    for i in reps_of("drift ours", reps):
        m = job("drift11", "--ws", str(big), "--model", DRIFT_MODEL, "--ref", *REF_WINDOW, "--cur", *CUR_WINDOW)
        ours_runs.append((m, m.json()))
        log(f"drift ours rep {i + 1}/{reps}: {m.json()['seconds']:.2f} s in-process, {m.max_rss_mb:.0f} MiB")
    ev_runs = []
    for i in reps_of("drift Evidently", ev_reps):
        r = run_evidently(frames / "reference.parquet", frames / "current.parquet", exp["numeric"], exp["categorical"])
        ev_runs.append(r)
        log(f"drift Evidently rep {i + 1}/{ev_reps}: {r['seconds']:.2f} s in Report.run, {r['process_max_rss_mb']:.0f} MiB")
    ours = ours_runs[-1][1]
    ev = ev_runs[-1]
    if (ours["reference_rows"], ours["current_rows"]) != (exp["rows"]["reference"], exp["rows"]["current"]):
        raise RuntimeError(f"frames differ: ours {ours['reference_rows']}/{ours['current_rows']}, "
                           f"exported {exp['rows']}")
    agreement = compare_features(ours["features"], ev["features"])
    ours_in = summary([j["seconds"] for _, j in ours_runs])
    ours_wall = summary([m.wall_s for m, _ in ours_runs])
    ours_rss = summary([m.max_rss_mb for m, _ in ours_runs], 1)
    ev_in = summary([r["seconds"] for r in ev_runs])
    ev_wall = summary([r["wall_s"] for r in ev_runs])
    ev_rss = summary([r["process_max_rss_mb"] for r in ev_runs], 1)
    return {
        "model": DRIFT_MODEL, "reference_window": REF_WINDOW, "current_window": CUR_WINDOW,
        "reference_rows": ours["reference_rows"], "current_rows": ours["current_rows"],
        "features": len(ours["features"]),
        "ours": {"compute_s": ours_in, "process_wall_s": ours_wall, "max_rss_mb": ours_rss,
                 "open_store_s": summary([j["open_seconds"] for _, j in ours_runs]),
                 "what": "drift_report(reference window, current window; the 20 features, no output drift, "
                         "no domain classifier, cache off) in a fresh process over the ingested store"},
        "evidently": {"compute_s": ev_in, "process_wall_s": ev_wall, "max_rss_mb": ev_rss,
                      "load_s": summary([r["load_seconds"] for r in ev_runs]),
                      "import_s": summary([r["import_seconds"] for r in ev_runs]),
                      "versions": env["versions"],
                      "what": "Report([DataDriftPreset()], include_tests=True).run(current, reference) on the "
                              "same rows exported to Parquet and read with pandas, in .bench-venv/evidently"},
        "speedup_compute": round(ev_in["median"] / ours_in["median"], 2),
        "speedup_process": round(ev_wall["median"] / ours_wall["median"], 2),
        "memory_fraction": round(ours_rss["median"] / ev_rss["median"], 3),
        "agreement": agreement,
    }


def compare_features(ours: list[dict[str, Any]], ev: list[dict[str, Any]], rel: float = 1e-6,
                     abs_tol: float = 1e-9) -> dict[str, Any]:
    """Per feature: same method, same score (to ``rel``), same verdict."""
    theirs = {f["feature"]: f for f in ev}
    rows, agree = [], 0
    for f in ours:
        e = theirs.get(f["feature"])
        if e is None:
            rows.append({"feature": f["feature"], "agree": False, "why": "not in Evidently's report"})
            continue
        same_method = f["method"] == e["method"]
        diff = abs((f["score"] or 0.0) - (e["score"] or 0.0))
        same_score = f["score"] is not None and e["score"] is not None and diff <= max(abs_tol, rel * abs(e["score"]))
        same_verdict = bool(f["drifted"]) == bool(e["drifted"])
        ok = same_method and same_score and same_verdict
        agree += ok
        rows.append({"feature": f["feature"], "method": f["method"], "evidently_method": e["method_evidently"],
                     "score": f["score"], "evidently_score": e["score"], "abs_diff": diff,
                     "drifted": f["drifted"], "evidently_drifted": e["drifted"], "agree": ok})
    return {"features": len(ours), "agree": agree, "all_agree": agree == len(ours) == len(ev),
            "tolerance": f"relative {rel:g} (absolute {abs_tol:g})", "rows": rows}


def bench_windows(big: Path, reps: int, timeout: float, models: list[str]) -> dict[str, Any]:
    first, cached_mem, cached_disk, info = [], [], [], {}
    which = [x for m in models for x in ("--model", m)]
    for i in reps_of("drift windows", reps, slow=120.0):
        clear_analytics_cache(big)
        m = job("drift30", "--ws", str(big), *which, "--repeat-cached", "2", timeout=timeout)
        info = m.json()
        first.append(info["first_seconds"])
        cached_mem += info["cached_seconds"]
        log(f"30 daily windows rep {i + 1}/{reps}: first {info['first_seconds']:.2f} s, cached "
            f"{min(info['cached_seconds']):.3f} s")
    for _ in reps_of("drift windows, new process", reps):  # a new process, the disk cache warm
        m = job("drift30", "--ws", str(big), *which, "--repeat-cached", "0", timeout=timeout)
        cached_disk.append(m.json()["first_seconds"])
    return {"models": info.get("models"), "reports": info.get("reports"), "rows": info.get("rows"),
            "first_s": summary(first), "cached_in_process_s": summary(cached_mem),
            "cached_new_process_s": summary(cached_disk),
            "per_model_first_s": round(summary(first)["median"] / max(1, len(info.get("models") or [1])), 4),
            "what": f"drift_windows(window='1d') — 30 daily windows, each equal to its drift_report — for "
                    f"{', '.join(info.get('models') or [])} (the "
                    "registered 100k-row "
                    "reference, output drift on, domain classifier off), in-process; first = analytics cache "
                    "deleted before the process started"}


def bench_reports(big: Path, reps: int, timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("performance", "slices", "estimate"):
        first, cached, info = [], [], {}
        for i in reps_of(kind, reps, slow=60.0):
            clear_analytics_cache(big)
            m = job("reports", "--ws", str(big), "--kind", kind, "--repeat-cached", "1", timeout=timeout)
            info = m.json()
            first.append(info["first_seconds"])
            cached += info["cached_seconds"]
            log(f"{kind} rep {i + 1}/{reps}: first {info['first_seconds']:.2f} s")
        out[kind] = {"models": info.get("models"), "rows": info.get("rows"), "first_s": summary(first),
                     "cached_in_process_s": summary(cached),
                     "what": {"performance": "performance_report(model, window='1d')",
                              "estimate": "estimate_report(model, window='1d') (CBPE/DLE fitted on the "
                                          "registered reference; multiclass models skipped)",
                              }.get(kind, "slices_report(model) (the registry's slices cat_0, cat_1)")
                     + " for every model, in-process; first = analytics cache deleted"}
    return out


def bench_tui(big: Path, sample: Path | None, reps: int, launch_timeout: float, panel_rounds: int,
              panel_timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    targets = [("sample", sample, True), ("big", big, True), ("big_warm", big, False)]
    for name, ws, cold in targets:
        if ws is None:
            continue
        runs = []
        for i in reps_of(f"tui launch {name}", reps):
            if cold:
                clear_analytics_cache(ws)
            m = tui_job("launch", "--ws", str(ws), "--timeout", str(launch_timeout))
            runs.append(m.json())
            log(f"tui launch {name} rep {i + 1}/{reps}: {runs[-1]}")
        vals = lambda k, runs=runs: [r[k] for r in runs if r.get(k) is not None]  # noqa: E731
        out[f"launch_{name}"] = {
            "app_ready_s": summary(vals("app_ready_s")),
            "first_paint_s": summary(vals("first_paint_s")), "populated_s": summary(vals("populated_s")),
            "complete_s": summary(vals("complete_s")),
            "complete_timed_out": sum(1 for r in runs if r.get("complete_s") is None),
            "timeout_s": launch_timeout, "rss_idle_mb": summary(vals("rss_idle_mb"), 1),
            "peak_rss_mb": summary(vals("peak_rss_mb"), 1), "problems": runs[-1].get("problems"),
            "cache": "cold (analytics cache deleted first)" if cold else "warm (disk cache from the runs before)",
            "what": "in-process from the top of a fresh process (before Textual is imported) to the fleet "
                    "table's first rows, its first data paint (every model's quick reports), and drift + "
                    "alerts in; live ingester off; idle RSS 2 s after",
        }
    # the model the fleet highlights (where the cursor rests while it loads: its tabs are computed
    # ahead), then one it does not (the cursor moved to it just before enter: nothing ahead)
    for key, model in (("panels_big", DRIFT_MODEL), ("panels_big_not_highlighted", OTHER_MODEL)):
        try:
            out[key] = bench_panels(big, model, panel_rounds, panel_timeout, launch_timeout)
        except Exception as exc:  # noqa: BLE001 - keep the launch figures
            out[key] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"panels {model} FAILED: {exc}")
    return out


def bench_panels(big: Path, model: str, panel_rounds: int, panel_timeout: float,
                 open_timeout: float) -> dict[str, Any]:
    clear_analytics_cache(big)
    m = tui_job("panels", "--ws", str(big), "--model", model, "--rounds", str(panel_rounds),
                "--timeout", str(panel_timeout), "--open-timeout", str(open_timeout * 2))
    doc = m.json()
    sw = doc["switches"]
    done = [s["seconds"] for s in sw if s["seconds"] is not None]
    again = [s["seconds"] for s in sw if s["seconds"] is not None and not s["first_visit"]]
    first = [s["seconds"] for s in sw if s["seconds"] is not None and s["first_visit"]]
    pct = lambda xs, q: round(percentile(xs, q), 4) if xs else None  # noqa: E731
    return {
        "model": model, "open_model_s": doc["open_model_s"], "switches": len(sw),
        "model_loaded_s": doc.get("model_loaded_s"),
        "fleet_loaded_first": doc.get("fleet_loaded_first"),
        "highlighted_before_open": doc.get("model_highlighted_before_open"),
        "timed_out": sum(1 for s in sw if s["seconds"] is None), "timeout_s": panel_timeout,
        "p50_s": pct(done, 50), "p95_s": pct(done, 95), "revisit_p50_s": pct(again, 50),
        "revisit_p95_s": pct(again, 95), "first_visit_p50_s": pct(first, 50), "first_visit_p95_s": pct(first, 95),
        "all": sw, "max_rss_mb": round(m.max_rss_mb, 1),
        "what": "after the fleet has loaded, the cursor on the model's row and enter (as a user opens it), "
                "then the keys 2..6, 1 at once for each round; key press → the panel's data painted and the "
                "screen refreshed (in-process); analytics cache deleted before the process",
    }


def bench_explain(reps: int) -> dict[str, Any]:
    """Issue 16's figure: SHAP explanations of 1,000 logged predictions of the sample's credit-risk
    v3 (``bench_explain``, its own process on a fresh copy of the sample workspace)."""
    m = run_measured([PY, "-m", "tests.benchmarks.bench_explain", "--json", "--reps", str(reps)],
                     cwd=REPO, timeout=900).check()
    doc = m.json()
    log(f"explain {doc['rows']} predictions: cold {doc['cold_s']}, warm {doc['warm_s']}")
    return {"rows": doc["rows"], "method": doc["method"], "cold_s": summary(doc["cold_s"]),
            "warm_s": summary(doc["warm_s"]), "one_request_ms": round(doc["one_request_s"] * 1000, 1),
            "max_additivity_error": doc["max_additivity_error"], "max_rss_mb": round(m.max_rss_mb, 1),
            "what": "explain_rows(credit-risk v3, its latest 1,000 logged predictions) in-process on an "
                    "ingested copy of the sample workspace: cold = artifact and reference loaded, trees "
                    "converted, then the 1,000 explained; warm = the same 1,000 again; additivity checked "
                    "on every row"}


def bench_spark(big: Path, reps: int) -> dict[str, Any]:
    """Issue 17's figure: the big workspace's prediction logs profiled as a lake by the local
    engine and by Spark ``local[2]`` (``bench_spark``: whole processes, summed RSS of each
    process tree), and the two tables compared (exact outside the sketch, sketches within bound)."""
    from console.profiles.spark import missing_requirement
    from tests.benchmarks import bench_spark as bs

    why = missing_requirement()
    if why is not None:
        log(f"spark: not measured: {why}")
        return {"skipped": why}
    doc = bs.bench(big, reps=reps, master="local[2]", timeout=5400)
    doc["rows"] = json.loads((big / "meta.json").read_text())["rows"]
    return doc


def sample_workspace(out: Path) -> Path:
    """A copy of the bundled sample workspace (issue 6's first-paint target), ingested once."""
    ws = out / "data" / "sample"
    if not (ws / "console.toml").is_file():
        shutil.copytree(REPO / "sample_data", ws, ignore=shutil.ignore_patterns(".console"))
    ensure_ingested(ws)
    return ws


# -- targets ------------------------------------------------------------------------------------


def verdicts(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of issues 3, 4 and 6 with the measured figure and met / missed."""
    T = TARGETS
    rows: list[dict[str, Any]] = []
    size = _size(res["parameters"]["rows"])

    def add(target: str, figure: str, met: bool | None, issue: str, status: str | None = None) -> None:
        rows.append({"target": target, "measured": figure, "status": status or ("not measured" if met is None
                     else ("met" if met else "missed")), "issue": issue})

    s = res["sections"]
    ing = s.get("ingest") or {}
    for fmt, key in (("jsonl", "ingest_jsonl_rps"), ("parquet", "ingest_parquet_rps")):
        f = (ing.get("formats") or {}).get(fmt)
        if f:
            med = f["records_per_s"]["median"]
            add(f"{fmt.upper()} ingest ≥ {T[key]:,} records/s", f"{med:,.0f} records/s", med >= T[key], "3.10")
        else:
            add(f"{fmt.upper()} ingest ≥ {T[key]:,} records/s", "–", None, "3.10")
    adopt = (ing.get("formats") or {}).get("parquet-adopt")
    key = "ingest_parquet_rps"
    for where, f in (("whole process", adopt), ("in process", (adopt or {}).get("in_process"))):
        if f and f.get("records_per_s"):
            med = f["records_per_s"]["median"]
            add(f"Parquet adopted in place ≥ {T[key]:,} records/s ({where})", f"{med:,.0f} records/s",
                med >= T[key], "17")
    big = ing.get("big_parquet_single_run")
    small_pq = (ing.get("formats") or {}).get("parquet")
    if big and small_pq and big.get("records"):
        ratio = big["max_rss_mb"] / small_pq["max_rss_mb"]["median"]
        times = big["records"] / small_pq["records"]
        add(f"ingest memory bounded by batch size, not file size (peak RSS at {times:.0f}× the data ≤ 1.5×)",
            f"{small_pq['max_rss_mb']['median']:.0f} MiB → {big['max_rss_mb']:.0f} MiB ({ratio:.2f}×)",
            ratio <= 1.5, "3.10")
    bl = s.get("badlines") or {}
    bl_target = f"peak RSS ingesting {_size(bl.get('rows') or 8_000_000)} bad lines ≤ {T['bad_lines_rss_ratio']:g}× that of as many good ones"
    if bl.get("ratio") is not None:
        add(bl_target, f"{bl['good']['max_rss_mb']['median']:.0f} MiB good → {bl['bad']['max_rss_mb']['median']:.0f} "
            f"MiB bad ({bl['ratio']:.2f}×)", bl["ratio"] <= T["bad_lines_rss_ratio"], "bad input")
    else:
        add(bl_target, "–", None, "bad input")
    d = s.get("drift") or {}
    if d.get("speedup_compute") is not None:
        add(f"drift {_size(d['reference_rows'])} vs {_size(d['current_rows'])} rows ≥ {T['drift_speedup']:.0f}× "
            "faster than Evidently", f"{d['speedup_compute']:.1f}× (compute), {d['speedup_process']:.1f}× (whole process)",
            d["speedup_compute"] >= T["drift_speedup"], "4.10")
        add("drift peak memory ≤ ⅓ of Evidently's", f"{d['memory_fraction']:.2f} of Evidently's",
            d["memory_fraction"] <= T["drift_memory_fraction"], "4.10")
        a = d["agreement"]
        add("method, score and verdict agree with Evidently per feature", f"{a['agree']}/{a['features']} agree",
            a["all_agree"], "4.10 / docs/analytics.md, Drift")
    else:
        add(f"drift 1M vs 1M ≥ {T['drift_speedup']:.0f}× faster than Evidently", "–", None, "4.10")
    w = s.get("windows") or {}
    if w.get("first_s"):
        add(f"30 daily drift windows ({', '.join(w['models'])}: {w['rows']:,} rows of the big store) "
            f"< {T['windows_first_s']:g} s (first)",
            f"{w['first_s']['median']:.2f} s", w["first_s"]["median"] < T["windows_first_s"], "4.10")
        add(f"… cached < {T['windows_cached_s']:g} s", f"{w['cached_in_process_s']['median']:.3f} s in-process, "
            f"{w['cached_new_process_s']['median']:.3f} s new process",
            w["cached_in_process_s"]["median"] < T["windows_cached_s"], "4.10")
    else:
        add(f"30 daily drift windows < {T['windows_first_s']:g} s first, < {T['windows_cached_s']:g} s cached",
            "–", None, "4.10")
    perf = (s.get("reports") or {}).get("performance") or {}
    if perf.get("first_s"):
        add(f"30 daily performance windows (every model: {perf['rows']:,} rows) < {T['windows_first_s']:g} s (first)",
            f"{perf['first_s']['median']:.2f} s", perf["first_s"]["median"] < T["windows_first_s"], "4.10")
        add(f"… cached < {T['windows_cached_s']:g} s", f"{perf['cached_in_process_s']['median']:.3f} s in-process",
            perf["cached_in_process_s"]["median"] < T["windows_cached_s"], "4.10")
    t = s.get("tui") or {}
    ls = t.get("launch_sample") or {}
    if ls.get("first_paint_s", {}).get("median") is not None:
        add(f"first paint < {T['tui_first_paint_s']:g} s on the sample workspace",
            f"{ls['first_paint_s']['median']:.2f} s", ls["first_paint_s"]["median"] < T["tui_first_paint_s"], "6.12")
    else:
        add(f"first paint < {T['tui_first_paint_s']:g} s on the sample workspace", "–", None, "6.12")
    lb = t.get("launch_big") or {}
    if lb.get("populated_s", {}).get("median") is not None:
        warm = (t.get("launch_big_warm") or {}).get("populated_s") or {}
        add(f"fleet populated < {T['tui_populated_s']:g} s on {size}", f"{lb['populated_s']['median']:.2f} s cold"
            + (f", {warm['median']:.2f} s warm cache" if warm.get("median") is not None else ""),
            lb["populated_s"]["median"] < T["tui_populated_s"], "6.12")
    else:
        add(f"fleet populated < {T['tui_populated_s']:g} s on {size}", "–", None, "6.12")
    pb = t.get("panels_big") or {}
    if pb.get("p95_s") is not None:
        timed_out = pb.get("timed_out", 0)
        add(f"panel switch p95 < {T['tui_switch_p95_s'] * 1000:.0f} ms on {size}",
            f"{pb['p95_s'] * 1000:.0f} ms (slowest {max(s['seconds'] for s in pb['all'] if s['seconds'] is not None) * 1000:.0f} ms; "
            f"{pb['model']} opened from the fleet, where it was the highlighted row)"
            + (f" ({timed_out} switches timed out at {pb['timeout_s']:g} s)" if timed_out else ""),
            pb["p95_s"] < T["tui_switch_p95_s"] and not timed_out, "6.12")
        po = t.get("panels_big_not_highlighted") or {}
        if po.get("p95_s") is not None:
            add("… a model the fleet had not highlighted (nothing computed ahead)",
                f"{po['p95_s'] * 1000:.0f} ms (first visits p95 {po['first_visit_p95_s'] * 1000:.0f} ms, "
                f"revisits p95 {po['revisit_p95_s'] * 1000:.0f} ms)", None, "6.12", status="for reference")
    else:
        add(f"panel switch p95 < {T['tui_switch_p95_s'] * 1000:.0f} ms on {size}", "–", None, "6.12")
    ex = s.get("explain") or {}
    ex_target = f"1,000 explanations < {T['explain_1000_s']:g} s"
    if (ex.get("cold_s") or {}).get("median") is not None:
        add(ex_target, f"{ex['cold_s']['median']:.2f} s cold (slowest {ex['cold_s']['max']:.2f} s), "
            f"{ex['warm_s']['median']:.2f} s warm", ex["cold_s"]["max"] < T["explain_1000_s"], "16")
    else:
        add(ex_target, "–", None, "16")
    sp = s.get("spark") or {}
    sp_target = f"daily profiles of the {size} store: Spark local[2] beside the local engine, equal tables"
    if sp.get("engines"):
        e, q = sp["engines"], sp["equal"]
        same = q["exact_rows_equal"] and q["sketch_quantiles_within_bound"]
        add(sp_target, f"local {fmt_s(e['local']['wall_s']['median'])}, {e['local']['tree_peak_rss_mb']['median']:.0f} MiB; "
            f"Spark {fmt_s(e['spark']['wall_s']['median'])}, {e['spark']['tree_peak_rss_mb']['median']:.0f} MiB; "
            + ("identical" if q["identical"] else "equal within the sketch bound" if same else "NOT equal"),
            same, "17")
    else:
        add(sp_target, sp.get("skipped", "–"), None, "17")
    if "big100m" in (res["parameters"].get("sections") or ()):
        big_verdicts(s.get("big100m") or {}, add)
    if (res.get("total_seconds") is not None and not res.get("quick")
            and set(res["parameters"].get("sections") or SECTIONS) == set(SECTIONS)):  # not for --only
        gen = sum((res.get("data") or {}).get(k, {}).get("generated_seconds") or 0 for k in ("small", "big")
                  if not ((res.get("data") or {}).get(k) or {}).get("cached", True))
        add("`make bench` end to end < 30 min", f"{res['total_seconds'] / 60:.1f} min"
            + (f" (incl. {gen / 60:.1f} min generating data)" if gen else " (data cached from an earlier run)"),
            res["total_seconds"] < 1800, "7")
    return rows


def big_verdicts(b: dict[str, Any], add) -> None:
    """Issue 17's targets on the 100M store (``bench_big``): "–" for a step that did not run."""
    T = TARGETS
    st = b.get("steps") or {}
    size = _size(b.get("rows") or 100_000_000)
    ad = st.get("adopt") or {}
    add(f"{size}: Parquet adopted in place ≥ {T['big_adopt_rps']:,} records/s (whole process)",
        f"{ad['records_per_s']:,} records/s ({ad['records']:,} records in {ad['wall_s']:.0f} s)" if ad else "–",
        ad["records_per_s"] >= T["big_adopt_rps"] if ad else None, "17")
    rd = st.get("readers") or {}
    first, again = rd.get("trend_30d_profiles_first_s"), rd.get("trend_30d_profiles_again_s")
    add(f"{size}: 30 daily windows of drift from profiles < {T['big_trend_s']:g} s",
        f"{first:.2f} s first, {again:.2f} s cached ({rd.get('trend_windows')} windows, in-process)"
        if first is not None else "–", first < T["big_trend_s"] if first is not None else None, "17")
    lc = (st.get("tui") or {}).get("launch_cold") or {}
    fl = rd.get("fleet_profiles_first_s")
    if lc.get("populated_s") is not None:
        add(f"{size}: fleet populated < {T['big_fleet_s']:g} s", f"{lc['populated_s']:.2f} s in the TUI (cold cache)"
            + (f"; fleet from profiles {fl:.2f} s in-process" if fl is not None else ""),
            lc["populated_s"] < T["big_fleet_s"], "17")
    else:
        add(f"{size}: fleet populated < {T['big_fleet_s']:g} s",
            f"TUI –; fleet from profiles {fl:.2f} s in-process" if fl is not None else "–",
            fl < T["big_fleet_s"] if fl is not None else None, "17")
    peak = b.get("peak_rss_mb")
    worst = max(((k, v) for k, v in st.items() if isinstance(v, dict)),
                key=lambda kv: max(_rss_of(kv[1]), default=0), default=(None, None))[0]
    add(f"{size}: peak RSS < {T['big_rss_mb'] / 1024:g} GB in every step",
        f"{peak:,.0f} MiB ({worst})" if peak else "–", peak < T["big_rss_mb"] if peak else None, "17")


def _rss_of(step: dict[str, Any]) -> list[float]:
    return bench_big._rss_values(step)


def _size(n: int) -> str:
    """1M, 10M, 300k: a row count as the targets name it."""
    return f"{n / 1e6:.3g}M" if n >= 950_000 else f"{n / 1e3:.3g}k"


# -- the run ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small data (100k / 300k rows) to iterate on the harness")
    p.add_argument("--rows", type=int, help="predictions of the big workspace (default 10M; quick 300k)")
    p.add_argument("--small-rows", type=int, help="predictions of the ingest workspaces (default 1M; quick 100k)")
    p.add_argument("--bad-rows", type=int, help="lines of the bad-lines memory check, good and bad (default 8M; quick 200k)")
    p.add_argument("--reps", type=int, default=3, help="repetitions of each measurement (default 3)")
    p.add_argument("--ev-reps", type=int, help="repetitions of the Evidently run (default: 2 in a full run, else --reps)")
    p.add_argument("--window-models", default="all",
                   help="models whose 30 daily drift windows are timed (comma-separated, or 'all': the "
                        "default, every model, all rows of the big store as issue 4.10 asks)")
    p.add_argument("--budget-min", type=float, default=30.0,
                   help="time budget: after it, no section starts a third repetition (default 30)")
    p.add_argument("--only", help=f"comma-separated sections ({','.join(SECTIONS)}); default all; "
                   f"also {','.join(OPTIONAL_SECTIONS)} (not in the default run)")
    p.add_argument("--big-rows", type=int, default=bench_big.ROWS,
                   help="predictions of the big100m section's workspace (default 100M)")
    p.add_argument("--out", default=str(REPO / "bench-out"), metavar="DIR", help="output and data cache")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--regen", action="store_true", help="regenerate the workspaces even when cached")
    p.add_argument("--reingest", action="store_true",
                   help="rebuild the big store with the current ingester (timed: one run) even when cached")
    p.add_argument("--launch-timeout", type=float, default=60.0, help="TUI: give up waiting for the fleet after S")
    p.add_argument("--panel-timeout", type=float, default=30.0, help="TUI: give up on one panel switch after S")
    p.add_argument("--panel-rounds", type=int, default=2, help="TUI: rounds of the six tab keys (default 2)")
    p.add_argument("--spark-reps", type=int, default=1,
                   help="runs of each engine in the spark section (default 1: Spark takes minutes on 10M)")
    p.add_argument("--no-publish", action="store_true", help="do not write docs/benchmarks.*")
    p.add_argument("--render", metavar="JSON",
                   help="only re-render the markdown (and, unless --no-publish, docs/ and the README) from a "
                        "results file")
    a = p.parse_args(argv)
    if a.render:
        res = json.loads(Path(a.render).read_text())
        res["targets"] = verdicts(res)  # the verdicts as this version of the harness words them
        write(res, Path(a.out).resolve(), Path(a.render).stem, publish=not res.get("quick") and not a.no_publish)
        return 0
    rows = a.rows or (300_000 if a.quick else 10_000_000)
    small_rows = a.small_rows or (100_000 if a.quick else 1_000_000)
    bad_rows = a.bad_rows or (200_000 if a.quick else 8_000_000)
    ev_reps = a.ev_reps or (min(a.reps, 2) if not a.quick else a.reps)
    BUDGET.seconds = a.budget_min * 60
    window_models = [] if a.window_models == "all" else [m for m in a.window_models.split(",") if m]
    only = SECTIONS if not a.only else tuple(x.strip() for x in a.only.split(","))
    unknown = sorted(set(only) - set(SECTIONS) - set(OPTIONAL_SECTIONS))
    if unknown or a.reps < 2:
        print(f"bench: {'unknown section ' + unknown[0] if unknown else '--reps must be at least 2'}",
              file=sys.stderr)
        return 2
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = BUDGET.started = time.perf_counter()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    res: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "quick": a.quick,
        "machine": machine_info(), "parameters": {"rows": rows, "small_rows": small_rows, "bad_rows": bad_rows,
                                                  "reps": a.reps,
                                                  "ev_reps": ev_reps, "seed": a.seed, "sections": list(only),
                                                  "budget_min": a.budget_min, "window_models": a.window_models},
        "command": "make bench  (= .venv/bin/python -m tests.benchmarks.run "
                   + " ".join(sys.argv[1:] if argv is None else argv) + ")",
        "sections": {}, "errors": {},
    }
    snapshot_load("start", res)
    log(f"machine: {res['machine']['cpu']}, {res['machine']['cores']} cores; load {loadavg()}")

    def section(name: str, fn, *args) -> None:
        if name not in only:
            return
        t = time.perf_counter()
        log(f"== {name}")
        try:
            res["sections"][name] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others
            res["errors"][name] = f"{type(exc).__name__}: {exc}"
            log(f"{name} FAILED: {exc}")
            traceback.print_exc()
        res.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t, 1)
        snapshot_load(name, res)
        write(res, out, stamp, publish=False)

    t = time.perf_counter()
    small_root, small_meta = (ensure_workspace(out, small_rows, "both", a.seed, regen=a.regen)
                              if "ingest" in only else (None, None))
    big, big_meta, big_ingest = None, None, {}
    if set(only) - {"badlines", "explain", "big100m"}:  # every other section reads the big store
        big, big_meta = ensure_workspace(out, rows, "parquet", a.seed, regen=a.regen)
    if set(only) - {"badlines", "explain", "spark", "big100m"}:  # … and its ingested store
        big_ingest = ensure_ingested(big, again=a.reingest)
    res["data"] = {"small": small_meta, "big": big_meta, "big_ingest": big_ingest,
                   "seconds": round(time.perf_counter() - t, 1)}
    section("ingest", bench_ingest, small_root, big, big_ingest, a.reps)
    section("badlines", bench_bad_lines, out, bad_rows, a.reps)
    section("drift", bench_drift, big, a.reps, ev_reps, out / "work")
    section("windows", bench_windows, big, a.reps, 900.0, window_models)
    section("reports", bench_reports, big, a.reps, 900.0)
    sample = sample_workspace(out) if "tui" in only else None
    section("tui", bench_tui, big, sample, a.reps, a.launch_timeout, a.panel_rounds, a.panel_timeout)
    section("explain", bench_explain, a.reps)
    section("spark", bench_spark, big, a.spark_reps)
    section("big100m", bench_big.run_section, out, a.big_rows, a.launch_timeout * 5, 2, a.panel_timeout)
    res["budget_cuts"] = BUDGET.cut
    res["total_seconds"] = round(time.perf_counter() - started, 1)
    res["targets"] = verdicts(res)
    res["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    snapshot_load("end", res)
    write(res, out, stamp, publish=not a.quick and not a.no_publish)
    log(f"done in {res['total_seconds']:.0f} s: {out / 'latest.md'}")
    return 1 if res["errors"] else 0


def write(res: dict[str, Any], out: Path, stamp: str, publish: bool) -> None:
    text = json.dumps(res, indent=2, default=str)
    try:
        md = report.markdown(res)
    except Exception as exc:  # noqa: BLE001 - the JSON must survive a rendering bug
        traceback.print_exc()
        md = f"# Benchmarks\n\n(the markdown could not be rendered: {type(exc).__name__}: {exc}; see the JSON)\n"
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    for target in (results / f"{stamp}.json", out / "latest.json"):
        target.write_text(text)
    for target in (results / f"{stamp}.md", out / "latest.md"):
        target.write_text(md)
    if publish:
        (REPO / "docs" / "benchmarks.json").write_text(text)
        (REPO / "docs" / "benchmarks.md").write_text(md)
        readme = REPO / "README.md"
        if readme.is_file():
            readme.write_text(report.replace_readme_section(readme.read_text(), report.readme_section(res)))


if __name__ == "__main__":
    sys.exit(main())
