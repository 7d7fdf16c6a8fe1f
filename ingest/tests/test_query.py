"""`wirehouse query`: one read-only statement or a usage error."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.query import UnsafeQuery, check_read_only


@pytest.mark.parametrize(
    "sql",
    [
        "select 1",
        "with a as (select 1 as x) select x from a",
        "select * from marts.fct_x union all select * from marts.fct_y",
        "describe raw.ingest_files",
    ],
)
def test_read_only_queries_pass(sql: str) -> None:
    assert check_read_only(sql) == sql


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("select 1; select 2", "one statement"),
        ("drop table raw.ingest_files", "not DROP"),
        ("delete from raw.ingest_files", "not DELETE"),
        ("insert into t select 1", "not INSERT"),
        ("create table t as select 1", "not CREATE"),
        ("copy raw.ingest_files to '/tmp/x.csv'", "COPY"),
        ("attach 'x.duckdb'", "ATTACH"),
        ("selec 1 frm", "cannot parse"),
    ],
)
def test_writes_and_scripts_are_refused(sql: str, reason: str) -> None:
    with pytest.raises(UnsafeQuery, match=reason):
        check_read_only(sql)


def test_cli_query_formats_and_refusals(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table t as select 1 as a, 'x' as b")
    runner = CliRunner()
    out = runner.invoke(main, ["query", "select * from t", "--db", str(db), "--format", "csv"])
    assert (out.exit_code, out.stdout) == (0, "a,b\n1,x\n")
    out = runner.invoke(main, ["query", "select a from t", "--db", str(db), "--format", "json"])
    assert out.stdout == '{"a": 1}\n'
    out = runner.invoke(main, ["query", "drop table t", "--db", str(db)])
    assert out.exit_code == 2 and "not DROP" in out.stderr
    out = runner.invoke(main, ["query", "select * from missing", "--db", str(db)])
    assert out.exit_code == 1 and out.stderr.startswith("wirehouse: error: Catalog Error")
