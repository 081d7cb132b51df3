"""Shared fixtures: tiny workspaces built on disk (real files, no mocks)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

# The TUI tests' fixtures (a session-wide ingested copy of the sample workspace, frozen clock):
# registered here once, so the session-scoped ones are built once per session, not per module.
pytest_plugins = ["tests.tui_helpers"]


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
