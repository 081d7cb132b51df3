"""Policy-raised retrains (docs/governance.md, 'Policy-raised retrains'): the ``[retrain_policy]``
rule of ``console.toml``, its evaluation over a store snapshot, and the retrain request the
console raises as the ``system`` actor when the rule holds.

The rule holds for a model when one of its conditions (``when``) breaches in each of the
``consecutive_windows`` latest windows of ``window`` of the production version's traffic
(windows end at its newest record not after the clock, as ``check``'s do):

- ``drift``: the window's ``drift_report`` finds dataset drift (multivariate off);
- ``performance``: with at least ``min_labelled`` labelled rows, the live primary metric is
  worse than the registry's offline value by more than ``performance_tolerance``;
- ``estimated_performance``: the primary metric estimated without labels (``estimate``: CBPE
  for binary, DLE for regression; labels not needed) is worse than the offline value by more
  than ``performance_tolerance`` — the condition that can hold before any label arrives.

A window without traffic or with too few labels does not breach (the condition is not shown
to hold); a window that cannot be computed is an ``errors`` entry — never "does not hold".

When it holds, a retrain request is journaled through ``engine.create_request`` as ``system``
(``identity.SYSTEM``), with ``evidence`` = the rule, every window and its values, and the OS
account that ran it (``run_by``). It is not raised when a retrain of the model is already open
(pending or approved), nor when a request the policy raised earlier already covers one of these
windows (the same condition: at most one request per ``consecutive_windows`` windows while it
persists). ``system`` signs with a key the administrator registered as ``system`` in the signers
file (``signing.signer_for``); it never decides (``engine.why_not_decide``): a person approves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from console import clock, durations
from console.errors import UsageError
from console.identity import SYSTEM, Identity, os_user
from console.workspace import Workspace

CONDITIONS = ("drift", "performance", "estimated_performance")
MAX_WINDOWS = 30
OPEN_STATES = ("pending", "approved")


@dataclass(frozen=True)
class RetrainPolicy:
    """``[retrain_policy]`` with its defaults; ``None`` tolerances take the model's ``[alerts]``."""

    when: tuple[str, ...]
    window: str = "1d"
    size: int = 86400
    consecutive_windows: int = 3
    models: tuple[str, ...] | None = None
    performance_tolerance: float | None = None
    min_labelled: int | None = None

    def rule(self) -> dict[str, Any]:
        return {"when": list(self.when), "window": self.window, "consecutive_windows": self.consecutive_windows}


def load_policy(ws: Workspace) -> RetrainPolicy | None:
    """The workspace's rule, None without ``[retrain_policy]``; a bad value is one line (exit 2)."""
    table = ws.section("retrain_policy")
    if not table:
        return None
    where = f"{ws.config_path}: [retrain_policy]"
    when = table.get("when")
    if not when:
        raise UsageError(f"{where} when is required: a list of {', '.join(CONDITIONS)}")
    for c in when:
        if c not in CONDITIONS:
            raise UsageError(f"{where} when: unknown condition {c!r} (known: {', '.join(CONDITIONS)})")
    window = table.get("window", "1d")
    if window.strip().lower() == "all":
        raise UsageError(f"{where} window must be a duration such as 1d, not 'all'")
    size = durations.whole_seconds(window, "[retrain_policy] window")
    n = table.get("consecutive_windows", 3)
    if not 1 <= n <= MAX_WINDOWS:
        raise UsageError(f"{where} consecutive_windows must be 1..{MAX_WINDOWS}, not {n}")
    tol = table.get("performance_tolerance")
    if tol is not None and tol < 0:
        raise UsageError(f"{where} performance_tolerance must not be negative, not {tol}")
    least = table.get("min_labelled")
    if least is not None and least < 1:
        raise UsageError(f"{where} min_labelled must be at least 1, not {least}")
    models = table.get("models")
    return RetrainPolicy(tuple(dict.fromkeys(when)), window, size, n,
                         tuple(models) if models is not None else None, tol, least)


def _windows(db, model: str, version: str, policy: RetrainPolicy) -> list[tuple[dt.datetime, dt.datetime]]:
    """The ``consecutive_windows`` latest windows, oldest first (none without traffic)."""
    from console.analytics.alerts import _latest

    rng = _latest(db, model, version, policy.size)
    if rng is None:
        return []
    step = dt.timedelta(seconds=policy.size)
    end = rng[1]
    return [(end - (k + 1) * step, end - k * step) for k in reversed(range(policy.consecutive_windows))]


def _drift(db, model: str, version: str, wins, config) -> list[dict[str, Any]]:
    from console.analytics.drift import drift_windows
    from console.analytics.windows import iso

    rep = drift_windows(db, model, version, bounds=wins, config=config)
    out = []
    for (lo, hi), w in zip(wins, rep["windows"], strict=True):
        dd = w["dataset_drift"]
        rows = w["current"]["rows"]
        status = "no_traffic" if not rows else ("breach" if dd["drifted"] else "ok")
        out.append({"start": iso(lo), "end": iso(hi), "status": status, "rows": rows,
                    "share": dd["share"], "threshold": dd["threshold"],
                    "drifted_features": [f["feature"] for f in w["features"] if f["drifted"]]})
    return out


def _tolerance(policy: RetrainPolicy, config) -> float:
    """The rule's ``performance_tolerance``, else the model's ``[alerts]`` one."""
    if policy.performance_tolerance is not None:
        return policy.performance_tolerance
    return config.alerts.performance_tolerance


def _performance(db, model: str, version: str, wins, config, policy: RetrainPolicy) -> list[dict[str, Any]]:
    from console.analytics.metrics import PRIMARY_METRIC, worse_by
    from console.analytics.performance import overall_metrics
    from console.analytics.windows import iso

    tol = _tolerance(policy, config)
    least = policy.min_labelled if policy.min_labelled is not None else int(config.alerts.performance_min_labelled)
    out = []
    for lo, hi in wins:
        rep = overall_metrics(db, model, version, lo, hi, config)
        metric = PRIMARY_METRIC.get(rep["task"])
        offline = rep["offline"].get(metric) if metric else None
        live = rep["metrics"].get(metric) if metric else None
        entry = {"start": iso(lo), "end": iso(hi), "metric": metric, "live": live, "offline": offline,
                 "labelled": rep["labelled"], "min_labelled": least, "tolerance": tol, "worse_by": None}
        if offline is None:
            raise UsageError(f"the registry has no offline {metric} for {model} {version}")
        if not rep["rows"]:
            entry["status"] = "no_traffic"
        elif rep["labelled"] < least or live is None:
            entry["status"] = "insufficient_labels"
        else:
            worse = worse_by(metric, offline, live)
            entry["worse_by"] = worse
            entry["status"] = "breach" if worse > tol else "ok"
        out.append(entry)
    return out


def _estimated(db, model: str, version: str, wins, config, policy: RetrainPolicy) -> list[dict[str, Any]]:
    from console.analytics.estimate import estimate_report
    from console.analytics.metrics import PRIMARY_METRIC, worse_by
    from console.analytics.windows import iso

    info = db.registry.get(model, version)
    metric = PRIMARY_METRIC.get(info.task) if info is not None else None
    offline = info.metrics.get(metric) if info is not None and metric else None
    if offline is None:
        raise UsageError(f"the registry has no offline {metric} for {model} {version}")
    tol = _tolerance(policy, config)
    out = []
    for lo, hi in wins:
        rep = estimate_report(db, model, version, "all", lo, hi, metric=metric, config=config)
        w = rep["windows"][0] if rep["windows"] else {"rows": 0, "metrics": {}}
        m = w["metrics"].get(metric) or {}
        est = m.get("estimated")
        entry = {"start": iso(lo), "end": iso(hi), "metric": metric, "estimated": est,
                 "lower": m.get("lower"), "upper": m.get("upper"), "offline": offline, "rows": w["rows"],
                 "tolerance": tol, "worse_by": None}
        if not w["rows"] or est is None:
            entry["status"] = "no_traffic"
        else:
            worse = worse_by(metric, offline, est)
            entry["worse_by"] = worse
            entry["status"] = "breach" if worse > tol else "ok"
        out.append(entry)
    return out


def evaluate(db, policy: RetrainPolicy, model: str | None = None) -> dict[str, Any]:
    """``{"rule", "models": [{"model", "version", "holds", "conditions": {name: windows},
    "held": [names]}], "skipped": [{"model", "condition", "reason"}], "errors": [{"model", "condition",
    "error"}]}`` — read only."""
    from console.analytics.alerts import failure
    from console.analytics.config import config_for
    from console.analytics.source import check_model

    models = list(policy.models) if policy.models is not None else sorted(db.registry.models())
    if model is not None:
        check_model(db, model)
        models = [m for m in models if m == model]
    out: dict[str, Any] = {"rule": policy.rule(), "models": [], "skipped": [], "errors": []}
    for m in models:
        version = (db.production or {}).get(m)
        if m not in db.registry.models():
            out["skipped"].append({"model": m, "condition": None, "reason": "not in the registry"})
            continue
        if version is None:
            out["skipped"].append({"model": m, "condition": None, "reason": "no production version"})
            continue
        try:
            config = config_for(db, m)
            wins = _windows(db, m, version, policy)
        except Exception as exc:  # noqa: BLE001 - unknown is never "does not hold"
            out["errors"].append({**failure(m, list(policy.when), exc), "condition": None})
            continue
        if not wins:
            out["skipped"].append({"model": m, "condition": None,
                                   "reason": f"no traffic for production version {version}"})
            continue
        entry: dict[str, Any] = {"model": m, "version": version, "conditions": {}, "held": []}
        failed = False
        for cond in policy.when:
            try:
                windows = (_drift(db, m, version, wins, config) if cond == "drift"
                           else _estimated(db, m, version, wins, config, policy) if cond == "estimated_performance"
                           else _performance(db, m, version, wins, config, policy))
            except UsageError as exc:  # does not apply (no offline metric, no reference): said why
                out["skipped"].append({"model": m, "condition": cond, "reason": str(exc)})
                continue
            except Exception as exc:  # noqa: BLE001 - an errors entry, as check's rules
                out["errors"].append({**failure(m, [cond], exc), "condition": cond})
                failed = True
                continue
            entry["conditions"][cond] = windows
            if all(w["status"] == "breach" for w in windows):
                entry["held"].append(cond)
        entry["holds"] = bool(entry["held"])
        entry["complete"] = not failed
        out["models"].append(entry)
    return out


def _reason(policy: RetrainPolicy, entry: dict[str, Any]) -> str:
    said = {"drift": "dataset drift", "performance": "live metric below tolerance",
            "estimated_performance": "estimated metric (no labels needed) below tolerance"}
    what = " and ".join(said[c] for c in entry["held"])
    return (f"retrain policy: {what} in each of the last {policy.consecutive_windows} windows of "
            f"{policy.window} ({entry['model']} {entry['version']})")


def _covered(entry: dict[str, Any], req) -> bool:
    """Whether ``req`` (a request the policy raised) already covers one of ``entry``'s windows."""
    from console.governance.journal import parse_ts

    if req.action != "retrain" or req.model != entry["model"] or req.requested_by != SYSTEM:
        return False
    if req.from_version != entry["version"]:
        return False
    try:
        theirs = max(parse_ts(w["end"]) for ws in (req.evidence or {}).get("conditions", {}).values() for w in ws)
    except (ValueError, KeyError, TypeError):
        return False
    ours = min(parse_ts(w["start"]) for ws in entry["conditions"].values() for w in ws)
    return theirs > ours


def run(ws: Workspace, db, policy: RetrainPolicy, model: str | None = None, dry_run: bool = False,
        now: dt.datetime | None = None) -> dict[str, Any]:
    """``evaluate``, then for each model where the rule holds: the retrain request raised as
    ``system`` (``outcome`` ``raised`` with its ``request_id``), or why not (``open_request``,
    ``same_condition``, ``dry_run``). A model with an errors entry raises nothing."""
    from console.governance import engine

    now = now or clock.now()
    rep = evaluate(db, policy, model)
    requests = engine.list_requests(ws, now=now)
    system = Identity(SYSTEM, operator=True)
    rep["raised"] = []
    for entry in rep["models"]:
        if not entry["complete"]:  # a condition could not be computed: unknown raises nothing
            entry["outcome"] = "not_evaluated"
            continue
        if not entry["conditions"]:  # every condition skipped (reasons in ``skipped``): nothing judged
            entry["outcome"] = "not_applicable"
            continue
        if not entry["holds"]:
            entry["outcome"] = "does_not_hold"
            continue
        open_req = next((r for r in requests if r.action == "retrain" and r.model == entry["model"]
                         and r.state in OPEN_STATES), None)
        if open_req is not None:
            entry["outcome"], entry["request_id"] = "open_request", open_req.request_id
            continue
        earlier = next((r for r in reversed(requests) if _covered(entry, r)), None)
        if earlier is not None:
            entry["outcome"], entry["request_id"] = "same_condition", earlier.request_id
            continue
        if dry_run:
            entry["outcome"] = "dry_run"
            continue
        evidence = {"policy": policy.rule(), "model": entry["model"], "version": entry["version"],
                    "held": entry["held"], "conditions": entry["conditions"], "run_by": os_user()}
        try:
            req = engine.create_request(ws, system, "retrain", entry["model"], None, _reason(policy, entry),
                                        now=now, registry=db.registry, evidence=evidence)
        except engine.Duplicate as exc:  # another run raised it since we looked
            entry["outcome"], entry["request_id"] = "open_request", exc.request_id
            continue
        entry["outcome"], entry["request_id"] = "raised", req.request_id
        rep["raised"].append(req.request_id)
        requests.append(req)
    return rep
