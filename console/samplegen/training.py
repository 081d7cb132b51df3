"""Training the sample models with scikit-learn, evaluating them, and saving what a registry needs.

A model here is a ``Trained``: the fitted scikit-learn pipeline, the feature order it expects,
its offline metrics on a held-out set and its lineage. ``feature_matrix`` turns the generator's
column dicts into the pipeline's input (an object array: numbers, then category strings), the
same input the retrain hook builds from log records, so the artifact under ``models/`` is usable
on its own (``skops.io.load`` gives ``{"pipeline", "numeric", "categorical", ...}``; skops, unlike
a pickle, runs no code of the file's, so any member of a shared workspace can load it).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops.io as sio
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from console.samplegen.population import Columns

FRAMEWORK = f"scikit-learn {sklearn.__version__}"


@dataclass
class Trained:
    """A fitted model version and everything its registry file says about it."""

    model: str
    version: str
    task: str
    numeric: list[str]
    categorical: list[str]
    pipeline: Pipeline
    metrics: dict[str, float] = field(default_factory=dict)
    data_hash: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    train_rows: int = 0
    threshold: float = 0.5

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    def matrix(self, cols: Columns) -> np.ndarray:
        return feature_matrix(cols, self.numeric, self.categorical)

    def score(self, cols: Columns) -> np.ndarray:
        """Binary: probability of the positive class. Regression: the prediction."""
        X = self.matrix(cols)
        if self.task == "binary":
            return self.pipeline.predict_proba(X)[:, 1]
        return self.pipeline.predict(X)

    def predict(self, cols: Columns) -> np.ndarray:
        if self.task == "binary":
            return (self.score(cols) >= self.threshold).astype(int)
        return self.pipeline.predict(self.matrix(cols))

    def save(self, path: Path) -> None:
        """The artifact the retrain hook and ``explain`` load: the pipeline plus its feature order,
        as a ``.skops`` file (``stable_skops``: the same bytes for the same model)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(stable_skops({
            "model": self.model,
            "version": self.version,
            "task": self.task,
            "numeric": self.numeric,
            "categorical": self.categorical,
            "threshold": self.threshold if self.task == "binary" else None,
            "pipeline": self.pipeline,
        }))


def stable_skops(bundle: dict) -> bytes:
    """``skops.io.dumps`` made byte-for-byte repeatable: skops names each object by its memory
    address (``__id__`` and its ``<id>.npy`` member) and stamps the zip members with the time;
    the addresses are renumbered in order of first appearance and the stamps fixed, so
    ``make sample`` rewrites no artifact whose model did not change."""
    src = zipfile.ZipFile(io.BytesIO(sio.dumps(bundle)))
    schema = src.read("schema.json").decode()
    ids: dict[str, str] = {}
    for m in re.finditer(r'"__id__": (\d+)', schema):
        ids.setdefault(m.group(1), str(len(ids) + 1))
    for name in src.namelist():
        stem = name.removesuffix(".npy")
        if name != "schema.json" and stem.isdigit():
            ids.setdefault(stem, str(len(ids) + 1))
    members = {"schema.json": re.sub(r"\d{6,}", lambda m: ids.get(m.group(0), m.group(0)), schema).encode()}
    for name in src.namelist():
        if name != "schema.json":
            stem = name.removesuffix(".npy")
            members[f"{ids.get(stem, stem)}.npy" if name.endswith(".npy") else name] = src.read(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, members[name])
    return out.getvalue()


def feature_matrix(cols: Columns, numeric: list[str], categorical: list[str]) -> np.ndarray:
    """Columns → the object matrix the pipelines take: numeric columns then categorical ones."""
    n = len(cols[(numeric + categorical)[0]])
    X = np.empty((n, len(numeric) + len(categorical)), dtype=object)
    for j, name in enumerate(numeric):
        X[:, j] = np.asarray(cols[name], dtype=float)
    for j, name in enumerate(categorical, start=len(numeric)):
        X[:, j] = np.asarray(cols[name], dtype=object)
    return X


def _linear_pre(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    k = len(numeric)
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(range(k))),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(range(k, k + len(categorical)))),
        ]
    )


def _tree_pre(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    k = len(numeric)
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=float)
    return ColumnTransformer(
        [("num", "passthrough", list(range(k))), ("cat", enc, list(range(k, k + len(categorical))))]
    )


def build_pipeline(kind: str, numeric: list[str], categorical: list[str], seed: int, **params) -> Pipeline:
    """``kind``: logistic | ridge | hgb_classifier | hgb_regressor (categories unknown at
    training time become missing values for the tree models, an ignored one-hot for linear)."""
    cat_idx = list(range(len(numeric), len(numeric) + len(categorical)))
    if kind == "logistic":
        return Pipeline([("pre", _linear_pre(numeric, categorical)), ("clf", LogisticRegression(max_iter=500, **params))])
    if kind == "ridge":
        return Pipeline([("pre", _linear_pre(numeric, categorical)), ("reg", Ridge(**params))])
    if kind == "hgb_classifier":
        est = HistGradientBoostingClassifier(
            categorical_features=cat_idx, early_stopping=False, random_state=seed, **params
        )
        return Pipeline([("pre", _tree_pre(numeric, categorical)), ("clf", est)])
    if kind == "hgb_regressor":
        est = HistGradientBoostingRegressor(
            categorical_features=cat_idx, early_stopping=False, random_state=seed, **params
        )
        return Pipeline([("pre", _tree_pre(numeric, categorical)), ("reg", est)])
    raise ValueError(f"unknown model kind {kind!r}")


def _simple_params(pipe: Pipeline) -> dict[str, Any]:
    """The final estimator's JSON-friendly hyper-parameters, for the lineage."""
    est = pipe.steps[-1][1]
    out: dict[str, Any] = {"estimator": type(est).__name__}
    for k, v in sorted(est.get_params().items()):
        if isinstance(v, (bool, int, float, str)) or v is None:
            if isinstance(v, float) and not np.isfinite(v):
                continue
            out[k] = v
    return out


def train(
    model: str,
    version: str,
    task: str,
    kind: str,
    numeric: list[str],
    categorical: list[str],
    train_cols: Columns,
    y_train: np.ndarray,
    seed: int,
    threshold: float = 0.5,
    **params,
) -> Trained:
    """Fit one version on ``train_cols``/``y_train``."""
    pipe = build_pipeline(kind, numeric, categorical, seed, **params)
    X = feature_matrix(train_cols, numeric, categorical)
    pipe.fit(X, y_train)
    return Trained(
        model=model,
        version=version,
        task=task,
        numeric=list(numeric),
        categorical=list(categorical),
        pipeline=pipe,
        data_hash=_data_hash(X, y_train),
        params=_simple_params(pipe),
        train_rows=len(y_train),
        threshold=threshold,
    )


def _data_hash(X: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    for row in X.T:
        h.update("\x1f".join(map(str, row.tolist())).encode())
    h.update("\x1f".join(map(str, np.asarray(y).tolist())).encode())
    return "sha256:" + h.hexdigest()


def evaluate(t: Trained, cols: Columns, y: np.ndarray) -> dict[str, float]:
    """Offline metrics on a held-out set, with the contract's metric names (rounded to 4 places)."""
    if t.task == "binary":
        s = t.score(cols)
        p = (s >= t.threshold).astype(int)
        m = {
            "roc_auc": skm.roc_auc_score(y, s),
            "accuracy": skm.accuracy_score(y, p),
            "precision": skm.precision_score(y, p, zero_division=0),
            "recall": skm.recall_score(y, p),
            "f1": skm.f1_score(y, p),
            "log_loss": skm.log_loss(y, s),
            "brier": skm.brier_score_loss(y, s),
        }
    elif t.task == "multiclass":
        p = t.predict(cols)
        m = {"accuracy": skm.accuracy_score(y, p), "macro_f1": skm.f1_score(y, p, average="macro")}
    else:
        p = t.predict(cols)
        m = {
            "mae": skm.mean_absolute_error(y, p),
            "rmse": float(np.sqrt(skm.mean_squared_error(y, p))),
            "mape": skm.mean_absolute_percentage_error(y, p),
            "r2": skm.r2_score(y, p),
        }
    t.metrics = {k: round(float(v), 4) for k, v in m.items()}
    return t.metrics
