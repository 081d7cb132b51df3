"""SQL quoting has one home (``console.store.sql``): identifiers and literals that cannot be bound
parameters round-trip through a real DuckDB, and no other module quotes by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from console.store.sql import ident, literal

PACKAGE = Path(__file__).resolve().parents[1] / "console"
NAMES = ['plain', 'with space', 'a"b', '"', "it's", 'ünïcødé', 'x"; DROP TABLE t; --']


@pytest.mark.parametrize("name", NAMES)
def test_identifiers_and_text_round_trip(name) -> None:
    con = duckdb.connect()
    row = con.execute(f"SELECT {literal(name)} AS {ident(name)}").fetchone()
    assert row == (name,)
    assert [d[0] for d in con.description] == [name]


def test_literals_of_every_kind() -> None:
    con = duckdb.connect()
    aware = dt.datetime(2026, 11, 1, 13, 0, 3, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    values = [None, True, False, 42, -7, 0.1, 1e300, dt.date(2026, 11, 1), aware, "a'b"]
    got = con.execute("SELECT " + ", ".join(literal(v) for v in values)).fetchone()
    assert list(got) == [None, True, False, 42, -7, 0.1, 1e300, dt.date(2026, 11, 1),
                         dt.datetime(2026, 11, 1, 12, 0, 3, 5), "a'b"]


def test_no_module_quotes_sql_by_hand() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "store" / "sql.py":
            continue
        text = path.read_text()
        for needle in ("""replace('"', '""')""", """replace("'", "''")"""):
            if needle in text:
                offenders.append(f"{path.relative_to(PACKAGE)}: {needle}")
    assert not offenders, "use console.store.sql.ident / literal:\n" + "\n".join(offenders)
