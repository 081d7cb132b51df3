"""Workspaces built from real public datasets (scikit-learn's bundled ones), not the sample.

``build(root)`` trains one scikit-learn model per dataset and writes a contract-conforming
workspace the console has never seen: two weeks of prediction logs in every accepted format
(JSONL with a ``features`` object, flat JSONL, CSV, Parquet, gzip), labels arriving late in a
separate source (some never), reference files, and registry files that are *full* for some
models and *minimal* (only ``model``, ``version``, ``task``) for others. Feature names are the
datasets' own ("mean radius", "od280/od315_of_diluted_wines", "sepal length (cm)") plus a few
with dots, upper case and non-ASCII letters; the last days' population is shifted so that
drift is there to find. Everything is seeded: the same call writes the same workspace.

Run it by hand to get a workspace to try: ``python -m tests.realdata DIR [--rows-per-day N]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn import datasets
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

UTC = dt.UTC
START = dt.datetime(2026, 11, 7, tzinfo=UTC)
DAYS = 14
SHIFT_DAYS = 3          # the last SHIFT_DAYS days carry a shifted population
UNLABELLED_SHARE = 0.25  # labels that never arrive
REGIONS = ["nord", "süd", "île-de-france"]


@dataclass
class ModelInfo:
    """What the generator wrote for one model: enough for a test to recompute the numbers."""

    model: str
    task: str
    features: list[str]
    minimal: bool
    versions: list[str]
    classes: list[Any] = field(default_factory=list)
    log_format: str = ""
    # (version, request_id) -> {"ts", "prediction", "score", "label" (None: never labelled),
    # "features": {...}}
    rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def _rfc3339(t: dt.datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write(path: Path, data: bytes, gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as f:
            f.write(data)
        data = buf.getvalue()
    path.write_bytes(data)


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _csv(records: list[dict[str, Any]], columns: list[str]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in records:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return buf.getvalue().encode("utf-8")


def _parquet(path: Path, records: list[dict[str, Any]], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {}
    for c in columns:
        vals = [r.get(c) for r in records]
        if c == "ts":
            data[c] = pa.array(vals, type=pa.timestamp("ms", tz="UTC"))
        else:
            data[c] = pa.array(vals)
    pq.write_table(pa.table(data), path)


def _dataset(name: str) -> tuple[np.ndarray, np.ndarray, list[str], list[Any], str]:
    """X, y (as logged), feature names (as logged), classes, task."""
    if name == "breast-cancer":
        d = datasets.load_breast_cancer()
        return d.data, d.target.astype(int), list(d.feature_names), [0, 1], "binary"
    if name == "wine":
        d = datasets.load_wine()
        names = list(d.feature_names)
        names[0] = "Alcohol %"                 # upper case and a symbol
        names[1] = "malic.acid"                # a dot
        classes = [str(c) for c in d.target_names]
        return d.data, np.array(classes, dtype=object)[d.target], names, classes, "multiclass"
    if name == "iris":
        d = datasets.load_iris()
        names = list(d.feature_names)
        names[2] = "pétale.länge (cm)"         # unicode, a dot, parentheses
        classes = [str(c) for c in d.target_names]
        return d.data, np.array(classes, dtype=object)[d.target], names, classes, "multiclass"
    if name == "diabetes":
        d = datasets.load_diabetes()
        names = list(d.feature_names)
        names[2] = "BMI"
        names[4] = "S1.tc"
        names[5] = 'ldl "bad"'                 # a double quote
        return d.data, d.target.astype(float), names, [], "regression"
    if name == "digits":
        d = datasets.load_digits()
        return d.data, d.target.astype(int), list(d.feature_names), list(range(10)), "multiclass"
    raise ValueError(name)


# model -> (log format, registry: full or minimal, label format)
PLAN: dict[str, tuple[str, bool, str]] = {
    "breast-cancer": ("jsonl-features+gz", False, "jsonl"),
    "wine": ("csv", True, "csv"),
    "iris": ("jsonl-flat", False, "jsonl"),
    "diabetes": ("parquet", True, "parquet"),
    "digits": ("csv.gz", True, "csv"),
}


def _fit(task: str, X: np.ndarray, y: np.ndarray, seed: int, C: float = 1.0):
    if task == "regression":
        return make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed)).fit(X, y)


def build(root: Path, rows_per_day: int = 12, seed: int = 0) -> dict[str, ModelInfo]:
    """Write the workspace into ``root`` (created); returns what was written, per model."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "console.toml").write_text(
        '[workspace]\nname = "real-data"\n\n[sources]\npredictions = ["logs"]\n'
        'labels = ["labels"]\nregistry = "registry"\n', encoding="utf-8")
    out: dict[str, ModelInfo] = {}
    for k, model in enumerate(PLAN):
        out[model] = _build_model(root, model, rows_per_day, seed + 101 * k)
    return out


def _build_model(root: Path, model: str, rows_per_day: int, seed: int) -> ModelInfo:
    rng = np.random.default_rng(seed)
    X, y, names, classes, task = _dataset(model)
    fmt, minimal, label_fmt = PLAN[model]
    perm = rng.permutation(len(y))
    n_train = len(y) // 2
    tr, pool = perm[:n_train], perm[n_train:]
    versions = ["1", "2"] if model == "breast-cancer" else ["1"]
    fitted = {v: _fit(task, X[tr], y[tr], seed, C=1.0 if v == "1" else 0.1) for v in versions}
    categorical = model in ("breast-cancer", "iris")
    cat_name = "Région" if model == "breast-cancer" else "Canal.Vente"
    info = ModelInfo(model, task, names + ([cat_name] if categorical else []), minimal, versions,
                     classes, fmt)
    std = X[tr].std(axis=0)

    # registry and reference
    for v in versions:
        doc: dict[str, Any] = {"model": model, "version": v, "task": task}
        if not minimal:
            ref_rows = _records(model, v, fitted[v], X[tr], y[tr], names, task, classes, rng,
                                [START - dt.timedelta(days=30) + dt.timedelta(minutes=7 * i) for i in range(len(tr))],
                                cat_name if categorical else None, prefix=f"ref{v}-")
            ref_path = f"reference/{model}/{v}.parquet"
            _parquet(root / ref_path, [_flat(r) for r in ref_rows],
                     ["ts", "model", "version", "request_id", "prediction"]
                     + (["score"] if task == "binary" else []) + ["label"] + info.features)
            doc.update({
                "created_at": "2026-10-30T09:00:00Z", "created_by": "ci",
                "stage": "production" if v == "1" else "candidate",
                "features": {**{f: "numeric" for f in names}, **({cat_name: "categorical"} if categorical else {})},
                "reference": ref_path,
                "metrics": {"accuracy": 0.9},
                "slices": [cat_name] if categorical else [],
                "cost": {"per_1k_predictions_usd": 0.05, "training_usd": 12.0, "monthly_budget_usd": 40},
                "owner": "ml team", "description": f"{model} on scikit-learn's bundled dataset",
            })
            if task == "binary":
                doc.update({"positive_label": 1, "threshold": 0.5})
        path = root / "registry" / model / f"{v}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")

    # logs, one file per day
    labels: list[dict[str, Any]] = []
    for day in range(DAYS):
        day_start = START + dt.timedelta(days=day)
        idx = rng.choice(pool, size=rows_per_day, replace=True)
        Xd = X[idx].copy()
        if day >= DAYS - SHIFT_DAYS:
            Xd[:, : max(1, Xd.shape[1] // 2)] += 1.5 * std[: max(1, Xd.shape[1] // 2)]
        times = [day_start + dt.timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 86_000, rows_per_day))]
        day_versions = versions if day >= DAYS - 4 else versions[:1]
        records: list[dict[str, Any]] = []
        for v in day_versions:
            recs = _records(model, v, fitted[v], Xd, y[idx], names, task, classes, rng, times,
                            cat_name if categorical else None,
                            # digits: ids that look like numbers ("000042") and must stay text
                            prefix=f"{day:02d}" if model == "digits" else f"{model[:4]}-{v}-{day:02d}-")
            records.extend(recs)
        for r in records:
            truth = r.pop("_truth")
            labelled = rng.random() >= UNLABELLED_SHARE
            info.rows[(r["version"], r["request_id"])] = {
                "ts": r["ts"], "prediction": r.get("prediction"), "score": r.get("score"),
                "label": truth if labelled else None, "features": dict(r["features"]),
            }
            if labelled:
                lab = {"request_id": r["request_id"], "label": truth,
                       "ts": r["ts"] + dt.timedelta(days=1, hours=int(rng.integers(0, 24)))}
                if model != "wine":           # wine's labels carry no model: they join by request_id
                    lab["model"] = model
                labels.append(lab)
        _write_logs(root, model, day, fmt, records, info.features)
    _write_labels(root, model, label_fmt, labels)
    return info


def _records(model, version, pipe, X, y, names, task, classes, rng, times, cat_name, prefix):
    out = []
    pred = pipe.predict(X)
    proba = pipe.predict_proba(X)[:, 1] if task == "binary" else None
    for i in range(len(X)):
        feats: dict[str, Any] = {n: round(float(x), 6) for n, x in zip(names, X[i], strict=True)}
        if cat_name:
            feats[cat_name] = REGIONS[int(rng.integers(0, len(REGIONS)))]
        p = pred[i]
        rec: dict[str, Any] = {
            "ts": times[i], "model": model, "version": version,
            "request_id": f"{prefix}{i:04d}",
            "features": feats,
            "prediction": round(float(p), 4) if task == "regression" else (str(p) if task == "multiclass" and classes and isinstance(classes[0], str) else int(p)),
            "latency_ms": round(float(rng.gamma(2.0, 10.0)), 3),
            "cost_usd": 0.00005,
            "_truth": (round(float(y[i]), 4) if task == "regression" else (str(y[i]) if isinstance(y[i], str) else int(y[i]))),
        }
        if proba is not None:
            rec["score"] = round(float(proba[i]), 6)
        out.append(rec)
    return out


def _flat(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    label = r.pop("_truth")
    feats = r.pop("features")
    return {**r, **feats, "label": label}


def _write_logs(root: Path, model: str, day: int, fmt: str, records: list[dict[str, Any]], features: list[str]) -> None:
    base = root / "logs" / model / f"{model}-{(START + dt.timedelta(days=day)).date()}"
    reserved = ["ts", "model", "version", "request_id", "prediction", "score", "latency_ms", "cost_usd"]
    if fmt == "jsonl-features+gz":
        recs = [{**r, "ts": _rfc3339(r["ts"])} for r in records]
        if day == 2:   # an error record
            recs.append({"ts": recs[0]["ts"], "model": model, "version": "1", "request_id": "err-0001",
                         "status": "error", "error": "upstream timeout", "latency_ms": 2000.0})
        _write(Path(f"{base}.jsonl" + (".gz" if day >= DAYS // 2 else "")), _jsonl(recs), gz=day >= DAYS // 2)
    elif fmt == "jsonl-flat":
        recs = []
        for r in records:
            flat = {k: v for k, v in r.items() if k != "features"}
            flat["ts"] = _rfc3339(r["ts"])
            flat.update(r["features"])
            recs.append(flat)
        _write(Path(f"{base}.jsonl"), _jsonl(recs))
    elif fmt in ("csv", "csv.gz"):
        rows = [{**{k: v for k, v in r.items() if k != "features"}, **r["features"],
                 "ts": _rfc3339(r["ts"]) if day % 2 else r["ts"].timestamp()} for r in records]
        gz = fmt == "csv.gz"
        _write(Path(f"{base}.csv" + (".gz" if gz else "")), _csv(rows, [c for c in reserved if c != "score"] + features), gz=gz)
    elif fmt == "parquet":
        rows = [{**{k: v for k, v in r.items() if k != "features"}, **r["features"]} for r in records]
        _parquet(Path(f"{base}.parquet"), rows, [c for c in reserved if c != "score"] + features)
    else:
        raise ValueError(fmt)


def _write_labels(root: Path, model: str, fmt: str, labels: list[dict[str, Any]]) -> None:
    base = root / "labels" / f"{model}-labels"
    cols = ["request_id", "label", "ts"] + (["model"] if labels and "model" in labels[0] else [])
    if fmt == "jsonl":
        _write(Path(f"{base}.jsonl"), _jsonl([{**lab, "ts": _rfc3339(lab["ts"])} for lab in labels]))
    elif fmt == "csv":
        _write(Path(f"{base}.csv"), _csv([{**lab, "ts": _rfc3339(lab["ts"])} for lab in labels], cols))
    else:
        _parquet(Path(f"{base}.parquet"), labels, cols)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir", type=Path)
    p.add_argument("--rows-per-day", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    info = build(a.dir, a.rows_per_day, a.seed)
    for m, i in info.items():
        print(f"{m}: {i.task}, {len(i.rows)} predictions, {'minimal' if i.minimal else 'full'} registry, {i.log_format}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
