"""Sub-commands that export the console's numbers to Prometheus (docs/formats.md, 'mlops-console
metrics'): ``metrics`` (the text format on stdout, or ``--textfile PATH`` for node_exporter's
textfile collector, replaced atomically through ``console.fsio``) and ``serve-metrics``
(``/metrics`` over HTTP, bound to 127.0.0.1 unless told otherwise, evaluated afresh on every
scrape). The families are ``console.analytics.prometheus``'s; this module only opens the store
and writes or serves them.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from console.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9466


def register(sub, parents) -> None:
    common = [parents["common"]]
    p = sub.add_parser("metrics", parents=common,
                       help="the console's metrics in Prometheus text format (stdout or --textfile)")
    p.add_argument("--textfile", metavar="PATH",
                   help="write them to PATH (replaced atomically) for node_exporter's textfile collector")
    p.add_argument("--format", choices=("prom", "table", "csv", "json"), default="prom",
                   help="prom (default: Prometheus text), or one row per series as table, csv or json")
    p.set_defaults(handler=run_metrics)

    p = sub.add_parser("serve-metrics", parents=common,
                       help="serve the console's metrics at http://HOST:PORT/metrics for Prometheus")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"TCP port (default {DEFAULT_PORT}; 0: any free port, printed at start)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    p.set_defaults(handler=run_serve_metrics)


def _fleet(ctx) -> dict:
    """Governance's overlay of the store (stages, production, training costs), now."""
    from console.governance.state import fleet_state
    from console.store.registry import load_registry

    ws = ctx.workspace()
    state = fleet_state(ws, load_registry(ws.registry, ws.root))
    return state.overlay()


def series_rows(text: str) -> list[dict]:
    """The series of a Prometheus text exposition, one ``{"metric", "labels", "value"}`` each
    (read back with prometheus-client's own parser, so the rows are what Prometheus reads)."""
    from prometheus_client.parser import text_string_to_metric_families

    return [{"metric": s.name, "labels": dict(sorted(s.labels.items())), "value": s.value}
            for family in text_string_to_metric_families(text) for s in family.samples]


def _labels_text(labels: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def run_metrics(ctx) -> int:
    """Exit 0 when written; the values that could not be computed are in the output itself
    (``mlops_console_not_evaluated``, ``mlops_console_evaluation_errors``), so cron keeps
    exporting what it can."""
    from console.analytics.prometheus import exposition
    from console.cli.analytics_cmds import _open
    from console.profiles import glance

    data = exposition(_open(ctx), glance.check_alerts)
    fmt = ctx.args.format
    if fmt != "prom" and ctx.args.textfile is not None:
        raise UsageError("--textfile writes the Prometheus text format; leave out --format")
    if fmt != "prom":
        from console.cli.output import emit

        rows = series_rows(data.decode("utf-8"))
        emit(rows, fmt, rows=[{**r, "labels": _labels_text(r["labels"])} for r in rows] if fmt != "json" else None)
        return 0
    if ctx.args.textfile is None:
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
        return 0
    from console.fsio import write_atomic

    path = Path(ctx.args.textfile)
    if path.is_dir():
        raise UsageError(f"--textfile {path} is a folder; name a file (node_exporter reads *.prom)")
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise UsageError(f"cannot write --textfile {path}: {exc.strerror or exc}") from None
    return 0


def run_serve_metrics(ctx) -> int:
    """Serve until SIGTERM (exit 0) or ctrl-C (exit 130). Each scrape takes the store's newest
    committed batch and the fleet's production versions as they are then; a scrape that cannot
    read the store answers ``mlops_console_up 0`` (and says why on stderr)."""
    from prometheus_client import start_http_server
    from prometheus_client.registry import CollectorRegistry

    from console.analytics.prometheus import SnapshotCollector
    from console.cli import PROG
    from console.cli.analytics_cmds import _open
    from console.profiles import glance

    port = ctx.args.port
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0..65535, not {port}")
    db = _open(ctx)  # a bad console.toml or store is one line before anything is served
    current = {"db": db}

    def snapshot():
        snap = current["db"].refresh().with_fleet(**_fleet(ctx))  # a new snapshot only when changed
        current["db"] = snap
        return snap

    def on_error(exc: BaseException) -> None:
        text = str(exc).strip().splitlines()
        sys.stderr.write(f"{PROG}: warning: scrape failed: {text[0] if text else type(exc).__name__}\n")
        sys.stderr.flush()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, on_error, glance.check_alerts))
    try:
        server, thread = start_http_server(port, addr=ctx.args.host, registry=registry)
    except OSError as exc:
        raise UsageError(f"cannot listen on {ctx.args.host}:{port}: {exc.strerror or exc}") from None
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set()) \
        if threading.current_thread() is threading.main_thread() else None
    host, bound = server.server_address[:2]
    sys.stdout.write(f"serving metrics on http://{host}:{bound}/metrics\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        db.close()
    return 0
