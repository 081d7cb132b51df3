"""Value and ROI (``value``, docs/analytics.md, 'Value and ROI'). Owns: the value settings of a
model (``[value]`` / ``[models."<m>".value]`` in console.toml over the registry version's
``value`` object), the value its labelled predictions delivered, and the net value and ROI
against serving plus amortised training cost, per model, version or day.

Value of one labelled, successful prediction:

- classification: a correct one earns ``correct_usd_by_class[class]`` (else ``correct_usd``);
  a wrong one costs ``wrong_usd_by_class[predicted class]`` (else ``wrong_usd``) — the action
  taken on a wrong prediction is what costs (approving a loan that defaults);
- regression: ``prediction_usd`` (default 0) minus ``usd_per_unit_error`` × |label − prediction|.

``expected_value_usd`` extends the labelled rows' mean value to every prediction of the group
(unlabelled ones are assumed to be like the labelled ones; ``label_coverage`` says how far that
reaches). Cost = serving (as ``cost`` counts it) + amortised training: each version's training
cost (``db.training_usd``: its retrain hook's report, else the registry's ``training_usd``)
spread evenly over every prediction that version has served in the store, so a group carries
the share of its own predictions. ``net_usd`` = expected value − cost; ``roi`` =
net / cost; ``usd_per_correct`` = cost / the expected correct predictions (training included).
A version with no known training cost is listed in ``training_unknown``; a model
without value settings is listed in ``not_valued`` with the reason — never given a value of 0.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from console.analytics import windows as W
from console.analytics.cost import served_rows, serving_unit
from console.analytics.source import StoreLike, aware, check_model, range_where
from console.errors import UsageError, WorkspaceError

BY = ("model", "version", "day")
NUMBERS = ("correct_usd", "wrong_usd", "usd_per_unit_error", "prediction_usd")
TABLES = ("correct_usd_by_class", "wrong_usd_by_class")


@dataclass(frozen=True)
class ValueSettings:
    """The value of outcomes for one model version (absent keys: None / empty)."""

    correct_usd: float | None = None
    wrong_usd: float | None = None
    correct_usd_by_class: dict[str, float] = field(default_factory=dict)
    wrong_usd_by_class: dict[str, float] = field(default_factory=dict)
    usd_per_unit_error: float | None = None
    prediction_usd: float | None = None

    def empty(self) -> bool:
        return all(getattr(self, k) is None for k in NUMBERS) and not any(getattr(self, k) for k in TABLES)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_settings(table: dict[str, Any], where: str, base: ValueSettings | None = None) -> ValueSettings:
    """Settings from one ``value`` table over ``base``; a bad entry is a one-line ``WorkspaceError``."""
    out = dict((base or ValueSettings()).__dict__)
    for key, v in table.items():
        if key in NUMBERS:
            if not _number(v):
                raise WorkspaceError(f"{where} {key} must be a number, not {v!r}")
            out[key] = float(v)
        elif key in TABLES:
            if not isinstance(v, dict) or not all(_number(x) for x in v.values()):
                raise WorkspaceError(f"{where} {key} must map classes to numbers")
            out[key] = {**out[key], **{str(k): float(x) for k, x in v.items()}}
        else:
            raise WorkspaceError(f"{where}: unknown key {key!r} (known: {', '.join(NUMBERS + TABLES)})")
    return ValueSettings(**out)


def settings_for(db: StoreLike, model: str, version: str) -> ValueSettings:
    """The registry version's ``value`` object, then ``[value]``, then ``[models."<m>".value]``."""
    info = db.registry.get(model, version)
    s = parse_settings(info.value if info is not None else {}, f"registry {model} v{version}: value")
    conf = dict(db.config)
    s = parse_settings(conf.get("value") or {}, "console.toml [value]", s)
    per = ((conf.get("models") or {}).get(model) or {}).get("value") or {}
    return parse_settings(per, f'console.toml [models."{model}".value]', s)


def _missing(s: ValueSettings, task: str, classes: set[str]) -> str | None:
    """Why these settings cannot value this task's predictions (None: they can)."""
    if s.empty():
        return "no value settings ([value] in console.toml or 'value' in the registry)"
    if task == "regression":
        return None if s.usd_per_unit_error is not None else "regression needs usd_per_unit_error"
    lacking = sorted(c for c in classes
                     if (s.correct_usd_by_class.get(c, s.correct_usd) is None
                         or s.wrong_usd_by_class.get(c, s.wrong_usd) is None))
    return f"no correct_usd/wrong_usd for class(es) {', '.join(lacking)}" if lacking else None


_VALUE_SQL = """
SELECT model, version, ts::DATE AS day, prediction, label = prediction AS correct, count(*) AS n,
  fsum(abs(label_num - prediction_num)) AS abs_err, count(label_num - prediction_num) AS n_err
FROM {relation}
WHERE {cond} AND labelled AND coalesce(status, 'ok') = 'ok'
GROUP BY ALL"""


def _labelled(db: StoreLike, model: str | None, version: str | None,
              start: dt.datetime | None, end: dt.datetime | None) -> list[tuple]:
    from console.analytics.cache import per_batch
    from console.analytics.metrics import labelled_relation
    from console.analytics.performance import small_part

    def compute() -> list[tuple]:
        conds, params = ["true"], []
        for col, v in (("model", model), ("version", version)):
            if v is not None:
                conds.append(f"{col} = ?")
                params.append(v)
        rconds, rparams = range_where(start, end)
        cond = " AND ".join(conds + rconds)
        params += rparams
        subset = (model is not None and start is not None and end is not None
                  and small_part(db, model, start, end))
        relation = labelled_relation(db, cond, params, subset)
        return db.cursor().execute(_VALUE_SQL.format(relation=relation, cond=cond), params).fetchall()

    key = {"k": "value-labelled", "m": model, "v": version, "start": str(start), "end": str(end)}
    return per_batch(db, key, compute)


def value_report(db: StoreLike, model: str | None = None, version: str | None = None, by: str = "version",
                 start: dt.datetime | None = None, end: dt.datetime | None = None) -> dict[str, Any]:
    """Value delivered, cost and ROI grouped ``by`` model, version or day over ``[start, end)``."""
    if by not in BY:
        raise UsageError(f"bad --by {by!r}: use one of {', '.join(BY)}")
    start, end = aware(start), aware(end)
    W.check_range(start, end)
    if model is not None:
        check_model(db, model)
    elif version is not None:
        raise UsageError("--version needs --model")

    served = served_rows(db, model, version, start, end, labels=False)
    lifetime: dict[tuple[str, str], int] = defaultdict(int)  # every prediction of each version
    for m, v, _day, n, *_ in served_rows(db, model, version, None, None, labels=False):
        lifetime[(m, v)] += n
    labelled = _labelled(db, model, version, start, end)

    versions = sorted({(r[0], r[1]) for r in served} | {(r[0], r[1]) for r in labelled})
    classes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m, v, _day, pred, *_ in labelled:
        classes[(m, v)].add(str(pred))
    settings, not_valued, training_unknown = {}, [], []
    for m, v in versions:
        info = db.registry.get(m, v)
        task = info.task if info is not None else "binary"
        s = settings_for(db, m, v)
        why = _missing(s, task, classes[(m, v)])
        if why:
            not_valued.append({"model": m, "version": v, "reason": why})
        else:
            settings[(m, v)] = (s, task)
        if db.training_usd(m, v) is None:
            training_unknown.append({"model": m, "version": v})

    def gkey(m: str, v: str, day: dt.date) -> tuple:
        return {"model": (m,), "version": (m, v), "day": (m, day)}[by]

    groups: dict[tuple, dict[str, Any]] = defaultdict(lambda: {
        "predictions": 0, "labelled": 0, "correct": 0, "value_usd": 0.0, "serving_usd": 0.0,
        "training_usd": 0.0, "valued": True, "regression": False, "valued_rows": 0})
    for m, v, day, n, logged, n_logged, *_ in served:
        info = db.registry.get(m, v)
        g = groups[gkey(m, v, day)]
        g["predictions"] += n
        g["serving_usd"] += logged + (n - n_logged) * (serving_unit(info) or 0.0)
        training = db.training_usd(m, v)
        if training and lifetime[(m, v)]:
            g["training_usd"] += float(training) * n / lifetime[(m, v)]
        g["valued"] = g["valued"] and (m, v) in settings
    for m, v, day, pred, correct, n, abs_err, n_err in labelled:
        g = groups[gkey(m, v, day)]
        g["labelled"] += n
        if (m, v) not in settings:
            g["valued"] = False
            continue
        s, task = settings[(m, v)]
        if task == "regression":
            g["regression"] = True
            g["value_usd"] += (s.prediction_usd or 0.0) * n_err - s.usd_per_unit_error * (abs_err or 0.0)
            g["valued_rows"] += n_err  # a label or prediction that is not a number is not valued
            continue
        g["valued_rows"] += n
        if correct:
            g["correct"] += n
            g["value_usd"] += s.correct_usd_by_class.get(str(pred), s.correct_usd) * n
        else:
            g["value_usd"] -= s.wrong_usd_by_class.get(str(pred), s.wrong_usd) * n

    rows = []
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        g = groups[key]
        row: dict[str, Any] = {"model": key[0]}
        if by == "version":
            row["version"] = key[1]
        if by == "day":
            row["day"] = key[1].isoformat()
        cost = g["serving_usd"] + g["training_usd"]
        valued = g["valued"] and g["valued_rows"] > 0
        per = g["value_usd"] / g["valued_rows"] if valued else None
        expected = per * g["predictions"] if per is not None else None
        net = expected - cost if expected is not None else None
        exp_correct = (g["correct"] / g["valued_rows"] * g["predictions"]
                       if valued and not g["regression"] and g["correct"] else None)
        row.update({
            "predictions": g["predictions"], "labelled": g["labelled"],
            "label_coverage": g["labelled"] / g["predictions"] if g["predictions"] else None,
            "correct": None if g["regression"] else g["correct"],
            "value_usd": g["value_usd"] if valued else None,
            "value_per_prediction_usd": per, "expected_value_usd": expected,
            "serving_usd": g["serving_usd"], "training_usd_amortised": g["training_usd"], "cost_usd": cost,
            "net_usd": net, "roi": net / cost if net is not None and cost > 0 else None,
            "usd_per_correct": cost / exp_correct if exp_correct else None,
        })
        rows.append(row)
    return {"by": by, "start": W.iso(start), "end": W.iso(end), "rows": rows,
            "not_valued": not_valued, "training_unknown": training_unknown}


def net_per_1k(report: dict[str, Any], model: str, version: str) -> float | None:
    """Expected net value per 1,000 predictions of one version in a ``by="version"`` report."""
    for r in report.get("rows") or []:
        if r["model"] == model and r.get("version") == version and r["net_usd"] is not None and r["predictions"]:
            return r["net_usd"] / r["predictions"] * 1000
    return None


# what ``cost`` adds to each of its rows from this module (docs/formats.md, ``cost``)
COST_VALUE_KEYS = ("expected_value_usd", "training_usd_amortised", "cost_usd", "net_usd", "roi", "usd_per_correct")


def valued_anywhere(db: StoreLike, model: str | None = None, version: str | None = None) -> bool:
    """Whether a registered version in scope has value settings (its own, ``[value]`` or its
    model's ``[models."<m>".value]``)."""
    for (m, v) in db.registry.versions:
        if (model is None or m == model) and (version is None or v == version):
            if not settings_for(db, m, v).empty():
                return True
    return False


def cost_value_report(db: StoreLike, model: str | None = None, version: str | None = None, by: str = "model",
                      start: dt.datetime | None = None, end: dt.datetime | None = None) -> dict[str, Any]:
    """``cost_report`` and, when value settings exist for a version in scope, each row's value
    figures from ``value_report`` over the same grouping and range: ``rows[].value`` (the
    ``COST_VALUE_KEYS``; each null for a group with no predictions) and ``value`` (``not_valued``,
    ``training_unknown``). Without value settings the report is ``cost_report``'s, untouched."""
    from console.analytics.cost import cost_report

    rep = cost_report(db, model, version, by, start, end)
    if not valued_anywhere(db, model, version):
        return rep
    val = value_report(db, model, version, by, start, end)

    def key(r: dict[str, Any]) -> tuple:
        return (r["model"], r.get("version"), r.get("day"))

    found = {key(r): {k: r[k] for k in COST_VALUE_KEYS} for r in val["rows"]}
    none = dict.fromkeys(COST_VALUE_KEYS)
    rows = [{**r, "value": found.get(key(r), none)} for r in rep["rows"]]  # the memoised report stays as it was
    return {**rep, "rows": rows,
            "value": {"not_valued": val["not_valued"], "training_unknown": val["training_unknown"]}}
