"""Sub-commands of the ingest area: ``ingest`` (one pass) and ``ingest --follow``.

``ingest`` prints the summary (docs/formats.md, 'The ingest command') of NEW rows: ``{"predictions", "labels",
"quarantined", "duplicates"}``. Only one console ingests at a time: when another holds the
lock, ``ingest`` waits up to ``--wait`` seconds (default 10) for its turn, then exits 1 saying
which process is ingesting. ``--follow`` keeps ingesting as files change (watchdog wakes it, a
periodic stat is the truth; it says so when it has to fall back to polling) and prints one
summary line per pass that found something (one JSON object per line with ``--format json``).
"""

from __future__ import annotations

import sys

from console.cli.output import emit
from console.errors import CheckFailed, UsageError


def register(sub, parents) -> None:
    p = sub.add_parser(
        "ingest",
        parents=[parents["common"], parents["format"]],
        help="read new prediction logs, labels and registry files into the store",
    )
    p.add_argument("--follow", action="store_true", help="keep ingesting as the sources change")
    p.add_argument(
        "--wait", type=float, default=10.0, metavar="SECONDS",
        help="how long to wait for another console that is ingesting (default 10)",
    )
    p.add_argument(
        "--interval", type=float, default=2.0, metavar="SECONDS",
        help="with --follow: stat every source at least this often (default 2)",
    )
    p.set_defaults(handler=run_ingest)


def run_ingest(ctx) -> int:
    from console.ingest.engine import Ingester, LockBusy

    ws = ctx.workspace()
    ctx.registry()  # an invalid registry file is a warning on stderr (the rest still ingests)
    if ctx.args.follow:
        from console.ingest.live import follow

        return follow(ws, ctx.fmt, interval=ctx.args.interval, out=sys.stdout, err=sys.stderr)
    ing = Ingester(ws)
    try:
        result = ing.run_once(wait=max(ctx.args.wait, 0.0))
    except LockBusy as exc:
        raise CheckFailed(f"{exc}; try again when it is done (or leave the ingesting to it)") from None
    except OSError as exc:
        raise UsageError(f"{ws.store_dir}: cannot write the store: {exc.strerror or exc}") from None
    for err in result.errors:
        sys.stderr.write(f"mlops-console: warning: {err}\n")
    emit(result.as_dict(), ctx.fmt)
    return 0
