"""The separate environment the Evidently comparison runs in: Evidently 0.7 needs ``pandas<3``
and must never enter the project's own venv. ``ensure_env()`` creates
``.bench-venv/evidently`` on demand (``python3 -m venv`` + ``pip install``) and reuses it when
the pinned versions are already there; ``run_evidently()`` runs ``evidently_drift.py`` in it as
a whole process and measures it (wall time and peak RSS via ``wait4``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.benchmarks.common import REPO, log, run_measured

ENV_DIR = REPO / ".bench-venv" / "evidently"
REQUIREMENTS = ["evidently==0.7.23", "pandas<3", "pyarrow"]
SCRIPT = Path(__file__).with_name("evidently_drift.py")


def env_python(env_dir: Path = ENV_DIR) -> Path:
    return env_dir / "bin" / "python"


def _installed(py: Path) -> str | None:
    if not py.is_file():
        return None
    out = subprocess.run([str(py), "-c", "import evidently, pandas; print(evidently.__version__, pandas.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_env(env_dir: Path = ENV_DIR) -> dict[str, Any]:
    """Create (or reuse) the Evidently venv; returns its Python and the installed versions."""
    py = env_python(env_dir)
    have = _installed(py)
    if have and have.split()[0] == REQUIREMENTS[0].split("==")[1] and int(have.split()[1].split(".")[0]) < 3:
        return {"python": str(py), "versions": have, "created": False}
    log(f"creating the Evidently environment in {env_dir} (pip install {' '.join(REQUIREMENTS)})")
    if env_dir.exists():
        shutil.rmtree(env_dir)
    base = shutil.which("python3") or "python3"
    subprocess.run([base, "-m", "venv", str(env_dir)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True,
                   stdout=subprocess.DEVNULL)
    have = _installed(py)
    if not have:
        raise RuntimeError(f"Evidently did not install into {env_dir}")
    return {"python": str(py), "versions": have, "created": True}


def run_evidently(reference: Path, current: Path, numeric: list[str], categorical: list[str],
                  env_dir: Path = ENV_DIR) -> dict[str, Any]:
    """One whole-process DataDriftPreset run; its JSON plus ``wall_s`` and ``max_rss_mb``."""
    argv = [str(env_python(env_dir)), str(SCRIPT), "--reference", str(reference), "--current", str(current),
            "--numeric", ",".join(numeric), "--categorical", ",".join(categorical)]
    m = run_measured(argv, cwd=REPO).check()
    return {**m.json(), "wall_s": m.wall_s, "process_max_rss_mb": m.max_rss_mb}
