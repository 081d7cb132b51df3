"""One duration grammar (``console.durations``) for every flag and console.toml key, and one
clear line for anything else."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from console import durations
from console.analytics.query import configured_timeout, parse_timeout
from console.analytics.windows import parse_window
from console.cli import main
from console.config_schema import validate
from console.errors import UsageError, WorkspaceError
from console.ingest.limits import limits_from
from tests.conftest import write_workspace

GOOD = {"500ms": 0.5, "30s": 30, "15m": 900, "1h": 3600, " 72h ": 259200, "3d": 259200, "1w": 604800,
        "1.5h": 5400, "2 m": 120}
BAD = ["", "h", "1", "1x", "1y", "-1h", "+1h", "1e3s", "1H", "1h30m", "one hour", "1.h", ".5h"]


@pytest.mark.parametrize("text,secs", GOOD.items())
def test_the_grammar(text, secs) -> None:
    assert durations.is_duration(text)
    assert durations.seconds(text) == secs
    assert durations.parse(text) == dt.timedelta(seconds=secs)


@pytest.mark.parametrize("text", [*BAD, None, 3, True])
def test_anything_else_is_one_line_naming_what(text) -> None:
    assert not durations.is_duration(text)
    with pytest.raises(UsageError) as err:
        durations.parse(text, "--window")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("bad --window ") and durations.HINT in msg


def test_every_user_reads_the_same_grammar(tmp_path: Path) -> None:
    # windows: whole seconds, at least one, or "all"
    assert parse_window("1.5h") == 5400 and parse_window("all") is None and parse_window("ALL") is None
    for bad in ("500ms", "0h", "1x"):
        with pytest.raises(UsageError, match="bad window"):
            parse_window(bad)
    # query timeouts: a duration or a number of seconds
    assert parse_timeout("500ms") == 0.5 and parse_timeout("2m") == 120 and parse_timeout("30") == 30
    assert parse_timeout("0") is None and parse_timeout(0) is None and parse_timeout("none") is None
    with pytest.raises(UsageError, match=durations.HINT.replace("(", r"\(").replace(")", r"\)")):
        parse_timeout("1x", "--timeout")
    assert configured_timeout({"query": {"timeout": "1.5m"}}) == 90
    # ingest limits: whole seconds, 0 allowed
    assert limits_from({"max_future_skew": "1.5h"}).max_future_skew_s == 5400
    assert limits_from({"max_future_skew": "0s"}).max_future_skew_s == 0
    with pytest.raises(WorkspaceError, match=r"\[ingest\] max_future_skew"):
        limits_from({"max_future_skew": "1H"})
    # the console.toml schema: the same strings are durations
    for text in GOOD:
        validate({"governance": {"hook_timeout": text}}, tmp_path / "console.toml")
    for text in ("1H", "1h30m", "1y"):
        with pytest.raises(WorkspaceError, match="hook_timeout"):
            validate({"governance": {"hook_timeout": text}}, tmp_path / "console.toml")


@pytest.mark.parametrize("args,what", [
    (["ops", "--model", "m", "--window", "1x"], "bad window '1x'"),
    (["performance", "--model", "m", "--window", "90 minutes"], "bad window '90 minutes'"),
    (["query", "SELECT 1", "--timeout", "1y"], "bad --timeout '1y'"),
])
def test_a_bad_duration_on_the_command_line_is_one_line_and_exit_2(workspace_dir, capsys, args, what) -> None:
    code = main([*args, "--workspace", str(workspace_dir)])
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if "warning" not in x]
    assert code == 2 and len(lines) == 1 and what in lines[0] and durations.HINT in lines[0], err


@pytest.mark.parametrize("toml,key", [
    ('[governance]\nrequest_ttl = "3 days"\n', "request_ttl"),
    ('[ingest]\nmax_future_skew = "1hour"\n', "max_future_skew"),
])
def test_a_bad_duration_in_console_toml_is_one_line_and_exit_2(tmp_path, capsys, toml, key) -> None:
    ws = write_workspace(tmp_path / "ws", toml)
    code = main(["requests", "--workspace", str(ws)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and key in err, err
