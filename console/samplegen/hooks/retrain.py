"""Retrain hook of the sample workspace: train a new version on recent labelled traffic.

The console runs it as an argv list (``[hooks] retrain = "python hooks/retrain.py"``) with
the workspace as its working directory, after a reviewer approved a retrain request. It reads
the decision from ``MLOPS_*`` environment variables, then:

1. reads the workspace's prediction logs and label files (JSONL, CSV, optionally gzipped, and
   Parquet, per the console's record format), joins late labels to predictions by
   ``request_id``, and keeps the labelled predictions of ``MLOPS_MODEL`` from the last
   ``MLOPS_RETRAIN_DAYS`` days (default 7; all of them when that is too few);
2. trains a scikit-learn pipeline on the features the parent version declares (the version in
   production, ``MLOPS_FROM_VERSION``), holding out a seeded 25 % to evaluate it;
3. registers the result as the next version with stage ``candidate``: the model artifact
   (``models/<m>/<v>.skops``, loadable without running code, so any member's console can
   explain it; ``.joblib`` when skops is not installed), a reference file (``reference/<m>/<v>.parquet``, the
   record format, a sample of the training rows with this version's predictions) and the
   registry JSON with metrics and lineage (data hash, code hash, parameters, parent). The
   registry file is written last and atomically, so the console never sees half a version.

Its training cost is what it measured, never the parent's: the CPU seconds this process used
(reading, training, evaluating) × ``--usd-per-cpu-hour`` (an argv option of the hook, default
0.10) / 3600, with the seconds in ``lineage.training_cpu_seconds`` (the serving rate and budget
are the parent's: the same service). It reports the cost to the console by writing the number to
the file the console names in ``MLOPS_TRAINING_USD_FILE`` (the console journals it as the new
version's training cost); run without the console, it writes ``cost.training_usd`` in the
registry entry instead.

It prints one JSON line describing the new version and exits 0; any problem is one line on
stderr and exit 1 (the console then marks the request failed). Standalone on purpose: it
needs only the Python standard library, NumPy, PyArrow and scikit-learn (and skops, when
installed, for the artifact).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import secrets
import sys
import time
import tomllib
from pathlib import Path

# One thread: OpenMP's spinning threads crawl on a busy small machine, and the data is small.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import sklearn  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OrdinalEncoder  # noqa: E402

RESERVED = {"ts", "model", "version", "request_id", "features", "prediction", "score", "label",
            "latency_ms", "status", "error", "cost_usd"}
MIN_ROWS = 50
REFERENCE_ROWS = 2000
SEED = 20261122


def fail(message: str) -> None:
    sys.stderr.write(f"retrain: {message}\n")
    raise SystemExit(1)


# -- reading the workspace's sources ------------------------------------------------------------


def source_files(root: Path, entries: list[str]) -> list[Path]:
    out: list[Path] = []
    for entry in entries:
        p = root / entry
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file())
    suffixes = (".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".parquet")
    return [f for f in out if f.name.endswith(suffixes)]


def read_records(path: Path) -> list[dict]:
    """Every parseable record of one file (bad lines are skipped: ingest reports them)."""
    name = path.name
    if name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    raw = path.read_bytes()
    if name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return []
    text = raw.decode("utf-8", errors="replace")
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # an unfinished last line does not count yet
    if ".jsonl" in name:
        records = []
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                records.append(rec)
        return records
    return list(csv.DictReader(io.StringIO(text)))


def parse_ts(value) -> float | None:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return float(value)
        except ValueError:
            pass
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
    return None


def text(value) -> str | None:
    """Canonical text of a value (``1.0`` → ``"1"``), like the console compares labels."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return value
        return str(int(f)) if f.is_integer() and "." not in value.strip("0") else value
    return str(value)


def load_labelled(root: Path, cfg: dict, model: str, feature_names: list[str]) -> list[dict]:
    sources = cfg.get("sources", {})
    preds = sources.get("predictions", ["logs"])
    labels = sources.get("labels", [])
    preds = [preds] if isinstance(preds, str) else preds
    labels = [labels] if isinstance(labels, str) else labels
    late: dict[tuple[str | None, str], tuple[float, str]] = {}
    for path in source_files(root, labels):
        for rec in read_records(path):
            rid, label = rec.get("request_id"), text(rec.get("label"))
            if rid is None or label is None:
                continue
            key = (rec.get("model") or None, str(rid))
            late[key] = (parse_ts(rec.get("ts")) or 0.0, label)  # later lines replace earlier ones
    rows: dict[tuple[str, str], dict] = {}
    for path in source_files(root, preds):
        for rec in read_records(path):
            if rec.get("model") != model or rec.get("status", "ok") == "error":
                continue
            ts = parse_ts(rec.get("ts"))
            rid = rec.get("request_id")
            if ts is None or rid is None:
                continue
            rid = str(rid)
            label = text(rec.get("label"))
            found = late.get((model, rid)) or late.get((None, rid))
            if found is not None:
                label = found[1]
            if label is None:
                continue
            feats = rec.get("features") if isinstance(rec.get("features"), dict) else {
                k: v for k, v in rec.items() if k not in RESERVED
            }
            rows[(text(rec.get("version")) or "", rid)] = {
                "ts": ts, "request_id": rid, "label": label,
                "features": {f: feats.get(f) for f in feature_names},
            }
    return sorted(rows.values(), key=lambda r: (r["ts"], r["request_id"]))


# -- training -----------------------------------------------------------------------------------


def matrix(rows: list[dict], numeric: list[str], categorical: list[str]) -> np.ndarray:
    X = np.empty((len(rows), len(numeric) + len(categorical)), dtype=object)
    for i, r in enumerate(rows):
        f = r["features"]
        for j, name in enumerate(numeric):
            v = f.get(name)
            try:
                X[i, j] = float(v) if v not in (None, "") else np.nan
            except (TypeError, ValueError):
                X[i, j] = np.nan
        for j, name in enumerate(categorical, start=len(numeric)):
            v = f.get(name)
            X[i, j] = "__missing__" if v in (None, "") else str(v)
    return X


def pipeline(task: str, numeric: list[str], categorical: list[str]) -> Pipeline:
    k = len(numeric)
    cat_idx = list(range(k, k + len(categorical)))
    pre = ColumnTransformer(
        [("num", "passthrough", list(range(k))),
         ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=float), cat_idx)]
    )
    if task == "regression":
        est = HistGradientBoostingRegressor(categorical_features=cat_idx, early_stopping=False,
                                            max_iter=150, learning_rate=0.08, random_state=SEED)
    else:
        est = HistGradientBoostingClassifier(categorical_features=cat_idx, early_stopping=False,
                                             max_iter=150, learning_rate=0.08, random_state=SEED)
    return Pipeline([("pre", pre), ("est", est)])


def evaluate(task: str, pipe: Pipeline, X: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    if task == "binary":
        s = pipe.predict_proba(X)[:, 1]
        p = (s >= threshold).astype(int)
        m = {"roc_auc": skm.roc_auc_score(y, s) if len(set(y)) > 1 else float("nan"),
             "accuracy": skm.accuracy_score(y, p), "precision": skm.precision_score(y, p, zero_division=0),
             "recall": skm.recall_score(y, p, zero_division=0), "f1": skm.f1_score(y, p, zero_division=0),
             "log_loss": skm.log_loss(y, s, labels=[0, 1]), "brier": skm.brier_score_loss(y, s)}
    elif task == "multiclass":
        p = pipe.predict(X)
        m = {"accuracy": skm.accuracy_score(y, p), "macro_f1": skm.f1_score(y, p, average="macro")}
    else:
        p = pipe.predict(X)
        m = {"mae": skm.mean_absolute_error(y, p), "rmse": float(np.sqrt(skm.mean_squared_error(y, p))),
             "mape": skm.mean_absolute_percentage_error(y, p), "r2": skm.r2_score(y, p)}
    return {k: round(float(v), 4) for k, v in m.items() if np.isfinite(v)}


def data_hash(X: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    for col in X.T:
        h.update("\x1f".join(map(str, col.tolist())).encode())
    h.update("\x1f".join(map(str, np.asarray(y).tolist())).encode())
    return "sha256:" + h.hexdigest()


SAFE_MODULES = ("sklearn.", "numpy.", "scipy.")  # skops: the only types an artifact may ask for


def dump_artifact(stem: str, bundle: dict) -> tuple[str, bytes]:
    """``(path, bytes)`` of the bundle: ``stem.skops`` with skops, else ``stem.joblib``."""
    try:
        import skops.io as sio
    except ImportError:
        buf = io.BytesIO()
        joblib.dump(bundle, buf, compress=3)
        return f"{stem}.joblib", buf.getvalue()
    return f"{stem}.skops", sio.dumps(bundle, compression=8)


def load_artifact(path: Path):
    """A ``.skops`` bundle trusting only ``SAFE_MODULES`` types, else joblib."""
    if path.suffix != ".skops":
        return joblib.load(path)
    import skops.io as sio

    data = path.read_bytes()
    wanted = sio.get_untrusted_types(data=data)
    refused = [t for t in wanted if t != "functools.partial" and not t.startswith(SAFE_MODULES)]
    if refused:
        raise ValueError(f"{path} asks for types {refused}")
    return sio.loads(data, trusted=wanted)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a new temp file in the same folder (a unique name,
    created exclusively and never through a symlink, mode 0666 minus the umask so the group
    of a shared workspace can replace it next), fsynced, renamed, the folder fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(64):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue  # a planted link or a dead run's temp: never written through, try another
        break
    else:
        raise OSError(f"no free temp name next to {path}")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def usd_per_cpu_hour(argv: list[str]) -> float:
    """``--usd-per-cpu-hour X`` from the hook's argv (default 0.10)."""
    if "--usd-per-cpu-hour" not in argv:
        return 0.10
    i = argv.index("--usd-per-cpu-hour")
    try:
        rate = float(argv[i + 1])
    except (IndexError, ValueError):
        fail("--usd-per-cpu-hour needs a number")
    if not rate >= 0:
        fail("--usd-per-cpu-hour must be a number >= 0")
    return rate


def main() -> int:
    rate = usd_per_cpu_hour(sys.argv[1:])
    root = Path(os.environ.get("MLOPS_WORKSPACE") or ".").resolve()
    model = os.environ.get("MLOPS_MODEL") or fail("MLOPS_MODEL is not set (run me through the console)")
    cfg = tomllib.loads((root / "console.toml").read_text())
    registry = root / cfg.get("sources", {}).get("registry", "registry")
    docs = {}
    for p in sorted((registry / model).glob("*.json")):
        try:
            docs[p.stem] = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    if not docs:
        fail(f"no registered version of {model!r} in {registry}")
    numbered = sorted(int(v) for v in docs if v.isdigit())
    parent_v = os.environ.get("MLOPS_FROM_VERSION") or (str(numbered[-1]) if numbered else sorted(docs)[-1])
    parent = docs.get(parent_v) or fail(f"parent version {parent_v!r} of {model!r} is not registered")
    task = parent["task"]
    features = parent.get("features") or {}
    numeric = [f for f, k in features.items() if k == "numeric"]
    categorical = [f for f, k in features.items() if k == "categorical"]
    if not features:
        fail(f"{model} {parent_v} declares no features to train on")
    rows = load_labelled(root, cfg, model, numeric + categorical)
    days = float(os.environ.get("MLOPS_RETRAIN_DAYS", "7"))
    if rows:
        cutoff = rows[-1]["ts"] - days * 86400
        recent = [r for r in rows if r["ts"] >= cutoff]
        rows = recent if len(recent) >= 4 * MIN_ROWS else rows
    if len(rows) < MIN_ROWS:
        fail(f"only {len(rows)} labelled predictions of {model}; need at least {MIN_ROWS}")
    positive = text(parent.get("positive_label", 1))
    threshold = float(parent.get("threshold") or 0.5)
    X = matrix(rows, numeric, categorical)
    if task == "binary":
        y = np.array([1 if r["label"] == positive else 0 for r in rows])
    elif task == "regression":
        y = np.array([float(r["label"]) for r in rows])
    else:
        y = np.array([r["label"] for r in rows], dtype=object).astype(str)
    rng = np.random.default_rng(SEED)
    test = rng.random(len(rows)) < 0.25
    pipe = pipeline(task, numeric, categorical)
    pipe.fit(X[~test], y[~test])
    scores = evaluate(task, pipe, X[test], y[test], threshold)
    parent_scores = None
    named = parent.get("artifact") or (parent.get("lineage") or {}).get("artifact")
    artifact_of_parent = root / named if isinstance(named, str) and named else root / "models" / model / f"{parent_v}.joblib"
    if artifact_of_parent.is_file():
        try:
            bundle = load_artifact(artifact_of_parent)
            old = bundle["pipeline"] if isinstance(bundle, dict) else bundle
            Xp = matrix(rows, list(bundle.get("numeric", numeric)), list(bundle.get("categorical", categorical)))
            parent_scores = evaluate(task, old, Xp[test], y[test], threshold)
        except Exception as exc:  # noqa: BLE001 - the comparison is a courtesy, not required
            parent_scores = {"error": f"{type(exc).__name__}: {exc}"[:200]}

    new_v = str((numbered[-1] if numbered else 0) + 1)
    while new_v in docs:
        new_v = str(int(new_v) + 1)
    bundle = {"model": model, "version": new_v, "task": task, "numeric": numeric, "categorical": categorical,
              "threshold": threshold if task == "binary" else None, "pipeline": pipe}
    artifact, data = dump_artifact(f"models/{model}/{new_v}", bundle)
    write_atomic(root / artifact, data)

    ref_idx = np.sort(rng.choice(len(rows), size=min(REFERENCE_ROWS, len(rows)), replace=False))
    ref_rows = [rows[i] for i in ref_idx]
    Xr = X[ref_idx]
    cols: dict[str, pa.Array] = {
        "ts": pa.array([int(r["ts"] * 1000) for r in ref_rows], type=pa.timestamp("ms", tz="UTC")),
        "model": pa.array([model] * len(ref_rows)),
        "version": pa.array([new_v] * len(ref_rows)),
        "request_id": pa.array([f"ref-{new_v}-{r['request_id']}" for r in ref_rows]),
    }
    for j, f in enumerate(numeric):
        cols[f] = pa.array([None if v != v else v for v in Xr[:, j].astype(float)], type=pa.float64())
    for j, f in enumerate(categorical, start=len(numeric)):
        cols[f] = pa.array([None if v == "__missing__" else v for v in Xr[:, j]], type=pa.string())
    if task == "binary":
        s = pipe.predict_proba(Xr)[:, 1]
        cols["prediction"] = pa.array((s >= threshold).astype(np.int64))
        cols["score"] = pa.array(s.round(4))
        cols["label"] = pa.array(y[ref_idx].astype(np.int64))
    elif task == "regression":
        cols["prediction"] = pa.array(pipe.predict(Xr).round(3))
        cols["label"] = pa.array(y[ref_idx].astype(float))
    else:
        cols["prediction"] = pa.array([str(v) for v in pipe.predict(Xr)], type=pa.string())
        cols["label"] = pa.array([str(v) for v in y[ref_idx]], type=pa.string())
    reference = f"reference/{model}/{new_v}.parquet"
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(cols), sink)
    write_atomic(root / reference, sink.getvalue().to_pybytes())

    code_hash = "sha256:" + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    est = pipe.steps[-1][1]
    params = {"estimator": type(est).__name__, **{k: v for k, v in sorted(est.get_params().items())
                                                   if isinstance(v, (bool, int, float, str))}}
    stamp = os.environ.get("MLOPS_NOW")  # the console's clock, when run as its hook
    now = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else dt.datetime.now(dt.UTC)
    doc = {
        "model": model, "version": new_v, "task": task,
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "created_by": f"retrain hook ({os.environ.get('MLOPS_ACTOR', '?')}, {os.environ.get('MLOPS_REQUEST_ID', '?')})",
        "stage": "candidate",
        "features": features,
        "reference": reference,
        "metrics": scores,
        "slices": parent.get("slices") or [],
        "lineage": {
            "training_data": f"labelled traffic of {model} from {iso(rows[0]['ts'])} to {iso(rows[-1]['ts'])}",
            "training_rows": int((~test).sum()), "holdout_rows": int(test.sum()),
            "data_hash": data_hash(X, y),
            "code_commit": code_hash,
            "params": params,
            "parent_version": parent_v,
            "parent_metrics_on_holdout": parent_scores,
            "framework": f"scikit-learn {sklearn.__version__}",
            "artifact": artifact,
            "request_id": os.environ.get("MLOPS_REQUEST_ID"),
        },
    }
    for key in ("positive_label", "threshold"):
        if key in parent:
            doc[key] = parent[key]
    cpu = round(time.process_time(), 3)  # everything this retrain did, up to here, as recorded
    doc["lineage"]["training_cpu_seconds"] = cpu
    serving = {k: v for k, v in (parent.get("cost") or {}).items() if k != "training_usd"}
    training_usd = round(cpu / 3600 * rate, 6)
    report = os.environ.get("MLOPS_TRAINING_USD_FILE")
    doc["cost"] = serving if report else {**serving, "training_usd": training_usd}
    # the model card: what the parent's says of the model carries over; the data is this version's
    for key in ("description", "owner", "intended_use", "out_of_scope", "limitations", "risks",
                "fairness_considerations", "contact"):
        if parent.get(key):
            doc[key] = parent[key]
    doc["training_data"] = doc["lineage"]["training_data"] + f" ({doc['lineage']['training_rows']} rows)"
    doc["evaluation_data"] = f"a holdout of {doc['lineage']['holdout_rows']} rows of the same labelled traffic"
    write_atomic(registry / model / f"{new_v}.json", (json.dumps(doc, indent=2) + "\n").encode())
    if report:  # the console's empty file for this run: never followed through a link
        fd = os.open(report, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"{training_usd}\n")
    print(json.dumps({"registered": {"model": model, "version": new_v, "metrics": scores,
                                     "training_rows": doc["lineage"]["training_rows"],
                                     "training_usd": training_usd}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
