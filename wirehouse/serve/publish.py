"""`wirehouse publish`: a consistent read-only copy of the marts for BI tools and other engines.

DuckDB lets one process write a file, and a reader of that file blocks the writer. So readers
never open the warehouse: they open the published copy, which is written aside and swapped
in with an atomic rename. A reader connected to the old copy keeps its open file (the old
inode) and sees the old state until it reconnects; a new connection sees the new state;
nobody sees a mix, and nothing a reader does can block ingest or `dbt build`.

Layout of the publish directory (default: `published/` beside the warehouse):

    published.duckdb        marts and reference tables with their dbt descriptions
    parquet_views.duckdb    the same names as views over the Parquet files below
    parquet/<version>/<schema>/<table>.parquet, or <table>/partition_date=YYYY-MM-DD/*.parquet
    parquet/latest          symlink to the newest version, for engines that read paths

Parquet versions are immutable; the newest `keep_versions` are kept, so a connection to
parquet_views.duckdb that is older than that many publishes has to reconnect.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.loader import warehouse as db

PUBLISHED_SCHEMAS = ("marts", "reference")
DUCKDB_NAME = "published.duckdb"
VIEWS_NAME = "parquet_views.duckdb"
PARTITION_COLUMN = "partition_date"
TEMPORAL_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")


class PublishError(RuntimeError):
    """The warehouse cannot be published (missing, empty, or busy for too long)."""


@dataclass(frozen=True)
class PublishedTable:
    name: str  # schema.table
    rows: int
    parquet: Path  # a file, or a directory of date partitions
    partitioned_by: str | None  # the source column of partition_date, if partitioned
    comment: str | None  # the dbt description


@dataclass(frozen=True)
class PublishResult:
    directory: Path
    duckdb_path: Path
    views_path: Path
    parquet_dir: Path
    tables: list[PublishedTable]
    seconds: float
    lock_seconds: float  # how long the warehouse itself was held (read-only)
    duckdb_bytes: int
    parquet_bytes: int


def default_publish_dir(warehouse: Path) -> Path:
    return warehouse.resolve().parent / "published"


def publish(
    warehouse: Path,
    directory: Path | None = None,
    *,
    partition_rows: int = 1_000_000,
    keep_versions: int = 3,
    wait_seconds: float = 60.0,
) -> PublishResult:
    """Copy the marts of `warehouse` into `directory` (see the module docstring)."""
    started = time.monotonic()
    warehouse = warehouse.resolve()
    if not warehouse.is_file():
        raise PublishError(f"no warehouse at {warehouse}")
    directory = (directory or default_publish_dir(warehouse)).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f") + "-" + uuid.uuid4().hex[:6]
    parquet_root = directory / "parquet"
    version_dir = parquet_root / version
    tmp_db = directory / f".{DUCKDB_NAME}.{version}.tmp"
    tmp_views = directory / f".{VIEWS_NAME}.{version}.tmp"
    with _publish_lock(directory):
        _remove_leftovers(directory)
        try:
            lock_seconds = _copy_marts(tmp_db, warehouse, wait_seconds)
            con = duckdb.connect(str(tmp_db))
            try:
                con.execute("set enable_progress_bar = false")
                tables = _export_parquet(con, version_dir, partition_rows)
            finally:
                con.close()
            _write_views(tmp_views, tables)
        except BaseException:
            for path in (tmp_db, tmp_views):
                path.unlink(missing_ok=True)
                path.with_name(path.name + ".wal").unlink(missing_ok=True)
            shutil.rmtree(version_dir, ignore_errors=True)
            raise
        # the swap: each rename is atomic; readers open one file or the other, never a mix
        os.replace(tmp_db, directory / DUCKDB_NAME)
        os.replace(tmp_views, directory / VIEWS_NAME)
        latest_tmp = parquet_root / f".latest.{version}"
        latest_tmp.symlink_to(version, target_is_directory=True)
        os.replace(latest_tmp, parquet_root / "latest")
        _prune_versions(parquet_root, keep_versions)
    return PublishResult(
        directory=directory,
        duckdb_path=directory / DUCKDB_NAME,
        views_path=directory / VIEWS_NAME,
        parquet_dir=version_dir,
        tables=tables,
        seconds=time.monotonic() - started,
        lock_seconds=lock_seconds,
        duckdb_bytes=(directory / DUCKDB_NAME).stat().st_size,
        parquet_bytes=sum(f.stat().st_size for f in version_dir.rglob("*.parquet")),
    )


def _copy_marts(tmp_db: Path, warehouse: Path, wait_seconds: float) -> float:
    """Copy every table of the published schemas into tmp_db, with its dbt descriptions
    (DuckDB comments). Returns how long the warehouse was held.

    The warehouse is opened read-only for the copy only: one snapshot, and the lock ingest
    and dbt need is free again before any Parquet is written.
    """
    live = _connect_waiting(warehouse, wait_seconds)
    held_from = time.monotonic()
    try:
        live.execute("set enable_progress_bar = false")
        source = live.execute("select current_database()").fetchall()[0][0]
        schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
        tables = live.execute(
            "select schema_name, table_name, sql, comment from duckdb_tables()"
            f" where database_name = current_database() and schema_name in ({schemas})"
            " order by schema_name, table_name"
        ).fetchall()
        if not any(schema == "marts" for schema, *_ in tables):
            raise PublishError(f"{warehouse} has no marts yet; run `dbt build` first")
        columns = live.execute(
            "select schema_name, table_name, column_name, comment from duckdb_columns()"
            f" where database_name = current_database() and schema_name in ({schemas})"
            " and comment is not null"
        ).fetchall()
        live.execute(f"attach {_quote(str(tmp_db))} as published (read_write)")
        live.execute("use published")  # the tables' own DDL now creates them in the copy
        live.begin()
        for schema in sorted({schema for schema, *_ in tables}):
            live.execute(f"create schema {schema}")
        for schema, table, ddl, comment in tables:
            live.execute(ddl)
            live.execute(f'insert into {schema}.{table} select * from "{source}".{schema}.{table}')
            if comment:
                live.execute(f"comment on table {schema}.{table} is {_quote(comment)}")
        for schema, table, column, comment in columns:
            live.execute(f'comment on column {schema}.{table}."{column}" is {_quote(comment)}')
        live.execute(
            "create table main.publish_info as select"
            " (current_timestamp at time zone 'UTC') as published_at,"
            f" {_quote(str(warehouse))} as warehouse_path,"
            f" {len(tables)} as tables"
        )
        live.commit()
        live.execute(f'use "{source}"')
        live.execute("detach published")
    finally:
        live.close()
    return time.monotonic() - held_from


def _connect_waiting(warehouse: Path, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only, once ingest or dbt build has let go of it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return db.connect(warehouse, read_only=True)
        except db.WarehouseBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.25)


def _export_parquet(
    con: duckdb.DuckDBPyConnection, version_dir: Path, partition_rows: int
) -> list[PublishedTable]:
    """One Parquet file per table; tables of at least `partition_rows` rows with a date or
    timestamp column are split by day of their first such column (Hive partitions)."""
    tables = con.execute(
        "select schema_name, table_name, comment from duckdb_tables()"
        " where database_name = current_database() and schema_name <> 'main'"
        " order by schema_name, table_name"
    ).fetchall()
    published = []
    for schema, table, comment in tables:
        rows = con.execute(f"select count(*) from {schema}.{table}").fetchall()[0][0]
        first_temporal = con.execute(
            "select column_name from duckdb_columns() where database_name = current_database()"
            " and schema_name = ? and table_name = ? and data_type in"
            f" ({', '.join(repr(t) for t in TEMPORAL_TYPES)}) order by column_index limit 1",
            [schema, table],
        ).fetchall()
        (version_dir / schema).mkdir(parents=True, exist_ok=True)
        if rows >= partition_rows and first_temporal:
            target = version_dir / schema / table
            con.execute(
                f'copy (select *, "{first_temporal[0][0]}"::date as {PARTITION_COLUMN}'
                f" from {schema}.{table}) to {_quote(str(target))}"
                f" (format parquet, compression zstd, partition_by ({PARTITION_COLUMN}))"
            )
            published.append(
                PublishedTable(f"{schema}.{table}", rows, target, first_temporal[0][0], comment)
            )
        else:
            target = version_dir / schema / f"{table}.parquet"
            con.execute(
                f"copy {schema}.{table} to {_quote(str(target))} (format parquet, compression zstd)"
            )
            published.append(PublishedTable(f"{schema}.{table}", rows, target, None, comment))
    return published


def _write_views(path: Path, tables: list[PublishedTable]) -> None:
    """A DuckDB file of views over the Parquet files (absolute paths: DuckDB resolves
    relative ones against the reader's working directory)."""
    con = duckdb.connect(str(path))
    try:
        for schema in sorted({t.name.split(".")[0] for t in tables}):
            con.execute(f"create schema {schema}")
        for table in tables:
            if table.partitioned_by:
                files = _quote(str(table.parquet / "**" / "*.parquet"))
                select = (
                    f"select * exclude ({PARTITION_COLUMN})"
                    f" from read_parquet({files}, hive_partitioning = true)"
                )
            else:
                select = f"select * from read_parquet({_quote(str(table.parquet))})"
            con.execute(f"create view {table.name} as {select}")
            if table.comment:
                con.execute(f"comment on view {table.name} is {_quote(table.comment)}")
    finally:
        con.close()


@contextmanager
def _publish_lock(directory: Path) -> Iterator[None]:
    """One publish at a time per directory (a second one waits)."""
    with (directory / ".publish.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(directory: Path) -> None:
    """Temporary files of a publish that was killed (we hold the publish lock)."""
    for path in directory.glob(".*.tmp"):
        path.unlink(missing_ok=True)
    for path in directory.glob(".*.tmp.wal"):
        path.unlink(missing_ok=True)
    for path in directory.glob("parquet/.latest.*"):
        path.unlink(missing_ok=True)


def _prune_versions(parquet_root: Path, keep: int) -> None:
    versions = sorted(
        (p for p in parquet_root.iterdir() if p.is_dir() and not p.is_symlink()),
        key=lambda p: p.name,
    )
    for old in versions[: max(len(versions) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
