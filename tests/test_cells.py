"""One way a value reads in a table cell (``console.cells``), shared by the command line's
``table``/``csv`` output and the auditor's report."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np

from console.cells import cell
from console.cli.output import render_table
from console.governance import report


def test_cell() -> None:
    assert [cell(v) for v in (None, float("nan"), float("inf"), True, False, 0.123456789, 12, "x")] == \
        ["", "", "", "yes", "no", "0.123457", "12", "x"]
    assert cell(None, missing="—") == "—" and cell(2 / 3, digits=4) == "0.6667"
    assert cell({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'
    assert cell(dt.datetime(2026, 11, 1, 12)) == "2026-11-01T12:00:00Z" and cell(dt.date(2026, 11, 1)) == "2026-11-01"


def test_the_cli_table_and_the_report_print_values_alike() -> None:
    out = io.StringIO()
    render_table([{"ci": [0.5, 0.75], "x": np.float64("nan"), "ok": True}], ["ci", "x", "ok"], None, out)
    assert out.getvalue().splitlines()[-1].split() == ["[0.5,0.75]", "yes"]
    assert report._fmt(float("nan")) == "—" and report._fmt({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    assert report._fmt(0.123456) == "0.1235" and report._fmt(False) == "no"
