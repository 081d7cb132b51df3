"""The sample fleet: trains every model version, then writes its artifact, reference and registry file.

- ``credit-risk`` (binary): 1 archived (logistic regression on four features, no
  ``debt_ratio``), 2 production (gradient boosting, adds ``debt_ratio``, region, channel...
  but not ``utilization``), 3 candidate (gradient boosting with it: better on the same held-out
  set). Lineage links 3 → 2 → 1.
- ``delivery-eta`` (regression): 1 archived (ridge), 2 production (gradient boosting).
- ``ticket-router`` (multiclass): 1 production (multinomial logistic regression); its cost per
  request is high and its monthly budget small: it goes over budget in November.

Every version's reference file (the prediction-log record format, Parquet) is a sample of its own
training data with the version's predictions on it. Every version has a model card (``CARDS``);
credit-risk v3's has no ``limitations`` yet, so the ``model_card`` gate the sample enables fails
for its pending promotion.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from console.samplegen import population as pop
from console.samplegen import timeline as tl
from console.samplegen.timeline import UTC
from console.samplegen.training import FRAMEWORK, Trained, evaluate, train
from console.samplegen.writers import write_json, write_parquet
from console.store.registry import CARD_FIELDS


@dataclass
class VersionSpec:
    model: str
    version: str
    task: str
    kind: str
    stage: str
    created_at: str
    created_by: str
    numeric: list[str]
    categorical: list[str]
    slices: list[str]
    train_rows: int
    train_window: tuple[str, str]
    cost: dict[str, float]
    params: dict[str, Any]
    threshold: float = 0.5  # binary: the score at or above which the prediction is 1


CREDIT_COST = {"training_usd": 0.0, "per_1k_predictions_usd": 0.04, "monthly_budget_usd": 500.0}
DELIVERY_COST = {"training_usd": 0.0, "per_1k_predictions_usd": 0.02, "monthly_budget_usd": 150.0}
TICKET_COST = {"training_usd": 35.0, "per_1k_predictions_usd": 4.5, "monthly_budget_usd": 60.0}

SPECS: list[VersionSpec] = [
    VersionSpec("credit-risk", "1", "binary", "logistic", "archived", "2026-06-02T10:30:00Z", "alice",
                ["income", "age", "credit_lines"], ["employment"], ["employment"], 4_000,
                ("2025-12-01", "2026-04-30"), {**CREDIT_COST, "training_usd": 18.0}, {"C": 1.0},
                threshold=0.3),
    VersionSpec("credit-risk", "2", "binary", "hgb_classifier", "production", "2026-08-18T14:05:00Z",
                "ci-pipeline", [c for c in pop.CREDIT_NUMERIC if c != "utilization"],
                pop.CREDIT_CATEGORICAL, ["region", "channel"], 12_000,
                ("2026-02-01", "2026-07-31"), {**CREDIT_COST, "training_usd": 120.0},
                {"max_iter": 100, "max_depth": 4, "learning_rate": 0.08}),
    VersionSpec("credit-risk", "3", "binary", "hgb_classifier", "candidate", "2026-11-03T09:12:00Z",
                "ci-pipeline", pop.CREDIT_NUMERIC, pop.CREDIT_CATEGORICAL,
                ["region", "channel"], 20_000, ("2026-04-01", "2026-10-15"),
                {**CREDIT_COST, "training_usd": 185.0},
                {"max_iter": 150, "max_leaf_nodes": 15, "learning_rate": 0.06}),
    VersionSpec("delivery-eta", "1", "regression", "ridge", "archived", "2026-07-10T08:00:00Z", "bob",
                pop.DELIVERY_NUMERIC, pop.DELIVERY_CATEGORICAL, ["city", "courier"], 6_000,
                ("2026-04-01", "2026-06-30"), {**DELIVERY_COST, "training_usd": 12.0}, {"alpha": 1.0}),
    VersionSpec("delivery-eta", "2", "regression", "hgb_regressor", "production", "2026-09-29T16:40:00Z",
                "ci-pipeline", pop.DELIVERY_NUMERIC, pop.DELIVERY_CATEGORICAL, ["city", "courier", "weather"],
                12_000, ("2026-06-01", "2026-09-20"), {**DELIVERY_COST, "training_usd": 40.0},
                {"max_iter": 120, "max_leaf_nodes": 15, "learning_rate": 0.08}),
    VersionSpec("ticket-router", "1", "multiclass", "logistic", "production", "2026-09-15T11:20:00Z",
                "ci-pipeline", pop.TICKET_NUMERIC, pop.TICKET_CATEGORICAL, ["language"],
                8_000, ("2026-06-01", "2026-09-01"), TICKET_COST, {"C": 0.5}),
]

CREDIT_CARD = {
    "owner": "credit-ml team",
    "intended_use": "Ranking consumer credit applications by their risk of defaulting within 12 months, "
                    "so that underwriters review the riskiest first.",
    "out_of_scope": ["automatic refusal without an underwriter", "business or mortgage lending",
                     "applicants under 18"],
    "risks": ["over-refusal of applicants from regions with little training data",
              "under-estimated risk where an employer closes (not visible in the features)"],
    "evaluation_data": "a held-out set of 8,000 applications drawn from the same population as the training data",
    "fairness_considerations": "Accuracy and positive rate are compared across region and channel "
                               "(the registry's slices); region=north is known to be harder.",
    "contact": "credit-ml@acme.example",
}
DELIVERY_CARD = {
    "owner": "logistics-ds team",
    "intended_use": "Estimating delivery minutes shown to customers at checkout.",
    "out_of_scope": ["courier pay or performance reviews", "scheduled (next-day) deliveries"],
    "limitations": ["estimates degrade in severe weather", "no live traffic data"],
    "risks": "Optimistic estimates frustrate customers; pessimistic ones lose orders.",
    "evaluation_data": "a held-out set of 8,000 delivered orders",
    "fairness_considerations": "Error is compared across cities and couriers.",
    "contact": "#logistics-ds",
}
CARDS: dict[tuple[str, str], dict[str, Any]] = {
    ("credit-risk", "1"): {**CREDIT_CARD,
                           "description": "Logistic regression on income, age, credit lines and employment (no debt_ratio).",
                           "limitations": ["ignores debt_ratio and the application channel",
                                           "weaker ranking (roc_auc about 0.69)"]},
    ("credit-risk", "2"): {**CREDIT_CARD,
                           "description": "Gradient-boosted trees on the applicant, region and channel features.",
                           "limitations": ["has not seen the aggregator channel",
                                           "no utilization feature"]},
    # v3 was registered by the pipeline before anyone wrote its limitations: the model_card gate fails
    ("credit-risk", "3"): {**CREDIT_CARD,
                           "description": "Gradient-boosted trees; v2's features plus credit utilization."},
    ("delivery-eta", "1"): {**DELIVERY_CARD, "description": "Ridge regression on distance, items, hour, city, courier "
                                                            "and weather."},
    ("delivery-eta", "2"): {**DELIVERY_CARD, "description": "Gradient-boosted trees on the same features as "
                                                            "v1."},
    ("ticket-router", "1"): {
        "description": "Routes a support ticket to one of four queues: billing, technical, account, sales.",
        "owner": "support-tools team",
        "intended_use": "Choosing the first queue of a new support ticket; agents can re-route.",
        "out_of_scope": ["closing or answering tickets", "prioritising customers"],
        "limitations": ["mostly English tickets (Portuguese and Spanish are fewer)",
                        "rare queues are often confused (macro F1 well below accuracy)"],
        "risks": "A misrouted ticket waits longer.",
        "evaluation_data": "a held-out set of 8,000 resolved tickets",
        "fairness_considerations": "Accuracy is compared across ticket languages.",
        "contact": "support-tools@acme.example",
    },
}

REFERENCE_ROWS = 4_000  # per version: above 1000, so drift uses Wasserstein / Jensen-Shannon


def _draw(model: str, rng: np.random.Generator, n: int) -> tuple[pop.Columns, np.ndarray]:
    """Training-time population and its ground truth."""
    if model == "credit-risk":
        f = pop.credit_features(rng, n)
        y = (rng.random(n) < pop.credit_default_probability(f)).astype(int)
    elif model == "delivery-eta":
        f = pop.delivery_features(rng, n, _hours(rng, n, tl.MEAL_HOURS))
        y = pop.delivery_minutes(rng, f)
    else:
        f = pop.ticket_features(rng, n, _hours(rng, n, tl.SUPPORT_HOURS))
        y = pop.ticket_queue(rng, f)
    return f, y


def _hours(rng: np.random.Generator, n: int, profile: list[float]) -> np.ndarray:
    """Hours of day following the service's daily profile (as in live traffic)."""
    w = np.asarray(profile, dtype=float)
    return rng.choice(24, size=n, p=w / w.sum())


def _take(cols: pop.Columns, n: int) -> pop.Columns:
    return {k: v[:n] for k, v in cols.items()}


def _commit(spec: VersionSpec) -> str:
    """A stable code commit id for the training code of this version (the sample's own pipeline)."""
    return hashlib.sha1(f"acme-ml/{spec.model}@train-v{spec.version}".encode()).hexdigest()


def train_fleet(seed: int, scale: float = 1.0) -> dict[tuple[str, str], tuple[VersionSpec, Trained, pop.Columns, np.ndarray]]:
    """Train every version; returns spec, model, its training columns and labels per version.

    ``scale`` (≤ 1) shrinks the training sets for tiny test workspaces.
    """
    out = {}
    pools: dict[str, tuple[pop.Columns, np.ndarray, pop.Columns, np.ndarray]] = {}
    for i, model in enumerate(["credit-risk", "delivery-eta", "ticket-router"]):
        rng = np.random.default_rng([seed, 900 + i])
        biggest = max(s.train_rows for s in SPECS if s.model == model)
        n_train = max(1_500, int(biggest * min(scale, 1.0)))
        train_cols, y_train = _draw(model, rng, n_train)
        test_cols, y_test = _draw(model, rng, max(1_500, int(8_000 * min(scale, 1.0))))
        pools[model] = (train_cols, y_train, test_cols, y_test)
    for spec in SPECS:
        train_cols, y_train, test_cols, y_test = pools[spec.model]
        n = max(1_000, int(spec.train_rows * min(scale, 1.0)))
        cols, y = _take(train_cols, n), y_train[:n]
        t = train(spec.model, spec.version, spec.task, spec.kind, spec.numeric, spec.categorical,
                  cols, y, seed=seed, threshold=spec.threshold, **spec.params)
        evaluate(t, test_cols, y_test)
        out[(spec.model, spec.version)] = (spec, t, cols, y)
    return out


def write_version(root: Path, spec: VersionSpec, t: Trained, cols: pop.Columns, y: np.ndarray, seed: int) -> None:
    """models/<m>/<v>.skops, reference/<m>/<v>.parquet and registry/<m>/<v>.json."""
    t.save(root / "models" / spec.model / f"{spec.version}.skops")
    ref_path = f"reference/{spec.model}/{spec.version}.parquet"
    write_parquet(root / ref_path, _reference_table(spec, t, cols, y, seed))
    doc: dict[str, Any] = {
        "model": spec.model,
        "version": spec.version,
        "task": spec.task,
        "created_at": spec.created_at,
        "created_by": spec.created_by,
        "stage": spec.stage,
        "features": {**{f: "numeric" for f in spec.numeric}, **{f: "categorical" for f in spec.categorical}},
        "reference": ref_path,
        "metrics": t.metrics,
        "slices": spec.slices,
    }
    if spec.task == "binary":
        doc["positive_label"] = 1
        doc["threshold"] = t.threshold
    parent = str(int(spec.version) - 1) if int(spec.version) > 1 else None
    doc["lineage"] = {
        "training_data": f"warehouse://acme/{spec.model}/training?from={spec.train_window[0]}&to={spec.train_window[1]}",
        "training_rows": t.train_rows,
        "data_hash": t.data_hash,
        "code_commit": _commit(spec),
        "params": t.params,
        "parent_version": parent,
        "framework": FRAMEWORK,
        "artifact": f"models/{spec.model}/{spec.version}.skops",
    }
    doc["cost"] = spec.cost
    card = dict(CARDS.get((spec.model, spec.version), {}))
    if card:
        card["training_data"] = (f"{t.train_rows} examples from {spec.train_window[0]} to {spec.train_window[1]} "
                                 f"({doc['lineage']['training_data']})")
    doc.update({k: card[k] for k in CARD_FIELDS if k in card})
    write_json(root / "registry" / spec.model / f"{spec.version}.json", doc)


def _reference_table(spec: VersionSpec, t: Trained, cols: pop.Columns, y: np.ndarray, seed: int) -> pa.Table:
    """A sample of the training data as prediction-log records, with the version's own predictions."""
    rng = np.random.default_rng([seed, 950, int(spec.version), len(spec.model)])
    n = min(REFERENCE_ROWS, len(y))
    idx = np.sort(rng.choice(len(y), size=n, replace=False))
    sub = {k: v[idx] for k, v in cols.items()}
    start = dt.datetime.fromisoformat(spec.train_window[0]).replace(tzinfo=UTC)
    end = dt.datetime.fromisoformat(spec.train_window[1]).replace(tzinfo=UTC)
    span_ms = int((end - start).total_seconds() * 1000)
    ts = np.sort(int(start.timestamp() * 1000) + rng.integers(0, span_ms, n))
    data: dict[str, Any] = {
        "ts": pa.array(ts, type=pa.timestamp("ms", tz="UTC")),
        "model": pa.array([spec.model] * n),
        "version": pa.array([spec.version] * n),
        "request_id": pa.array([f"ref-{spec.version}-{i:05d}" for i in range(n)]),
    }
    for f in spec.numeric:
        data[f] = pa.array(sub[f], type=pa.float64(), from_pandas=True)
    for f in spec.categorical:
        data[f] = pa.array(sub[f].tolist(), type=pa.string())
    if spec.task == "binary":
        s = t.score(sub)
        data["prediction"] = pa.array((s >= t.threshold).astype(np.int64))
        data["score"] = pa.array(s.round(4))
        data["label"] = pa.array(y[idx].astype(np.int64))
    elif spec.task == "regression":
        data["prediction"] = pa.array(t.predict(sub).round(1))
        data["label"] = pa.array(y[idx].astype(float))
    else:
        data["prediction"] = pa.array(t.predict(sub).tolist(), type=pa.string())
        data["label"] = pa.array(y[idx].tolist(), type=pa.string())
    return pa.table(data)
