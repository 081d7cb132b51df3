"""Sub-commands of the analytics area (docs/formats.md, 'The command line'): ``drift``, ``quality``,
``performance``, ``estimate``, ``slices``,
``ops``, ``cost``, ``value``, ``check``, ``query`` and ``explain``.

Each opens the store with the production versions from governance state, runs the matching
``console.analytics`` report through ``analytics.runner`` (as the TUI does) and prints its result with ``--format table|json|csv``.
Bad usage (unknown model, bad time, bad window) is one line on stderr and exit 2; ``check``
exits 1 when any alert that is not snoozed fires.
"""

from __future__ import annotations

import sys
from typing import Any

from console.cli.output import emit
from console.errors import EXIT_CHECK, EXIT_USAGE, UsageError
from console.store.registry import version_label


def _open(ctx, query: bool = False):
    """The store with the production versions from governance state; ``query=True``: a
    sandboxed one for analysts' SQL (``analytics.query.open_query_store``)."""
    from console.analytics.config import load_config
    from console.analytics.query import open_query_store
    from console.governance.state import fleet_state
    from console.store.db import open_store

    ws = ctx.workspace()
    load_config(ws.config)  # a bad [drift]/[alerts]/... key is one line before any work
    for model in (ws.section("models") or {}):
        load_config(ws.config, model)
    registry = ctx.registry()  # an invalid registry file is a warning on stderr
    state = fleet_state(ws, registry)
    opener = open_query_store if query else open_store
    return opener(ws, **state.overlay())


def _time(value: str | None, what: str):
    from console.analytics.windows import parse_time

    return parse_time(value, what) if value is not None else None


def _range(ctx) -> tuple[Any, Any]:
    """``--start``/``--end`` as times (``analytics.windows.parse_range``, as the TUI's range
    dialog); a bad ``--window`` is also refused here, before any work."""
    from console.analytics.windows import parse_range, parse_window

    a = ctx.args
    if getattr(a, "window", None) is not None:
        parse_window(a.window)
    return parse_range(getattr(a, "start", None), getattr(a, "end", None))


def _report(ctx, name: str, **options: Any) -> dict:
    """Run report ``name`` on the command's ``--model``, ``--version`` and range (checked before
    the store is opened), with ``options``."""
    from console.analytics.runner import run_report

    start, end = _range(ctx)
    return run_report(_open(ctx), name, model=ctx.args.model, version=ctx.args.version, start=start, end=end,
                      **options)


def _add_range(p) -> None:
    p.add_argument("--start", metavar="T", help="RFC 3339 time or date, inclusive")
    p.add_argument("--end", metavar="T", help="RFC 3339 time or date, exclusive")


def _model_report(sub, common, name: str, help: str, handler, version: str = "default: the production version",
                  window: str | None = None):
    """A report about one model: ``--model``, ``--version``, ``--window`` when it has windows
    (``window`` is its default's help), ``--start``/``--end``."""
    p = sub.add_parser(name, parents=common, help=help)
    p.add_argument("--model", required=True)
    p.add_argument("--version", help=version)
    if window is not None:
        p.add_argument("--window", default=None, help=f"15m, 1h, 1d, 7d, ... or all (default {window})")
    _add_range(p)
    p.set_defaults(handler=handler)
    return p


def register(sub, parents) -> None:
    """Add this area's sub-commands to the parser."""
    common = [parents["common"], parents["format"]]

    p = _model_report(sub, common, "drift", "data drift of a model version vs its reference", run_drift)
    p.add_argument("--reference-start", metavar="T", help="use a window of logs as the reference")
    p.add_argument("--reference-end", metavar="T", help="end (exclusive) of the reference window")
    p.add_argument("--feature", action="append", help="only this feature (repeatable)")
    mv = p.add_mutually_exclusive_group()
    mv.add_argument("--multivariate", dest="multivariate", action="store_true", default=None,
                    help="also fit the domain classifier (default: [multivariate] enabled)")
    mv.add_argument("--no-multivariate", dest="multivariate", action="store_false")

    p = _model_report(sub, common, "quality", "data quality of a model version vs its reference: missing "
                      "values, new categories, out-of-range values, volume, quarantine rate", run_quality)
    p.add_argument("--reference-start", metavar="T", help="use a window of logs as the reference")
    p.add_argument("--reference-end", metavar="T", help="end (exclusive) of the reference window")

    _model_report(sub, common, "performance", "model quality per window, with late labels", run_performance,
                  window="1d, wider when the data spans years")
    p = _model_report(sub, common, "estimate", "estimated performance without labels (CBPE, DLE) per window",
                      run_estimate, window="1d, wider when the data spans years")
    p.add_argument("--metric", metavar="NAME", help="only this metric (binary: roc_auc accuracy precision "
                                                    "recall f1; regression: mae mse rmse)")
    p.add_argument("--reference-start", metavar="T", help="fit on a labelled window of logs instead of the "
                                                          "registered reference")
    p.add_argument("--reference-end", metavar="T", help="end (exclusive) of the reference window")
    p = _model_report(sub, common, "slices", "quality per slice value, flags and fairness gaps", run_slices)
    p.add_argument("--by", action="append", metavar="FEATURE",
                   help="slice feature (repeatable or comma-separated; default: the registry's slices)")
    _model_report(sub, common, "ops", "requests, errors and latency per window", run_ops,
                  version="default: every version", window="1h, wider when the data spans months")

    p = sub.add_parser("cost", parents=common, help="serving and training cost, budget burn")
    p.add_argument("--model")
    p.add_argument("--version")
    p.add_argument("--by", choices=("model", "version", "day"), default="model")
    _add_range(p)
    p.set_defaults(handler=run_cost)

    p = sub.add_parser("value", parents=common, help="value delivered, cost with amortised training, net and ROI")
    p.add_argument("--model")
    p.add_argument("--version")
    p.add_argument("--by", choices=("model", "version", "day"), default="version")
    _add_range(p)
    p.set_defaults(handler=run_value)

    p = sub.add_parser("check", parents=common, help="evaluate the alert rules; exit 1 when any that is not snoozed fires")
    p.add_argument("--model", help="only this model")
    p.set_defaults(handler=run_check)

    p = sub.add_parser("query", parents=common, help="read-only SQL over the store's views")
    p.add_argument("sql", metavar="SQL")
    p.add_argument("--timeout", metavar="DURATION",
                   help="stop the query after this long: 30s, 2m, 500ms; 0 for none "
                        "(default: [query] timeout in console.toml, else none)")
    p.set_defaults(handler=run_query_cmd)

    p = sub.add_parser("explain", parents=common,
                       help="one prediction beside its reference, with SHAP attributions; --global: a version's importance")
    p.add_argument("request_id", nargs="?", metavar="REQUEST_ID")
    p.add_argument("--model", help="the model that logged REQUEST_ID (needed with --global)")
    p.add_argument("--version", help="the version (a shadow version logs the champion's request ids; "
                                     "with --global default: the production version)")
    p.add_argument("--global", dest="global_", action="store_true",
                   help="mean |SHAP| per feature on the reference and on current traffic, and the change")
    p.set_defaults(handler=run_explain)


def run_drift(ctx) -> int:
    from console.analytics.drift import drift_features_summary

    a = ctx.args
    rep = _report(ctx, "drift_report", reference_start=_time(a.reference_start, "--reference-start"),
                  reference_end=_time(a.reference_end, "--reference-end"), multivariate=a.multivariate,
                  features=a.feature)
    dd = rep["dataset_drift"]
    span = (f"[{rep['current']['start']} – {rep['current']['end']})" if rep["current"]["start"]
            else "(no traffic)")
    title = (f"{rep['model']} {version_label(rep['version'])}: reference {rep['reference']['rows']} rows, current "
             f"{rep['current']['rows']} rows {span}; "
             f"dataset drift {'YES' if dd['drifted'] else 'no' if dd.get('tested_features') else 'not tested'} "
             f"(share {dd['share']:.2f}, threshold {dd['threshold']})")
    mv = rep.get("multivariate")
    if mv and mv.get("auc") is not None:
        title += f"; domain classifier AUC {mv['auc']:.3f} ({mv['status']})"
    emit(rep, ctx.fmt, rows=drift_features_summary(rep), title=title)
    return 0


def run_quality(ctx) -> int:
    """``quality``: per feature missing / unseen / out-of-range shares, the model's volume and
    quarantine rate (``analytics.data_quality``); each flag with its word, never colour alone."""
    from console.analytics.data_quality import summary_rows

    a = ctx.args
    rep = _report(ctx, "data_quality.quality_report",
                  reference_start=_time(a.reference_start, "--reference-start"),
                  reference_end=_time(a.reference_end, "--reference-end"))
    rows = summary_rows(rep)
    if ctx.fmt != "csv":
        for r in rows:
            r["flags"] = ("✗ " + r["flags"]) if r["flags"] else ("✓ ok" if r["note"] is None else "? " + r["note"])
    vol, q = rep["volume"], rep["quarantine"]
    said_vol = {"ok": "✓ ok", "drop": "✗ drop", "spike": "✗ spike", "no_data": "✗ no data"}.get(
        vol["status"], f"? not evaluated ({vol.get('reason')})")
    if vol.get("ratio") is not None:
        said_vol += f" {vol['rows']} rows in the last {vol['window']}, {vol['ratio']:.2f}× the median"
    said_q = {"ok": "✓ ok", "high": "✗ high"}.get(q["status"], f"? not evaluated ({q.get('reason')})")
    if q.get("rate") is not None:
        said_q += f" {100 * q['rate']:.2f}% of {q['rows'] + q['quarantined']} records"
    span = f"[{rep['start']} – {rep['end']})" if rep["start"] else "(no traffic)"
    ref_rows = (rep.get("reference") or {}).get("rows")
    title = (f"{rep['model']} {version_label(rep['version'])} data quality {span}: current "
             f"{rep['current']['rows']} rows vs "
             f"{'no reference' if ref_rows is None else f'reference {ref_rows}'}; "
             f"volume {said_vol}; quarantine {said_q}")
    if rep.get("note"):
        title += f"; {rep['note']}"
    emit(rep, ctx.fmt, rows=rows, title=title)
    return 0


def run_performance(ctx) -> int:
    rep = _report(ctx, "performance_report", window=ctx.args.window)
    rows = [{"start": w["start"], "end": w["end"], "rows": w["rows"], "labelled": w["labelled"],
             "coverage": w["label_coverage"], **w["metrics"]} for w in rep["windows"]]
    offline = ", ".join(f"{k} {v:.4g}" for k, v in rep["offline"].items()) or "none"
    live = rep["live"]
    said = "none"
    if live["value"] is not None:
        said = f"{live['metric']} {live['value']:.4g} on {live['labelled']} labels"
        if live["low_confidence"]:
            said += f" ~ low confidence (< {live['min_labelled']})"
    emit(rep, ctx.fmt, rows=rows, title=f"{rep['model']} {version_label(rep['version'])} ({rep['task']}) · window {rep['window']}; "
                                        f"live: {said}; offline: {offline}")
    return 0


def run_estimate(ctx) -> int:
    a = ctx.args
    rep = _report(ctx, "estimate.estimate_report", window=a.window, metric=a.metric,
                  reference_start=_time(a.reference_start, "--reference-start"),
                  reference_end=_time(a.reference_end, "--reference-end"))
    rows = [{"start": w["start"], "end": w["end"], "rows": w["rows"], "metric": name, **m}
            for w in rep["windows"] for name, m in w["metrics"].items()]
    ref = rep["reference"]
    emit(rep, ctx.fmt, rows=rows, title=f"{rep['model']} {version_label(rep['version'])} ({rep['task']}) · "
                                        f"{rep['method']} estimate · window {rep['window']}; reference "
                                        f"{ref['rows']} labelled rows; band = estimate ± 3 sampling errors")
    return 0


def _bounds(name: str, ci) -> dict:
    """A confidence interval as two columns (``<name>_low``, ``<name>_high``; empty when none)."""
    low, high = ci if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
    return {f"{name}_low": low, f"{name}_high": high}


def run_slices(ctx) -> int:
    by = [x for item in (ctx.args.by or []) for x in item.split(",") if x] or None
    rep = _report(ctx, "slices_report", by=by)
    rows = [{"feature": s["feature"], "value": s["value"], "rows": s["rows"], "labelled": s["labelled"],
             **s["metrics"], **_bounds("accuracy_ci", s["accuracy_ci"]), "p_adj": s["p_adjusted"],
             "flagged": "✗ flagged" if s["flagged"] else "✓ ok"} for s in rep["slices"]]
    if ctx.fmt == "csv":
        for r, s in zip(rows, rep["slices"], strict=True):
            r["flagged"] = s["flagged"]
    title = f"{rep['model']} {version_label(rep['version'])} slices ({rep['task']})"
    if not rep["slices"] and ctx.fmt != "json":
        title += ": no slice features (registry 'slices' is empty; pass --by FEATURE)"
    emit(rep, ctx.fmt, rows=rows, title=title)
    return 0


def run_ops(ctx) -> int:
    rep = _report(ctx, "ops_report", window=ctx.args.window)
    emit(rep, ctx.fmt, rows=rep["windows"], title=f"{rep['model']} ops · window {rep['window']}")
    return 0


def run_cost(ctx) -> int:
    rep = _report(ctx, "cost_value_report", by=ctx.args.by)  # cost_report, and value where it is set
    title = "; ".join(
        f"{b['model']}: {b['month']} ${b['mtd_usd']:.2f} of ${b['budget_usd']:.2f} ({100 * (b['burn'] or 0):.0f}%)"
        for b in rep["budget"]) or None
    emit(rep, ctx.fmt, rows=rep["rows"], title=title)
    return 0


def run_value(ctx) -> int:
    rep = _report(ctx, "value_report", by=ctx.args.by)
    for n in rep["not_valued"]:
        print(f"warning: {n['model']} v{n['version']} not valued: {n['reason']}", file=sys.stderr)
    for t in rep["training_unknown"]:
        print(f"warning: {t['model']} v{t['version']}: training cost unknown (no training_usd in the registry "
              "and none reported by a retrain hook), counted as 0", file=sys.stderr)
    emit(rep, ctx.fmt, rows=rep["rows"])
    return 0


def run_check(ctx) -> int:
    """Exit 0: every rule computed, nothing firing but snoozed alerts; 1: an alert fired that is
    not snoozed; 2: a rule could not be computed (its reason on stderr, and an ``errors`` entry
    in the JSON) — unknown is never ok. The transitions it sees (opened, severity changed,
    cleared) go to the store's alert history (``analytics.alert_history``); each alert gains
    ``opened`` and its lifecycle ``state`` (``governance.alert_acks``: the journal's acks and
    snoozes), the report ``cleared`` (what this check saw clear) and ``notifications`` (the
    ``[notify.<name>]`` sinks fired: ``governance.notify``)."""
    from console import clock
    from console.analytics import alert_history
    from console.analytics.alerts import not_evaluated
    from console.analytics.runner import run_report
    from console.analytics.windows import iso
    from console.cli import PROG
    from console.governance import alert_acks, notify
    from console.profiles import glance

    ws = ctx.workspace()
    notify.sinks(ws)  # a bad [notify.<name>] is one line before any work
    db = _open(ctx)
    rep = run_report(db, glance.check_alerts, model=ctx.args.model)
    now = clock.now()
    before = alert_history.load(ws)
    history = alert_history.transitions(before, rep, iso(now))
    try:
        alert_history.save(ws, history)
    except OSError as exc:  # a log of what was seen: the report stands without it
        sys.stderr.write(f"{PROG}: warning: alert history not written: {exc.strerror or exc}\n")
    rep = alert_acks.annotate(ws, rep, history, now)
    try:
        sent, problems = notify.notify(ws, rep, history, now)
    except Exception as exc:  # noqa: BLE001 - a notification never fails the check
        sent, problems = [], [f"notifications not sent: {type(exc).__name__}: {str(exc).strip() or 'failed'}"]
    rep = rep | {"cleared": alert_history.cleared_between(before, history), "notifications": sent}
    errors = rep.get("errors") or []
    rows = [{"severity": ("✗ " if x["severity"] == "critical" else "▲ ") + x["severity"], "state": x["state"],
             "model": x["model"], "version": x["version"], "kind": x["kind"], "id": x["id"], "detail": x["detail"]}
            for x in rep["alerts"]]
    rows += [{"severity": "✗ failed", "state": None, "model": e["model"], "version": None,
              "kind": ",".join(e["kinds"]), "id": None, "detail": f"could not be computed: {e['error']}"}
             for e in errors]
    if ctx.fmt == "csv":
        for r, x in zip(rows, rep["alerts"], strict=False):
            r["severity"] = x["severity"]
        for r in rows[len(rep["alerts"]):]:
            r["severity"] = "failed"
    snoozed = rep["states"]["snoozed"]
    quiet = f" ({snoozed} snoozed)" if snoozed else ""
    if errors:
        title = f"✗ {len(errors)} rule set(s) could not be computed; {len(rep['alerts'])} alert(s){quiet}"
    elif rep["ok"]:
        title = "✓ ok: no alerts"
    else:
        title = f"✗ {len(rep['alerts'])} alert(s){quiet}" if alert_acks.pages(rep) else \
            f"▲ {len(rep['alerts'])} alert(s), all snoozed"
    if rep["cleared"]:
        title += f"; ✓ {len(rep['cleared'])} cleared since the last check"
    skipped = not_evaluated(rep)
    if skipped:
        title += "; " + skipped
    emit(rep, ctx.fmt, rows=rows, title=title)
    for f in rep.get("future_data", []):
        sys.stderr.write(f"mlops-console: warning: {f['model']}: {f['rows']} record(s) stamped after now "
                         f"({f['now']}), newest {f['newest']}; alerts read the window ending now\n")
    for line in notify.warnings(sent) + problems:
        sys.stderr.write(f"{PROG}: warning: {line}\n")
    from console.governance.trust import trust_problems

    for problem in trust_problems(ws):  # governance would refuse to act: say so
        sys.stderr.write(f"warning: untrusted governance file: {problem}\n")
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        sys.stderr.write(f"{PROG}: error: check incomplete: {first['model']} {'/'.join(first['kinds'])} "
                         f"could not be computed: {first['error']}{more}\n")
        return EXIT_USAGE
    return EXIT_CHECK if alert_acks.pages(rep) else 0


def run_query_cmd(ctx) -> int:
    """Rows stream to stdout as DuckDB produces them (bounded memory, any result size);
    timestamps as ISO 8601 with ``Z`` (``analytics.query.zoned``, as the TUI's exports)."""
    from console.analytics.query import (
        configured_timeout,
        ensure_read_only,
        parse_timeout,
        stream_query,
        zoned,
    )
    from console.cli.output import emit_stream

    ensure_read_only(ctx.args.sql)  # refuse before touching the store
    if ctx.args.timeout is not None:
        timeout = parse_timeout(ctx.args.timeout, "--timeout")
    else:
        timeout = configured_timeout(ctx.workspace().config)
    db = _open(ctx, query=True)
    with stream_query(db, ctx.args.sql, timeout=timeout) as q:
        emit_stream(q.columns, (zoned(b, text=True) for b in q.batches()), ctx.fmt)
    return 0


def _or_dash(value) -> str:
    """A value for a title line: ``–`` when absent (never Python's ``None``)."""
    return "–" if value is None else str(value)


def run_explain(ctx) -> int:
    """``explain REQUEST_ID``: the prediction's features beside the reference and its attributions;
    ``explain --global --model M``: the version's importance (``analytics.explain``)."""
    from console.analytics import explain
    from console.analytics.source import resolve_version

    a = ctx.args
    ws = ctx.workspace()
    if a.global_:
        if a.request_id is not None or a.model is None:
            raise UsageError("explain --global takes --model M [--version V] and no REQUEST_ID")
        db = _open(ctx)
        version = resolve_version(db, a.model, a.version)
        rep = explain.global_importance(db, ws.root, a.model, version)
        title = (f"{rep['model']} {version_label(rep['version'])} importance: {rep['method']}; "
                 f"reference {rep['reference_rows']} rows, current {rep['current_rows']} rows")
        if rep.get("note"):
            title += f" ({rep['note']})"
        emit(rep, ctx.fmt, rows=rep["features"], title=title)
        return 0
    if a.request_id is None:
        raise UsageError("explain needs a REQUEST_ID (or --global --model M)")
    rep = explain.explain_prediction(_open(ctx), ws.root, a.request_id, a.model, a.version)
    if ctx.fmt == "json":
        emit(rep, ctx.fmt)
        return 0
    attrs = {x["feature"]: x["attribution"] for x in (rep["attributions"] or {}).get("features", [])}
    rows = [{"feature": f["feature"], "value": f["value"],
             "reference": (f"p{f['percentile']:.1f}" if f.get("percentile") is not None
                           else f"{100 * f['share']:.1f}% of rows" if f.get("share") is not None else "–"),
             "flag": ("✓ ok" if f["flag"] == "ok" else "? no reference" if f["flag"] == "no reference"
                      else f"✗ {f['flag']}"),
             "attribution": attrs.get(f["feature"])} for f in rep["features"]]
    label = f", label {rep['label']}" if rep["label"] is not None else ", label unknown"
    title = (f"{rep['model']} {version_label(rep['version'])} request {rep['request_id']}: prediction "
             f"{rep['prediction']}, score {_or_dash(rep['score'])}{label}, latency {_or_dash(rep['latency_ms'])} ms, "
             f"cost {_or_dash(rep['cost_usd'])} USD")
    decision = explain.decision_text(rep)
    if decision:
        title += f"\n{decision}"
    at = rep["attributions"]
    if at:
        add = at["additivity"]
        title += (f"\nattributions ({at['output_space']}, {at['method']}): base {at['base_value']:.4f} + "
                  f"sum {add['sum_plus_base'] - at['base_value']:.4f} = {add['sum_plus_base']:.4f}; "
                  f"model output {at['output']:.4f} ({'✓ additive' if add['holds'] else '✗ not additive'})")
    else:
        title += f"\nattributions: none ({rep['attribution_note']})"
    if (rep.get("artifact") or {}).get("writers"):
        title += f"\n⚠ artifact writable by others: {rep['artifact']['writers']}"
    emit(rep, ctx.fmt, rows=rows, title=title)
    return 0


__all__ = ["register", "UsageError"]
