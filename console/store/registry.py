"""The model registry (docs/formats.md, 'Registry'): one JSON file per version at ``<registry>/<model>/<version>.json``.

``load_registry`` reads every file, keeps the valid ones as ``VersionInfo`` and reports each
invalid file with its path and reason while the others still load. The registry is only the
starting point of governance: the current stage of a version comes from the journal
(``console.governance.state``), never from an edit of these files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.documents import DocumentError, read_json

TASKS = ("binary", "multiclass", "regression")
STAGES = ("production", "staging", "candidate", "archived")
FEATURE_KINDS = ("numeric", "categorical")
# The model card (docs/formats.md, 'Registry'): optional text fields, shown by ``card`` and the
# versions tab and required by the ``model_card`` gate. Each is a string; those in CARD_LISTS may
# also be a list of strings (one item each).
CARD_FIELDS = ("description", "owner", "intended_use", "out_of_scope", "limitations", "risks",
               "training_data", "evaluation_data", "fairness_considerations", "contact")
CARD_LISTS = ("out_of_scope", "limitations", "risks")
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}


@dataclass
class VersionInfo:
    """One registered model version, as its registry file describes it."""

    model: str
    version: str
    task: str
    path: Path
    created_at: str | None = None
    created_by: str | None = None
    stage: str = "candidate"
    features: dict[str, str] = field(default_factory=dict)
    reference: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    slices: list[str] = field(default_factory=list)
    positive_label: Any = None
    threshold: float | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)
    value: dict[str, Any] = field(default_factory=dict)  # value of outcomes (console.analytics.value)
    card: dict[str, str | list[str]] = field(default_factory=dict)  # the CARD_FIELDS given (non-blank)
    mtime_ns: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.model, self.version)


@dataclass
class RegistryError:
    """A registry file that could not be used, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Registry:
    """Every valid version, keyed by (model, version), and the files that failed."""

    versions: dict[tuple[str, str], VersionInfo] = field(default_factory=dict)
    errors: list[RegistryError] = field(default_factory=list)

    def models(self) -> list[str]:
        return sorted({m for m, _ in self.versions})

    def versions_of(self, model: str) -> list[VersionInfo]:
        return sorted(
            (v for (m, _), v in self.versions.items() if m == model), key=lambda v: version_sort_key(v.version)
        )

    def get(self, model: str, version: str) -> VersionInfo | None:
        return self.versions.get((model, version))


def version_label(version: Any) -> str:
    """A version for people to read: ``v3``; ``no version`` when there is none (never ``vNone``)."""
    if version is None or str(version).strip() == "":
        return "no version"
    return f"v{version}"


def version_sort_key(version: str) -> tuple:
    """Natural order: "2" < "10" < "10a"; numeric parts compare as numbers."""
    import re

    parts = re.split(r"(\d+)", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p != "")


def canonical_text(value: Any) -> str | None:
    """A value as the console compares it: numbers in decimal (``1.0`` → ``"1"``), text as is."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        if value.is_integer() and abs(value) < 2**63:
            return str(int(value))
        return repr(value)
    return str(value)


def load_registry(registry_dir: Path, workspace_root: Path | None = None) -> Registry:
    """Read every ``<model>/<version>.json`` below ``registry_dir``."""
    reg = Registry()
    root = workspace_root or registry_dir.parent
    if not registry_dir.is_dir():
        return reg
    for path in sorted(registry_dir.glob("*.json")):
        reg.errors.append(RegistryError(path, "not in a model folder (expected registry/<model>/<version>.json)"))
    for path in sorted(registry_dir.glob("*/*.json")):
        try:
            info = parse_version_file(path, root)
        except ValueError as exc:
            reg.errors.append(RegistryError(path, str(exc)))
            continue
        if info.key in reg.versions:
            reg.errors.append(RegistryError(path, f"duplicate of {reg.versions[info.key].path}"))
            continue
        reg.versions[info.key] = info
    return reg


def parse_version_file(path: Path, workspace_root: Path) -> VersionInfo:
    """One registry file → ``VersionInfo``; ``ValueError`` with a one-line reason when invalid."""
    try:
        stat = path.stat()
        doc = read_json(path)  # size and depth limits: docs/formats.md, 'Limits on the files the console reads'
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror or exc}") from None
    except DocumentError as exc:
        raise ValueError(exc.reason) from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    for key in ("model", "version", "task"):
        if key not in doc or doc[key] in (None, ""):
            raise ValueError(f"missing required field {key!r}")
    model = doc["model"]
    if not isinstance(model, str):
        raise ValueError("'model' must be a string")
    version = doc["version"]
    if isinstance(version, bool) or not isinstance(version, (str, int, float)):
        raise ValueError("'version' must be a string or a number")
    version = canonical_text(version)
    if model != path.parent.name:
        raise ValueError(f"model {model!r} does not match its folder {path.parent.name!r}")
    if version != path.stem:
        raise ValueError(f"version {version!r} does not match its file name {path.stem!r}")
    task = doc["task"]
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {', '.join(TASKS)}")
    stage = doc.get("stage", "candidate")
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    features = doc.get("features") or {}
    if not isinstance(features, dict) or any(k not in FEATURE_KINDS for k in features.values()):
        raise ValueError("'features' must map names to 'numeric' or 'categorical'")
    reference = doc.get("reference")
    ref_path = None
    if reference is not None:
        if not isinstance(reference, str):
            raise ValueError("'reference' must be a path string")
        ref_path = Path(reference)
        ref_path = ref_path if ref_path.is_absolute() else workspace_root / ref_path
    metrics = doc.get("metrics") or {}
    if not isinstance(metrics, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()
    ):
        raise ValueError("'metrics' must map metric names to numbers")
    slices = doc.get("slices") or []
    if not isinstance(slices, list) or not all(isinstance(s, str) for s in slices):
        raise ValueError("'slices' must be a list of feature names")
    threshold = doc.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise ValueError("'threshold' must be a number")
    for key in ("created_at", "created_by"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ValueError(f"{key!r} must be a string")
    lineage = doc.get("lineage") or {}
    cost = doc.get("cost") or {}
    if not isinstance(lineage, dict):
        raise ValueError("'lineage' must be an object")
    if not isinstance(cost, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in cost.values()
    ):
        raise ValueError("'cost' must map names to numbers")
    value = doc.get("value") or {}
    if not isinstance(value, dict):
        raise ValueError("'value' must be an object")
    card = parse_card(doc)
    return VersionInfo(
        model=model,
        version=version,
        task=task,
        path=path,
        created_at=doc.get("created_at"),
        created_by=doc.get("created_by"),
        stage=stage,
        features=dict(features),
        reference=ref_path,
        metrics={k: float(v) for k, v in metrics.items()},
        slices=list(slices),
        positive_label=doc.get("positive_label"),
        threshold=float(threshold) if threshold is not None else None,
        lineage=lineage,
        cost={k: float(v) for k, v in cost.items()},
        value=dict(value),
        card=card,
        mtime_ns=stat.st_mtime_ns,
    )


def parse_card(doc: dict[str, Any]) -> dict[str, str | list[str]]:
    """The model card fields of a registry document; ``ValueError`` (one line) for a mistyped
    one. A field that is null, blank or an empty list is not given (left out); text is kept as
    written, stripped; list items that are blank are dropped."""
    card: dict[str, str | list[str]] = {}
    for key in CARD_FIELDS:
        value = doc.get(key)
        if value is None:
            continue
        if key in CARD_LISTS and isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = [v.strip() for v in value if v.strip()]
            text = "".join(items)
            if items:
                card[key] = items
        elif isinstance(value, str):
            text = value = value.strip()
            if value:
                card[key] = value
        else:
            kind = "a string or a list of strings" if key in CARD_LISTS else "a string"
            raise ValueError(f"{key!r} must be {kind}")
        if any(ch in _CONTROL for ch in text):
            raise ValueError(f"{key!r} must not contain control characters (other than tab and newline)")
    return card


def registry_signature(registry_dir: Path) -> tuple:
    """(path, size, mtime_ns) of every registry file: changes when any file is added, edited or removed."""
    sig = []
    if registry_dir.is_dir():
        for path in sorted(registry_dir.glob("*/*.json")):
            try:
                st = path.stat()
            except OSError:
                continue
            sig.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(sig)
