"""Shared fixtures: tiny workspaces built on disk (real files, no mocks)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from console import clock

# Every test runs on the console's clock frozen at the last second of the sample story
# (tests.tui_helpers.FROZEN), so a test that passes today passes next year: no code may read
# the operating system's clock.
from tests.frozen_time import FROZEN

# The TUI tests' fixtures (a session-wide ingested copy of the sample workspace, frozen clock):
# registered here once, so the session-scoped ones are built once per session, not per module.
pytest_plugins = ["tests.tui_helpers"]


def pytest_addoption(parser):
    parser.addoption(
        "--os-clock-ahead", type=int, default=0, metavar="DAYS",
        help="move the operating system's clock (as Python sees it) this many days ahead for the "
             "whole run: the suite must pass the same, since the console reads only console.clock")


# Environment variables that point the console (or a library) at the account's own folders.
ACCOUNT_FOLDER_VARS = ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")


def pytest_configure(config):
    # The suite never reads or writes the real account's home (signing key, query history):
    # each test process gets a fresh, empty one, removed at the end.
    home = tempfile.mkdtemp(prefix="mlops-console-test-home-")
    config._test_home = home
    os.environ["HOME"] = home
    for var in ACCOUNT_FOLDER_VARS:
        os.environ.pop(var, None)

    days = config.getoption("--os-clock-ahead")
    if days:
        import time_machine

        real = dt.datetime.now(dt.UTC)
        traveller = time_machine.travel(real + dt.timedelta(days=days), tick=True)
        traveller.start()
        config._os_clock_traveller = traveller
        assert dt.datetime.now(dt.UTC) - real > dt.timedelta(days=days - 1)


def pytest_unconfigure(config):
    home = getattr(config, "_test_home", None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


def pytest_report_header(config):
    days = config.getoption("--os-clock-ahead")
    return f"operating-system clock moved {days} days ahead" if days else None


@pytest.fixture(autouse=True)
def _frozen_console_clock():
    """The console's one clock, frozen for every test (tests may freeze it elsewhere inside)."""
    with clock.frozen(FROZEN):
        yield


def write_workspace(root: Path, extra_toml: str = "", operators=("carol",), reviewers=("alice",)) -> Path:
    """A minimal valid workspace in ``root``: console.toml, logs/, labels/, registry/."""
    for d in ("logs", "labels", "registry"):
        (root / d).mkdir(parents=True, exist_ok=True)
    ops = ", ".join(f'"{o}"' for o in operators)
    revs = ", ".join(f'"{r}"' for r in reviewers)
    (root / "console.toml").write_text(
        textwrap.dedent(
            f"""\
            [workspace]
            name = "test-ws"

            [sources]
            predictions = ["logs"]
            labels = ["labels"]
            registry = "registry"

            [access]
            operators = [{ops}]
            reviewers = [{revs}]
            """
        )
        + extra_toml
    )
    return root


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """A fresh minimal workspace directory."""
    return write_workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def os_accounts():
    """The real OS accounts of the governance tests (created when root), else a skip with why."""
    from tests.test_governance_helpers import can_make_users, ensure_os_users

    why = can_make_users()
    if why:
        pytest.skip(why)
    return ensure_os_users()
