"""The workspace: finding ``console.toml`` (docs/formats.md, 'Where the console looks'), reading and validating it (against
``console.config_schema``), and the paths it implies.

A workspace is found from ``--workspace DIR``, else ``$MLOPS_CONSOLE_WORKSPACE``, else the
nearest directory upward from the current one holding ``console.toml``. Every problem with it
is a ``WorkspaceError`` whose message names the file and the problem in one line.

Everything the console derives lives under ``<workspace>/.console/`` and can be deleted.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.config_schema import validate
from console.documents import read_toml
from console.errors import WorkspaceError
from console.identity import SYSTEM, Identity, identity_for, os_user

CONFIG_NAME = "console.toml"
ENV_VAR = "MLOPS_CONSOLE_WORKSPACE"


@dataclass
class Workspace:
    """A loaded workspace: its root, sources, access lists, hooks and the rest of its config."""

    root: Path
    name: str
    predictions: list[Path]
    labels: list[Path]
    registry: Path
    operators: list[str]
    reviewers: list[str]
    hooks: dict[str, list[str]]
    config: dict[str, Any] = field(default_factory=dict)

    # -- derived paths -------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def store_dir(self) -> Path:
        """``.console/``: everything derived; safe to delete, rebuilt from the sources."""
        return self.root / ".console"

    @property
    def journal_path(self) -> Path:
        return self.root / "journal.jsonl"

    @property
    def serving_path(self) -> Path:
        return self.root / "serving.json"

    # -- config access -------------------------------------------------------------------
    def section(self, name: str) -> dict[str, Any]:
        """A top-level table of console.toml (``{}`` when absent)."""
        value = self.config.get(name, {})
        return value if isinstance(value, dict) else {}

    def model_section(self, model: str, name: str) -> dict[str, Any]:
        """``[models."<model>".<name>]``: per-model overrides of a section (``{}`` when absent)."""
        models = self.section("models")
        per_model = models.get(model, {}) if isinstance(models, dict) else {}
        value = per_model.get(name, {}) if isinstance(per_model, dict) else {}
        return value if isinstance(value, dict) else {}

    def identity(self, user: str | None = None) -> Identity:
        """The roles of ``user`` (default: the OS account running this process)."""
        return identity_for(user or os_user(), self.operators, self.reviewers)


def find_root(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """The workspace directory: ``explicit``, else ``$MLOPS_CONSOLE_WORKSPACE``, else upward search."""
    if explicit is not None:
        root = Path(explicit).expanduser()
        if not (root / CONFIG_NAME).is_file():
            raise WorkspaceError(f"{root / CONFIG_NAME}: no such file (from --workspace)")
        return root.resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser()
        if not (root / CONFIG_NAME).is_file():
            raise WorkspaceError(f"{root / CONFIG_NAME}: no such file (from ${ENV_VAR})")
        return root.resolve()
    here = (cwd or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise WorkspaceError(
        f"no {CONFIG_NAME} in {here} or any directory above it; "
        f"pass --workspace DIR or set ${ENV_VAR}"
    )


def load(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Workspace:
    """Find and load a workspace; every problem is one ``WorkspaceError`` line naming the file."""
    root = find_root(explicit, cwd)
    return load_dir(root)


def load_dir(root: Path) -> Workspace:
    """Load the workspace whose ``console.toml`` is in ``root``."""
    path = root / CONFIG_NAME
    try:
        config = read_toml(path)  # size and nesting limits: docs/formats.md, 'Limits on the files the console reads'
    except FileNotFoundError:
        raise WorkspaceError(f"{path}: no such file") from None
    validate(config, path)  # every section and key known, every value of its type

    def fail(problem: str) -> WorkspaceError:
        return WorkspaceError(f"{path}: {problem}")

    ws_table = _table(config, "workspace", fail)
    name = ws_table.get("name", root.name)
    if not isinstance(name, str) or not name.strip():
        raise fail("[workspace] name must be a non-empty string")

    sources = _table(config, "sources", fail)
    predictions = _paths(root, sources, "predictions", fail, default=["logs"])
    labels = _paths(root, sources, "labels", fail, default=[])
    registry_value = sources.get("registry", "registry")
    if not isinstance(registry_value, str):
        raise fail("[sources] registry must be a path string")
    registry = _existing(root, registry_value, "registry", fail)
    if not registry.is_dir():
        raise fail(f"[sources] registry path {registry_value!r} is not a folder ({registry})")

    access = _table(config, "access", fail)
    operators = _names(access, "operators", fail)
    reviewers = _names(access, "reviewers", fail)

    hooks_table = _table(config, "hooks", fail)
    hooks: dict[str, list[str]] = {}
    for action, value in hooks_table.items():
        if not isinstance(value, str) or not value.strip():
            raise fail(f"[hooks] {action} must be a non-empty command string")
        try:
            hooks[action] = shlex.split(value)
        except ValueError as exc:
            raise fail(f"[hooks] {action}: cannot split command: {exc}") from None

    return Workspace(
        root=root.resolve(),
        name=name,
        predictions=predictions,
        labels=labels,
        registry=registry,
        operators=operators,
        reviewers=reviewers,
        hooks=hooks,
        config=config,
    )


def _table(config: dict[str, Any], key: str, fail) -> dict[str, Any]:
    value = config.get(key, {})
    if not isinstance(value, dict):
        raise fail(f"[{key}] must be a table")
    return value


def _existing(root: Path, value: str, what: str, fail) -> Path:
    p = Path(value).expanduser()
    p = p if p.is_absolute() else root / p
    if not p.exists():
        raise fail(f"[sources] {what} path {value!r} does not exist ({p})")
    return p.resolve()


def _paths(root: Path, sources: dict[str, Any], key: str, fail, default: list[str]) -> list[Path]:
    value = sources.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"[sources] {key} must be a path or a list of paths")
    return [_existing(root, v, key, fail) for v in value]


def _names(access: dict[str, Any], key: str, fail) -> list[str]:
    value = access.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"[access] {key} must be a list of OS user names")
    if SYSTEM in value:
        raise fail(f"[access] {key}: {SYSTEM!r} is the console's own actor (policy-raised requests), "
                   "not an account; it holds no role")
    return list(value)
