"""Numbered schema migrations of the bookkeeping, recorded in ``raw.schema_migrations``.

The model is dlt's stored schema version and sqlite-utils' migrations: an ordered list of
steps, each run once, in its own transaction with the row that records it; opening a warehouse
runs the steps it has not recorded. Decisions:

- Step 1 makes the bookkeeping tables as they are today, so a new warehouse is current after
  it; the later steps bring the layouts older wirehouse versions wrote up to date, and do
  nothing on a new warehouse (each acts only on what is missing or old).
- A warehouse from before numbered migrations has no ``raw.schema_migrations``. What it has is
  looked at once, to decide which steps it already did; those are recorded with ``ran`` false,
  and from then on the recorded versions alone decide.
- A warehouse whose recorded version is higher than the last step here was made by a newer
  wirehouse: refused with one line rather than written in a layout this code does not know.
- The kinds' raw tables gaining columns is schema evolution, not a migration (raw_tables.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.loader.connection import WarehouseError, first_line
from ingest.loader.raw_tables import columns_of

MIGRATIONS_DDL = """
create table if not exists raw.schema_migrations (
    version integer primary key,
    name varchar not null,
    applied_at timestamp not null,
    ran boolean not null
);
comment on table raw.schema_migrations is
    'One row per numbered migration of the wirehouse bookkeeping this warehouse has had'
    ' (ran: false when an older wirehouse had already done it).';
"""

# Migration 1: the manifest, its issues and the runs of `wirehouse run`, as today.
MANIFEST_DDL = """
create table if not exists raw.ingest_files (
    path varchar not null,
    sha256 varchar not null,
    size_bytes bigint not null,
    file_mtime_ns bigint,
    kind varchar not null,
    rows bigint not null,
    issues bigint not null,
    status varchar not null check (status in ('loaded', 'failed', 'partial')),
    error varchar,
    ingest_run_id varchar not null,
    loaded_at timestamp not null,
    note varchar,
    file_ctime_ns bigint,
    node varchar,
    file_id bigint,
    generation integer not null default 1,
    primary key (path, sha256)
);
create table if not exists raw.ingest_issues (
    path varchar not null,
    sha256 varchar not null,
    position varchar not null,
    reason varchar not null
);
comment on table raw.ingest_files is
    'One row per version (path, sha256) of every file wirehouse was asked to ingest.';
comment on table raw.ingest_issues is
    'Problems inside files that did not stop their load (bad lines, malformed packets).';
"""

# One row per `wirehouse run`: the next run builds when data arrived after built_through or
# the dbt project (models, vars) changed since the last good build.
RUNS_DDL = """
create table if not exists raw.wirehouse_runs (
    run_id varchar primary key,
    started_at timestamp not null,
    finished_at timestamp not null,
    files_loaded bigint not null,
    files_failed bigint not null,
    rows_loaded bigint not null,
    build varchar not null check (build in ('none', 'incremental', 'full', 'failed')),
    build_fingerprint varchar,
    built_through timestamp
);
comment on table raw.wirehouse_runs is
    'One row per wirehouse run: files loaded, the dbt build and the newest load it reflects.';
"""

# Migration 6: raw rows taken out again (forget, --replace, a relabel to another node), so a
# plain `dbt build` rebuilds what they were part of: incremental models learn of new rows from
# their _loaded_at, of removed ones only from here.
REMOVED_ROWS_DDL = """
create table if not exists raw.removed_rows (
    kind varchar not null,
    table_name varchar not null,
    node varchar,
    first_timestamp timestamp,
    rows bigint not null,
    removed_at timestamp not null,
    reason varchar not null check (reason in ('forget', 'replace', 'relabel'))
);
comment on table raw.removed_rows is
    'Raw rows removed after they were loaded: per kind, table and node, how many, the earliest'
    ' timestamp among them (NULL for tables without one) and when (UTC).';
"""

# Manifest columns added after the first release, in the order releases added them (some
# releases had note and file_ctime_ns but no node: each is added only where it is missing).
ADDED_MANIFEST_COLUMNS = {
    "note": "varchar",
    "node": "varchar",
    "file_ctime_ns": "bigint",
    "file_id": "bigint",
}
# What raw rows carried before file ids; migration 4 moves it to the manifest.
PER_ROW_BEFORE_FILE_IDS = ("_source_file", "_ingest_run_id", "_node")


def _bookkeeping_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The manifest, its issues and the runs table (only what is missing: the releases
    before numbered migrations made some of them)."""
    con.execute(MANIFEST_DDL)
    con.execute(RUNS_DDL)


def _manifest_columns(con: duckdb.DuckDBPyConnection) -> None:
    """The manifest columns an older manifest lacks: note, node, file_ctime_ns, file_id."""
    for name, typ in ADDED_MANIFEST_COLUMNS.items():
        con.execute(f"alter table raw.ingest_files add column if not exists {name} {typ}")


def _file_ids_for_old_versions(con: duckdb.DuckDBPyConnection) -> None:
    """Versions recorded before file ids get theirs (unique, after any id already given)."""
    con.execute(
        "update raw.ingest_files"
        " set file_id = rowid + 1 + (select coalesce(max(file_id), 0) from raw.ingest_files)"
        " where file_id is null"
    )


def _file_facts_to_manifest(con: duckdb.DuckDBPyConnection) -> None:
    """Raw rows that carry their file's path, run and node get the id of their file's
    manifest row instead (node and run are already there); the per-row copies go."""
    for table in _tables_with_column(con, "_source_file"):
        con.execute(f'alter table raw.{table} add column if not exists "_file_id" bigint')
        con.execute(
            f"update raw.{table} as t set _file_id = f.file_id from raw.ingest_files as f"
            " where f.path = t._source_file and f.status in ('loaded', 'partial')"
        )
        [(lost,)] = con.execute(
            f"select count(*) from raw.{table} where _file_id is null"
        ).fetchall()
        if lost:
            raise WarehouseError(
                f"raw.{table}: {lost:,} rows belong to no loaded file of raw.ingest_files"
                " (added by hand?): cannot give them file ids; delete them or load their files"
            )
        have = columns_of(con, table)
        for name in PER_ROW_BEFORE_FILE_IDS:
            if name in have:
                con.execute(f'alter table raw.{table} drop column "{name}"')


def _manifest_generations(con: duckdb.DuckDBPyConnection) -> None:
    """Every version recorded before generations is its path's first generation."""
    con.execute(
        "alter table raw.ingest_files add column if not exists generation integer default 1"
    )


def _removed_rows_log(con: duckdb.DuckDBPyConnection) -> None:
    """The log of raw rows removed after they were loaded (earlier removals were not logged:
    a `--full-refresh` build once after this step makes every model agree with the files)."""
    con.execute(REMOVED_ROWS_DDL)


def _manifest_names(con: duckdb.DuckDBPyConnection) -> None:
    """Versions recorded before names are named by their file name."""
    con.execute("alter table raw.ingest_files add column if not exists name varchar")
    con.execute("update raw.ingest_files set name = regexp_extract(path, '[^/]*$')")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


MIGRATIONS = (
    Migration(1, "bookkeeping tables", _bookkeeping_tables),
    Migration(2, "manifest columns note, node, file_ctime_ns, file_id", _manifest_columns),
    Migration(3, "file ids for versions recorded before them", _file_ids_for_old_versions),
    Migration(4, "per-row file facts move to the manifest", _file_facts_to_manifest),
    Migration(5, "manifest column generation", _manifest_generations),
    Migration(6, "log of removed raw rows", _removed_rows_log),
    Migration(7, "manifest column name", _manifest_names),
)
LATEST = MIGRATIONS[-1].version


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> list[int]:
    """Bring the warehouse's bookkeeping up to LATEST; the versions this call ran."""
    con.execute("create schema if not exists raw")
    if not _has_table(con, "schema_migrations"):
        _record_older_wirehouse(con, _version_before_numbering(con))
    [(current,)] = con.execute(
        "select coalesce(max(version), 0) from raw.schema_migrations"
    ).fetchall()
    if current > LATEST:
        raise WarehouseError(
            f"{path}: made by a newer wirehouse (schema version {current}; this one knows"
            f" up to {LATEST}): upgrade wirehouse to use it"
        )
    ran = []
    for step in MIGRATIONS[current:]:
        _run(con, path, step)
        ran.append(step.version)
    return ran


def _run(con: duckdb.DuckDBPyConnection, path: Path, step: Migration) -> None:
    """One step and the row recording it, in one transaction."""
    con.begin()
    try:
        step.apply(con)
        _record(con, step, ran=True)
    except WarehouseError:
        con.rollback()
        raise
    except duckdb.Error as exc:
        con.rollback()
        raise WarehouseError(
            f"{path}: migration {step.version} ({step.name}) failed: {first_line(exc)}"
        ) from None
    con.commit()


def _version_before_numbering(con: duckdb.DuckDBPyConnection) -> int:
    """The last step a warehouse made before numbered migrations has already done, judged
    by what it has. Step 1 creates only what is missing, so a warehouse from before the runs
    table starts at 0; the last unnumbered release numbered versions and added the manifest
    columns at every open, but moved the per-row facts only of the kinds it ingested."""
    manifest = columns_of(con, "ingest_files")
    if not manifest or not _has_table(con, "wirehouse_runs"):
        return 0
    if not set(ADDED_MANIFEST_COLUMNS) <= manifest:
        return 1
    if _tables_with_column(con, "_source_file"):
        return 3
    return 4


def _record_older_wirehouse(con: duckdb.DuckDBPyConnection, done: int) -> None:
    """Create the migrations table; the steps an older wirehouse already did, as not ran."""
    con.begin()
    con.execute(MIGRATIONS_DDL)
    for step in MIGRATIONS[:done]:
        _record(con, step, ran=False)
    con.commit()


def _record(con: duckdb.DuckDBPyConnection, step: Migration, ran: bool) -> None:
    con.execute(
        "insert into raw.schema_migrations values (?, ?, ?, ?)",
        [step.version, step.name, datetime.now(UTC).replace(tzinfo=None), ran],
    )


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    [(count,)] = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'raw' and table_name = ?",
        [table],
    ).fetchall()
    return bool(count)


def _tables_with_column(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    """The raw tables that have `column`."""
    return [
        table
        for (table,) in con.execute(
            "select table_name from information_schema.columns"
            " where table_schema = 'raw' and column_name = ? order by table_name",
            [column],
        ).fetchall()
    ]
