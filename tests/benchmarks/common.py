"""Shared plumbing of the benchmark suite: running a whole process and measuring it (wall time
and peak RSS from the kernel via ``os.wait4``, so every process is measured on its own),
summarising repetitions (median, min–max, IQR), and describing the machine and its load.

Nothing here is collected by pytest (``tests/benchmarks`` is ignored by ``addopts``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CONSOLE = str(VENV_BIN / "mlops-console")


@dataclass
class Measured:
    """One whole-process run: wall seconds, peak resident set (MiB), exit code and output."""

    argv: list[str]
    wall_s: float
    max_rss_mb: float
    user_s: float
    sys_s: float
    rc: int
    stdout: str
    stderr: str
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        """The process's stdout as JSON (its last JSON document when it printed several lines)."""
        text = self.stdout.strip()
        try:
            return json.loads(text)
        except ValueError:
            for line in reversed(text.splitlines()):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
        raise RuntimeError(f"no JSON on stdout of {' '.join(self.argv)}: {text[-300:]!r}")

    def check(self) -> Measured:
        if self.rc != 0:
            tail = (self.stderr or self.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"{' '.join(self.argv)} exited {self.rc}: " + " | ".join(tail))
        return self


def run_measured(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float | None = None) -> Measured:
    """Run ``argv`` to completion; its own peak RSS comes from ``wait4`` (not the children max)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = None if timeout is None else started + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if deadline and time.perf_counter() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(argv=[str(a) for a in argv], wall_s=wall, max_rss_mb=ru.ru_maxrss / 1024,
                        user_s=ru.ru_utime, sys_s=ru.ru_stime, rc=proc.returncode,
                        stdout=out.read().decode(errors="replace"), stderr=err.read().decode(errors="replace"))


def summary(values: list[float], digits: int = 4) -> dict[str, Any]:
    """Median and spread of repetitions: ``n, median, min, max, q1, q3, values``."""
    vals = sorted(float(v) for v in values)
    if not vals:
        return {"n": 0, "median": None, "min": None, "max": None, "q1": None, "q3": None, "values": []}
    if len(vals) >= 2:
        q1, _, q3 = statistics.quantiles(vals, n=4, method="inclusive")
    else:
        q1 = q3 = vals[0]
    r = lambda x: round(x, digits)  # noqa: E731
    return {"n": len(vals), "median": r(statistics.median(vals)), "min": r(vals[0]), "max": r(vals[-1]),
            "q1": r(q1), "q3": r(q3), "values": [r(v) for v in values]}


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default)."""
    vals = sorted(values)
    if not vals:
        raise ValueError("no values")
    pos = (len(vals) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def other_busy_processes(limit: int = 8) -> list[dict[str, Any]]:
    """Processes (not this one or its children) using CPU right now: evidence of a shared machine."""
    mine = {os.getpid()}
    out = subprocess.run(["ps", "-eo", "pid,ppid,pcpu,etimes,args", "--sort=-pcpu"], capture_output=True, text=True)
    rows = []
    for line in out.stdout.splitlines()[1:]:
        parts = line.split(None, 4)
        if len(parts) < 5:
            continue
        pid, ppid, pcpu = int(parts[0]), int(parts[1]), float(parts[2])
        if pid in mine or ppid in mine or pcpu < 5.0 or parts[4].startswith("ps "):
            continue
        rows.append({"pid": pid, "cpu_pct": pcpu, "cmd": parts[4][:100]})
    return rows[:limit]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS and the versions that matter."""
    import duckdb
    import polars
    import pyarrow
    import textual

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "polars": polars.__version__,
        "textual": textual.__version__,
        "commit": commit,
    }


def fmt_s(x: float | None) -> str:
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:.0f} s"
    if x >= 1:
        return f"{x:.2f} s"
    return f"{x * 1000:.0f} ms"


def fmt_spread(s: dict[str, Any] | None, unit: str = "s") -> str:
    """``median (min–max, n=k)`` for a summary of seconds (or of another unit)."""
    if not s or s.get("median") is None:
        return "–"
    if unit == "s":
        return f"{fmt_s(s['median'])} ({fmt_s(s['min'])}–{fmt_s(s['max'])}, n={s['n']})"
    return f"{_num(s['median'])} {unit} ({_num(s['min'])}–{_num(s['max'])}, n={s['n']})"


def _num(x: float) -> str:
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.0f}k"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.2f}"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
