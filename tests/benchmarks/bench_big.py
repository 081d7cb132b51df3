"""The 100M section (``run.py --only big100m``; not in the default run, it takes most of an hour
on 2 shared cores): a 100M-prediction Parquet workspace of the bench profile (3 models, 20
features, 30 days; ``python -m console.samplegen --profile bench``, vectorised, cached under
``bench-out/data/`` like the others), adopted in place (``[ingest] adopt_parquet = true``
appended to its own ``console.toml``: the files are never copied), then, each step its own
process with its own peak RSS from ``os.wait4``:

- ``adopt`` — ``mlops-console ingest`` on a deleted store: records (predictions + labels) / s;
- ``profile`` — ``mlops-console profile`` on deleted profiles: every model-day's profile;
- ``readers`` — in one process (``python -m tests.benchmarks.bench_big readers``): 30 daily
  windows of ``bench-binary``'s trend with drift from profiles (first: the reference read; then
  cached), and the fleet overview from profiles (first and again);
- ``trend_cli`` / ``fleet_cli`` — the same as whole ``mlops-console trend`` / ``fleet`` processes;
- ``check_cli`` — ``mlops-console check`` on a cold analytics cache (its drift and data-quality
  rules from the profiles; the alerts' ``evidence.source`` listed);
- ``tui`` — Pilot (``tui_jobs``): launch → fleet populated (cold analytics cache), and the
  panel switches of ``bench-binary``.

Targets (issue 17): adoption ≥ 2M records/s, the 30 daily windows from profiles < 2 s, the
fleet < 1.5 s, peak RSS < 2 GB in every step. Run alone:

    .venv/bin/python -m tests.benchmarks.bench_big --out bench-out          # prints the JSON
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.common import CONSOLE, REPO, loadavg, log, run_measured
from tests.benchmarks.data import clear_analytics_cache, ensure_workspace

ROWS = 100_000_000
MODEL = "bench-binary"
ADOPT = "\n[ingest]\nadopt_parquet = true\n"


def adopt_in_place(ws: Path) -> Path:
    """The generated workspace itself with ``adopt_parquet = true`` (appended once)."""
    toml = ws / "console.toml"
    text = toml.read_text(encoding="utf-8")
    if "adopt_parquet" not in text:
        toml.write_text(text + ADOPT, encoding="utf-8")
    return ws


def _cli(ws: Path, *args: str, timeout: float | None = None):
    return run_measured([CONSOLE, *args, "--workspace", str(ws), "--format", "json"], cwd=ws, timeout=timeout).check()


def _step(m, **extra: Any) -> dict[str, Any]:
    return {"wall_s": round(m.wall_s, 3), "max_rss_mb": round(m.max_rss_mb, 1),
            "cpu_s": round(m.user_s + m.sys_s, 1), "loadavg": loadavg(), **extra}


def run_section(out: Path, rows: int = ROWS, launch_timeout: float = 600.0, panel_rounds: int = 2,
                panel_timeout: float = 60.0, steps: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Every step above; a step that fails is recorded and the next ones still run."""
    t = time.perf_counter()
    ws, meta = ensure_workspace(out, rows, "parquet")
    res: dict[str, Any] = {"rows": rows, "workspace": ws.name, "data": {
        "cached": bool(meta.get("cached")), "generated_seconds": meta.get("generated_seconds"),
        "generated_max_rss_mb": meta.get("generated_max_rss_mb"), "seconds": round(time.perf_counter() - t, 1)},
        "steps": {}, "errors": {}}
    adopt_in_place(ws)
    todo = steps or ("adopt", "profile", "readers", "trend_cli", "fleet_cli", "check_cli", "tui")

    def step(name: str, fn) -> None:
        if name not in todo:
            return
        log(f"big100m {name} (load {loadavg()})")
        try:
            res["steps"][name] = fn()
            log(f"big100m {name}: {res['steps'][name]}")
        except Exception as exc:  # noqa: BLE001 - one broken step must not lose the others
            res["errors"][name] = f"{type(exc).__name__}: {exc}"
            log(f"big100m {name} FAILED: {exc}")

    def adopt() -> dict[str, Any]:
        shutil.rmtree(ws / ".console", ignore_errors=True)
        m = _cli(ws, "ingest")
        got = m.json()
        records = int(got["predictions"]) + int(got["labels"])
        return _step(m, predictions=int(got["predictions"]), labels=int(got["labels"]), records=records,
                     records_per_s=round(records / m.wall_s))

    def profile() -> dict[str, Any]:
        shutil.rmtree(ws / ".console" / "profiles", ignore_errors=True)
        m = _cli(ws, "profile")
        doc = m.json()
        return _step(m, model_days=doc.get("computed"), rows_per_s=round(rows / m.wall_s))

    def readers() -> dict[str, Any]:
        m = run_measured([sys.executable, "-m", "tests.benchmarks.bench_big", "readers", "--ws", str(ws)],
                         cwd=REPO).check()
        return _step(m, **m.json())

    def trend_cli() -> dict[str, Any]:
        runs = [_cli(ws, "trend", "--model", MODEL, "--window", "1d") for _ in range(2)]
        doc = runs[-1].json()
        return {"first": _step(runs[0]), "again": _step(runs[1]), "windows": len(doc.get("windows", [])),
                "source": doc.get("source")}

    def fleet_cli() -> dict[str, Any]:
        runs = [_cli(ws, "fleet") for _ in range(2)]
        doc = runs[-1].json()
        return {"first": _step(runs[0]), "again": _step(runs[1]), "models": len(doc.get("models", [])),
                "source": doc.get("source")}

    def check_cli() -> dict[str, Any]:
        """``check`` on a cold analytics cache, its drift and data-quality rules from the profiles
        just made (exit 1: alerts fired, which the bench store's drift makes them do)."""
        clear_analytics_cache(ws)
        m = run_measured([CONSOLE, "check", "--workspace", str(ws), "--format", "json"], cwd=ws)
        if m.rc not in (0, 1):
            m.check()
        doc = m.json()
        sources = sorted({f"{a['kind']}:{a['evidence'].get('source')}" for a in doc["alerts"]
                          if "source" in a["evidence"]})
        return _step(m, alerts=len(doc["alerts"]), errors=len(doc["errors"]), sources=sources)

    def tui() -> dict[str, Any]:
        out_: dict[str, Any] = {}
        for label, cold in (("launch_cold", True), ("launch_warm", False)):
            if cold:
                clear_analytics_cache(ws)
            m = run_measured([sys.executable, "-m", "tests.benchmarks.tui_jobs", "launch", "--ws", str(ws),
                              "--timeout", str(launch_timeout)], cwd=REPO).check()
            out_[label] = _step(m, **m.json())
        clear_analytics_cache(ws)
        try:
            out_["panels"] = _panels()
        except Exception as exc:  # noqa: BLE001 - keep the launch figures
            out_["panels_error"] = f"{type(exc).__name__}: {exc}"
        return out_

    def _panels() -> dict[str, Any]:
        m = run_measured([sys.executable, "-m", "tests.benchmarks.tui_jobs", "panels", "--ws", str(ws),
                          "--model", MODEL, "--rounds", str(panel_rounds), "--timeout", str(panel_timeout),
                          "--open-timeout", str(launch_timeout)], cwd=REPO).check()
        doc = m.json()
        done = sorted(s["seconds"] for s in doc["switches"] if s["seconds"] is not None)
        from tests.benchmarks.common import percentile

        def pct(q: float) -> float | None:
            return round(percentile(done, q * 100), 4) if done else None
        return _step(m, switches=len(doc["switches"]), timed_out=len(doc["switches"]) - len(done),
                     p50_s=pct(0.5), p95_s=pct(0.95), open_model_s=doc.get("open_model_s"))

    for name, fn in (("adopt", adopt), ("profile", profile), ("readers", readers), ("trend_cli", trend_cli),
                     ("fleet_cli", fleet_cli), ("check_cli", check_cli), ("tui", tui)):
        step(name, fn)
    rss = [v for s in res["steps"].values() for v in _rss_values(s)]
    res["peak_rss_mb"] = max(rss) if rss else None
    return res


def _rss_values(step: Any) -> list[float]:
    if isinstance(step, dict):
        here = [step["max_rss_mb"]] if isinstance(step.get("max_rss_mb"), int | float) else []
        return here + [v for x in step.values() if isinstance(x, dict) for v in _rss_values(x)]
    return []


def _readers_job(ws: Path) -> dict[str, Any]:
    """Trend (30 daily windows with drift) and fleet from profiles, first and again, in-process."""
    from tests.benchmarks.bench_profiles import _open_as_cli, _readers

    return _readers(_open_as_cli(ws), MODEL, exact=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_big", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("job", nargs="?", default="section", choices=("section", "readers"))
    p.add_argument("--ws", type=Path, help="readers: the workspace")
    p.add_argument("--out", type=Path, default=Path("bench-out"))
    p.add_argument("--rows", type=int, default=ROWS)
    p.add_argument("--steps", help="comma-separated steps (adopt,profile,readers,trend_cli,fleet_cli,check_cli,tui)")
    a = p.parse_args(argv)
    if a.job == "readers":
        print(json.dumps(_readers_job(a.ws), default=str))
        return 0
    steps = tuple(x.strip() for x in a.steps.split(",")) if a.steps else None
    print(json.dumps(run_section(a.out.resolve(), a.rows, steps=steps), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
