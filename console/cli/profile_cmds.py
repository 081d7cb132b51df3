"""``mlops-console profile``: bring the daily profiles up to date (``console.profiles``) — from
the store with DuckDB (default, incremental by day), or from a lake path of prediction-log
Parquet with DuckDB (``--engine local --source``) or Spark (``--engine spark --source``).

``mlops-console trend`` and ``mlops-console fleet``: per-window figures of a model and the
fleet overview, answered from the profiles (refreshed first) when the windows are whole days,
from the rows with ``--exact`` (``console.profiles.reader``); the JSON says which
(``"source"``)."""

from __future__ import annotations

from pathlib import Path

from console.errors import ConsoleError, InputUnreadable, UsageError


def register(sub, parents) -> None:
    """Add the ``profile`` command."""
    p = sub.add_parser("profile", parents=[parents["common"], parents["format"]],
                       help="compute the mergeable daily profiles (local store or a Parquet lake with Spark)")
    p.add_argument("--engine", choices=("local", "spark"), default="local")
    p.add_argument("--source", metavar="PATH", help="a lake path of prediction-log Parquet (default: the store)")
    p.add_argument("--master", metavar="URL", help="Spark master (default local[2]); --engine spark only")
    p.add_argument("--out", metavar="DIR", help="where the profiles go (default: .console/profiles)")
    p.add_argument("--model", help="only this model")
    p.set_defaults(handler=run_profile)

    common = [parents["common"], parents["format"]]
    p = sub.add_parser("trend", parents=common,
                       help="a model's volume, errors, latency, cost, metrics and drift per window, from daily profiles")
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="default: the production version")
    p.add_argument("--window", default=None, help="1d, 7d, ... or all (default 1d)")
    p.add_argument("--start", metavar="T", help="RFC 3339 time or date, inclusive")
    p.add_argument("--end", metavar="T", help="RFC 3339 time or date, exclusive")
    p.add_argument("--feature", action="append", help="only this feature's drift (repeatable)")
    p.add_argument("--exact", action="store_true", help="compute from the rows, not the profiles")
    p.add_argument("--profiles", metavar="DIR",
                   help="read only this folder of profiles (written by profile --source … --out DIR): no store")
    p.set_defaults(handler=run_trend)

    p = sub.add_parser("fleet", parents=common,
                       help="every model's volume, errors, latency, cost and drift over a range, from daily profiles")
    p.add_argument("--model", action="append", help="only this model (repeatable)")
    p.add_argument("--start", metavar="T", help="RFC 3339 time or date, inclusive")
    p.add_argument("--end", metavar="T", help="RFC 3339 time or date, exclusive")
    p.add_argument("--exact", action="store_true", help="compute from the rows, not the profiles")
    p.add_argument("--profiles", metavar="DIR",
                   help="read only this folder of profiles (written by profile --source … --out DIR): no store")
    p.set_defaults(handler=run_fleet)


def _registry(ctx):
    try:
        return ctx.registry()
    except ConsoleError:
        return None  # a lake outside a workspace: no reference edges, no task


def _memory_limit(ctx) -> str | None:
    """The workspace's ``[workspace] memory_limit`` (None: no workspace here — DuckDB's bound is the default)."""
    from console.store.duck import memory_limit

    try:
        return memory_limit(ctx.workspace().config)
    except ConsoleError:
        return None


def run_profile(ctx) -> int:
    from console.cli.output import emit
    from console.profiles import local

    a = ctx.args
    if a.engine == "spark" and not a.source:
        raise UsageError("--engine spark needs --source <lake path>")
    if a.master and a.engine != "spark":
        raise UsageError("--master is for --engine spark")
    if a.source is None:
        from console.cli.analytics_cmds import _open

        rep = local.profile_store(_open(ctx), [a.model] if a.model else None,
                                  out=Path(a.out) if a.out else None)
        result = {"engine": "local", "source": "store", "out": rep["out"],
                  "computed": len(rep["computed"]), "kept": rep["kept"], "days": rep["computed"]}
        emit(result, ctx.fmt, rows=[{k: result[k] for k in ("engine", "source", "computed", "kept", "out")}])
        return 0
    if a.out:
        out = Path(a.out)
    else:
        out = Path(ctx.workspace().store_dir) / "profiles"
    registry = _registry(ctx)
    if a.engine == "spark":
        from console.profiles import spark

        why = spark.missing_requirement()
        if why is not None:
            raise UsageError(why)
        local.lake_files(Path(a.source))  # a bad path is one line before Spark starts
        try:
            table = spark.profile_spark(Path(a.source), registry, master=a.master or "local[2]", model=a.model)
        except ConsoleError:
            raise
        except Exception as exc:  # noqa: BLE001 - Spark's errors are pages of JVM stack
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputUnreadable(f"spark failed: {first}") from None
    else:
        table = local.profile_source(Path(a.source), registry, model=a.model, limit=_memory_limit(ctx))
    files = local.write_table(out, table)
    result = {"engine": a.engine, "source": str(a.source), "out": str(out), "files": len(files),
              "profile_rows": table.num_rows}
    emit(result, ctx.fmt, rows=[result])
    return 0


def _trend_rows(rep: dict) -> list[dict]:
    rows = []
    for w in rep["windows"]:
        lat = w.get("latency_ms") or {}
        d = (w.get("drift") or {}).get("dataset_drift") or {}
        rows.append({"start": w["start"], "requests": w["requests"], "errors": w["errors"],
                     "error_rate": w["error_rate"], "p50_ms": lat.get("p50"), "p95_ms": lat.get("p95"),
                     "cost_usd": w.get("cost_usd"), "drifted": d.get("drifted_features"),
                     "tested": d.get("tested_features"), "source": rep["source"]})
    return rows


def _lake(ctx) -> dict:
    """What ``--profiles DIR`` reads beside the folder: the workspace's registry and production
    versions when there is a workspace (tasks, the version shown), else nothing."""
    a = ctx.args
    if a.exact:
        raise UsageError("--exact computes from the store's rows; --profiles reads only the profiles")
    from console.governance.state import fleet_state

    try:
        ws = ctx.workspace()
    except ConsoleError:
        if getattr(a, "workspace", None):
            raise  # a workspace named but unusable is an error, not "no workspace"
        return {"registry": None, "production": {}}  # profiles outside a workspace
    registry = ctx.registry()
    return {"registry": registry, "production": dict(fleet_state(ws, registry).production)}


def run_trend(ctx) -> int:
    from console.analytics.windows import parse_range, parse_window
    from console.cli.analytics_cmds import _open
    from console.cli.output import emit
    from console.profiles.reader import trend

    a = ctx.args
    parse_window(a.window, "1d")
    start, end = parse_range(a.start, a.end)
    if a.profiles:
        from console.profiles import lake

        if a.feature:
            raise UsageError("--feature picks drift features; lake profiles have no drift")
        rep = lake.trend(Path(a.profiles), a.model, a.version, start, end, window=a.window or "1d", **_lake(ctx))
        emit(rep, ctx.fmt, rows=_trend_rows(rep))
        return 0
    rep = trend(_open(ctx), a.model, a.version, start, end, window=a.window or "1d", exact=a.exact,
                features=a.feature)
    emit(rep, ctx.fmt, rows=_trend_rows(rep))
    return 0


def run_fleet(ctx) -> int:
    from console.analytics.windows import parse_range
    from console.cli.analytics_cmds import _open
    from console.cli.output import emit
    from console.profiles.reader import fleet

    a = ctx.args
    start, end = parse_range(a.start, a.end)
    if a.profiles:
        from console.profiles import lake

        rep = lake.fleet(Path(a.profiles), start, end, models=a.model, **_lake(ctx))
    else:
        rep = fleet(_open(ctx), start, end, models=a.model, exact=a.exact)
    rows = []
    for r in rep["models"]:
        lat = r.get("latency_ms") or {}
        d = r.get("drift") or {}
        rows.append({"model": r["model"], "version": r["version"], "requests": r["requests"],
                     "error_rate": r["error_rate"], "p95_ms": lat.get("p95"), "cost_usd": r["cost_usd"],
                     "drift": None if not d else ("drift" if d.get("drifted") else "ok"),
                     "drifted": d.get("drifted_features"), "source": r["source"]})
    emit(rep, ctx.fmt, rows=rows)
    return 0
