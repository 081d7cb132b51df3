"""The wheel as a user installs it (not the editable checkout): it carries the bundled themes,
and the console starts headless from it with the default theme and no complaint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LAUNCH = r"""
import asyncio, sys
import console
from console.identity import Identity
from console.tui.app import ConsoleApp
from pathlib import Path
from console.workspace import load_dir

assert console.__file__.startswith(sys.argv[1]), console.__file__
app = ConsoleApp(load_dir(Path(sys.argv[2])), identity=Identity("eve"), live=False, refresh_interval=0)

async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print("theme", app.theme)
        print("themes", " ".join(sorted(app.console_themes)))
        print("problems", app._problems)

asyncio.run(main())
"""


def test_wheel_ships_themes_and_launches_headless(tmp_path):
    src = tmp_path / "src"  # a copy, so the build leaves nothing in the checkout
    for name in ("console", "themes"):
        shutil.copytree(REPO / name, src / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    dist, target = tmp_path / "dist", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("mlops_console-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    assert sorted(p.name for p in (target / "console" / "tui" / "bundled_themes").iterdir()) == [
        "dark.toml", "high-contrast.toml", "light.toml"]
    assert not (target / "console" / "tui" / "bundled_themes").is_symlink()

    ws = tmp_path / "ws"
    shutil.copytree(REPO / "sample_data", ws)
    # the base interpreter, with the wheel first and the dev venv's packages (not its editable
    # install of this checkout: .pth files are not read from PYTHONPATH) for the dependencies
    deps = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = os.pathsep.join([str(target), deps])
    out = subprocess.run([sys._base_executable, "-s", "-c", LAUNCH, str(target), str(ws)],
                         capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["theme"] == "console-dark"
    assert lines["themes"].split() == ["console-dark", "console-high-contrast", "console-light"]
    assert lines["problems"] == "[]"
