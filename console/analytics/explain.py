"""Explaining one prediction, and a model version's feature importance (docs/analytics.md, 'Explain').

``explain_prediction`` finds a logged prediction by ``request_id`` (``predictions_labelled``;
``model`` picks one when several models logged the id) and reports:

- every feature of the version beside its reference (the registry's reference file): a numeric
  value's percentile among the reference values (``scipy.stats.percentileofscore`` with
  ``kind="mean"``: the share strictly below plus half the share equal), flagged ``outside`` when
  below the reference minimum or above its maximum; a categorical value's share of the
  reference rows, flagged ``unseen`` when the reference never has it; a missing value is
  flagged ``missing``;
- the prediction, score, label (when known), version, latency and cost as logged;
- feature attributions (SHAP values) when the registry entry names a model artifact: a
  top-level ``"artifact"``, else ``lineage.artifact`` — a ``.skops`` or joblib file holding the
  sample's bundle ``{"pipeline", "numeric", "categorical", ...}`` (or a bare scikit-learn
  pipeline whose input is the registry's features, numeric ones first). The file must resolve
  (after symlinks) inside the workspace. A ``.skops`` file is loaded by ``skops.io`` with only
  the types of ``SAFE_MODULES`` trusted (it builds objects, it runs no code of the file's), so any
  member of a shared workspace may have written it; the explanation then names the artifact's
  writers when someone other than root or the administrator can change it (``writers``). A
  joblib (pickle) file runs code when loaded, so it and its folders up to the workspace must be
  writable by nobody but root or the workspace's administrator (``console.ownership``, the check
  the governance files pass). Otherwise a one-line ``UsageError``.

Attributions are in the model's *output space*: log-odds of the positive class for a binary
classifier (``decision_function``), the logit of the predicted class for a multiclass one, the
prediction for a regressor. A scikit-learn histogram gradient-boosting model behind a
``ColumnTransformer`` is explained with shap's path-dependent TreeExplainer over its trees
(each native categorical split rewritten as threshold splits on the codes, which computes the
same function: shap's own converter ignores categorical splits, and its interventional mode did
not add up on these trees); ``base_value`` is then the trees' cover-weighted mean output. Any
other model is explained with shap's exact (permutation for > 12 features) explainer over the
raw features and a seeded background sample of the reference (``BACKGROUND`` rows), whose mean
output is ``base_value``. Either way ``sum(attributions) + base_value == output``
(``additivity``, checked on every explanation). Without the ``shap`` package, attributions are
``None`` and ``attribution_note`` says how to install the extra.

``global_importance`` gives a version's mean |SHAP| per feature on a reference sample and on
its latest logged traffic, and their change (attribution drift); without shap, permutation
importance (scikit-learn) on the labelled rows of each side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from console.analytics.source import StoreLike, model_features
from console.errors import InputUnreadable, NotComputable, UsageError
from console.ownership import write_problem
from console.store.registry import VersionInfo

BACKGROUND = 100  # reference rows the explainers integrate over
GLOBAL_SAMPLE = 500  # rows per side of global_importance
SEED = 20261
TOLERANCE = 1e-6  # additivity: |sum + base - output| ≤ TOLERANCE · max(1, |output|)
INSTALL_HINT = "install the explain extra: pip install 'mlops-console[explain]'"
EXACT_MAX_FEATURES = 12


def shap_available() -> bool:
    try:
        import shap  # noqa: F401
    except Exception:  # noqa: BLE001 - an unusable install is the same as none
        return False
    return True


# --------------------------------------------------------------------------------------------
# the artifact


def artifact_path(info: VersionInfo) -> str | None:
    """The registry entry's ``artifact`` (top level), else ``lineage.artifact``."""
    from console.documents import read_json

    try:
        doc = read_json(info.path)
    except Exception:  # noqa: BLE001 - the registry loaded it once; a vanished file names no artifact
        doc = {}
    value = doc.get("artifact") if isinstance(doc, dict) else None
    if not value:
        value = (info.lineage or {}).get("artifact")
    return value if isinstance(value, str) and value else None


SAFE_MODULES = ("sklearn.", "numpy.", "scipy.")  # skops: types trusted by their module
SAFE_TYPES = frozenset({"functools.partial"})  # and by name (a partial of a trusted function)


def _chain(root: Path, given: Path, real: Path) -> list[Path]:
    """The artifact (the link as given, then its target) and its folders up to the workspace."""
    chain = [given] if given != real else []
    chain.append(real)
    folder = real.parent
    while folder != root:
        chain.append(folder)
        folder = folder.parent
    return chain


def _given(root: Path, name: str) -> Path:
    """The artifact's path as the registry names it (relative to the workspace)."""
    return Path(name) if os.path.isabs(name) else Path(root).resolve() / name


def artifact_writers(root: Path, real: Path, given: Path | None = None) -> str | None:
    """One line naming who besides root and the administrator could have changed the artifact
    (the link as ``given``, its target ``real``, or a folder above it), or ``None``."""
    root = Path(root).resolve()
    admin = os.stat(root).st_uid
    for path in _chain(root, given or real, real):
        problem = write_problem(path, admin, "artifact" if path.is_file() else "folder")
        if problem:
            return problem
    return None


def inside_artifact(root: Path, name: str) -> Path:
    """The artifact's real path, or ``UsageError`` when it resolves outside the workspace."""
    given = _given(root, name)
    real = Path(os.path.realpath(given))
    if Path(root).resolve() not in real.parents:
        raise UsageError(f"artifact refused: {given} resolves outside the workspace ({real})")
    if not real.is_file():
        raise InputUnreadable(f"artifact not found: {given}")
    return real


def trusted_artifact(root: Path, name: str) -> Path:
    """The artifact's real path, or ``UsageError`` when it leaves the workspace or someone other
    than root or the workspace's administrator could have written it (or a folder above it)."""
    real = inside_artifact(root, name)
    problem = artifact_writers(root, real, _given(root, name))
    if problem:
        raise UsageError(f"artifact refused: {problem}")
    return real


@dataclass
class Model:
    """A loaded artifact: the pipeline, its input feature order and kinds, its output space."""

    pipeline: Any
    numeric: list[str]
    categorical: list[str]
    task: str
    path: Path

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    def matrix(self, rows: dict[str, list]) -> np.ndarray:
        """Column lists → the object matrix the pipeline takes (numbers then category strings)."""
        n = len(rows[self.features[0]])
        X = np.empty((n, len(self.features)), dtype=object)
        for j, f in enumerate(self.numeric):
            X[:, j] = np.array([np.nan if v is None else float(v) for v in rows[f]], dtype=float)
        for j, f in enumerate(self.categorical, start=len(self.numeric)):
            X[:, j] = np.array([None if v is None else str(v) for v in rows[f]], dtype=object)
        return X

    def output(self, X: np.ndarray, cls: int | None = None) -> np.ndarray:
        """The explained output: log-odds (binary), class ``cls``'s logit (multiclass), prediction."""
        if self.task == "regression":
            return np.asarray(self.pipeline.predict(X), dtype=float)
        d = np.asarray(self.pipeline.decision_function(X), dtype=float)
        if d.ndim == 1:
            return d
        return d[:, cls if cls is not None else 0]

    def output_space(self, cls_label: Any = None) -> str:
        if self.task == "regression":
            return "prediction"
        if self.task == "binary":
            return "log-odds of the positive class"
        return f"logit of class {cls_label}"


_MODELS: dict[tuple[str, int, int], Model] = {}


def _load_joblib(path: Path) -> Any:
    import joblib

    return joblib.load(path)


def _load_skops(path: Path) -> Any:
    """``skops.io.load`` trusting only the types of ``SAFE_MODULES``/``SAFE_TYPES``; any other
    type the file asks for is refused by name."""
    try:
        import skops.io as sio
    except Exception:  # noqa: BLE001 - an unusable install is the same as none
        raise UsageError(f"artifact {path} is a skops file: install skops (pip install skops)") from None
    data = path.read_bytes()
    wanted = sio.get_untrusted_types(data=data)
    refused = sorted(t for t in wanted if t not in SAFE_TYPES and not t.startswith(SAFE_MODULES))
    if refused:
        raise UsageError(f"artifact refused: {path} asks for types outside scikit-learn, NumPy and SciPy: "
                         + ", ".join(refused))
    return sio.loads(data, trusted=list(wanted))


def load_model(root: Path, info: VersionInfo) -> Model:
    """The version's artifact, checked then loaded (``.skops``: ``inside_artifact`` and
    ``_load_skops``; joblib: ``trusted_artifact`` and joblib), kept per path, size and mtime."""
    name = artifact_path(info)
    if name is None:
        raise NotComputable(f"{info.model} version {info.version} names no model artifact in its registry entry")
    skops = name.endswith(".skops")
    path = inside_artifact(root, name) if skops else trusted_artifact(root, name)
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _MODELS:
        return _MODELS[key]
    try:
        obj = _load_skops(path) if skops else _load_joblib(path)
    except (UsageError, InputUnreadable):
        raise
    except Exception as exc:  # noqa: BLE001 - one line for any unreadable artifact
        raise InputUnreadable(f"cannot load artifact {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if isinstance(obj, dict) and "pipeline" in obj:
        model = Model(obj["pipeline"], list(obj.get("numeric") or []), list(obj.get("categorical") or []),
                      str(obj.get("task") or info.task), path)
    elif hasattr(obj, "predict"):
        num = [f for f, k in info.features.items() if k == "numeric"]
        cat = [f for f, k in info.features.items() if k == "categorical"]
        model = Model(obj, num, cat, info.task, path)
    else:
        raise InputUnreadable(f"artifact {path} is neither a model nor a {{'pipeline': ...}} bundle")
    if not model.features:
        raise InputUnreadable(f"artifact {path} names no input features")
    _MODELS.clear()  # one model at a time is enough for a console
    _MODELS[key] = model
    return model


# --------------------------------------------------------------------------------------------
# the reference


@dataclass
class Reference:
    """The version's reference file: numeric values sorted (finite only), categorical counts."""

    rows: int
    numeric: dict[str, np.ndarray]
    categorical: dict[str, dict[str, int]]
    columns: dict[str, list]  # every feature's values as logged, for background samples


_REFS: dict[tuple[str, int, int], Reference] = {}


def load_reference(info: VersionInfo) -> Reference:
    if info.reference is None:
        raise NotComputable(f"{info.model} version {info.version} has no registered reference")
    path = Path(info.reference)
    try:
        st = path.stat()
    except OSError:
        raise InputUnreadable(f"reference file of {info.model} version {info.version} not found: {path}") from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _REFS:
        return _REFS[key]
    from console.ingest.reader import read_records

    try:
        table = read_records(path, dict(info.features))
    except Exception as exc:  # noqa: BLE001
        raise InputUnreadable(f"cannot read reference {path}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, dict[str, int]] = {}
    columns: dict[str, list] = {}
    names = set(table.column_names)
    for feature, kind in info.features.items():
        col = feature if feature in names else f"f_{feature}"
        values = table.column(col).to_pylist() if col in names else [None] * table.num_rows
        columns[feature] = values
        if kind == "numeric":
            arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
            numeric[feature] = np.sort(arr[np.isfinite(arr)])
        else:
            counts: dict[str, int] = {}
            for v in values:
                if v is not None:
                    counts[str(v)] = counts.get(str(v), 0) + 1
            categorical[feature] = counts
    ref = Reference(table.num_rows, numeric, categorical, columns)
    _REFS.clear()
    _REFS[key] = ref
    return ref


def percentile_of(sorted_values: np.ndarray, value: float) -> float | None:
    """``scipy.stats.percentileofscore(values, value, kind="mean")`` on sorted values."""
    n = len(sorted_values)
    if n == 0:
        return None
    below = np.searchsorted(sorted_values, value, side="left")
    at_or_below = np.searchsorted(sorted_values, value, side="right")
    return float((below + at_or_below) / 2 / n * 100)


def compare_feature(ref: Reference | None, feature: str, kind: str, value: Any) -> dict[str, Any]:
    """One feature's logged value beside the reference (percentile/share and flag); without a
    reference (``None``) the value alone, flagged ``no reference`` (``missing`` when null)."""
    out: dict[str, Any] = {"feature": feature, "kind": kind, "value": value}
    if ref is None:
        missing = value is None or (kind == "numeric" and not np.isfinite(float(value)))
        out.update({"reference_min": None, "reference_max": None, "percentile": None} if kind == "numeric"
                   else {"share": None})
        out["flag"] = "missing" if missing else "no reference"
        return out
    if kind == "numeric":
        vals = ref.numeric.get(feature, np.empty(0))
        out["reference_min"] = float(vals[0]) if len(vals) else None
        out["reference_max"] = float(vals[-1]) if len(vals) else None
        if value is None or not np.isfinite(float(value)):
            out.update(percentile=None, flag="missing")
        elif not len(vals):
            out.update(percentile=None, flag="no reference")
        else:
            v = float(value)
            out["percentile"] = percentile_of(vals, v)
            out["flag"] = "outside" if v < vals[0] or v > vals[-1] else "ok"
    else:
        counts = ref.categorical.get(feature, {})
        total = sum(counts.values())
        if value is None:
            out.update(share=None, flag="missing")
        elif not total:
            out.update(share=None, flag="no reference")
        else:
            n = counts.get(str(value), 0)
            out["share"] = n / total
            out["flag"] = "unseen" if n == 0 else "ok"
    return out


def _background(ref: Reference, model: Model, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(ref.rows, size=min(size, ref.rows), replace=False))
    return model.matrix({f: [ref.columns[f][i] for i in idx] for f in model.features})


# --------------------------------------------------------------------------------------------
# attributions


def _hgb_parts(model: Model):
    """(preprocessing, estimator, category counts per categorical column) when the pipeline is
    a ColumnTransformer passing numbers through and ordinal-encoding categories in front of a
    histogram gradient-boosting model (the sample's tree models), else None."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    pipe = model.pipeline
    if not isinstance(pipe, Pipeline) or len(pipe.steps) != 2:
        return None
    pre, est = pipe.steps[0][1], pipe.steps[1][1]
    if not isinstance(est, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        return None
    if isinstance(est, HistGradientBoostingClassifier) and len(est.classes_) != 2:
        return None
    if not isinstance(pre, ColumnTransformer):
        return None
    width = len(model.features)
    ncat: dict[int, int] = {}
    out_col = 0
    order: list[int] = []
    for _name, trans, cols in pre.transformers_:
        if trans == "drop":
            continue
        cols = list(cols)
        if trans == "passthrough" or (isinstance(trans, FunctionTransformer) and trans.func is None):
            pass  # a fitted ColumnTransformer holds 'passthrough' as an identity FunctionTransformer
        elif isinstance(trans, OrdinalEncoder):
            for j, cats in enumerate(trans.categories_):
                ncat[out_col + j] = len(cats)
        else:
            return None
        order.extend(cols)
        out_col += len(cols)
    if order != list(range(width)):
        return None  # the transformed columns must be the input columns, in order
    inner = getattr(est, "_preprocessor", None)
    if inner is None:  # categories reach the trees as the outer encoder's codes
        return pre, est, None, np.arange(width), ncat
    # scikit-learn ≥ 1.4 re-encodes categorical_features itself: its columns first (codes
    # 0..k-1, NaN for missing or unknown), then the numeric ones
    mask = np.asarray(est.is_categorical_, dtype=bool)
    perm = np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)])
    enc = inner.named_transformers_["encoder"]
    ncat = {j: len(c) for j, c in enumerate(enc.categories_)}
    return pre, est, inner, perm, ncat


def _tree_dicts(est, ncat: dict[int, int], shares: dict[int, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """The estimator's trees in shap's dict format, each categorical split rewritten as a chain
    of threshold splits over the codes -1 (missing or unknown) .. k-1: the same function of the
    input. Covers (training rows per node, which path-dependent TreeSHAP weighs by) of the
    subtrees copied under a chain are the child's cover split over its runs of codes in
    proportion to ``shares[f]`` (each code's count in the background rows plus one),
    so every node's cover is still the sum of its children's."""
    return [_tree_dict(preds[0], ncat, shares) for preds in est._predictors]


def _tree_dict(p, ncat: dict[int, int], shares: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
    """One tree predictor of ``_tree_dicts``."""
    nodes = p.nodes
    bitsets = p.raw_left_cat_bitsets
    L: list[int] = []
    R: list[int] = []
    D: list[int] = []
    F: list[int] = []
    T: list[float] = []
    V: list[float] = []
    W: list[float] = []

    def new(feature: int, threshold: float, value: float, weight: float) -> int:
        for arr, x in ((L, -1), (R, -1), (D, -1), (F, feature), (T, threshold), (V, value), (W, weight)):
            arr.append(x)
        return len(L) - 1

    def build(i: int, scale: float) -> int:
        nd = nodes[i]
        cover = float(nd["count"]) * scale
        if nd["is_leaf"]:
            return new(-2, 0.0, float(nd["value"]), cover)
        f = int(nd["feature_idx"])
        if not nd["is_categorical"]:
            me = new(f, float(nd["num_threshold"]), 0.0, cover)
            left, right = build(int(nd["left"]), scale), build(int(nd["right"]), scale)
            L[me], R[me] = left, right
            D[me] = left if nd["missing_go_to_left"] else right
            return me
        bits = bitsets[int(nd["bitset_idx"])]
        k = ncat.get(f, 256)

        def goes_left(code: int) -> bool:
            if code < 0:
                return bool(nd["missing_go_to_left"])
            return bool((int(bits[code // 32]) >> (code % 32)) & 1) if code < 256 else False

        share = shares.get(f)
        runs: list[list] = []  # [last code of the run, left?, weight]
        for code in range(-1, k):
            d = goes_left(code)
            w = float(share[code + 1]) if share is not None and code + 1 < len(share) else 0.0
            if runs and runs[-1][1] == d:
                runs[-1][0], runs[-1][2] = code, runs[-1][2] + w
            else:
                runs.append([code, d, w])
        side_total = {True: sum(r[2] for r in runs if r[1]), False: sum(r[2] for r in runs if not r[1])}
        side_runs = {True: sum(1 for r in runs if r[1]), False: sum(1 for r in runs if not r[1])}
        for r in runs:  # the run's fraction of its side's rows
            r[2] = r[2] / side_total[r[1]] if side_total[r[1]] > 0 else 1.0 / side_runs[r[1]]
        child = {True: int(nd["left"]), False: int(nd["right"])}
        if len(runs) == 1:
            return build(child[runs[0][1]], scale)

        def chain(r: int) -> int:
            code, d, frac = runs[r]
            if r == len(runs) - 1:
                return build(child[d], scale * frac)
            rest = sum(float(nodes[child[x[1]]]["count"]) * x[2] for x in runs[r:]) * scale
            me = new(f, code + 0.5, 0.0, rest)
            left = build(child[d], scale * frac)
            right = chain(r + 1)
            L[me], R[me], D[me] = left, right, left  # codes never hold NaN (see _codes)
            return me

        return chain(0)

    build(0, 1.0)
    return {
        "children_left": np.array(L, dtype=np.int32), "children_right": np.array(R, dtype=np.int32),
        "children_default": np.array(D, dtype=np.int32), "features": np.array(F, dtype=np.int32),
        "thresholds": np.array(T, dtype=np.float64), "values": np.array(V, dtype=np.float64)[:, None],
        "node_sample_weight": np.array(W, dtype=np.float64),
    }


class Explainer:
    """SHAP attributions of one model version over a background sample of its reference."""

    def __init__(self, model: Model, background: np.ndarray, seed: int = SEED):
        import shap

        self.model = model
        self.features = model.features
        self.seed = seed
        parts = _hgb_parts(model)
        if parts is not None:
            pre, est, inner, perm, ncat = parts
            self.method = "tree (path-dependent TreeSHAP)"
            self._pre, self._inner, self._perm, self._ncat = pre, inner, perm, ncat
            base = float(np.ravel(est._baseline_prediction)[0])
            bg = self._codes(background)
            shares = {j: np.bincount((bg[:, j] + 1).astype(int).clip(0), minlength=ncat[j] + 1) + 1.0
                      for j in ncat}  # + 1: a code the background lacks keeps a (small) cover
            trees = _tree_dicts(est, ncat, shares)
            self._shap = shap.TreeExplainer(
                {"trees": trees, "base_offset": base, "tree_output": "raw_value", "objective": None,
                 "input_dtype": np.float64, "internal_dtype": np.float64},  # float32 moves thresholds
                feature_perturbation="tree_path_dependent", model_output="raw")
            self._tree = True
        else:
            self._tree = False
            self._cats = {j: sorted({str(v) for v in background[:, j] if v is not None})
                          for j in range(len(model.numeric), len(self.features))}
            self._bg = self._encode(background)
            self.method = ("exact (Shapley values over the reference background)" if len(self.features) <= EXACT_MAX_FEATURES
                           else "permutation (Shapley values over the reference background)")
        self.background = background

    def _codes(self, X: np.ndarray) -> np.ndarray:
        """Raw rows → the trees' input: the pipeline's encoding, then the estimator's own (its
        column order, ``self._perm``), a missing or unknown category as code -1."""
        Z = self._pre.transform(X)  # as the pipeline hands it on (an object array here)
        Z = np.asarray(self._inner.transform(Z) if self._inner is not None else Z, dtype=float)
        for j in self._ncat:
            col = Z[:, j]
            col[~np.isfinite(col)] = -1.0
        return Z

    def _encode(self, X: np.ndarray) -> np.ndarray:
        """Raw rows → floats: numbers as they are, categories as their index (new ones appended)."""
        E = np.empty(X.shape, dtype=float)
        k = len(self.model.numeric)
        E[:, :k] = X[:, :k].astype(float)
        for j, cats in self._cats.items():
            for i, v in enumerate(X[:, j]):
                if v is None:
                    E[i, j] = -1.0
                    continue
                v = str(v)
                if v not in cats:
                    cats.append(v)
                E[i, j] = cats.index(v)
        return E

    def _decode(self, E: np.ndarray) -> np.ndarray:
        X = np.empty(E.shape, dtype=object)
        k = len(self.model.numeric)
        X[:, :k] = E[:, :k]
        for j, cats in self._cats.items():
            X[:, j] = [None if c < 0 else cats[int(c)] for c in E[:, j]]
        return X

    def explain(self, X: np.ndarray, cls: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(attributions n×features, base value per row, model output per row)."""
        if self._tree:
            tree_phi = np.asarray(self._shap.shap_values(self._codes(X)), dtype=float)
            phi = np.empty_like(tree_phi)
            phi[:, self._perm] = tree_phi  # each tree column is one input feature
            base = np.full(len(X), float(np.ravel(self._shap.expected_value)[0]))
            return phi, base, self.model.output(X, cls)
        import shap

        def f(E: np.ndarray) -> np.ndarray:
            return self.model.output(self._decode(E), cls)

        E = self._encode(X)
        masker = shap.maskers.Independent(self._bg, max_samples=len(self._bg))
        algo = "exact" if len(self.features) <= EXACT_MAX_FEATURES else "permutation"
        ex = shap.Explainer(f, masker, algorithm=algo, seed=self.seed)
        # silent: shap's progress bar would write to the terminal (the TUI's own screen)
        res = (ex(E, silent=True) if algo == "exact"
               else ex(E, max_evals=max(2 * len(self.features) + 1, 500), silent=True))
        phi = np.asarray(res.values, dtype=float)
        base = np.asarray(res.base_values, dtype=float).reshape(-1)
        return phi, base, self.model.output(X, cls)


def additivity(phi: np.ndarray, base: float, output: float) -> dict[str, Any]:
    total = float(np.sum(phi)) + float(base)
    err = abs(total - float(output))
    return {"sum_plus_base": total, "output": float(output), "abs_error": err,
            "holds": bool(err <= TOLERANCE * max(1.0, abs(float(output))))}


# --------------------------------------------------------------------------------------------
# one prediction


def find_prediction(db: StoreLike, request_id: str, model: str | None = None,
                    version: str | None = None) -> dict[str, Any]:
    """The logged row of ``request_id`` (``UsageError``: not found, or several and no ``model``
    or ``version`` to choose: a shadow version logs the same request id as the champion)."""
    cur = db.cursor()
    try:
        sql = "SELECT * FROM predictions_labelled WHERE request_id = ?"
        params: list[Any] = [request_id]
        if model is not None:
            sql += " AND model = ?"
            params.append(model)
        if version is not None:
            sql += " AND version = ?"
            params.append(str(version))
        sql += " ORDER BY model, ts LIMIT 50"
        res = cur.execute(sql, params)
        names = [d[0] for d in res.description]
        rows = [dict(zip(names, r, strict=True)) for r in res.fetchall()]
    finally:
        cur.close()
    if not rows:
        where = (f" of model {model!r}" if model else "") + (f" version {version!r}" if version else "")
        raise UsageError(f"no prediction with request id {request_id!r}{where}")
    models = sorted({r["model"] for r in rows})
    if len(models) > 1:
        raise UsageError(f"request id {request_id!r} was logged by several models ({', '.join(models)}): pass --model")
    versions = sorted({str(r["version"]) for r in rows})
    if len(versions) > 1:
        raise UsageError(f"request id {request_id!r} was logged by versions {', '.join(versions)} of {models[0]}: pass --version")
    if len(rows) > 1:
        raise UsageError(f"request id {request_id!r} was logged {len(rows)} times by {models[0]}: it must be unique to explain it")
    return rows[0]


def _row_values(db: StoreLike, row: dict[str, Any], model: str, version: str, features: list[str]) -> dict[str, Any]:
    cols = {name: col for name, col, _k in model_features(db, model, version)}
    return {f: row.get(cols.get(f, f"f_{f}")) for f in features}


def explain_prediction(db: StoreLike, root: Path, request_id: str, model: str | None = None,
                       version: str | None = None, background: int = BACKGROUND, seed: int = SEED) -> dict[str, Any]:
    """The report described in the module docstring, as a JSON-ready dict."""
    row = find_prediction(db, request_id, model, version)
    model, version = row["model"], str(row["version"])
    info = db.registry.get(model, version)
    if info is None:
        raise UsageError(f"{model} version {version} (of request {request_id!r}) is not in the registry")
    # A registry entry need not name its features or a reference (only model, version and task
    # are required): the features are then the ones the store catalogued for the model, and
    # each is shown as logged, flagged "no reference", rather than the prediction refused.
    ref = load_reference(info) if info.reference is not None else None
    kinds = dict(info.features) or {name: kind for name, _col, kind in model_features(db, model, version)}
    values = _row_values(db, row, model, version, list(kinds))
    features = [compare_feature(ref, f, k, values[f]) for f, k in kinds.items()]
    cost = row.get("cost_usd")
    cost_source = "logged"
    if cost is None and info.cost.get("per_1k_predictions_usd") is not None:
        cost, cost_source = info.cost["per_1k_predictions_usd"] / 1000.0, "registry per_1k_predictions_usd"
    out: dict[str, Any] = {
        "request_id": request_id, "model": model, "version": version, "ts": row.get("ts"),
        "status": row.get("status"), "prediction": row.get("prediction"), "score": row.get("score"),
        "label": row.get("label") if row.get("labelled") else None,
        "threshold": info.threshold if info.task == "binary" else None,
        "positive_label": info.positive_label if info.task == "binary" else None,
        "latency_ms": row.get("latency_ms"), "cost_usd": cost,
        "cost_source": cost_source if cost is not None else None,
        "reference": None if ref is None else {"source": str(info.reference), "rows": ref.rows},
        "features": features,
        "outside_reference": [f["feature"] for f in features if f["flag"] in ("outside", "unseen")],
        "attributions": None, "attribution_note": None,
    }
    if artifact_path(info) is None:
        out["attribution_note"] = "no model artifact in the registry entry ('artifact' or lineage.artifact)"
        return out
    m = load_model(root, info)  # trust refusals are errors, not notes: the artifact is suspect
    out["artifact"] = {"path": str(m.path), "writers": artifact_writers(root, m.path)}
    if ref is None:
        out["attribution_note"] = "no registered reference to draw the attributions' background from"
        return out
    if not shap_available():
        out["attribution_note"] = INSTALL_HINT
        return out
    X = m.matrix({f: [values.get(f)] for f in m.features})
    cls, cls_label = _class_of(m, X)
    ex = _explainer(m, info, ref, background, seed)
    phi, base, output = ex.explain(X, cls)
    attrs = sorted(({"feature": f, "value": values.get(f), "attribution": float(phi[0, j])}
                    for j, f in enumerate(m.features)), key=lambda a: -abs(a["attribution"]))
    out["attributions"] = {
        "method": ex.method, "output_space": m.output_space(cls_label), "background_rows": len(ex.background),
        "base_value": float(base[0]), "output": float(output[0]), "features": attrs,
        "additivity": additivity(phi[0], base[0], output[0]),
    }
    if m.task == "binary":
        out["attributions"]["probability"] = float(1 / (1 + np.exp(-output[0])))
    return out


def _class_of(m: Model, X: np.ndarray) -> tuple[int | None, Any]:
    if m.task != "multiclass":
        return None, None
    d = np.asarray(m.pipeline.decision_function(X))
    k = int(np.argmax(d[0]))
    return k, m.pipeline.classes_[k]


_EXPLAINERS: dict[tuple, Explainer] = {}


def _explainer(m: Model, info: VersionInfo, ref: Reference, background: int, seed: int) -> Explainer:
    key = (str(m.path), id(m), id(ref), background, seed)
    if key not in _EXPLAINERS:
        _EXPLAINERS.clear()
        _EXPLAINERS[key] = Explainer(m, _background(ref, m, background, seed), seed)
    return _EXPLAINERS[key]


def explain_rows(db: StoreLike, root: Path, model: str, version: str, rows: dict[str, list],
                 background: int = BACKGROUND, seed: int = SEED) -> dict[str, Any]:
    """Attributions of many rows at once (column lists keyed by feature): arrays
    ``attributions`` (rows × features), ``base_value``, ``output`` and the ``features`` order."""
    info = db.registry.get(model, version)
    if info is None:
        raise UsageError(f"unknown version {version!r} of model {model!r}")
    ref = load_reference(info)
    m = load_model(root, info)
    ex = _explainer(m, info, ref, background, seed)
    X = m.matrix(rows)
    if m.task == "multiclass":
        raise UsageError("explain_rows: a multiclass model is explained one prediction at a time")
    phi, base, output = ex.explain(X)
    return {"features": m.features, "attributions": phi, "base_value": base, "output": output,
            "method": ex.method}


# --------------------------------------------------------------------------------------------
# a version's importance


def _logged_rows(db: StoreLike, model: str, version: str, features: list[str], limit: int) -> tuple[dict[str, list], list]:
    cols = {name: col for name, col, _k in model_features(db, model, version)}
    from console.store.sql import ident

    sel = ", ".join(ident(cols.get(f, f"f_{f}")) for f in features)
    cur = db.cursor()
    try:
        res = cur.execute(
            f"SELECT {sel}, label, labelled FROM predictions_labelled WHERE model = ? AND version = ? "
            "AND status = 'ok' ORDER BY ts DESC, request_id LIMIT ?", [model, version, limit]).fetchall()
    finally:
        cur.close()
    data = {f: [r[j] for r in res] for j, f in enumerate(features)}
    labels = [r[len(features)] if r[len(features) + 1] else None for r in res]
    return data, labels


def global_importance(db: StoreLike, root: Path, model: str, version: str, sample: int = GLOBAL_SAMPLE,
                      background: int = BACKGROUND, seed: int = SEED) -> dict[str, Any]:
    """Mean |SHAP| per feature on ``sample`` reference rows (seeded) and on the version's latest
    ``sample`` logged rows, and the change; permutation importance without shap."""
    info = db.registry.get(model, version)
    if info is None:
        raise UsageError(f"unknown version {version!r} of model {model!r}")
    ref = load_reference(info)
    m = load_model(root, info)
    rng = np.random.default_rng([seed, 1])
    idx = np.sort(rng.choice(ref.rows, size=min(sample, ref.rows), replace=False))
    ref_rows = {f: [ref.columns[f][i] for i in idx] for f in m.features}
    cur_rows, cur_labels = _logged_rows(db, model, version, m.features, sample)
    out: dict[str, Any] = {"model": model, "version": version, "reference_rows": len(idx),
                           "current_rows": len(cur_labels), "features": [],
                           "artifact": {"path": str(m.path), "writers": artifact_writers(root, m.path)}}
    if shap_available() and m.task != "multiclass":
        ex = _explainer(m, info, ref, background, seed)
        out["method"] = f"mean |SHAP| ({ex.method}; {m.output_space()})"
        ref_imp = np.abs(ex.explain(m.matrix(ref_rows))[0]).mean(axis=0)
        cur_imp = (np.abs(ex.explain(m.matrix(cur_rows))[0]).mean(axis=0) if cur_labels
                   else np.full(len(m.features), np.nan))
    else:
        from sklearn.inspection import permutation_importance

        out["method"] = "permutation importance (drop in the model's default score, 5 repeats)"
        if not shap_available():
            out["note"] = INSTALL_HINT + " for mean |SHAP|"
        ref_y = _ref_labels(info, idx)

        def perm(rows: dict[str, list], y: list) -> np.ndarray:
            keep = [i for i, v in enumerate(y) if v is not None]
            if len(keep) < 10:
                return np.full(len(m.features), np.nan)
            X = m.matrix({f: [rows[f][i] for i in keep] for f in m.features})
            yy = np.array([y[i] for i in keep])
            yy = yy.astype(float) if m.task == "regression" else yy.astype(type(m.pipeline.classes_[0]))
            r = permutation_importance(m.pipeline, X, yy, n_repeats=5, random_state=seed)
            return np.asarray(r.importances_mean, dtype=float)

        ref_imp = perm(ref_rows, ref_y)
        cur_imp = perm(cur_rows, cur_labels)
    for j, f in enumerate(m.features):
        r, c = float(ref_imp[j]), float(cur_imp[j])
        out["features"].append({"feature": f, "reference": r, "current": None if np.isnan(c) else c,
                                "change": None if np.isnan(c) or np.isnan(r) else c - r})
    out["features"].sort(key=lambda x: -(x["reference"] if not np.isnan(x["reference"]) else 0))
    return out


def _ref_labels(info: VersionInfo, idx: np.ndarray) -> list:
    import pyarrow.parquet as pq

    try:
        col = pq.read_table(info.reference, columns=["label"]).column("label").to_pylist()
    except Exception:  # noqa: BLE001 - a reference without labels has no permutation importance
        return [None] * len(idx)
    return [col[i] for i in idx]


def decision_text(rep: dict[str, Any]) -> str | None:
    """A binary prediction's decision in words: ``score 0.5407 ≥ threshold 0.5: the positive
    label (1)`` — None without a score or a registry threshold."""
    score, threshold = rep.get("score"), rep.get("threshold")
    if score is None or threshold is None:
        return None
    above = score >= threshold
    side = "the positive label" if above else "not the positive label"
    label = f" ({rep['positive_label']})" if rep.get("positive_label") is not None else ""
    return f"score {score:.4g} {'≥' if above else '<'} threshold {threshold:g}: {side}{label}"
