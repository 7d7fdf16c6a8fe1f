"""`wirehouse publish`: a consistent read-only copy of the marts for BI tools and other engines.

DuckDB lets one process write a file, and a reader of that file blocks the writer. So readers
never open the warehouse: they open the published copy. Each publish writes a complete new
version aside and makes it current with ONE atomic step, the rename of a symlink; a reader
connected to an older version keeps reading it whole; nobody sees a mix of two versions, in
any form; nothing a reader of the copy does can block ingest or `dbt build`.

Layout of the publish directory (default: `published/` beside the warehouse):

    versions/<version>/                  one complete publish, never changed once current
        published.duckdb                 marts and reference tables, their dbt descriptions
        parquet_views.duckdb             the same names as views over this version's Parquet
        parquet/<schema>/<table>.parquet, or <table>/partition_date=YYYY-MM-DD/*.parquet
        source.json                      what it was published from (see stale_since)
        checked.json                     readers' note of the warehouse they last compared
    current -> versions/<version>        THE pointer: swapped by one rename per publish
    published.duckdb     -> current/published.duckdb       fixed paths for BI tools: made
    parquet_views.duckdb -> current/parquet_views.duckdb   once, never swapped, so the one
    parquet/latest       -> ../current/parquet             swap of `current` moves all three

A path is resolved when a file is opened, so a connection to published.duckdb or
parquet_views.duckdb stays on the version it opened; the views name their Parquet files
inside their own version directory, by paths relative to the publish directory (a reader
sets DuckDB's `file_search_path` to it, or runs there), so the folder can be moved.

For BI clients, every published table is also a view of its bare name in `main` (where a
client connecting to the file lands), every mart of the dbt project is there (empty when
the warehouse never built it), and the Parquet files carry the dbt descriptions and
UTC-adjusted timestamps (see _export_parquet). A multi-file read through parquet/latest
that must not straddle a publish resolves the link once first (`realpath`).

A publish, under a lock file (one at a time per directory): removes what an interrupted
publish left (versions newer than `current`, temporary names); moves a directory in the
layout of older wirehouse versions (real files at the top, parquet/<version>/) into this one
(its files hard-linked as a version of their own, made current, then the fixed paths turned
into links: every step shows one version); writes versions/<new>/ whole; swaps `current`;
keeps the newest `keep_versions` versions (a connection to parquet_views.duckdb older than
that many publishes has to reconnect; one to published.duckdb holds its file open anyway).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
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
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.loader import warehouse as db
from wirehouse.run import DBT_PROJECT
from wirehouse.serve.contracts import mart_contracts

PUBLISHED_SCHEMAS = ("marts", "reference")
DUCKDB_NAME = "published.duckdb"
VIEWS_NAME = "parquet_views.duckdb"
PARQUET_NAME = "parquet"
VERSIONS_NAME = "versions"
CURRENT_NAME = "current"
SOURCE_NAME = "source.json"
CHECKED_NAME = "checked.json"
# the fixed paths BI tools are given, each a relative link through `current`
FIXED_LINKS = {
    Path(DUCKDB_NAME): Path(CURRENT_NAME) / DUCKDB_NAME,
    Path(VIEWS_NAME): Path(CURRENT_NAME) / VIEWS_NAME,
    Path(PARQUET_NAME) / "latest": Path("..") / CURRENT_NAME / PARQUET_NAME,
}
PARTITION_COLUMN = "partition_date"
TEMPORAL_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
# Parquet timestamps are written UTC-adjusted (read back with tz=UTC); the views turn them
# back into the copy's own types, by epoch arithmetic (no time zone involved)
NAIVE_TIMESTAMPS = {
    "TIMESTAMP": "make_timestamp(epoch_us({}))",
    "TIMESTAMP_NS": "make_timestamp_ns(epoch_ns({}))",
}
BATCH_ROWS = 100_000
# SQLAlchemy 2.0.55+ reflects primary keys with `CAST(... AS REGCLASS)`, a Postgres type
# DuckDB lacks: an alias in the copy lets that query bind (duckdb_engine 0.17, DuckDB 2.0)
SQLALCHEMY_TYPES = ("create type main.regclass as varchar",)


class PublishError(RuntimeError):
    """The warehouse cannot be published (missing, empty, or busy for too long)."""


@dataclass(frozen=True)
class PublishedTable:
    name: str  # schema.table
    rows: int
    parquet: Path  # a file, or a directory of date partitions
    partitioned_by: str | None  # the source column of partition_date, if partitioned
    comment: str | None  # the dbt description
    # (name, DuckDB type, dbt description) in table order
    columns: tuple[tuple[str, str, str | None], ...] = ()


@dataclass(frozen=True)
class PublishResult:
    directory: Path
    version: str
    duckdb_path: Path  # the fixed path (a link through `current`)
    views_path: Path  # the fixed path
    parquet_dir: Path  # this version's Parquet directory
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
    version_dir = directory / VERSIONS_NAME / version
    with _publish_lock(directory):
        _remove_leftovers(directory)
        _adopt_old_layout(directory)
        _link_fixed_paths(directory)
        try:
            version_dir.mkdir(parents=True)
            lock_seconds, source = _copy_marts(version_dir, warehouse, version, wait_seconds)
            con = duckdb.connect(str(version_dir / DUCKDB_NAME), read_only=True, config=db.OFFLINE)
            try:
                con.execute("set enable_progress_bar = false")
                tables = _export_parquet(con, version_dir / PARQUET_NAME, partition_rows)
            finally:
                con.close()
            _write_views(version_dir / VIEWS_NAME, tables, directory)
            _write_json(version_dir / SOURCE_NAME, source)
        except (Exception, KeyboardInterrupt):
            # a killed publish cannot do this: the next one removes what it left
            shutil.rmtree(version_dir, ignore_errors=True)
            raise
        _make_current(directory, version)  # the one step every reader form moves with
        _prune_versions(directory, keep_versions)
    return PublishResult(
        directory=directory,
        version=version,
        duckdb_path=directory / DUCKDB_NAME,
        views_path=directory / VIEWS_NAME,
        parquet_dir=version_dir / PARQUET_NAME,
        tables=tables,
        seconds=time.monotonic() - started,
        lock_seconds=lock_seconds,
        duckdb_bytes=(version_dir / DUCKDB_NAME).stat().st_size,
        parquet_bytes=sum(f.stat().st_size for f in version_dir.rglob("*.parquet")),
    )


def current_copy(directory: Path) -> Path | None:
    """The DuckDB copy a reader opens now, with `current` resolved once (so the reader stays
    on that version whatever is published next); an older layout's real published.duckdb;
    None when nothing was published there."""
    version_dir = current_version_dir(directory)
    if version_dir is not None and (version_dir / DUCKDB_NAME).is_file():
        return version_dir / DUCKDB_NAME
    legacy = directory / DUCKDB_NAME
    return legacy if legacy.is_file() and not legacy.is_symlink() else None


def current_version_dir(directory: Path) -> Path | None:
    """The version directory `current` points at now, resolved; None if there is none."""
    name = _current_name(directory)
    return None if name is None else (directory / VERSIONS_NAME / name).resolve()


def _current_name(directory: Path) -> str | None:
    try:
        return Path(os.readlink(directory / CURRENT_NAME)).name
    except OSError:  # no `current` yet (a new directory, or the old layout)
        return None


def _copy_marts(
    version_dir: Path, warehouse: Path, version: str, wait_seconds: float
) -> tuple[float, dict[str, object]]:
    """Copy every table of the published schemas into the version's DuckDB file, with its
    dbt descriptions (DuckDB comments). Returns how long the warehouse was held, and what
    was published from (source.json): the warehouse file as it was and its marts'
    fingerprint, both taken while it was held, so nothing wrote it in between.

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
        published_from = {
            "warehouse": str(warehouse),
            "published_at": datetime.now(UTC).isoformat(),
            "file": _file_state(warehouse),
            "marts": marts_fingerprint(live),
        }
        target = version_dir / DUCKDB_NAME
        live.execute(f"attach {_quote(str(target))} as published (read_write)")
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
        filled = _add_missing_marts(
            live, {table for schema, table, *_ in tables if schema == "marts"}
        )
        live.execute(
            "create table main.publish_info as select"
            " (current_timestamp at time zone 'UTC') as published_at,"
            f" {_quote(str(warehouse))} as warehouse_path,"
            f" {len(tables) + len(filled)} as tables, {_quote(version)} as version"
        )
        _add_client_names(live)
        live.commit()
        live.execute(f'use "{source}"')
        live.execute("detach published")
    finally:
        live.close()
    return time.monotonic() - held_from, published_from


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


def _add_missing_marts(con: duckdb.DuckDBPyConnection, present: set[str]) -> list[str]:
    """Every mart of the dbt project the warehouse lacks (`wirehouse run` builds only those of
    the kinds it has loaded), created empty from its contract with its descriptions, so a
    dashboard on it shows no rows rather than failing. Only for a warehouse built from this
    project: one holding none of its marts is published as it is."""
    contracts = mart_contracts(DBT_PROJECT)
    if not present & contracts.keys():
        return []
    missing = sorted(contracts.keys() - present)
    for name in missing:
        contract = contracts[name]
        con.execute(contract.create_sql("marts"))
        if contract.description:
            con.execute(f"comment on table marts.{name} is {_quote(contract.description)}")
        for column in contract.columns:
            if column.description:
                con.execute(
                    f'comment on column marts.{name}."{column.name}"'
                    f" is {_quote(column.description)}"
                )
    return missing


def _add_client_names(con: duckdb.DuckDBPyConnection) -> None:
    """What BI clients need of the current database (the copy, or the views file): every
    published table also under its bare name, as a view in `main` (the schema a client
    lands in; `marts` wins over `reference` on a clash), with its descriptions; and the
    types SQLAlchemy's reflection casts to (SQLALCHEMY_TYPES)."""
    for statement in SQLALCHEMY_TYPES:
        con.execute(statement)
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    relations = con.execute(
        "select schema_name, table_name, comment from duckdb_tables()"
        f" where database_name = current_database() and schema_name in ({schemas})"
        " union all select schema_name, view_name, comment from duckdb_views()"
        f" where database_name = current_database() and schema_name in ({schemas})"
        " order by schema_name, table_name"
    ).fetchall()
    taken = {
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database()"
            " and schema_name = 'main'"
        ).fetchall()
    }
    column_comments: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, name, column, comment in con.execute(
        "select schema_name, table_name, column_name, comment from duckdb_columns()"
        f" where database_name = current_database() and schema_name in ({schemas})"
        " and comment is not null"
    ).fetchall():
        column_comments.setdefault((schema, name), []).append((column, comment))
    for schema, name, comment in relations:
        if name in taken:
            continue
        taken.add(name)
        con.execute(f"create view main.{name} as select * from {schema}.{name}")
        if comment:
            con.execute(f"comment on view main.{name} is {_quote(comment)}")
        for column, column_comment in column_comments.get((schema, name), []):
            con.execute(f'comment on column main.{name}."{column}" is {_quote(column_comment)}')


def _export_parquet(
    con: duckdb.DuckDBPyConnection, parquet_dir: Path, partition_rows: int
) -> list[PublishedTable]:
    """One Parquet file per table; tables of at least `partition_rows` rows with a date or
    timestamp column are split by day of their first such column (Hive partitions).

    Written by pyarrow from DuckDB's Arrow stream (bounded memory), so that the files carry
    what DuckDB's writer cannot: each column's dbt description in its field metadata
    (`description`), and timestamps marked UTC-adjusted, TIMESTAMP_NS included (DuckDB
    writes both as local times, read back without a time zone). The file metadata holds the
    table's description and the columns' as JSON (`description`, `column_descriptions`),
    for readers without field metadata (polars' read_parquet_metadata, DuckDB's
    parquet_kv_metadata)."""
    tables = con.execute(
        "select schema_name, table_name, comment from duckdb_tables()"
        " where database_name = current_database() and schema_name <> 'main'"
        " order by schema_name, table_name"
    ).fetchall()
    published = []
    for schema, table, comment in tables:
        rows = con.execute(f"select count(*) from {schema}.{table}").fetchall()[0][0]
        columns = tuple(
            con.execute(
                "select column_name, data_type, comment from duckdb_columns()"
                " where database_name = current_database() and schema_name = ?"
                " and table_name = ? order by column_index",
                [schema, table],
            ).fetchall()
        )
        first_temporal = next((c for c, t, _ in columns if t in TEMPORAL_TYPES), None)
        (parquet_dir / schema).mkdir(parents=True, exist_ok=True)
        partitioned = rows >= partition_rows and first_temporal is not None
        select = f"select * from {schema}.{table}"
        if partitioned:
            select = (
                f'select *, "{first_temporal}"::date as {PARTITION_COLUMN} from {schema}.{table}'
            )
        reader = con.sql(select).to_arrow_reader(BATCH_ROWS)
        schema_out = _parquet_schema(reader.schema, columns, comment)
        batches = (batch.cast(schema_out) for batch in reader)
        if partitioned:
            # imported here: pyarrow.dataset loads pandas, 0.5 s of every CLI command's start
            import pyarrow.dataset as pa_dataset

            target = parquet_dir / schema / table
            pa_dataset.write_dataset(
                pa.RecordBatchReader.from_batches(schema_out, batches),
                target,
                format="parquet",
                partitioning=[PARTITION_COLUMN],
                partitioning_flavor="hive",
                basename_template="data_{i}.parquet",
                file_options=pa_dataset.ParquetFileFormat().make_write_options(compression="zstd"),
            )
        else:
            target = parquet_dir / schema / f"{table}.parquet"
            with pq.ParquetWriter(target, schema_out, compression="zstd") as writer:
                for batch in batches:
                    writer.write_batch(batch)
        published.append(
            PublishedTable(
                f"{schema}.{table}",
                rows,
                target,
                first_temporal if partitioned else None,
                comment,
                columns,
            )
        )
    return published


def _parquet_schema(
    arrow: pa.Schema, columns: tuple[tuple[str, str, str | None], ...], comment: str | None
) -> pa.Schema:
    """DuckDB's Arrow schema with UTC on its timestamps and the dbt descriptions added."""
    described = {name: text for name, _, text in columns if text}
    fields = []
    for field in arrow:
        kind = field.type
        if pa.types.is_timestamp(kind) and kind.tz is None:
            kind = pa.timestamp(kind.unit, tz="UTC")  # the warehouse's timestamps are UTC
        metadata = {"description": described[field.name]} if field.name in described else None
        fields.append(pa.field(field.name, kind, field.nullable, metadata=metadata))
    metadata = {"column_descriptions": json.dumps(described)}
    if comment:
        metadata["description"] = comment
    return pa.schema(fields, metadata=metadata)


def _write_views(path: Path, tables: list[PublishedTable], directory: Path | None) -> None:
    """A DuckDB file of views over the Parquet files, by paths relative to the publish
    `directory` (versions/<version>/parquet/...): the folder can be moved or mounted
    elsewhere. DuckDB resolves a relative path against its `file_search_path` setting, else
    the working directory: a reader sets `file_search_path` to the publish directory (or
    runs there). Each view gives its columns the copy's own types back (the Parquet
    timestamps are UTC-adjusted) and its dbt descriptions; bare names as in the copy."""
    con = duckdb.connect(str(path), config=db.OFFLINE)
    try:
        if directory is not None:  # None: absolute paths, as older wirehouse versions wrote
            con.execute(f"set file_search_path = {_quote(str(directory))}")  # views bind now
        for schema in sorted({t.name.split(".")[0] for t in tables}):
            con.execute(f"create schema {schema}")
        for table in tables:
            relative = table.parquet.relative_to(directory) if directory else table.parquet
            if table.partitioned_by:
                files = _quote(str(relative / "**" / "*.parquet"))
                source = f"read_parquet({files}, hive_partitioning = true)"
                exclude = f" exclude ({PARTITION_COLUMN})"
            else:
                source, exclude = f"read_parquet({_quote(str(relative))})", ""
            naive = [
                f"{NAIVE_TIMESTAMPS[kind].format(_ident(name))} as {_ident(name)}"
                for name, kind, _ in table.columns
                if kind in NAIVE_TIMESTAMPS
            ]
            replace = f" replace ({', '.join(naive)})" if naive else ""
            con.execute(f"create view {table.name} as select *{exclude}{replace} from {source}")
            if table.comment:
                con.execute(f"comment on view {table.name} is {_quote(table.comment)}")
            for name, _, text in table.columns:
                if text:
                    con.execute(f"comment on column {table.name}.{_ident(name)} is {_quote(text)}")
        _add_client_names(con)
    finally:
        con.close()


# --- is the published copy older than the warehouse's marts? --------------------------------
#
# Each version's source.json says what it was published from: the warehouse file as it was
# (device, inode, size, mtime, and its .wal's) and a fingerprint of its marts, both taken
# while publish held the warehouse, so nothing wrote it in between. A reader compares:
#
# 1. The file as it was (one stat, microseconds): the marts are the published ones. This is
#    every query between a publish and the next write of the warehouse.
# 2. The file changed. Every write changes it, not only `dbt build`: `wirehouse ingest`
#    (even of unchanged files), and `wirehouse run`, which records itself in
#    raw.wirehouse_runs after it publishes, so on a timer the file changes at every tick.
#    A note on the file alone would be wrong after most of those (the marts are the
#    published ones, --live shows the same numbers) and soon ignored. So the reader opens
#    the warehouse read-only once, fingerprints its marts and compares: the note means
#    "--live would read other marts". An ingest without a build gives no note (its rows
#    are in no mart yet); a `dbt build` that changed a mart does, whoever ran it. The
#    answer is kept in the version's checked.json against the file's state, so later
#    queries are back to step 1 until the file changes again (a reader that cannot write
#    there compares each time). While a writer holds the warehouse DuckDB refuses the
#    read-only open at once: nothing is said and nothing waits (the next query checks).
#    The price: like publish's own copy, that open makes a writer starting in the same
#    ~0.2 s fail as busy, once per change of the file.
#
# The fingerprint is, per table, its definition, exact row count (deletes included) and
# storage layout (pragma_storage_info: row groups, segments, their counts, min/max
# statistics and blocks), read from metadata, not by scanning rows: a rebuild or an
# insert writes new segments. Two builds that rewrote a mart into the very blocks, counts
# and statistics it had at publish would pass unseen.


@dataclass(frozen=True)
class Stale:
    """The published copy is older than the warehouse's marts."""

    warehouse: Path
    published_at: datetime
    written_at: datetime  # the warehouse file's last write (at or after the marts changed)


def stale_since(version_dir: Path) -> Stale | None:
    """Stale when the marts of the warehouse this version was published from differ from
    the published ones; None when they are the same or it cannot be told now (no
    source.json, the warehouse gone or busy). Never raises for those, never waits."""
    try:
        source = json.loads((version_dir / SOURCE_NAME).read_text())
        warehouse = Path(source["warehouse"])
        state = _file_state(warehouse)
        if state == source["file"]:
            return None
        same = _checked_answer(version_dir / CHECKED_NAME, state)
        if same is None:
            compared = _compare_marts(warehouse, source["marts"])
            if compared is None:
                return None
            same, state = compared
            _write_checked(version_dir, state, same)
        if same:
            return None
        written_ns = max(state["mtime_ns"], (state["wal"] or [0, 0])[1])
        return Stale(
            warehouse,
            datetime.fromisoformat(source["published_at"]),
            datetime.fromtimestamp(written_ns / 1e9, UTC),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # an older layout's copy, the warehouse gone, an unreadable note


def marts_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """What changes when a published table of the connection's database is rebuilt or
    written (see the comment above); ~2-3 ms per table."""
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    tables = con.execute(
        "select schema_name, table_name, sql, comment from duckdb_tables()"
        f" where database_name = current_database() and schema_name in ({schemas})"
        " order by schema_name, table_name"
    ).fetchall()
    digest = hashlib.sha256()
    for schema, table, ddl, comment in tables:
        rows, layout = con.execute(
            f'select (select count(*) from "{schema}"."{table}"), string_agg(concat_ws(\',\','
            " row_group_id, column_path, segment_id, start, count, compression, stats,"
            " has_updates, persistent, block_id, block_offset, additional_block_ids), ';'"
            " order by row_group_id, column_path, segment_id)"
            f" from pragma_storage_info({_quote(f'{schema}.{table}')})"
        ).fetchall()[0]
        digest.update(repr((schema, table, ddl, comment, rows, layout)).encode())
    return digest.hexdigest()


def _file_state(warehouse: Path) -> dict[str, object]:
    """The warehouse file and its write-ahead log as the file system has them."""
    stat = warehouse.stat()
    try:
        wal_stat = warehouse.with_name(warehouse.name + ".wal").stat()
        wal = [wal_stat.st_size, wal_stat.st_mtime_ns]
    except FileNotFoundError:
        wal = None
    return {
        "device": stat.st_dev,
        "inode": stat.st_ino,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "wal": wal,
    }


def _compare_marts(warehouse: Path, fingerprint: str) -> tuple[bool, dict[str, object]] | None:
    """(same marts, the file's state while held); None while a writer holds it."""
    try:
        con = db.connect(warehouse, read_only=True)  # fails at once if a writer holds it
    except db.WarehouseError:
        return None
    try:
        return marts_fingerprint(con) == fingerprint, _file_state(warehouse)
    except duckdb.Error:
        return None
    finally:
        con.close()


def _checked_answer(path: Path, state: dict[str, object]) -> bool | None:
    try:
        checked = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return bool(checked["same_marts"]) if checked.get("file") == state else None


def _write_checked(version_dir: Path, state: dict[str, object], same: bool) -> None:
    """Best effort: a reader may not be allowed to write here, or the version was pruned."""
    temporary = version_dir / f".{CHECKED_NAME}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        _write_json(temporary, {"file": state, "same_marts": same})
        os.replace(temporary, version_dir / CHECKED_NAME)
    except OSError:
        temporary.unlink(missing_ok=True)


# --- the directory: one pointer, fixed links, leftovers, the old layout, pruning -----------


@contextmanager
def _publish_lock(directory: Path) -> Iterator[None]:
    """One publish at a time per directory (a second one waits)."""
    with (directory / ".publish.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _replace_with_link(path: Path, target: Path) -> None:
    """Make `path` a symlink to `target` in one rename (what was there stays open to its
    readers)."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.link")
    temporary.symlink_to(target)
    os.replace(temporary, path)


def _make_current(directory: Path, version: str) -> None:
    _replace_with_link(directory / CURRENT_NAME, Path(VERSIONS_NAME) / version)


def _link_fixed_paths(directory: Path) -> None:
    """The fixed paths as links through `current`; made once (dangling until the first
    swap of a new directory, so they all appear with it)."""
    for name, target in FIXED_LINKS.items():
        path = directory / name
        if path.is_symlink() and Path(os.readlink(path)) == target:
            continue
        path.parent.mkdir(exist_ok=True)
        _replace_with_link(path, target)


def _adopt_old_layout(directory: Path) -> None:
    """A directory published by an older wirehouse (real files at the top, Parquet in
    parquet/<version>/, parquet/latest naming it) becomes that layout's newest version:
    its two DuckDB files hard-linked into versions/<version>/ (no copy; open readers keep
    theirs), its Parquet linked from there (the views name it by absolute path), made
    current. The fixed paths then become links that show the same version."""
    old_copy = directory / DUCKDB_NAME
    if _current_name(directory) is not None or old_copy.is_symlink() or not old_copy.is_file():
        return
    latest = directory / PARQUET_NAME / "latest"
    version = Path(os.readlink(latest)).name if latest.is_symlink() else "0-old-layout"
    version_dir = directory / VERSIONS_NAME / version
    version_dir.mkdir(parents=True, exist_ok=True)
    for name in (DUCKDB_NAME, VIEWS_NAME):
        if (directory / name).is_file() and not (version_dir / name).exists():
            os.link(directory / name, version_dir / name)
    if (directory / PARQUET_NAME / version).is_dir() and not (version_dir / PARQUET_NAME).exists():
        (version_dir / PARQUET_NAME).symlink_to(Path("..") / ".." / PARQUET_NAME / version)
    _make_current(directory, version)


def _remove_leftovers(directory: Path) -> None:
    """What a killed publish left (we hold the publish lock): versions never made current
    (newer than `current`, or all of them while there is none), temporary links, and the
    old layout's temporary files."""
    current = _current_name(directory)
    versions = directory / VERSIONS_NAME
    if versions.is_dir():
        for path in versions.iterdir():
            if current is None or path.name > current:
                _remove(path)
            else:
                for temporary in path.glob(".*.tmp"):  # a reader's unfinished checked.json
                    temporary.unlink(missing_ok=True)
    for pattern in (".*.link", "parquet/.*.link", ".*.tmp", ".*.tmp.wal", "parquet/.latest.*"):
        for path in directory.glob(pattern):
            path.unlink(missing_ok=True)


def _prune_versions(directory: Path, keep: int) -> None:
    """Keep the newest `keep` versions, `current` among them (an old layout's
    parquet/<version>/ directories count as versions)."""
    current = _current_name(directory)
    names = {p.name for p in (directory / VERSIONS_NAME).iterdir()}
    parquet = directory / PARQUET_NAME
    names |= {p.name for p in parquet.iterdir() if p.is_dir() and not p.is_symlink()}
    older = sorted(name for name in names if name != current)
    for name in older[: max(len(older) - max(keep - 1, 0), 0)]:
        _remove(directory / VERSIONS_NAME / name)
        _remove(parquet / name)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _write_json(path: Path, data: dict[str, object]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
