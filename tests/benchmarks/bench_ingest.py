"""Ingest benchmark (not run by CI): JSONL and Parquet records/s into the store, peak memory,
and the big crash test (SIGKILL at random moments, then finish: exactly the valid records).

    python -m tests.benchmarks.bench_ingest                # default sizes, table output
    python -m tests.benchmarks.bench_ingest --json          # one JSON document
    python -m tests.benchmarks.bench_ingest --jsonl-rows 2000000 --parquet-rows 10000000 --kills 10

Targets (issue 3): JSONL ≥ 300k records/s, Parquet ≥ 2M records/s on a 2-core machine, memory
bounded by batch size, not file size. Data is seeded; every run is in a fresh temp workspace.
The Parquet row also gives the floor: the same file read and written back as Parquet with
nothing else (``floor_*``), the least any ingester does with it on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MODELS = ["credit-risk", "churn", "fraud"]


def make_workspace(root: Path) -> Path:
    for d in ("logs", "labels", "registry"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "console.toml").write_text(textwrap.dedent("""\
        [workspace]
        name = "bench"
        [sources]
        predictions = ["logs"]
        labels = ["labels"]
        registry = "registry"
        """))
    return root


def arrow_records(n: int, seed: int, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = np.arange(start, start + n)
    ts = 1_762_000_000 + ids // 50
    return pa.table({
        "ts": pa.array((ts * 1_000_000).astype("datetime64[us]")),
        "model": pa.array(np.array(MODELS)[ids % len(MODELS)]),
        "version": pa.array(np.where(ids % 7 == 0, "2", "1")),
        "request_id": pa.array([f"req-{i:09d}" for i in ids]),
        "prediction": pa.array((rng.random(n) > 0.5).astype(np.int64)),
        "score": pa.array(rng.random(n)),
        "latency_ms": pa.array(rng.gamma(2.0, 20.0, n)),
        "cost_usd": pa.array(np.full(n, 0.00004)),
        "income": pa.array(rng.normal(50_000, 12_000, n)),
        "age": pa.array(rng.integers(18, 90, n)),
        "utilisation": pa.array(rng.random(n)),
        "region": pa.array(np.array(["eu", "us", "apac", "latam"])[rng.integers(0, 4, n)]),
        "channel": pa.array(np.array(["web", "app", "branch"])[rng.integers(0, 3, n)]),
    })


def write_jsonl(path: Path, n: int, seed: int, chunk: int = 200_000) -> int:
    """JSONL with nested features, written fast (no per-record Python json.dumps)."""
    import polars as pl

    size = 0
    with open(path, "wb") as fh:
        for start in range(0, n, chunk):
            t = arrow_records(min(chunk, n - start), seed + start, start)
            df = pl.from_arrow(t).with_columns(
                pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
                pl.struct("income", "age", "utilisation", "region", "channel").alias("features"),
            ).drop("income", "age", "utilisation", "region", "channel")
            data = df.write_ndjson().encode()
            fh.write(data)
            size += len(data)
    return size


def write_bad_jsonl(path: Path, n: int, seed: int, chunk: int = 200_000) -> int:
    """``n`` bad lines: the lines of ``write_jsonl`` each cut in half (not valid JSON), so every
    one is quarantined with up to 1 KiB of its text — the same line count as the good file."""
    import polars as pl

    tmp = path.with_name(path.name + ".good")
    size = 0
    with open(path, "wb") as fh:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            write_jsonl(tmp, m, seed + start)
            lines = pl.Series(tmp.read_bytes().decode().splitlines())
            # ids stay distinct across chunks: the generator numbers records from 0 in each call
            half = lines.str.slice(0, lines.str.len_chars() // 2).str.replace('"req-', f'"c{start}-req-', literal=True)
            data = ("\n".join(half.to_list()) + "\n").encode()
            fh.write(data)
            size += len(data)
    tmp.unlink()
    return size


def bench_bad_lines(rows: int, tmp: Path) -> dict:
    """Peak RSS of ingesting ``rows`` bad lines against ``rows`` good ones (target: ≤ 1.5×)."""
    good = make_workspace(tmp / "good-lines")
    bad = make_workspace(tmp / "bad-lines")
    write_jsonl(good / "logs" / "app.jsonl", rows, seed=1)
    write_bad_jsonl(bad / "logs" / "app.jsonl", rows, seed=1)
    g, gs, grss, _ = timed_ingest(good)
    b, bs, brss, _ = timed_ingest(bad)
    assert g["predictions"] == rows and b["quarantined"] == rows, (g, b)
    return {"format": "bad-lines", "rows": rows, "good_peak_rss_mb": round(grss), "bad_peak_rss_mb": round(brss),
            "ratio": round(brss / grss, 2), "good_seconds": round(gs, 1), "bad_seconds": round(bs, 1),
            "ok": brss <= 1.5 * grss}


def timed_ingest(ws: Path) -> tuple[dict, float, float, float]:
    """One ingest pass in a child process: (result, wall seconds, peak RSS MB, CPU seconds)."""
    code = textwrap.dedent(f"""
        import json, resource, sys, time
        from pathlib import Path
        from console.ingest.engine import Ingester
        from console.workspace import load_dir
        ing = Ingester(load_dir(Path({str(ws)!r})))
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = ru0.ru_utime + ru0.ru_stime
        t = time.perf_counter()
        r = ing.run_once(wait=60)
        dt = time.perf_counter() - t
        ru = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({{"result": r.as_dict(), "seconds": dt, "rss_mb": ru.ru_maxrss / 1024,
                          "cpu_s": ru.ru_utime + ru.ru_stime - cpu0}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    return doc["result"], doc["seconds"], doc["rss_mb"], doc["cpu_s"]


def bench_jsonl(rows: int, tmp: Path) -> dict:
    ws = make_workspace(tmp / "jsonl")
    size = write_jsonl(ws / "logs" / "app.jsonl", rows, seed=1)
    result, secs, rss, cpu = timed_ingest(ws)
    assert result["predictions"] == rows, result
    return {"format": "jsonl", "rows": rows, "mb": round(size / 2**20, 1), "bytes_per_record": round(size / rows),
            "seconds": round(secs, 2), "records_per_s": round(rows / secs), "cpu_seconds": round(cpu, 2),
            "records_per_cpu_s": round(rows / cpu), "peak_rss_mb": round(rss), "target_records_per_s": 300_000,
            "loadavg_1m": round(os.getloadavg()[0], 1)}


def bench_parquet(rows: int, tmp: Path) -> dict:
    ws = make_workspace(tmp / "parquet")
    chunk = 1_000_000
    with pq.ParquetWriter(ws / "logs" / "app.parquet", arrow_records(1, 0).schema) as w:
        for start in range(0, rows, chunk):
            w.write_table(arrow_records(min(chunk, rows - start), start, start))
    result, secs, rss, cpu = timed_ingest(ws)
    assert result["predictions"] == rows, result
    floor = parquet_floor(ws / "logs" / "app.parquet", ws.parent / "floor")
    return {"format": "parquet", "rows": rows, "mb": round((ws / "logs" / "app.parquet").stat().st_size / 2**20, 1),
            "seconds": round(secs, 2), "records_per_s": round(rows / secs), "cpu_seconds": round(cpu, 2),
            "records_per_cpu_s": round(rows / cpu), "peak_rss_mb": round(rss), "target_records_per_s": 2_000_000,
            "floor_read_write_seconds": round(floor, 2), "floor_records_per_s": round(rows / floor),
            "loadavg_1m": round(os.getloadavg()[0], 1)}


def parquet_floor(src: Path, out: Path) -> float:
    """The least any ingester does with a Parquet source: read every record and write it again
    as Parquet (pyarrow read by row group, polars lz4 write, two at a time; no validation, no
    dedupe, no fsync). Seconds in-process, in a child, like ``timed_ingest``."""
    out.mkdir(parents=True, exist_ok=True)
    code = textwrap.dedent(f"""
        import time
        from concurrent.futures import ThreadPoolExecutor
        import polars as pl, pyarrow.parquet as pq
        def one(i):
            tbl = pq.ParquetFile({str(src)!r}).read_row_group(i)
            pl.from_arrow(tbl).write_parquet({str(out)!r} + f"/{{i}}.parquet", compression="lz4", statistics=True)
        t = time.perf_counter()
        with ThreadPoolExecutor(2) as ex:
            list(ex.map(one, range(pq.ParquetFile({str(src)!r}).num_row_groups)))
        print(time.perf_counter() - t)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


KILL_CHILD = """
import sys
from pathlib import Path
from console.ingest.engine import Ingester
from console.workspace import load_dir
ing = Ingester(load_dir(Path(sys.argv[1])), batch_rows=int(sys.argv[2]), read_bytes=1 << 20)
print("ready", flush=True)
ing.run_once(wait=120)
"""


def bench_kills(rows: int, kills: int, tmp: Path, seed: int = 5) -> dict:
    """The big crash test: SIGKILL at random moments ``kills`` times, then finish."""
    ws = make_workspace(tmp / "kill")
    rnd = random.Random(seed)
    per_file = rows // 4
    for f in range(4):
        write_jsonl(ws / "logs" / f"f{f}.jsonl", per_file, seed=f, chunk=100_000)
        with open(ws / "logs" / f"f{f}.jsonl", "ab") as fh:
            fh.write(b"{broken\n" * 10)
    # the same ids in every file: files 1..3 are all duplicates of file 0
    # How long one whole ingest takes here (on a copy): every kill lands at a random moment
    # within the first 1/(kills+1) of it, so together they stop the work about half-way and
    # each one kills a running ingester, however fast it and the machine are.
    calib = tmp / "kill-calibration"
    shutil.copytree(ws, calib)
    p = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(calib), "50000"], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    assert p.wait() == 0
    whole = time.perf_counter() - t0
    shutil.rmtree(calib, ignore_errors=True)
    killed = 0
    for _ in range(kills):
        p = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(ws), "50000"], stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        time.sleep(rnd.uniform(0.0, whole / (kills + 1)))
        p.send_signal(signal.SIGKILL)
        killed += p.wait() == -signal.SIGKILL
    subprocess.run([sys.executable, "-c", KILL_CHILD, str(ws), "50000"], check=True, capture_output=True)
    from console.store.db import open_store
    from console.workspace import load_dir

    db = open_store(load_dir(ws))
    total, distinct = db.cursor().execute(
        "SELECT count(*), count(DISTINCT (model, version, request_id)) FROM predictions").fetchone()
    quarantined = db.cursor().execute("SELECT count(*) FROM quarantine").fetchone()[0]
    dups = db.cursor().execute("SELECT sum(duplicates) FROM ingest_status").fetchone()[0]
    ok = total == distinct == per_file and quarantined == 40 and dups == 3 * per_file
    return {"format": "kill-test", "rows": rows, "kills": kills, "killed_mid_run": killed,
            "whole_run_s": round(whole, 2), "stored": total,
            "distinct": distinct, "expected": per_file, "quarantined": quarantined, "duplicates": dups, "ok": ok}


def bench_keyset(n: int, tmp: Path) -> dict:
    """Dedupe at scale: load ``n`` stored keys from parts, then check and add a 500k batch."""
    from console.store.keys import KeySet

    folder = tmp / "keys"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    paths = []
    per = 500_000
    for i in range(0, n, per):
        keys = rng.integers(0, 2**63, min(per, n - i), dtype=np.uint64)
        p = folder / f"b{i // per + 1}-0.parquet"
        pq.write_table(pa.table({"_key": keys}), p)
        paths.append(p)
    ks = KeySet()
    t = time.perf_counter()
    ks.load_parts(paths)
    load_s = time.perf_counter() - t
    batch = rng.integers(0, 2**63, 500_000, dtype=np.uint64)
    t = time.perf_counter()
    found = ks.contains(batch)
    ks.add(batch[~found])
    check_s = time.perf_counter() - t
    from console.store.keys import HASHER, load_index, save_index

    save_index(folder / "idx", ks, 1, "bench", HASHER)
    t = time.perf_counter()
    arr, _ = load_index(folder / "idx", 1, "bench", HASHER)
    ks2 = KeySet()
    ks2.add_sorted_run(arr)
    found2 = ks2.contains(batch)
    index_s = time.perf_counter() - t
    assert found2.all()
    return {"format": "keyset", "stored_keys": n, "load_from_parts_seconds": round(load_s, 2),
            "load_from_saved_index_and_check_500k_seconds": round(index_s, 2),
            "check_and_add_500k_seconds": round(check_s, 3), "keys_in_set": len(ks),
            "approx_mb": round(len(ks) * 8 / 2**20)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jsonl-rows", type=int, default=1_000_000)
    ap.add_argument("--parquet-rows", type=int, default=5_000_000)
    ap.add_argument("--kill-rows", type=int, default=800_000)
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--keys", type=int, default=10_000_000, help="stored keys for the dedupe-at-scale check")
    ap.add_argument("--bad-rows", type=int, default=0, help="peak RSS of this many bad lines against as many good")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp workspaces")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    results = []
    try:
        if args.jsonl_rows:
            results.append(bench_jsonl(args.jsonl_rows, tmp))
        if args.parquet_rows:
            results.append(bench_parquet(args.parquet_rows, tmp))
        if args.keys:
            results.append(bench_keyset(args.keys, tmp))
        if args.kills:
            results.append(bench_kills(args.kill_rows, args.kills, tmp))
        if args.bad_rows:
            results.append(bench_bad_lines(args.bad_rows, tmp))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    doc = {"benchmark": "ingest", "cpus": os.cpu_count(), "results": results}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for r in results:
            print("  ".join(f"{k}={v}" for k, v in r.items()))
    return 0 if all(r.get("ok", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
