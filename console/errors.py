"""The project's error types and the exit codes they map to (docs/formats.md, 'The command line').

``UsageError`` (exit 2) is bad usage or bad input, always carrying a one-line reason;
``CheckFailed`` (exit 1) is a check or verification that found a problem.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK = 1
EXIT_USAGE = 2


class ConsoleError(Exception):
    """Base class: an error whose message is a single line meant for the user."""

    exit_code = EXIT_USAGE


class UsageError(ConsoleError):
    """Bad usage or bad input: exit 2 with a one-line reason on stderr."""

    exit_code = EXIT_USAGE


class WorkspaceError(UsageError):
    """The workspace (console.toml, its sources) cannot be used as configured."""


class InputUnreadable(UsageError):
    """An input a report needs (a reference file, say) is missing or cannot be read: exit 2 on
    the command line, and an error — never "nothing to report" — where a report is summarised."""


class NotComputable(UsageError):
    """A report that cannot be computed for this model or version as registered (no reference, a
    task the method does not cover, too few rows): not a failure of the console. ``reason`` says
    why in words for any surface; ``hint`` adds what to pass on the command line. Exit 2 with
    both; the TUI shows "? not computed: <reason>"."""

    def __init__(self, reason: str, hint: str | None = None):
        super().__init__(f"{reason}; {hint}" if hint else reason)
        self.reason = reason
        self.hint = hint


class PermissionDenied(UsageError):
    """The current OS user's role does not allow the action."""


class CheckFailed(ConsoleError):
    """A check or verification found a problem: exit 1."""

    exit_code = EXIT_CHECK
