"""The current stage of every model version: registry stages as the starting point, then every
stage change decided in the journal, and ``serving.json`` for what is in production.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from console.store.registry import Registry, version_sort_key
from console.workspace import Workspace


@dataclass
class FleetState:
    """Stages per (model, version) and the production version per model."""

    stages: dict[tuple[str, str], str] = field(default_factory=dict)
    production: dict[str, str | None] = field(default_factory=dict)

    def stage(self, model: str, version: str) -> str | None:
        return self.stages.get((model, version))


def read_serving(ws: Workspace) -> dict:
    """``serving.json`` as a dict (``{"models": {}}`` when it does not exist yet)."""
    try:
        doc = json.loads(ws.serving_path.read_text())
    except FileNotFoundError:
        return {"models": {}}
    except (OSError, json.JSONDecodeError):
        return {"models": {}}
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
        return {"models": {}}
    return doc


def fleet_state(ws: Workspace, registry: Registry) -> FleetState:
    """Current stages: registry's initial stages, overridden by ``serving.json``'s production."""
    state = FleetState()
    for key, info in registry.versions.items():
        state.stages[key] = info.stage
    for model in registry.models():
        prods = [v.version for v in registry.versions_of(model) if state.stages[(model, v.version)] == "production"]
        state.production[model] = max(prods, key=version_sort_key) if prods else None
    serving = read_serving(ws)["models"]
    for model, entry in serving.items():
        version = entry.get("production") if isinstance(entry, dict) else None
        if version is None:
            continue
        old = state.production.get(model)
        if old is not None and old != version and state.stages.get((model, old)) == "production":
            state.stages[(model, old)] = "archived"
        state.production[model] = version
        if (model, version) in state.stages:
            state.stages[(model, version)] = "production"
    return state
