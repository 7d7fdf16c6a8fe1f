"""The warehouse file itself: older layouts, lock conflicts, unusable files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import HEADER, dbt, wirehouse, write_csv

pytestmark = pytest.mark.integration

# What wirehouse 0.1 created: no manifest note, no tracepoint ipv6 column.
PREVIOUS_LAYOUT = """
create schema raw;
create table raw.ingest_files (
    path varchar not null, sha256 varchar not null, size_bytes bigint not null,
    file_mtime_ns bigint, kind varchar not null, rows bigint not null, issues bigint not null,
    status varchar not null, error varchar, ingest_run_id varchar not null,
    loaded_at timestamp not null, primary key (path, sha256));
create table raw.ingest_issues (
    path varchar not null, sha256 varchar not null, position varchar not null,
    reason varchar not null);
create table raw.bitcoin_p2p_messages (
    "timestamp" timestamp, peer_id bigint, peer_conn_type varchar, peer_addr varchar,
    flow varchar, msg_type varchar, size bigint, _source_file varchar not null,
    _ingest_run_id varchar not null, _loaded_at timestamp not null);
insert into raw.bitcoin_p2p_messages values
    ('2025-01-01 00:00:04', 1, 'inbound', '1.2.3.4:8333', 'in', 'version', 102,
     '/old/2025-01-01.csv', 'run-0', '2025-01-02 00:00:00');
insert into raw.ingest_files values
    ('/old/2025-01-01.csv', 'abc', 100, 1, 'tracepoints', 1, 0, 'loaded', null, 'run-0',
     '2025-01-02 00:00:00');
"""


def test_a_warehouse_of_the_previous_layout_loads_and_builds(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(PREVIOUS_LAYOUT)
    day = write_csv(
        tmp_path / "tracepoints" / "net" / "2025-01-02.csv",
        [HEADER, "2025-01-02T00:00:04Z,2,inbound,[2a02::1]:8333,in,version,102"],
    )
    loaded = wirehouse("ingest", "tracepoints", day, "--db", db)
    assert loaded.returncode == 0, loaded.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select peer_id, ipv6, f.path from raw.bitcoin_p2p_messages as m"
            " join raw.ingest_files as f on f.file_id = m._file_id order by peer_id"
        ).fetchall()
        [(notes,)] = con.execute(
            "select count(*) from raw.ingest_files where note is null"
        ).fetchall()
        columns = con.execute(
            "select column_name from information_schema.columns"
            " where table_name = 'bitcoin_p2p_messages' and column_name like '\\_%' escape '\\'"
        ).fetchall()
        # old rows kept, new column NULL; their file path moved to the manifest
        assert rows == [(1, None, "/old/2025-01-01.csv"), (2, None, str(day.resolve()))]
        assert notes == 2
        assert sorted(columns) == [("_file_id",), ("_loaded_at",)]
    run = dbt(db, tmp_path, "build", "--exclude-resource-type", "unit_test")
    assert run.returncode == 0, run.not_passing() or run.output[-2000:]
    with duckdb.connect(str(db), read_only=True) as con:
        files = con.execute(
            "select source_file, count(*) from staging.stg_bitcoin_p2p__messages group by 1"
        ).fetchall()
    assert sorted(files) == [("/old/2025-01-01.csv", 1), (str(day.resolve()), 1)]


def test_a_busy_warehouse_is_one_line_naming_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    day = write_csv(tmp_path / "2025-01-02.csv", [HEADER])
    with duckdb.connect(str(db)):  # this test process holds the lock
        busy = wirehouse("ingest", "tracepoints", day, "--db", db)
        init = wirehouse("init", "--db", db)
    assert busy.returncode == 3 == init.returncode
    assert busy.stderr.count("\n") == 1, busy.stderr
    assert f"in use by process {os.getpid()}" in busy.stderr
    assert "Traceback" not in busy.stderr + busy.stdout


def test_a_file_that_is_not_a_warehouse_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "notes.duckdb"
    db.write_text("my notes\n" * 1000)
    result = wirehouse("init", "--db", db)
    assert result.returncode == 4
    assert result.stderr.startswith("wirehouse: error: ") and result.stderr.count("\n") == 1
    assert "not a valid DuckDB database file" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["ingest", "tracepoints", "{data}"],
        ["forget", "{data}"],
        ["publish", "--to", "{out}"],
        ["tables", "--live"],
        ["query", "--live", "select 1"],
    ],
)
def test_a_sqlite_file_as_warehouse_is_refused_in_one_line_offline(
    tmp_path: Path, command: list[str]
) -> None:
    """DuckDB opens a SQLite file through its sqlite extension, which it would download
    and load on its own; wirehouse turns that off before any file is opened."""
    db = tmp_path / "w.duckdb"
    with sqlite3.connect(db) as con:
        con.execute("create table t (a)")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "net.csv").write_text(HEADER)
    args = [a.format(data=tmp_path / "data", out=tmp_path / "out") for a in command]
    done = wirehouse(*args, "--db", db)
    assert done.returncode != 0
    assert done.stderr.strip() == (
        f"wirehouse: error: {db}: not a DuckDB warehouse (it looks like a sqlite database)"
    )
    assert not (Path.home() / ".duckdb/extensions").exists() or not list(
        (Path.home() / ".duckdb/extensions").rglob("sqlite_scanner*")
    )
