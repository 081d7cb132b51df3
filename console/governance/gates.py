"""Promotion gates: the checks a challenger must pass, each with the numbers behind it.

``evaluate_gates(ws, model, version)`` returns one dict per enabled gate::

    {"gate": "offline_metric", "status": "passed" | "failed" | "not_evaluated",
     "detail": "one line a reviewer reads", "evidence": {...numbers...}}

A gate whose data is missing is ``not_evaluated`` with the reason in ``detail``: it is never
a silent pass, and approving with it needs ``--override`` just like a failed gate. The gates
(``[gates]`` in console.toml, overridable per model under ``[models."<m>".gates]``):

- ``offline_metric``: the challenger's registry metric is not worse than the champion's by
  more than ``metric_tolerance`` (absolute; the task's primary metric,
  ``analytics.metrics.PRIMARY_METRIC``, unless ``metric`` names another; ``LOWER_IS_BETTER`` says which way is worse);
- ``live_metric``: where both versions have at least ``live_min_labelled`` labelled predictions
  in the store over the period they overlap, the challenger's live metric is not worse than
  the champion's by more than ``live_tolerance``;
- ``slices``: no flagged slice for the challenger (``slices`` report over its traffic);
- ``drift``: no dataset drift between the challenger's reference (its training data) and the
  traffic it would serve over the last ``drift_window``: its own shadow/canary traffic when it
  has some, else the production version's traffic;
- ``fairness`` (opt-in, add it to ``enabled``): the challenger's fairness gaps are within the
  ``[alerts]`` thresholds ``fairness_parity_max`` / ``fairness_equal_opportunity_max``
  (console/governance/fairness_gate.py);
- ``lineage``: the challenger's registry ``lineage`` has every field of ``lineage_fields``;
- ``model_card`` (opt-in, add it to ``enabled``): the challenger's registry gives every model
  card field of ``model_card_required`` (console/governance/card.py).

``evidence_hash(gates)`` is the SHA-256 of their canonical JSON: a decision stores it, so the
evidence a reviewer saw is bound to what they decided.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from console import clock, durations
from console.analytics.metrics import LOWER_IS_BETTER, PRIMARY_METRIC, worse_by
from console.errors import UsageError
from console.governance.journal import canonical
from console.governance.state import fleet_state
from console.store.registry import CARD_FIELDS, Registry, load_registry
from console.workspace import Workspace

GATES = ("offline_metric", "live_metric", "slices", "drift", "lineage", "fairness", "model_card")
DEFAULTS: dict[str, Any] = {
    "enabled": list(GATES[:5]),  # fairness and model_card are opt-in (thresholds; cards to write)
    "metric": None,  # None: the primary metric of the task
    "metric_tolerance": 0.01,
    "live_tolerance": 0.02,
    "live_min_labelled": 100,
    "drift_window": "7d",
    "lineage_fields": ["data_hash", "code_commit"],
    "model_card_required": ["description", "owner", "intended_use", "limitations"],
}


def gate_config(ws: Workspace, model: str) -> dict[str, Any]:
    """``[gates]`` with the defaults filled in, then ``[models."<model>".gates]`` on top."""
    cfg = dict(DEFAULTS)
    cfg.update(ws.section("gates"))
    cfg.update(ws.model_section(model, "gates"))
    where = f"{ws.config_path}: [gates]"
    for key in cfg:
        if key not in DEFAULTS:
            raise UsageError(f"{where} unknown key {key!r} (known: {', '.join(DEFAULTS)})")
    for key in ("metric_tolerance", "live_tolerance"):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise UsageError(f"{where} {key} must be a number ≥ 0, not {value!r}")
    value = cfg["live_min_labelled"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{where} live_min_labelled must be a whole number ≥ 1, not {value!r}")
    for key, allowed in (("enabled", GATES), ("lineage_fields", None)):
        value = cfg[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{where} {key} must be a list of strings")
        bad = [v for v in value if allowed is not None and v not in allowed]
        if bad:
            raise UsageError(f"{where} enabled: unknown gate {bad[0]!r} (known: {', '.join(GATES)})")
    value = cfg["model_card_required"]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where} model_card_required must be a list of strings")
    bad = [v for v in value if v not in CARD_FIELDS]
    if bad:
        raise UsageError(f"{where} model_card_required: unknown card field {bad[0]!r} (known: {', '.join(CARD_FIELDS)})")
    if cfg["metric"] is not None and not isinstance(cfg["metric"], str):
        raise UsageError(f"{where} metric must be a metric name")
    durations.parse(cfg["drift_window"], f"{where} drift_window")
    return cfg


def evidence_hash(gates: list[dict[str, Any]]) -> str:
    return "sha256:" + hashlib.sha256(canonical(gates).encode("utf-8")).hexdigest()


def failing(gates: list[dict[str, Any]]) -> list[str]:
    """Names of the gates that did not pass (failed or not evaluated)."""
    return [g["gate"] for g in gates if g.get("status") != "passed"]


def _gate(name: str, status: str, detail: str, **evidence: Any) -> dict[str, Any]:
    return {"gate": name, "status": status, "detail": detail, "evidence": _clean(evidence)}


def _clean(value: Any) -> Any:
    """JSON-safe evidence: plain floats (rounded to 12 significant digits), no NaN."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return float(f"{value:.12g}")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value if isinstance(value, (int, str)) else str(value)


def evaluate_gates(
    ws: Workspace,
    model: str,
    version: str,
    registry: Registry | None = None,
    db: Any = None,
) -> list[dict[str, Any]]:
    """Every enabled gate for promoting ``model`` ``version``, with its evidence."""
    registry = registry or load_registry(ws.registry, ws.root)
    cfg = gate_config(ws, model)
    state = fleet_state(ws, registry)
    champion = state.production.get(model)
    challenger = registry.get(model, version)
    enabled = [g for g in GATES if g in (cfg.get("enabled") or [])]
    if challenger is None:
        return [_gate(g, "not_evaluated", f"{model} {version} is not in the registry") for g in enabled]
    metric = cfg.get("metric") or PRIMARY_METRIC[challenger.task]
    store: dict[str, Any] = {"db": db, "error": None}

    def get_db():
        if store["db"] is None and store["error"] is None:
            try:
                from console.store.db import open_store

                store["db"] = open_store(ws, **state.overlay())
            except Exception as exc:  # noqa: BLE001 - any failure is reported, never a pass
                store["error"] = _one_line(exc)
        return store["db"]

    out = []
    for name in enabled:
        try:
            if name == "offline_metric":
                out.append(_offline(registry, model, champion, version, metric, cfg))
            elif name == "lineage":
                out.append(_lineage(challenger.lineage, cfg))
            elif name == "model_card":
                from console.governance.card import model_card_gate

                out.append(model_card_gate(challenger, cfg["model_card_required"], _gate))
            else:
                db_ = get_db()
                if db_ is None:
                    out.append(_gate(name, "not_evaluated", f"not evaluated: the store cannot be opened ({store['error']})"))
                elif name == "live_metric":
                    out.append(_live(db_, model, champion, version, metric, cfg))
                elif name == "slices":
                    out.append(_slices(db_, model, version))
                elif name == "drift":
                    out.append(_drift(db_, model, version, cfg, champion))
                elif name == "fairness":
                    from console.governance.fairness_gate import fairness_gate

                    out.append(fairness_gate(db_, model, version, _gate))
        except Exception as exc:  # noqa: BLE001 - a gate that crashes is not evaluated, not passed
            out.append(_gate(name, "not_evaluated", f"not evaluated: {_one_line(exc)}"))
    return out


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _offline(registry: Registry, model: str, champion: str | None, version: str, metric: str, cfg) -> dict:
    tol = float(cfg["metric_tolerance"])
    chal = registry.get(model, version)
    chal_value = chal.metrics.get(metric) if chal else None
    if champion is None:
        return _gate("offline_metric", "passed", f"no version of {model} is in production: nothing to compare against",
                     metric=metric, challenger=chal_value, champion=None, tolerance=tol)
    champ = registry.get(model, champion)
    champ_value = champ.metrics.get(metric) if champ else None
    ev = dict(metric=metric, challenger_version=version, champion_version=champion,
              challenger=chal_value, champion=champ_value, tolerance=tol,
              lower_is_better=metric in LOWER_IS_BETTER)
    if chal_value is None or champ_value is None:
        missing = [v for v, x in ((version, chal_value), (champion, champ_value)) if x is None]
        return _gate("offline_metric", "not_evaluated",
                     f"not evaluated: no offline {metric} in the registry for version {', '.join(missing)}", **ev)
    worse = worse_by(metric, champ_value, chal_value)
    ev["worse_by"] = worse
    note = ""
    # A retrained version may record its parent's score on the same holdout: the fairer
    # comparison, shown beside the registry numbers (the gate itself uses the registry's).
    same_holdout = (chal.lineage or {}).get("parent_metrics_on_holdout")
    if isinstance(same_holdout, dict) and str((chal.lineage or {}).get("parent_version")) == champion:
        value = same_holdout.get(metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ev["champion_on_challenger_holdout"] = value
            note = f"; on the challenger's holdout the champion scores {value:.4g}"
    status = "passed" if worse <= tol + 1e-12 else "failed"
    return _gate("offline_metric", status,
                 f"offline {metric}: challenger {chal_value:.4g} vs champion {champ_value:.4g} "
                 f"({'worse' if worse > 0 else 'not worse'} by {abs(worse):.4g}; tolerance {tol:g}){note}", **ev)


def _lineage(lineage: dict, cfg) -> dict:
    fields = list(cfg["lineage_fields"])
    missing = [f for f in fields if not lineage.get(f)]
    present = {f: lineage.get(f) for f in fields if lineage.get(f)}
    if missing:
        return _gate("lineage", "failed", f"lineage incomplete: missing {', '.join(missing)}",
                     required=fields, missing=missing, present=present)
    return _gate("lineage", "passed", f"lineage complete ({', '.join(fields)})", required=fields, present=present)


def _one(db, sql: str, params: list[Any]):
    """One row from a fresh cursor (closed afterwards: the TUI shares ``db`` across threads)."""
    cur = db.cursor()
    try:
        return cur.execute(sql, params).fetchone()
    finally:
        cur.close()


def _labelled_span(db, model: str, version: str) -> tuple[int, Any, Any]:
    row = _one(db, "SELECT count(*), min(ts), max(ts) FROM predictions_labelled "
                   "WHERE model = ? AND version = ? AND labelled", [model, version])
    return int(row[0] or 0), row[1], row[2]


def _window_metric(report: dict, metric: str) -> tuple[float | None, int, int]:
    windows = report.get("windows") or []
    rows = sum(int(w.get("rows") or 0) for w in windows)
    labelled = sum(int(w.get("labelled") or 0) for w in windows)
    value = None
    if len(windows) == 1:
        value = (windows[0].get("metrics") or {}).get(metric)
    return value, rows, labelled


def _live(db, model: str, champion: str | None, version: str, metric: str, cfg) -> dict:
    from console.analytics.performance import performance_report

    tol = float(cfg["live_tolerance"])
    need = int(cfg["live_min_labelled"])
    if champion is None:
        return _gate("live_metric", "not_evaluated", f"not evaluated: no version of {model} in production to compare with",
                     metric=metric, tolerance=tol)
    n_chal, s_chal, e_chal = _labelled_span(db, model, version)
    n_champ, s_champ, e_champ = _labelled_span(db, model, champion)
    ev: dict[str, Any] = dict(metric=metric, tolerance=tol, min_labelled=need,
                              challenger_version=version, champion_version=champion,
                              challenger_labelled_total=n_chal, champion_labelled_total=n_champ)
    if n_chal < need or n_champ < need:
        return _gate("live_metric", "not_evaluated",
                     f"not evaluated: labelled live predictions challenger {n_chal}, champion {n_champ} "
                     f"(need {need} each: run it in shadow or canary)", **ev)
    start, end = max(s_chal, s_champ), min(e_chal, e_champ)
    if start > end:
        return _gate("live_metric", "not_evaluated",
                     "not evaluated: the two versions' labelled traffic does not overlap in time", **ev)
    start = _aware(start)
    end = _aware(end) + dt.timedelta(microseconds=1)
    ev.update(start=start, end=end)
    results = {}
    for role, v in (("challenger", version), ("champion", champion)):
        report = performance_report(db, model=model, version=v, window="all", start=start, end=end)
        results[role] = _window_metric(report, metric)
    (c_val, c_rows, c_lab), (p_val, p_rows, p_lab) = results["challenger"], results["champion"]
    ev.update(challenger=c_val, champion=p_val, challenger_labelled=c_lab, champion_labelled=p_lab,
              challenger_rows=c_rows, champion_rows=p_rows)
    if c_lab < need or p_lab < need:
        return _gate("live_metric", "not_evaluated",
                     f"not evaluated: over the overlap, labelled challenger {c_lab}, champion {p_lab} (need {need})", **ev)
    if c_val is None or p_val is None:
        return _gate("live_metric", "not_evaluated", f"not evaluated: live {metric} could not be computed", **ev)
    worse = worse_by(metric, p_val, c_val)
    ev["worse_by"] = worse
    status = "passed" if worse <= tol + 1e-12 else "failed"
    return _gate("live_metric", status,
                 f"live {metric} over the shared period: challenger {c_val:.4g} vs champion {p_val:.4g} "
                 f"({'worse' if worse > 0 else 'not worse'} by {abs(worse):.4g}; tolerance {tol:g})", **ev)


def _aware(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return clock.as_utc(value)
    return clock.as_utc(dt.datetime.fromisoformat(str(value)))


def _slices(db, model: str, version: str) -> dict:
    from console.analytics.slices import slices_report

    report = slices_report(db, model=model, version=version)
    slices = report.get("slices") or []
    rows = sum(int(s.get("rows") or 0) for s in slices)
    if not slices or rows == 0:
        return _gate("slices", "not_evaluated",
                     f"not evaluated: no traffic of version {version} to slice (run it in shadow or canary)",
                     slices=0)
    flagged = [
        {k: s.get(k) for k in ("feature", "value", "rows", "labelled", "metrics")}
        for s in slices if s.get("flagged")
    ]
    labelled = sum(int(s.get("labelled") or 0) for s in slices)
    if flagged:
        names = ", ".join(f"{f['feature']}={f['value']}" for f in flagged[:5])
        return _gate("slices", "failed", f"{len(flagged)} flagged slice(s): {names}",
                     slices=len(slices), flagged=flagged, labelled=labelled)
    if labelled == 0:
        return _gate("slices", "not_evaluated",
                     f"not evaluated: version {version} has no labelled traffic to judge slices", slices=len(slices))
    return _gate("slices", "passed", f"no flagged slice among {len(slices)}", slices=len(slices), flagged=[],
                 labelled=labelled)


class _ReferenceOf:
    """A store snapshot seen through a registry where ``served``'s reference is ``challenger``'s:
    so ``drift_report`` compares the challenger's training data with what is served now. Its own
    ``memo`` (values remembered for the real registry must not answer for this one)."""

    def __init__(self, db, served: str, challenger: str, model: str):
        import dataclasses

        from console.store.registry import Registry
        from console.store.snapshot import Memo

        self._db = db
        versions = dict(db.registry.versions)
        chal = versions[(model, challenger)]
        versions[(model, served)] = dataclasses.replace(versions[(model, served)], reference=chal.reference)
        self.registry = Registry(versions=versions, errors=list(db.registry.errors))
        self.batch, self.production, self.config = db.batch, db.production, db.config
        self.store_dir, self.cache_dir = db.store_dir, db.cache_dir
        self.memo = Memo(db.memo.namespace)

    def cursor(self):
        return self._db.cursor()

    def parts(self, model: str, start=None, end=None):
        return self._db.parts(model, start, end)

    def labelled_subset(self, cond: str) -> str:
        return self._db.labelled_subset(cond)

    def training_usd(self, model: str, version: str) -> float | None:
        return self._db.training_usd(model, version)

    def alone(self):
        return self._db.alone()


def _latest(db, model: str, version: str):
    row = _one(db, "SELECT max(ts) FROM predictions WHERE model = ? AND version = ?", [model, version])
    return None if row is None or row[0] is None else _aware(row[0])


def _drift(db, model: str, version: str, cfg, champion: str | None = None) -> dict:
    """Drift between the challenger's reference and the traffic it would serve: its own
    (shadow/canary) traffic when it has some, else the production version's traffic."""
    from console.analytics.drift import drift_report
    window = durations.parse(cfg["drift_window"], "[gates] drift_window")
    served, source = version, f"version {version}'s own traffic"
    last = _latest(db, model, version)
    if last is None and champion is not None:
        served, source = champion, f"the traffic served by production version {champion}"
        last = _latest(db, model, champion)
    if last is None:
        return _gate("drift", "not_evaluated",
                     f"not evaluated: no traffic of {model} to compare with version {version}'s reference",
                     window=str(cfg["drift_window"]))
    if served != version:
        info = db.registry.get(model, version)
        if info is None or info.reference is None:
            return _gate("drift", "not_evaluated",
                         f"not evaluated: version {version} has no registered reference", current=source)
        db = _ReferenceOf(db, served, version, model)
    end = last + dt.timedelta(microseconds=1)
    start = end - window
    report = drift_report(db, model=model, version=served, start=start, end=end, multivariate=False)
    dd = report.get("dataset_drift") or {}
    drifted = [f["feature"] for f in report.get("features") or [] if f.get("drifted")]
    ev = dict(window=str(cfg["drift_window"]), start=start, end=end, current=source,
              reference=str((report.get("reference") or {}).get("source") or ""),
              reference_rows=(report.get("reference") or {}).get("rows"),
              current_rows=(report.get("current") or {}).get("rows"),
              share=dd.get("share"), threshold=dd.get("threshold"), drifted_features=drifted,
              features=[{k: f.get(k) for k in ("feature", "method", "score", "threshold", "drifted")}
                        for f in report.get("features") or []])
    if not ev["current_rows"] or not ev["reference_rows"]:
        return _gate("drift", "not_evaluated", "not evaluated: reference or current data is empty", **ev)
    against = f"version {version}'s reference vs {source}"
    tested = sum(1 for f in ev["features"] if f.get("method"))
    if dd.get("drifted"):
        return _gate("drift", "failed",
                     f"dataset drift, {against}: {len(drifted)} of {tested} tested features drifted "
                     f"(share {dd.get('share'):.2f} ≥ {dd.get('threshold')})", **ev)
    share = f"share {dd.get('share'):.2f} < {dd.get('threshold')}" if dd.get("share") is not None else "share n/a"
    return _gate("drift", "passed",
                 f"no dataset drift, {against} ({len(drifted)} of {tested} tested features drifted; "
                 f"{share})", **ev)
