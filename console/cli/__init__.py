"""The command line (docs/formats.md, 'The command line'): one entry point, ``mlops-console``, also ``python -m console``.

With no command it opens the console (the TUI). Each area registers its own sub-commands from
a module of this package (``app_cmds``, ``ingest_cmds``, ``analytics_cmds``,
``governance_cmds``, ``alerts_cmds``); this module owns the parser, the shared options and the exit codes:
0 success, 1 a check that found a problem, 2 bad usage or bad input (one line on stderr).

No traceback reaches a user: ``main`` prints a ``ConsoleError`` as its one line, anything else
that escapes a command as ``mlops-console: error: <what> (<ExceptionType>); ...`` (exit 2;
``MLOPS_CONSOLE_DEBUG=1`` adds the traceback), and ctrl-C as ``mlops-console: interrupted``
(exit 130) — also when it arrives inside a DuckDB query, which DuckDB turns into an error of
its own.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from console.errors import EXIT_USAGE, ConsoleError
from console.workspace import Workspace
from console.workspace import load as load_workspace

PROG = "mlops-console"
EXIT_INTERRUPTED = 130
DEBUG_ENV = "MLOPS_CONSOLE_DEBUG"
_interrupted = threading.Event()


def _on_sigint(signum, frame) -> None:
    """Python's default ctrl-C, remembered: DuckDB turns it into an error of its own."""
    _interrupted.set()
    raise KeyboardInterrupt


def last_resort_message(exc: BaseException) -> str:
    """The one line for an unexpected exception (no traceback)."""
    text = str(exc).strip()
    what = text.splitlines()[0] if text else "unexpected failure"
    return (f"{PROG}: error: {what} ({type(exc).__name__}); "
            f"rerun with {DEBUG_ENV}=1 for the traceback")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_USAGE)


class Context:
    """What a command handler gets: its parsed arguments and the workspace, loaded on demand."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self._workspace: Workspace | None = None
        self._registry = None

    @property
    def fmt(self) -> str:
        return getattr(self.args, "format", "table")

    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = load_workspace(getattr(self.args, "workspace", None))
        return self._workspace


    def registry(self, warn: bool = True):
        """The workspace's registry, read once; with ``warn``, each file that was skipped
        (invalid, too big, nested too deeply) is a ``warning:`` line on stderr."""
        if self._registry is None:
            from console.store.registry import load_registry

            ws = self.workspace()
            self._registry = load_registry(ws.registry, ws.root)
            if warn:
                for err in self._registry.errors:
                    sys.stderr.write(f"{PROG}: warning: registry file skipped: {err}\n")
        return self._registry


Handler = Callable[[Context], int | None]


def common_parser() -> ArgumentParser:
    """Options every command accepts, before or after the command name."""
    p = ArgumentParser(add_help=False)
    p.add_argument(
        "--workspace",
        "-w",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="workspace directory (default: $MLOPS_CONSOLE_WORKSPACE, else search upward)",
    )
    return p


def format_parser() -> ArgumentParser:
    """``--format table|json|csv`` for commands that report."""
    p = ArgumentParser(add_help=False)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    return p


def build_parser() -> ArgumentParser:
    from console.cli import (
        alerts_cmds,
        analytics_cmds,
        app_cmds,
        governance_cmds,
        ingest_cmds,
        metrics_cmds,
        policy_cmds,
        profile_cmds,
    )

    common = common_parser()
    parser = ArgumentParser(
        prog=PROG,
        parents=[common],
        description="A terminal console for keeping machine-learning models healthy in production.",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="open the console with every action removed"
    )
    parser.set_defaults(handler=app_cmds.run_tui)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    parents = {"common": common, "format": format_parser()}
    for module in (
        app_cmds,
        ingest_cmds,
        analytics_cmds,
        governance_cmds,
        alerts_cmds,
        metrics_cmds,
        policy_cmds,
        profile_cmds,
    ):
        module.register(sub, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _interrupted.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        ctx = Context(args)
        code = args.handler(ctx)
    except KeyboardInterrupt:
        return _interrupt()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, like any Unix tool.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ConsoleError as exc:
        if _interrupted.is_set():
            return _interrupt()
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"{PROG}: {msg}\n")
        return exc.exit_code
    except Exception as exc:  # the last resort: one line, never a traceback
        if _interrupted.is_set():
            return _interrupt()
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            import traceback

            traceback.print_exc()
        sys.stderr.write(last_resort_message(exc) + "\n")
        return EXIT_USAGE
    return int(code or 0)


def _interrupt() -> int:
    try:
        sys.stderr.write(f"{PROG}: interrupted\n")
        sys.stderr.flush()
    except OSError:
        pass
    return EXIT_INTERRUPTED
