"""Analytics benchmark (not run by CI): drift speed, memory and parity against Evidently, and
windowed performance over many rows, first time and cached.

    python -m tests.benchmarks.bench_analytics                      # full sizes (1M vs 1M, 10M)
    python -m tests.benchmarks.bench_analytics --drift-rows 200000 --window-rows 1000000
    python -m tests.benchmarks.bench_analytics --json               # one JSON document

Targets (issue 4):
- exact drift of 20 features, 1M reference rows vs 1M current rows, ≥ 30× faster than
  Evidently 0.7's ``DataDriftPreset`` on the same data, with ≤ 1/3 of its peak memory;
- 30 daily windows over 10M rows: < 5 s the first time, < 0.5 s cached.

Method: the data are seeded and written as prediction-log Parquet files into a fresh workspace, ingested
with ``mlops-console ingest`` (not timed). Our side is one whole ``mlops-console`` process
(start-up, reading the reference file, scanning the store, all statistics) — wall time and its
own peak RSS from ``wait4``. Evidently runs in its own interpreter (``--evidently-python``,
default ``.bench-venv/evidently/bin/python``) on pandas frames of the same rows; its time is
``Report.run`` alone (loading excluded, which favours Evidently) and its memory the process's
peak RSS. Parity: every feature's method and score are compared with Evidently's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.benchmarks.common import CONSOLE, REPO, loadavg, run_measured, summary

NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
CARD = [3, 5, 8, 12, 30]
T0 = dt.datetime(2026, 10, 23, tzinfo=dt.UTC)

EVIDENTLY_SCRIPT = textwrap.dedent("""\
    import json, sys, time
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset
    ref_path, cur_path, num, cat = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
    ref = pd.read_parquet(ref_path, columns=num + cat)
    cur = pd.read_parquet(cur_path, columns=num + cat)
    dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
    r, c = Dataset.from_pandas(ref, data_definition=dd), Dataset.from_pandas(cur, data_definition=dd)
    t, tc = time.perf_counter(), time.process_time()
    snap = Report([DataDriftPreset()]).run(current_data=c, reference_data=r)
    run_s, run_cpu_s = time.perf_counter() - t, time.process_time() - tc
    out = {}
    for m in snap.dict()["metrics"]:
        name = str(m.get("metric_name") or "")
        if name.startswith("ValueDrift(column="):
            col = name.split("column=", 1)[1].split(",", 1)[0]
            out[col] = {"method": name.split("method=", 1)[1].rsplit(",threshold", 1)[0], "score": m["value"]}
    print(json.dumps({"run_s": run_s, "run_cpu_s": run_cpu_s, "features": out}))
""")
EV_METHOD = {"K-S p_value": "ks", "chi-square p_value": "chisquare", "Z-test p_value": "z",
             "Wasserstein distance (normed)": "wasserstein", "Jensen-Shannon distance": "jensenshannon"}


def log(msg: str) -> None:
    print(f"[bench_analytics] {msg}", file=sys.stderr, flush=True)


def workspace(root: Path, extra: str = "") -> Path:
    for d in ("logs", "labels", "registry/bench", "reference"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "console.toml").write_text(textwrap.dedent("""\
        [workspace]
        name = "bench-analytics"
        [sources]
        predictions = ["logs"]
        labels = ["labels"]
        registry = "registry"
        """) + extra)
    return root


def feature_columns(rng: np.random.Generator, n: int, shift: float) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        x = rng.normal(10 * i, 1 + i % 4, n) + (shift if i < 4 else 0.0)
        if i % 5 == 4:
            x = np.round(x, 1)  # ties
        cols[name] = x
    for i, name in enumerate(CATEGORICAL):
        k = CARD[i] + (1 if shift and i == 0 else 0)
        p = np.arange(1, k + 1, dtype=float)
        cols[name] = pa.array(np.array([f"v{j}" for j in range(k)])[rng.choice(k, n, p=p / p.sum())])
    return cols


def records(n: int, start: dt.datetime, days: int, rng: np.random.Generator, shift: float,
            prefix: str, label_share: float = 0.5) -> pa.Table:
    ts = np.sort(rng.integers(0, days * 86400 * 1_000_000, n)) + int(start.timestamp() * 1_000_000)
    score = rng.random(n)
    y = (rng.random(n) < score).astype(np.int64)
    labelled = rng.random(n) < label_share
    cols: dict[str, Any] = {
        "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        "model": pa.array(np.full(n, "bench")), "version": pa.array(np.full(n, "1")),
        "request_id": pa.array(np.char.add(prefix, np.arange(n).astype(str))),
        "prediction": pa.array((score >= 0.5).astype(np.int64)), "score": pa.array(score),
        "label": pa.array(np.where(labelled, y, 0), mask=~labelled),
        "latency_ms": pa.array(rng.gamma(3, 15, n)),
    }
    cols.update(feature_columns(rng, n, shift))
    return pa.table(cols)


def write_chunks(path_dir: Path, name: str, n: int, chunk: int, **kw) -> None:
    rng = np.random.default_rng(kw.pop("seed"))
    done = 0
    i = 0
    while done < n:
        m = min(chunk, n - done)
        pq.write_table(records(m, rng=rng, prefix=f"{name}{i}-", **kw), path_dir / f"{name}-{i:03d}.parquet")
        done += m
        i += 1


def registry(ws: Path, reference: str | None) -> None:
    doc = {"model": "bench", "version": "1", "task": "binary", "stage": "production", "positive_label": 1,
           "threshold": 0.5, "features": {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical")},
           "metrics": {"accuracy": 0.75, "roc_auc": 0.83}}
    if reference:
        doc["reference"] = reference
    (ws / "registry" / "bench" / "1.json").write_text(json.dumps(doc))


def ingest(ws: Path) -> dict[str, Any]:
    m = run_measured([CONSOLE, "ingest", "--workspace", str(ws), "--format", "json"]).check()
    return {"seconds": round(m.wall_s, 2), "max_rss_mb": round(m.max_rss_mb, 1), **m.json()}


def clear_cache(ws: Path, keep_reference: bool = False) -> None:
    """Drop the analytics cache (keeping the Parquet copy of reference files when asked)."""
    root = ws / ".console" / "cache"
    if not keep_reference:
        shutil.rmtree(root, ignore_errors=True)
        return
    for p in (root / "analytics").glob("*"):
        if p.name != "reference":
            shutil.rmtree(p, ignore_errors=True)


# -- drift ------------------------------------------------------------------------------------


def bench_drift(out: Path, rows: int, repeat: int, evidently_python: Path | None) -> dict[str, Any]:
    ws = workspace(out / "drift")
    ref = records(rows, T0 - dt.timedelta(days=30), 30, np.random.default_rng(1), 0.0, "r", 1.0)
    pq.write_table(ref, ws / "reference" / "bench-1.parquet")
    cur = records(rows, T0, 30, np.random.default_rng(2), 0.3, "c")
    pq.write_table(cur, ws / "logs" / "current.parquet")
    registry(ws, "reference/bench-1.parquet")
    log(f"drift: ingesting {rows:,} current rows")
    ing = ingest(ws)
    argv = [CONSOLE, "drift", "--workspace", str(ws), "--model", "bench", "--no-multivariate", "--format", "json"]
    walls, cpus, rss = [], [], []
    report = None
    # the very first run parses the reference file (read_records) and keeps a Parquet copy
    clear_cache(ws)
    m = run_measured(argv).check()
    first = {"wall_s": round(m.wall_s, 3), "cpu_s": round(m.user_s + m.sys_s, 3), "max_rss_mb": round(m.max_rss_mb, 1)}
    for _ in range(repeat):
        clear_cache(ws, keep_reference=True)
        m = run_measured(argv).check()
        walls.append(m.wall_s)
        cpus.append(m.user_s + m.sys_s)
        rss.append(m.max_rss_mb)
        report = m.json()
    result: dict[str, Any] = {"rows": {"reference": rows, "current": rows}, "features": 20, "ingest": ing,
                              "ours": {"wall_s": summary(walls), "cpu_s": summary(cpus), "max_rss_mb": summary(rss),
                                       "first_run_parsing_reference": first}}
    m = run_measured(argv).check()
    result["ours"]["cached_wall_s"] = round(m.wall_s, 3)
    if evidently_python is None or not evidently_python.exists():
        result["evidently"] = "not run: no Evidently interpreter (pass --evidently-python)"
        return result
    script = out / "evidently_drift.py"
    script.write_text(EVIDENTLY_SCRIPT)
    ev_walls, ev_cpus, ev_rss = [], [], []
    ev = None
    for _ in range(repeat):
        m = run_measured([str(evidently_python), str(script), str(ws / "reference" / "bench-1.parquet"),
                          str(ws / "logs" / "current.parquet"), ",".join(NUMERIC), ",".join(CATEGORICAL)]).check()
        ev = m.json()
        ev_walls.append(ev["run_s"])
        ev_cpus.append(ev["run_cpu_s"])
        ev_rss.append(m.max_rss_mb)
    ours = {f["feature"]: f for f in report["features"]}
    parity = []
    for col, e in ev["features"].items():
        o = ours[col]
        if o["score"] is None or e["score"] is None:
            parity.append({"feature": col, "method": o["method"], "evidently_method": e["method"],
                           "score": o["score"], "evidently_score": e["score"], "rel_diff": float("inf")})
            continue
        rel = abs(o["score"] - e["score"]) / max(abs(e["score"]), 1e-300)
        parity.append({"feature": col, "method": o["method"], "evidently_method": EV_METHOD.get(e["method"], e["method"]),
                       "score": o["score"], "evidently_score": e["score"], "rel_diff": rel})
    result["evidently"] = {"run_s": summary(ev_walls), "run_cpu_s": summary(ev_cpus), "max_rss_mb": summary(ev_rss)}
    med_ours, med_ev = summary(walls)["median"], summary(ev_walls)["median"]
    result["speedup"] = round(med_ev / med_ours, 2)
    result["speedup_cpu"] = round(summary(ev_cpus)["median"] / summary(cpus)["median"], 2)
    result["memory_ratio"] = round(summary(rss)["median"] / summary(ev_rss)["median"], 3)
    result["parity"] = {"max_rel_diff": max(p["rel_diff"] for p in parity),
                        "same_methods": all(p["method"] == p["evidently_method"] for p in parity),
                        "features": parity}
    result["targets"] = {"speedup_ge_30": result["speedup"] >= 30, "memory_le_one_third": result["memory_ratio"] <= 1 / 3}
    return result


# -- windows ----------------------------------------------------------------------------------


def bench_windows(out: Path, rows: int, repeat: int, existing: Path | None = None) -> dict[str, Any]:
    """One model with ``rows`` rows over 30 days (or every model of an ``existing`` ingested
    workspace, e.g. a copy of ``samplegen --profile bench --rows 10000000``)."""
    if existing is not None:
        ws, ing = existing, "existing workspace (already ingested)"
        models = json.loads(run_measured([CONSOLE, "models", "--workspace", str(ws), "--format", "json"]).check().stdout)
        names = [m["model"] for m in models]
    else:
        ws = workspace(out / "windows")
        registry(ws, None)
        log(f"windows: writing {rows:,} rows over 30 days")
        write_chunks(ws / "logs", "p", rows, 1_000_000, start=T0, days=30, shift=0.0, seed=3)
        ing = ingest(ws)
        names = ["bench"]
    argv = [CONSOLE, "performance", "--workspace", str(ws), "--model", names[0], "--window", "1d", "--format", "json"]
    first, cached, rss = [], [], []
    rep = None
    for _ in range(repeat):
        clear_cache(ws)
        m = run_measured(argv).check()
        first.append(m.wall_s)
        rss.append(m.max_rss_mb)
        rep = m.json()
        m2 = run_measured(argv).check()
        cached.append(m2.wall_s)
    # in-process (no interpreter start-up): the report function itself
    code = textwrap.dedent(f"""\
        import json, time, shutil
        from pathlib import Path
        from console.workspace import load_dir
        from console.store.db import open_store
        from console.analytics import performance_report
        ws = load_dir(Path({str(ws)!r}))
        shutil.rmtree(ws.store_dir / "cache", ignore_errors=True)
        names = {names!r}
        db = open_store(ws, production=dict.fromkeys(names, "1"))
        rows = 0
        t = time.perf_counter(); c = time.process_time()
        for n in names:
            rows += sum(w["rows"] for w in performance_report(db, n, window="1d")["windows"])
        a, ac = time.perf_counter() - t, time.process_time() - c
        t = time.perf_counter(); c = time.process_time()
        for n in names:
            performance_report(db, n, window="1d")
        b, bc = time.perf_counter() - t, time.process_time() - c
        print(json.dumps({{"rows": rows, "first_s": a, "first_cpu_s": ac, "cached_s": b, "cached_cpu_s": bc}}))
        """)
    inproc = {k: (round(v, 4) if isinstance(v, float) else v)
              for k, v in run_measured([sys.executable, "-c", code], cwd=REPO).check().json().items()}
    n_windows = len(rep["windows"])
    res = {"rows": inproc.pop("rows"), "models": names, "windows": n_windows, "ingest": ing,
           "process": {"first_s": summary(first), "cached_s": summary(cached), "max_rss_mb": summary(rss)},
           "in_process": inproc}
    res["targets"] = {"first_lt_5s": inproc["first_s"] < 5, "cached_lt_0_5s": inproc["cached_s"] < 0.5}
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drift-rows", type=int, default=1_000_000)
    p.add_argument("--window-rows", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="work directory (default: a temp dir, removed)")
    p.add_argument("--evidently-python", type=Path, default=REPO / ".bench-venv" / "evidently" / "bin" / "python")
    p.add_argument("--skip", choices=("drift", "windows"), action="append", default=[])
    p.add_argument("--windows-workspace", type=Path, default=None,
                   help="time the windows on this already-ingested workspace instead of generating one")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    tmp = None
    if a.out is None:
        tmp = tempfile.mkdtemp(prefix="bench-analytics-")
        out = Path(tmp)
    else:
        out = a.out
        out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"loadavg_before": loadavg()}
    try:
        if "drift" not in a.skip:
            result["drift"] = bench_drift(out, a.drift_rows, a.repeat, a.evidently_python)
        if "windows" not in a.skip:
            result["windows"] = bench_windows(out, a.window_rows, a.repeat, a.windows_workspace)
    finally:
        result["loadavg_after"] = loadavg()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        print(json.dumps(result, indent=2))
    else:
        for section in ("drift", "windows"):
            if section in result:
                r = dict(result[section])
                r.pop("parity", None) if section == "drift" and not a.json else None
                print(f"== {section}")
                print(json.dumps(r, indent=2))
        if "drift" in result and isinstance(result["drift"].get("parity"), dict):
            par = result["drift"]["parity"]
            print(f"parity with Evidently: max relative difference {par['max_rel_diff']:.2e}, "
                  f"same methods: {par['same_methods']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
