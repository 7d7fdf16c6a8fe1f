"""Numbered migrations of the bookkeeping (ingest/loader/migrations.py): each step from the
layouts older wirehouse versions wrote, recorded once, and a warehouse newer than this code."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import duckdb
import pytest

from ingest.loader import migrations
from ingest.loader.manifest import FileVersion
from ingest.loader.warehouse import Warehouse, WarehouseError

# What the first releases wrote (before the manifest's note and the runs table): a manifest
# without note/node/file_ctime_ns/file_id, raw rows carrying their file's path and run.
FIRST_RELEASE = """
create schema raw;
create table raw.ingest_files (
    path varchar not null, sha256 varchar not null, size_bytes bigint not null,
    file_mtime_ns bigint, kind varchar not null, rows bigint not null, issues bigint not null,
    status varchar not null check (status in ('loaded', 'failed', 'partial')),
    error varchar, ingest_run_id varchar not null, loaded_at timestamp not null,
    primary key (path, sha256));
create table raw.ingest_issues (
    path varchar not null, sha256 varchar not null, position varchar not null,
    reason varchar not null);
create table raw.t_rows (
    n bigint, _source_file varchar not null, _ingest_run_id varchar not null,
    _loaded_at timestamp not null);
insert into raw.ingest_files values
    ('/d/a.csv', 'sha-a', 10, 1, 't', 2, 0, 'loaded', null, 'run-0', '2025-01-01'),
    ('/d/b.csv', 'sha-b', 10, 1, 't', 1, 0, 'partial', null, 'run-0', '2025-01-02'),
    ('/d/c.csv', 'sha-c', 10, 1, 't', 0, 0, 'failed', 'bad', 'run-0', '2025-01-03');
insert into raw.t_rows values
    (1, '/d/a.csv', 'run-0', '2025-01-01'), (2, '/d/a.csv', 'run-0', '2025-01-01'),
    (3, '/d/b.csv', 'run-0', '2025-01-02');
"""

# The node release: the manifest has note and node, the runs table exists, rows carry _node.
NODE_RELEASE = """
create schema raw;
create table raw.ingest_files (
    path varchar not null, sha256 varchar not null, size_bytes bigint not null,
    file_mtime_ns bigint, kind varchar not null, rows bigint not null, issues bigint not null,
    status varchar not null, error varchar, ingest_run_id varchar not null,
    loaded_at timestamp not null, note varchar, node varchar, primary key (path, sha256));
create table raw.ingest_issues (
    path varchar not null, sha256 varchar not null, position varchar not null,
    reason varchar not null);
create table raw.wirehouse_runs (run_id varchar primary key, started_at timestamp not null,
    finished_at timestamp not null, files_loaded bigint not null, files_failed bigint not null,
    rows_loaded bigint not null, build varchar not null, build_fingerprint varchar,
    built_through timestamp);
create table raw.t_rows (
    n bigint, _source_file varchar not null, _ingest_run_id varchar not null,
    _loaded_at timestamp not null, _node varchar);
insert into raw.ingest_files values
    ('/d/a.csv', 'sha-a', 10, 1, 't', 1, 0, 'loaded', null, 'run-0', '2025-01-01', null, 'n1');
insert into raw.t_rows values (1, '/d/a.csv', 'run-0', '2025-01-01', 'n1');
"""

# The last release before numbered migrations, opened once but asked to load only kind `u`:
# the manifest has every column and file ids; raw.u_rows moved to _file_id, raw.t_rows not yet.
LAST_UNNUMBERED = """
create schema raw;
create table raw.ingest_files (
    path varchar not null, sha256 varchar not null, size_bytes bigint not null,
    file_mtime_ns bigint, kind varchar not null, rows bigint not null, issues bigint not null,
    status varchar not null, error varchar, ingest_run_id varchar not null,
    loaded_at timestamp not null, note varchar, file_ctime_ns bigint, node varchar,
    file_id bigint, primary key (path, sha256));
create table raw.ingest_issues (
    path varchar not null, sha256 varchar not null, position varchar not null,
    reason varchar not null);
create table raw.wirehouse_runs (run_id varchar primary key, started_at timestamp not null,
    finished_at timestamp not null, files_loaded bigint not null, files_failed bigint not null,
    rows_loaded bigint not null, build varchar not null, build_fingerprint varchar,
    built_through timestamp);
create table raw.u_rows (n bigint, _loaded_at timestamp not null, _file_id bigint not null);
create table raw.t_rows (
    n bigint, _source_file varchar not null, _ingest_run_id varchar not null,
    _loaded_at timestamp not null, _node varchar);
insert into raw.ingest_files values
    ('/d/a.csv', 'sha-a', 10, 1, 't', 1, 0, 'loaded', null, 'run-0', '2025-01-01', null, 2,
     'n1', 7),
    ('/d/u.bin', 'sha-u', 10, 1, 'u', 1, 0, 'loaded', null, 'run-1', '2025-01-02', null, 2,
     'n1', 8);
insert into raw.u_rows values (5, '2025-01-02', 8);
insert into raw.t_rows values (1, '/d/a.csv', 'run-0', '2025-01-01', 'n1');
"""


def _old_warehouse(tmp_path: Path, layout: str) -> Path:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(layout)
    return db


def _recorded(db: Path) -> list[tuple[int, bool]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select version, ran from raw.schema_migrations order by version"
        ).fetchall()


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'raw' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    ]


def test_a_new_warehouse_runs_every_step_once_and_is_current(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Warehouse(db).close()
    assert _recorded(db) == [(m.version, True) for m in migrations.MIGRATIONS]
    with Warehouse(db) as wh:
        # the manifest the loader writes is the one migration 1 makes
        assert _columns(wh.con, "ingest_files") == [f.name for f in fields(FileVersion)]
        assert migrations.migrate(wh.con, db) == []  # a second time: nothing to do
        [(rows,)] = wh.con.execute("select count(*) from raw.schema_migrations").fetchall()
    assert rows == len(migrations.MIGRATIONS)


def test_first_release_layout_gets_every_step(tmp_path: Path) -> None:
    db = _old_warehouse(tmp_path, FIRST_RELEASE)
    with Warehouse(db) as wh:
        manifest = wh.con.execute(
            "select path, note, node, file_ctime_ns, file_id from raw.ingest_files order by path"
        ).fetchall()
        generations = wh.con.execute("select distinct generation from raw.ingest_files").fetchall()
        names = wh.con.execute("select name from raw.ingest_files order by path").fetchall()
        rows = wh.con.execute(
            "select n, f.path from raw.t_rows as t join raw.ingest_files as f"
            " on f.file_id = t._file_id order by n"
        ).fetchall()
        row_columns = _columns(wh.con, "t_rows")
        [(runs,)] = wh.con.execute("select count(*) from raw.wirehouse_runs").fetchall()
    # recognised as having nothing of today's bookkeeping: every step ran
    assert _recorded(db) == [(m.version, True) for m in migrations.MIGRATIONS]
    # step 2 added the columns, step 3 gave each version its own id
    assert [m[:4] for m in manifest] == [
        (p, None, None, None) for p in ("/d/a.csv", "/d/b.csv", "/d/c.csv")
    ]
    assert sorted(m[4] for m in manifest) == [1, 2, 3]
    # step 5: every version recorded before generations is its path's first
    assert generations == [(1,)]
    # step 7: versions recorded before names are named by their file name
    assert names == [("a.csv",), ("b.csv",), ("c.csv",)]
    # step 4: rows point at their file's version; path and run no longer per row
    assert rows == [(1, "/d/a.csv"), (2, "/d/a.csv"), (3, "/d/b.csv")]
    assert row_columns == ["n", "_loaded_at", "_file_id"]
    assert runs == 0  # step 1 made the runs table the first releases lacked


def test_node_release_layout_starts_after_step_1(tmp_path: Path) -> None:
    db = _old_warehouse(tmp_path, NODE_RELEASE)
    with Warehouse(db) as wh:
        manifest = wh.con.execute(
            "select node, file_ctime_ns, file_id from raw.ingest_files"
        ).fetchall()
        rows = wh.con.execute("select n, _file_id from raw.t_rows").fetchall()
        row_columns = _columns(wh.con, "t_rows")
    assert _recorded(db) == [
        (1, False),
        (2, True),
        (3, True),
        (4, True),
        (5, True),
        (6, True),
        (7, True),
    ]
    assert manifest == [("n1", None, 1)]
    assert rows == [(1, 1)]
    assert row_columns == ["n", "_loaded_at", "_file_id"]  # _node went with the others


def test_last_unnumbered_release_moves_only_the_tables_it_had_not(tmp_path: Path) -> None:
    db = _old_warehouse(tmp_path, LAST_UNNUMBERED)
    with Warehouse(db) as wh:
        t_rows = wh.con.execute("select n, _file_id from raw.t_rows").fetchall()
        u_rows = wh.con.execute("select n, _file_id from raw.u_rows").fetchall()
        ids = wh.con.execute("select file_id from raw.ingest_files order by 1").fetchall()
    assert _recorded(db) == [
        (1, False),
        (2, False),
        (3, False),
        (4, True),
        (5, True),
        (6, True),
        (7, True),
    ]
    assert t_rows == [(1, 7)]
    assert u_rows == [(5, 8)]
    assert ids == [(7,), (8,)]  # ids already given are kept


def test_a_fully_upgraded_unnumbered_warehouse_runs_no_step(tmp_path: Path) -> None:
    db = _old_warehouse(tmp_path, LAST_UNNUMBERED)
    with duckdb.connect(str(db)) as con:
        con.execute("drop table raw.t_rows")
    Warehouse(db).close()
    assert _recorded(db) == [
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (5, True),
        (6, True),
        (7, True),
    ]


def test_file_ids_come_after_the_ids_already_given(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute(
            "create schema raw; create table raw.ingest_files (path varchar, file_id bigint);"
            " insert into raw.ingest_files values ('a', null), ('b', 5), ('c', null)"
        )
        migrations._file_ids_for_old_versions(con)
        ids = con.execute("select path, file_id from raw.ingest_files order by path").fetchall()
    assert ids[1] == ("b", 5)
    assert (ids[0][1], ids[2][1]) == (6, 8)  # rowid + 1 + the largest id given: unique


def test_migrations_are_recorded_once_across_reopens(tmp_path: Path) -> None:
    db = _old_warehouse(tmp_path, FIRST_RELEASE)
    Warehouse(db).close()
    with duckdb.connect(str(db), read_only=True) as con:
        first = con.execute("select * from raw.schema_migrations order by version").fetchall()
    for _ in range(2):
        with Warehouse(db) as wh:
            assert migrations.migrate(wh.con, db) == []
    with duckdb.connect(str(db), read_only=True) as con:
        again = con.execute("select * from raw.schema_migrations order by version").fetchall()
        [(rows,)] = con.execute("select count(*) from raw.t_rows").fetchall()
    assert again == first
    assert rows == 3


def test_rows_of_no_loaded_file_stop_the_step_and_change_nothing(tmp_path: Path) -> None:
    db = _old_warehouse(tmp_path, FIRST_RELEASE)
    with duckdb.connect(str(db)) as con:
        con.execute("insert into raw.t_rows values (9, '/by/hand.csv', 'x', '2025-01-09')")
    with pytest.raises(WarehouseError) as raised:
        Warehouse(db)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("raw.t_rows: 1 rows belong to no loaded file")
    # steps 1-3 stay done; step 4 was rolled back whole, and the lock was let go
    assert _recorded(db) == [(1, True), (2, True), (3, True)]
    with duckdb.connect(str(db)) as con:
        assert "_source_file" in _columns(con, "t_rows")
        con.execute("delete from raw.t_rows where _source_file = '/by/hand.csv'")
    Warehouse(db).close()
    assert _recorded(db)[-4:] == [(4, True), (5, True), (6, True), (7, True)]


def test_a_warehouse_of_a_newer_wirehouse_is_refused_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Warehouse(db).close()
    newer = migrations.LATEST + 1
    with duckdb.connect(str(db)) as con:
        con.execute(
            "insert into raw.schema_migrations values (?, 'from the future', now(), true)",
            [newer],
        )
    with pytest.raises(WarehouseError) as raised:
        Warehouse(db)
    message = str(raised.value)
    assert message == (
        f"{db}: made by a newer wirehouse (schema version {newer}; this one knows up to"
        f" {migrations.LATEST}): upgrade wirehouse to use it"
    )
    with duckdb.connect(str(db)) as con:  # refused before writing anything, lock let go
        [(count,)] = con.execute("select count(*) from raw.schema_migrations").fetchall()
    assert count == migrations.LATEST + 1
