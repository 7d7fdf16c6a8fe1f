"""`wirehouse query` and `wirehouse tables`: every exploring statement runs; nothing that
writes, attaches, installs, sets, copies or reads files does, at the parser or at DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from wirehouse.cli import main
from wirehouse.serve.publish import publish
from wirehouse.serve.query import UnsafeQuery, check_read_only, connect_reader


@pytest.mark.parametrize(
    "sql",
    [
        "select 1",
        "with a as (select 1 as x) select x from a",
        "select * from marts.fct_x union all select * from marts.fct_y",
        "from marts.fct_x limit 5",
        "from fct_x select a where b > 1",
        "show tables",
        "show all tables",
        "show databases",
        "show marts.fct_x",
        "describe marts.fct_x",
        "describe select 1",
        "summarize marts.fct_x",
        "summarize select * from marts.fct_x",
        "explain select * from marts.fct_x",
        "explain analyze select 1",
        "pragma table_info('marts.fct_x')",
        "pragma show_tables",
        "pivot marts.fct_x on flow using sum(msgs)",
        "unpivot marts.fct_x on a, b into name k value v",
        "select * from unnest([1, 2])",
        "select * from range(10)",
        "select * from duckdb_tables()",
        "select * from marts.fct_x using sample 10",
        "values (1), (2)",
    ],
)
def test_exploring_statements_pass(sql: str) -> None:
    assert check_read_only(sql) == sql


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("select 1; select 2", "one statement"),
        ("drop table raw.ingest_files", "not DROP"),
        ("delete from raw.ingest_files", "not DELETE"),
        ("insert into t select 1", "not INSERT"),
        ("update t set a = 1", "not UPDATE"),
        ("create table t as select 1", "not CREATE"),
        ("create secret (type s3, key_id 'x')", "cannot parse"),
        ("select 1 as a into t", "INTO"),
        ("copy raw.ingest_files to '/tmp/x.csv'", "COPY"),
        ("attach 'x.duckdb'", "ATTACH"),
        ("detach x", "DETACH"),
        ("install httpfs", "INSTALL"),
        ("load httpfs", "LOAD"),
        ("set threads = 1", "SET"),
        ("use marts", "USE"),
        ("checkpoint", "not COLUMN"),
        ("vacuum", "VACUUM"),
        ("call pragma_version()", "CALL"),
        ("export database '/tmp/out'", "cannot parse"),
        # the two holes: import_database runs DIR/schema.sql, file functions read anything
        ("pragma import_database('/tmp/dir')", "PRAGMA import_database is not allowed"),
        ("select * from read_text('/etc/passwd')", "table function read_text"),
        ("select * from read_blob('/etc/passwd')", "table function read_blob"),
        ("select * from read_csv('/etc/passwd')", "table function read_csv"),
        ("select * from read_csv_auto('/etc/passwd')", "table function read_csv"),
        ("select * from read_parquet('/x/*.parquet')", "table function read_parquet"),
        ("select * from read_json('/x.json')", "table function read_json"),
        ("select * from glob('/root/*')", "table function glob"),
        ("select * from query('select 42')", "table function query"),
        ("select * from sniff_csv('/etc/passwd')", "table function sniff_csv"),
        ("select (select count(*) from read_text('/etc/passwd'))", "table function read_text"),
        ("select * from marts.fct_x, lateral read_text('/etc/passwd')", "read_text"),
        ("select * from '/etc/passwd'", "would read a file"),
        ("select * from 'data.csv'", "would read a file"),
        ("summarize select * from read_text('/etc/passwd')", "read_text"),
        ("describe select * from glob('/*')", "glob"),
        ("describe read_text('/etc/passwd')", "read_text"),
        ("show read_text('/etc/passwd')", "read_text"),
        ("summarize read_csv('/etc/passwd')", "read_csv"),
        ("pivot read_text('/x') on a using count(*)", "read_text"),
        ("pragma threads = 1", "is not allowed"),
        ("reset threads", "RESET"),
        ("explain select * from read_text('/etc/passwd')", "read_text"),
        ("show marts.x; drop table y", "one statement"),
        ("selec 1 frm", "cannot parse"),
    ],
)
def test_writes_files_and_scripts_are_refused(sql: str, reason: str) -> None:
    with pytest.raises(UnsafeQuery, match=reason):
        check_read_only(sql)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_x as select 1 as a, 'x' as b")
        con.execute("comment on table marts.fct_x is 'One row per a (a): a test mart.'")
    return db


def test_reading_connection_refuses_files_even_past_the_parser(warehouse: Path, tmp_path: Path):
    """The backstop: DuckDB's own external-access switch, locked."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "schema.sql").write_text(f"copy (select 1) to '{tmp_path}/leak.csv';")
    with connect_reader(warehouse) as con:
        assert con.execute("from fct_x").fetchall() == [(1, "x")]  # marts on the search path
        for sql in (
            "select * from read_text('/etc/passwd')",
            "select * from glob('/root/*')",
            f"pragma import_database('{tmp_path}/dir')",
            f"attach '{tmp_path}/other.duckdb'",
            f"copy marts.fct_x to '{tmp_path}/out.csv'",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            con.execute("set enable_external_access = true")
        with pytest.raises(duckdb.Error):
            con.execute("create table marts.y as select 1")
    assert not (tmp_path / "leak.csv").exists() and not (tmp_path / "out.csv").exists()


@pytest.mark.integration
def test_cli_reads_the_published_copy_by_default(warehouse: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["query", "select 1", "--db", str(warehouse)])
    assert out.exit_code == 2 and "run `wirehouse publish` (or add --live)" in out.stderr
    publish(warehouse)
    with duckdb.connect(str(warehouse)) as con:  # the live warehouse moves on
        con.execute("insert into marts.fct_x values (2, 'y')")
    count = ["query", "select count(*) as n from fct_x", "--db", str(warehouse), "--format", "csv"]
    out = runner.invoke(main, count)
    assert (out.exit_code, out.stdout) == (0, "n\n1\n"), out.output
    assert out.stderr.startswith("wirehouse: note: the published copy (")  # and says so
    assert "run `wirehouse publish` (or add --live)" in out.stderr
    out = runner.invoke(main, [*count, "--live"])
    assert (out.stdout, out.stderr) == ("n\n2\n", "")


@pytest.mark.parametrize(
    "sql", ["show tables", "describe fct_x", "summarize fct_x", "from fct_x limit 5", "show fct_x"]
)
def test_cli_runs_exploring_statements(warehouse: Path, sql: str) -> None:
    out = CliRunner().invoke(main, ["query", sql, "--db", str(warehouse), "--live"])
    assert out.exit_code == 0, out.output
    assert out.stdout.strip()


@pytest.mark.integration
def test_cli_formats_refusals_and_whole_errors(warehouse: Path) -> None:
    runner = CliRunner()
    db = ["--db", str(warehouse), "--live"]
    out = runner.invoke(main, ["query", "select * from fct_x", *db, "--format", "csv"])
    assert (out.exit_code, out.stdout) == (0, "a,b\n1,x\n")
    out = runner.invoke(main, ["query", "select a from fct_x", *db, "--format", "json"])
    assert out.stdout == '{"a": 1}\n'
    out = runner.invoke(main, ["query", "drop table fct_x", *db])
    assert out.exit_code == 2 and "not DROP" in out.stderr
    out = runner.invoke(main, ["query", "select * from read_text('/etc/passwd')", *db])
    assert out.exit_code == 2 and "table function read_text" in out.stderr
    out = runner.invoke(main, ["query", "select * from marts.fct_y", *db])
    assert out.exit_code == 1 and out.stderr.startswith("wirehouse: error: Catalog Error")
    assert 'Did you mean "fct_x"?' in out.stderr  # DuckDB's hint is kept


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select 1 /*", "cannot parse: Error tokenizing"),
        ("select " + "(" * 60 + "1" + ")" * 60, "cannot parse: nested too deeply"),
    ],
)
def test_sql_that_cannot_be_parsed_is_one_line_exit_2(
    warehouse: Path, sql: str, message: str
) -> None:
    out = CliRunner().invoke(main, ["query", sql, "--db", str(warehouse), "--live"])
    assert out.exit_code == 2, out.output
    assert out.stderr.startswith(f"wirehouse: error: {message}")
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_runaway_statement_stops_at_the_time_limit(warehouse: Path) -> None:
    runaway = "select count(*) from range(100000000000)"
    args = ["query", runaway, "--db", str(warehouse), "--live", "--timeout", "0.5"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 1, out.output
    assert out.stderr == (
        "wirehouse: error: stopped after 0.5 s (--timeout SECONDS to allow longer, 0 for no"
        " limit)\n"
    )


def test_cli_tables_lists_grain_and_rows(warehouse: Path) -> None:
    out = CliRunner().invoke(main, ["tables", "--db", str(warehouse), "--live", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert out.stdout == "table_name,row_count,grain\nmarts.fct_x,1,One row per a (a)\n"


@pytest.mark.integration
def test_live_query_while_ingest_writes_names_the_holder(warehouse: Path) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys,time; c=duckdb.connect({str(warehouse)!r});"
            " print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        out = CliRunner().invoke(main, ["query", "select 1", "--db", str(warehouse), "--live"])
        assert out.exit_code == 3, out.output
        assert f"in use by process {holder.pid}" in out.stderr
        assert "published copy" in out.stderr
    finally:
        holder.communicate("")
