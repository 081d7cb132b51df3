"""Multivariate drift: a domain classifier that tries to tell reference rows from current rows.

A seeded sample of at most ``sample`` rows per side (DuckDB ``USING SAMPLE … REPEATABLE``) is
fed to scikit-learn's ``HistGradientBoostingClassifier`` (numeric features as they are, nulls
native; categorical features as category codes, unseen and null values in their own code);
the score is the cross-validated ROC AUC (stratified ``folds``-fold, seeded). AUC ≈ 0.5 means
the two sets look alike. Band (configurable in ``[multivariate]``): ``< warn_auc`` ok,
``≥ warn_auc`` warning, ``≥ drift_auc`` drift. Features are ranked by permutation importance
on the held-out folds (the mean drop in AUC when the feature is shuffled).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from console.analytics.config import MultivariateConfig
from console.store.sql import ident


def _fetch(cur, side, cols: list[tuple[str, str, str]], n: int, seed: int) -> dict[str, np.ndarray]:
    select = ", ".join(
        f"{ident(c)}::DOUBLE AS {ident(name)}" if k == "numeric" else f"{ident(c)}::VARCHAR AS {ident(name)}"
        for name, c, k in cols
    )
    sql = f"SELECT {select} FROM {side.relation} WHERE {side.where}"
    if side.rows > n:
        sql = f"SELECT * FROM ({sql}) USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE ({int(seed)})"
    return cur.execute(sql, side.params).fetchnumpy()


def _encode(ref: dict, cur: dict, cols: list[tuple[str, str, str]]) -> tuple[np.ndarray, list[bool]]:
    blocks = []
    categorical = []
    for name, _, kind in cols:
        r, c = ref[name], cur[name]
        if kind == "numeric":
            col = np.concatenate([np.ma.filled(np.ma.asarray(r, dtype=float), np.nan),
                                  np.ma.filled(np.ma.asarray(c, dtype=float), np.nan)])
            col[~np.isfinite(col)] = np.nan
            categorical.append(False)
        else:
            values = [None if v is None or v is np.ma.masked else str(v) for v in
                      list(np.ma.filled(np.ma.asarray(r, dtype=object), None)) +
                      list(np.ma.filled(np.ma.asarray(c, dtype=object), None))]
            cats = sorted({v for v in values if v is not None})[:250]
            code = {v: i for i, v in enumerate(cats)}
            col = np.array([np.nan if v is None else code.get(v, len(cats)) for v in values], dtype=float)
            categorical.append(True)
        blocks.append(col)
    return np.column_stack(blocks), categorical


def domain_classifier(cur, reference, current, cols: list[tuple[str, str, str]], cfg: MultivariateConfig) -> dict[str, Any]:
    """``{"auc", "status", "warn_auc", "drift_auc", "rows", "top_features": [...]}``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    out: dict[str, Any] = {"method": "domain_classifier", "auc": None, "status": "not enough data",
                           "warn_auc": cfg.warn_auc, "drift_auc": cfg.drift_auc, "top_features": []}
    if not cols or reference.rows < 2 * cfg.folds or current.rows < 2 * cfg.folds:
        return out
    ref = _fetch(cur, reference, cols, cfg.sample, cfg.seed)
    now = _fetch(cur, current, cols, cfg.sample, cfg.seed + 1)
    X, categorical = _encode(ref, now, cols)
    n_ref = len(next(iter(ref.values())))
    n_cur = len(next(iter(now.values())))
    y = np.concatenate([np.zeros(n_ref, dtype=int), np.ones(n_cur, dtype=int)])
    folds = StratifiedKFold(n_splits=cfg.folds, shuffle=True, random_state=cfg.seed)
    oof = np.zeros(y.size)
    importances = np.zeros(len(cols))
    rng = np.random.RandomState(cfg.seed)
    with threadpool_limits(1):  # small fits: threads only contend (with DuckDB's too)
        for train, test in folds.split(X, y):
            clf = HistGradientBoostingClassifier(
                max_iter=60, learning_rate=0.1, categorical_features=np.array(categorical),
                random_state=cfg.seed, early_stopping=False,
            )
            clf.fit(X[train], y[train])
            oof[test] = clf.predict_proba(X[test])[:, 1]
            if len(np.unique(y[test])) == 2:
                imp = permutation_importance(clf, X[test], y[test], scoring="roc_auc", n_repeats=2,
                                             random_state=rng.randint(1 << 30))
                importances += imp.importances_mean / cfg.folds
    auc = float(roc_auc_score(y, oof))
    status = "drift" if auc >= cfg.drift_auc else "warning" if auc >= cfg.warn_auc else "ok"
    order = np.argsort(-importances)
    out.update({
        "auc": auc, "status": status, "rows": {"reference": n_ref, "current": n_cur},
        "top_features": [{"feature": cols[i][0], "importance": float(importances[i])}
                         for i in order[: cfg.top] if importances[i] > 0],
    })
    return out
