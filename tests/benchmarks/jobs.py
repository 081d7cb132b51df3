"""The benchmark's in-process jobs, each run as its own process by ``run.py`` (so the driver
measures the whole process — wall time and peak RSS — while the job times its own work with
``perf_counter`` and prints one JSON document):

    python -m tests.benchmarks.jobs raw     --ws W --fmt jsonl|parquet --mode count|table|copy
    python -m tests.benchmarks.jobs ingest  --ws W
    python -m tests.benchmarks.jobs drift11 --ws W --model M --ref START END --cur START END
    python -m tests.benchmarks.jobs export  --ws W --model M --ref START END --cur START END --out DIR
    python -m tests.benchmarks.jobs drift30 --ws W [--model M ...] [--repeat-cached K]
    python -m tests.benchmarks.jobs reports --ws W --kind performance|slices|estimate [--repeat-cached K]

``raw`` is the practical limit: DuckDB reading the same source files without any of our work
(``count``: ``count(*)``, which for Parquet is read from the footers; ``table``: parse every
column into an in-memory table; ``copy``: parse and write Parquet, what an ingester must at
least do).
The analytics jobs open the store the way the CLI does (production versions from governance
state) and call the public ``console.analytics`` functions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FIRST_DAY = dt.datetime(2026, 10, 23, tzinfo=dt.UTC)  # console.samplegen.bench.FIRST_DAY
DAYS = 30


def _t(s: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(s)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def open_db(ws_dir: Path):
    from console.governance.state import fleet_state
    from console.store.db import open_store
    from console.store.registry import load_registry
    from console.workspace import load_dir

    ws = load_dir(ws_dir)
    registry = load_registry(ws.registry, ws.root)
    state = fleet_state(ws, registry)
    return open_store(ws, stages=dict(state.stages), production=dict(state.production))


def job_raw(a) -> dict[str, Any]:
    import resource

    import duckdb

    ws = Path(a.ws)
    con = duckdb.connect()
    reader = "read_json_auto" if a.fmt == "jsonl" else "read_parquet"
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    total, started = 0, time.perf_counter()
    with tempfile.TemporaryDirectory(dir=ws) as tmp:
        for sub in ("logs", "labels"):
            glob = str(ws / sub / "**" / f"*.{a.fmt}")
            src = f"{reader}('{glob}', union_by_name = true)"
            if a.mode == "count":
                total += con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
            elif a.mode == "table":
                con.execute(f"CREATE OR REPLACE TABLE t_{sub} AS SELECT * FROM {src}")
                total += con.execute(f"SELECT count(*) FROM t_{sub}").fetchone()[0]
            else:
                target = Path(tmp) / f"{sub}.parquet"
                con.execute(f"COPY (SELECT * FROM {src}) TO '{target}' (FORMAT parquet)")
                total += con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
    seconds = time.perf_counter() - started
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"records": int(total), "seconds": seconds,
            "cpu_s": ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime}


def job_ingest(a) -> dict[str, Any]:
    """One ingest pass in this process on a deleted store (no interpreter start-up, no CLI):
    the ingester's own wall and CPU time (every thread), records (predictions + labels) and the
    files it adopted in place."""
    import shutil

    from console.ingest.engine import Ingester
    from console.store.checkpoint import read_checkpoint
    from console.workspace import load_dir

    ws = Path(a.ws)
    shutil.rmtree(ws / ".console", ignore_errors=True)
    import resource

    ing = Ingester(load_dir(ws))
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    r = ing.run_once(wait=60)
    seconds = time.perf_counter() - started
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    ing.close()
    adopted = len(read_checkpoint(ws / ".console" / "checkpoint.json").adopted)
    return {"records": r.predictions + r.labels, "predictions": r.predictions, "seconds": seconds,
            "cpu_s": cpu, "adopted_files": adopted}


def _drift_config():
    from console.analytics.config import AnalyticsConfig, DriftConfig

    # the 20 features only (no output drift, no domain classifier, no cache): what Evidently does
    return AnalyticsConfig(drift=DriftConfig(output=False), cache=False)


def job_drift11(a) -> dict[str, Any]:
    from console.analytics import drift_report

    started = time.perf_counter()
    db = open_db(Path(a.ws))
    opened = time.perf_counter()
    rep = drift_report(db, a.model, None, _t(a.cur[0]), _t(a.cur[1]), _t(a.ref[0]), _t(a.ref[1]),
                       config=_drift_config(), multivariate=False)
    done = time.perf_counter()
    feats = [{"feature": f["feature"], "kind": f["kind"], "method": f["method"], "score": f["score"],
              "threshold": f["threshold"], "drifted": f["drifted"]} for f in rep["features"]]
    return {"seconds": done - opened, "open_seconds": opened - started,
            "reference_rows": rep["reference"]["rows"], "current_rows": rep["current"]["rows"],
            "features": feats, "dataset_drift": rep["dataset_drift"]}


def job_export(a) -> dict[str, Any]:
    """The two frames of ``drift11`` as flat Parquet (feature columns only) for Evidently."""
    from console.analytics.source import model_features, naive
    from console.store.sql import ident

    db = open_db(Path(a.ws))
    version = db.production[a.model]
    feats = model_features(db, a.model, version)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ", ".join(f"{ident(c)} AS {ident(n)}" for n, c, _ in feats)
    cur = db.cursor()
    rows = {}
    for side, (s, e) in (("reference", a.ref), ("current", a.cur)):
        target = out / f"{side}.parquet"
        cur.execute(f"COPY (SELECT {cols} FROM predictions WHERE model = ? AND version = ? AND ts >= ? "
                    f"AND ts < ? ORDER BY ts, request_id) TO '{target}' (FORMAT parquet)",
                    [a.model, version, naive(_t(s)), naive(_t(e))])
        rows[side] = cur.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
    return {"rows": rows, "numeric": [n for n, _, k in feats if k == "numeric"],
            "categorical": [n for n, _, k in feats if k == "categorical"]}


def _daily_drift(db, models: list[str]) -> tuple[float, int]:
    """The 30 daily windows of each model with one ``drift_windows`` call per model (each window's
    report is what ``drift_report`` gives for that day, ``multivariate=False``)."""
    from console.analytics import drift_windows

    started, reports = time.perf_counter(), 0
    for model in models:
        rep = drift_windows(db, model, None, FIRST_DAY, FIRST_DAY + dt.timedelta(days=DAYS), "1d")
        reports += len(rep["windows"])
    return time.perf_counter() - started, reports


def _models(db, wanted: list[str] | None) -> list[str]:
    return wanted or sorted(m for m, v in (db.production or {}).items() if v)


def job_drift30(a) -> dict[str, Any]:
    """30 daily drift windows per model (``drift_windows``): the first pass (the caller cleared the
    cache), then the same again ``--repeat-cached`` times in this process (memory and disk cache
    warm)."""
    started = time.perf_counter()
    db = open_db(Path(a.ws))
    opened = time.perf_counter()
    models = _models(db, a.model)
    first, n = _daily_drift(db, models)
    cached = [_daily_drift(db, models)[0] for _ in range(a.repeat_cached)]
    rows = db.cursor().execute(
        "SELECT count(*) FROM predictions WHERE model IN (SELECT unnest(?)) AND ts >= ? AND ts < ?",
        [models, FIRST_DAY.replace(tzinfo=None), (FIRST_DAY + dt.timedelta(days=DAYS)).replace(tzinfo=None)],
    ).fetchone()[0]
    return {"open_seconds": opened - started, "first_seconds": first, "cached_seconds": cached,
            "reports": n, "models": models, "rows": int(rows)}


def _one_report(db, kind: str, models: list[str]) -> float:
    from console.analytics import estimate_report, performance_report, slices_report

    started = time.perf_counter()
    for model in models:
        if kind == "performance":
            performance_report(db, model, None, "1d")
        elif kind == "estimate":
            from console.analytics.performance import task_of

            if task_of(db, model, db.production.get(model) or "") in ("binary", "regression"):
                estimate_report(db, model, None, "1d")  # multiclass: no estimate (no class probabilities)
        else:
            slices_report(db, model)
    return time.perf_counter() - started


def job_reports(a) -> dict[str, Any]:
    started = time.perf_counter()
    db = open_db(Path(a.ws))
    opened = time.perf_counter()
    models = _models(db, a.model)
    first = _one_report(db, a.kind, models)
    cached = [_one_report(db, a.kind, models) for _ in range(a.repeat_cached)]
    rows = db.cursor().execute("SELECT count(*) FROM predictions WHERE model IN (SELECT unnest(?))",
                               [models]).fetchone()[0]
    return {"open_seconds": opened - started, "first_seconds": first, "cached_seconds": cached,
            "models": models, "rows": int(rows)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks.jobs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="job", required=True)
    r = sub.add_parser("raw")
    r.add_argument("--ws", required=True)
    r.add_argument("--fmt", choices=("jsonl", "parquet"), required=True)
    r.add_argument("--mode", choices=("count", "table", "copy"), required=True)
    i = sub.add_parser("ingest")
    i.add_argument("--ws", required=True)
    for name in ("drift11", "export"):
        d = sub.add_parser(name)
        d.add_argument("--ws", required=True)
        d.add_argument("--model", required=True)
        d.add_argument("--ref", nargs=2, required=True, metavar=("START", "END"))
        d.add_argument("--cur", nargs=2, required=True, metavar=("START", "END"))
        if name == "export":
            d.add_argument("--out", required=True)
    d = sub.add_parser("drift30")
    d.add_argument("--ws", required=True)
    d.add_argument("--model", action="append")
    d.add_argument("--repeat-cached", type=int, default=3)
    d = sub.add_parser("reports")
    d.add_argument("--ws", required=True)
    d.add_argument("--kind", choices=("performance", "slices", "estimate"), required=True)
    d.add_argument("--model", action="append")
    d.add_argument("--repeat-cached", type=int, default=3)
    a = p.parse_args(argv)
    fn = {"raw": job_raw, "ingest": job_ingest, "drift11": job_drift11, "export": job_export, "drift30": job_drift30,
          "reports": job_reports}[a.job]
    print(json.dumps(fn(a), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
