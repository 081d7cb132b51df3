"""The current stage of every model version, replayed from the journal.

Start from each registry file's initial ``stage`` (docs/formats.md, 'Registry'); a model with no
production version in the registry may take it from ``serving.json`` (a workspace whose
serving file was written before it had a journal); then apply, in journal order, the
``stage_changes`` of every ``executed`` entry. The journal is the truth: ``serving.json``
is its effect, and ``FleetState.serving_mismatch`` names models where the two disagree.

``FleetState.training`` holds the training cost each retrain's hook reported for the version
it produced (the ``executed`` entry's ``training_usd``, ``governance.effects``; ``None`` when the
hook reported something that is not a cost): the store shows it as that version's training cost
in place of its registry entry's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from console.documents import DocumentError, loads_json, read_json
from console.errors import UsageError
from console.governance.journal import Journal
from console.store.registry import Registry, version_sort_key
from console.workspace import Workspace


@dataclass
class FleetState:
    """Stages per (model, version), production per model, and the production history."""

    stages: dict[tuple[str, str], str] = field(default_factory=dict)
    production: dict[str, str | None] = field(default_factory=dict)
    history: dict[str, list[str]] = field(default_factory=dict)  # production versions, oldest first
    serving_mismatch: dict[str, dict[str, str | None]] = field(default_factory=dict)
    training: dict[tuple[str, str], float | None] = field(default_factory=dict)  # hook-reported USD

    def stage(self, model: str, version: str) -> str | None:
        return self.stages.get((model, version))

    def overlay(self) -> dict[str, Any]:
        """What the store shows of governance (``open_store``/``with_fleet`` keyword arguments):
        current stages, production versions and hook-reported training costs."""
        return {"stages": dict(self.stages), "production": dict(self.production), "training": dict(self.training)}

    def previous_production(self, model: str) -> str | None:
        """The production version before the current one, as the journal tells it."""
        current = self.production.get(model)
        for version in reversed(self.history.get(model, [])):
            if version != current:
                return version
        return None


@dataclass(frozen=True)
class RollbackTarget:
    """Where a rollback of one model goes by default, and why: ``version`` is None when no
    earlier production version is known (then one must be named)."""

    model: str
    current: str | None
    version: str | None
    source: str  # "journal" | "serving.json" | "registry" | ""

    @property
    def why(self) -> str:
        return {
            "journal": "the production version before the current one (journal)",
            "serving.json": "the production version before the current one (serving.json history)",
            "registry": "the newest earlier version the registry lists as archived",
        }.get(self.source, "no earlier production version is known")


def rollback_target(ws: Workspace, registry: Registry, state: FleetState, model: str) -> RollbackTarget:
    """The version a rollback of ``model`` goes back to when none is named: the production
    version before the current one according to the journal; else the last earlier one in
    ``serving.json``'s history of the model; else the newest version below the current one that
    the registry lists as ``archived`` (retired from production). Only registered versions other
    than the current one qualify."""
    current = state.production.get(model)
    known = {v.version for v in registry.versions_of(model)} - {current}

    def found(version: str | None, source: str) -> RollbackTarget | None:
        return RollbackTarget(model, current, version, source) if version in known else None

    hit = found(state.previous_production(model), "journal")
    if hit:
        return hit
    entry = read_serving(ws)["models"].get(model)
    if isinstance(entry, dict):
        served = [entry.get("previous")] + [h.get("version") for h in reversed(entry.get("history") or [])
                                            if isinstance(h, dict)]
        for version in served:
            if version is not None and (hit := found(str(version), "serving.json")):
                return hit
    archived = [v.version for v in registry.versions_of(model)
                if state.stage(model, v.version) == "archived" and v.version in known
                and (current is None or version_sort_key(v.version) < version_sort_key(current))]
    if archived:
        return RollbackTarget(model, current, max(archived, key=version_sort_key), "registry")
    return RollbackTarget(model, current, None, "")


def read_serving(ws: Workspace) -> dict:
    """``serving.json`` as a dict (``{"models": {}}`` when it does not exist or is unreadable)."""
    try:
        doc = read_json(ws.serving_path)  # size/depth limits: docs/formats.md, 'Limits on the files the console reads'
    except (OSError, DocumentError):
        return {"models": {}}
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
        return {"models": {}}
    return doc


def read_serving_strict(ws: Workspace) -> dict:
    """``serving.json`` to be rewritten: ``{"models": {}}`` only when it does not exist; a file
    that exists but is not a serving document raises ``UsageError`` (replacing it would drop
    every other model's entry)."""
    path = ws.serving_path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"models": {}}
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    fix = (f"; nothing was changed — restore {path.name} (the journal's executed entries hold each "
           "model's serving entry) or move it away, then try again")
    try:
        doc = loads_json(text, path, allow_nan=True)  # 100k-deep nesting is this error, not a crash
    except DocumentError as exc:
        raise UsageError(f"{path} is not valid JSON ({exc.reason.removeprefix('not valid JSON: ')}){fix}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
        raise UsageError(f'{path} is not a serving file ({{"models": {{...}}}}){fix}')
    return doc


def fleet_state(
    ws: Workspace, registry: Registry, entries: list[dict[str, Any]] | None = None
) -> FleetState:
    """Current stages: registry's initial stages, then the journal's decided stage changes."""
    if entries is None:
        entries = Journal(ws.journal_path).entries()
    state = FleetState()
    for key, info in registry.versions.items():
        state.stages[key] = info.stage
    for model in registry.models():
        prods = [
            v.version
            for v in registry.versions_of(model)
            if state.stages[(model, v.version)] == "production"
        ]
        state.production[model] = max(prods, key=version_sort_key) if prods else None
    serving = read_serving(ws)["models"]
    journaled = {e.get("model") for e in entries if e.get("action") == "executed" and e.get("stage_changes")}
    for model, entry in serving.items():
        version = entry.get("production") if isinstance(entry, dict) else None
        if version is None or model in journaled or state.production.get(model) is not None:
            continue
        state.production[model] = str(version)
        if (model, str(version)) in state.stages:
            state.stages[(model, str(version))] = "production"
    for model, version in state.production.items():
        if version is not None:
            state.history.setdefault(model, []).append(version)
    for e in entries:
        if e.get("action") != "executed":
            continue
        produced = e.get("produced_version")
        if produced and e.get("model") and "training_usd" in e:  # reported (None: not a number)
            usd = e["training_usd"]
            ok = isinstance(usd, (int, float)) and not isinstance(usd, bool) and math.isfinite(usd) and usd >= 0
            state.training[(str(e["model"]), str(produced))] = float(usd) if ok else None
        for change in e.get("stage_changes") or []:
            model, version, to = change.get("model"), change.get("version"), change.get("to")
            if not model or version is None or not to:
                continue
            state.stages[(model, version)] = to
            if to == "production":
                state.production[model] = version
                state.history.setdefault(model, []).append(version)
            elif state.production.get(model) == version:
                state.production[model] = None
    for model, entry in serving.items():
        served = entry.get("production") if isinstance(entry, dict) else None
        if model in journaled and served != state.production.get(model):
            state.serving_mismatch[model] = {"journal": state.production.get(model), "serving": served}
    return state
