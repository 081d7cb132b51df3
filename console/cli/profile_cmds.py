"""``mlops-console profile``: bring the daily profiles up to date (``console.profiles``) — from
the store with DuckDB (default, incremental by day), or from a lake path of prediction-log
Parquet with DuckDB (``--engine local --source``) or Spark (``--engine spark --source``)."""

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


def _registry(ctx):
    try:
        return ctx.registry()
    except ConsoleError:
        return None  # a lake outside a workspace: no reference edges, no task


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
        table = local.profile_source(Path(a.source), registry, model=a.model)
    files = local.write_table(out, table)
    result = {"engine": a.engine, "source": str(a.source), "out": str(out), "files": len(files),
              "profile_rows": table.num_rows}
    emit(result, ctx.fmt, rows=[result])
    return 0
