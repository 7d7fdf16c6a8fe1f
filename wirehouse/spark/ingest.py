"""Files into Spark (issue 23): every input kind as a Spark data source that runs wirehouse's
own loader on the executors, one partition per file, and the loading rules on Parquet tables
that have no transactions.

The data source (format ``wirehouse``): a task loads its file exactly as ``wirehouse ingest``
does, into a private DuckDB file on the executor (the same readers, careful retries, issues,
statuses and notes), then streams one of its raw tables out as Arrow batches in types Spark
reads (µs UTC timestamps, signed integers; raw tables keep nanoseconds as BIGINT columns).
The file's private warehouse is kept beside the task's temporary directory, keyed by the
file's path, size, times and the kind's options, so the other tables of the same file (a
capture has five) are read without parsing it again on that machine.

The loading rules (``ingest``), one writer at a time:

- raw tables are partitioned by ``_file_id``, ``raw.ingest_files`` and
  ``raw.ingest_issues`` by ``file_id``; each file's rows are written with a dynamic
  partition overwrite of its own partition;
- a file's manifest row is written after its data, and staging reads only the rows of files
  the manifest lists (``raw_rows``: an inner join), so a crash never shows half a file;
- unchanged files (path, size, mtime and ctime as loaded) are skipped, and so are files
  only touched (their new times recorded) and copies of another loaded file;
- a new version follows ``ingest.loader.file_load``'s rules: one that only grew the loaded
  version (its first bytes are the loaded bytes, hashed on the driver) replaces the newest
  generation's rows; other new content (a copytruncate rotation, a re-export) is the path's
  next generation and the rows loaded before stay; ``replace`` replaces the newest
  generation instead (logged in ``raw.removed_rows``: incremental models rebuild from it);
  a failed version goes beside the loaded one, whose rows stay;
- what a new version supersedes goes in that order: the superseded manifest rows first (the
  file disappears), then the new data and manifest rows are written, then the superseded
  partitions are dropped;
- every run first drops partitions whose file id the manifest does not list (what a killed
  run left behind), so a rerun converges to a clean load;
- an unchanged file asked for under another node is relabelled: its rows logged as removed
  from the old node, its partitions rewritten with the run's load time, then its manifest
  rows with the new node;
- ``forget`` logs a file's rows as removed, drops its manifest rows, then its partitions.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.loader.manifest import cap
from ingest.loader.snapshot import digest_of

# DuckDB types Spark has not, as the types that hold their values
SIGNED_CASTS = {
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "decimal(20, 0)",
    "HUGEINT": "decimal(38, 0)",
    "UHUGEINT": "decimal(38, 0)",
    "UUID": "varchar",
    "USMALLINT[]": "integer[]",
}
# DuckDB types of raw tables as Spark reads them (Arrow out of DuckDB, into Spark): times
# as UTC microseconds (Spark's timestamp), nanoseconds kept in the raw tables' ts_ns columns
SPARK_CASTS = {
    "TIMESTAMP": "timestamptz",
    "TIMESTAMP_NS": "timestamptz",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    **SIGNED_CASTS,
}
BATCH_ROWS = 65_536
MANIFEST = "ingest_files"
ISSUES = "ingest_issues"


def spark_select(
    con: duckdb.DuckDBPyConnection, table: str, replace: dict[str, str] | None = None
) -> str:
    """SELECT of raw.`table` in types Spark reads, some columns replaced by SQL values."""
    replace = replace or {}
    columns = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'raw' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    items = []
    for name, data_type in columns:
        quoted = '"' + name.replace('"', '""') + '"'
        value = replace.get(name, quoted)
        cast = SPARK_CASTS.get(data_type)
        items.append(f"cast({value} as {cast}) as {quoted}" if cast else f"{value} as {quoted}")
    return f"select {', '.join(items)} from raw.{table}"


@dataclass(frozen=True)
class Job:
    """What every task of one ingest needs: the kind and its options, and the run's facts."""

    kind: str
    options: dict  # make_kind's options (JSON-able)
    node: str | None
    run_id: str
    loaded_at: str  # ISO UTC: every row and manifest row of the run gets it
    work_dir: str  # where the files' private warehouses go on each machine
    task_cpus: int = 1  # spark.task.cpus: the cores a task may use (DuckDB's threads)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))


def _private_warehouse(job: Job, path: str, name: str) -> Path:
    """The file loaded by wirehouse's loader into its own DuckDB file on this machine (done
    once per version of the file; a lock keeps two tasks from loading it at once)."""
    from ingest.loader import files as load
    from ingest.loader.warehouse import Warehouse
    from wirehouse.api import make_kind

    try:
        stat = os.stat(path)
        version = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
    except OSError:
        version = None  # the loader reports why it cannot be read
    key = json.dumps([job.kind, job.options, job.node, path, name, version], sort_keys=True)
    folder = Path(job.work_dir) / hashlib.sha256(key.encode()).hexdigest()[:32]
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "file.duckdb"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            db.unlink(missing_ok=True)
            kind = make_kind(job.kind, **job.options)
            with Warehouse(db) as warehouse:
                # the cores Spark gave this task, not the machine's (tasks run side by side)
                warehouse.con.execute(f"set threads = {job.task_cpus}")
                load.ingest_files(warehouse, kind, [Path(path)], job.node, names={Path(path): name})
            (folder / "done").touch()
    return db


def _read_file(job: Job, table: str, path: str, name: str, file_id: int) -> Iterator:
    """One raw table's rows of one file (or its manifest row, or its issues) as Arrow
    batches, with the file id the driver gave it and the run's load time."""
    db = _private_warehouse(job, path, name)
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"set threads = {job.task_cpus}")
        loaded_at = f"timestamp '{job.loaded_at}'"
        run_id = "'" + job.run_id + "'"
        given = f"{int(file_id)}::bigint"
        if table == MANIFEST:
            replace = {"file_id": given, "loaded_at": loaded_at, "ingest_run_id": run_id}
        elif table == ISSUES:
            replace = {}
        else:
            replace = {"_file_id": given, "_loaded_at": loaded_at}
        sql = spark_select(con, table, replace)
        if table == ISSUES:  # partitioned by file on Spark
            sql = sql.replace(" from raw.", f", {file_id}::bigint as file_id from raw.", 1)
        yield from con.sql(sql).to_arrow_reader(BATCH_ROWS)
    finally:
        con.close()


def data_source():
    """The ``wirehouse`` Spark data source class (pyspark imported only here)."""
    from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

    class FilePartition(InputPartition):
        def __init__(self, path: str, name: str, file_id: int) -> None:
            super().__init__((path, name, file_id))
            self.path, self.name, self.file_id = path, name, file_id

    class Reader(DataSourceReader):
        def __init__(self, options: dict) -> None:
            self.job = Job.from_json(options["job"])
            self.table = options["table"]
            self.files = json.loads(options["files"])

        def partitions(self):
            return [FilePartition(*file) for file in self.files]

        def read(self, partition):
            yield from _read_file(
                self.job, self.table, partition.path, partition.name, partition.file_id
            )

    class WirehouseFiles(DataSource):
        """options: job (Job JSON), table (a raw table, ingest_files or ingest_issues),
        files (JSON list of [path, name, file_id]); the schema is given by the reader."""

        @classmethod
        def name(cls) -> str:
            return "wirehouse"

        def reader(self, schema):
            return Reader(self.options)

    return WirehouseFiles


# --- the driver: tables and loading rules -----------------------------------------------------


def _template(work_dir: Path) -> duckdb.DuckDBPyConnection:
    """An empty warehouse with every raw table: the schemas Spark's tables are made from."""
    from wirehouse.api import init

    db = work_dir / "template.duckdb"
    if not db.exists():
        init(db)
    return duckdb.connect(str(db), read_only=True)


def spark_schema(template: duckdb.DuckDBPyConnection, table: str):
    """The Spark schema of a raw table (as the data source yields it)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    sql = spark_select(template, table)
    if table == ISSUES:
        sql = sql.replace(" from raw.", ", 0::bigint as file_id from raw.", 1)
    template.execute("set TimeZone = 'UTC'")
    return from_arrow_schema(template.sql(f"{sql} limit 0").to_arrow_table().schema)


def ensure_spark_tables(spark, template: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """raw.<table> as Parquet tables partitioned by file, created when missing, and
    raw.removed_rows (not partitioned: rows are only added)."""
    spark.sql("create database if not exists raw")
    removed = spark_schema(template, "removed_rows")
    columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in removed.fields)
    spark.sql(f"create table if not exists raw.removed_rows ({columns}) using parquet")
    for table in tables:
        schema = spark_schema(template, table)
        key = "file_id" if table in (MANIFEST, ISSUES) else "_file_id"
        columns = ", ".join(
            f"`{field.name}` {field.dataType.simpleString()}"
            for field in schema.fields
            if field.name != key
        )
        spark.sql(
            f"create table if not exists raw.{table} ({columns}, `{key}` bigint)"
            f" using parquet partitioned by (`{key}`)"
        )


def _drop_file_ids(spark, table: str, ids: list[int]) -> None:
    key = "file_id" if table in (MANIFEST, ISSUES) else "_file_id"
    for start in range(0, len(ids), 500):
        specs = ", ".join(f"partition (`{key}` = {i})" for i in ids[start : start + 500])
        spark.sql(f"alter table raw.{table} drop if exists {specs}")


def _partition_ids(spark, table: str) -> set[int]:
    return {
        int(row[0].split("=", 1)[1]) for row in spark.sql(f"show partitions raw.{table}").collect()
    }


@dataclass
class SparkFileResult:
    path: str
    status: str  # loaded | partial | failed | skipped | relabelled
    rows: int = 0
    issues: int = 0
    message: str = ""
    node: str | None = None  # relabelled: the node it moved to


def ingest(
    spark,
    kind_name: str,
    paths: list[Path],
    node: str | None = None,
    options: dict | None = None,
    work_dir: Path | None = None,
    on_file: Callable[[SparkFileResult], None] = lambda _result: None,
    replace: bool = False,
) -> list[SparkFileResult]:
    """Load a kind's files under `paths` into Spark's raw tables by the rules above
    (`replace`: new content of a loaded file replaces its newest generation's rows, as
    `wirehouse ingest --replace`)."""
    from wirehouse.api import find_files, make_kind

    options = options or {}
    kind = make_kind(kind_name, **options)
    found = find_files(kind, paths, node)
    # this run's private warehouses (one per file, on each machine), removed afterwards
    work = Path(work_dir or tempfile.gettempdir()) / f"wirehouse-spark-{uuid.uuid4().hex}"
    work.mkdir(parents=True)
    template = _template(work)
    try:
        return _ingest(
            spark, kind_name, kind, found, node, options, work, template, on_file, replace
        )
    finally:
        template.close()
        shutil.rmtree(work, ignore_errors=True)


def _ingest(spark, kind_name, kind, found, node, options, work, template, on_file, replace):
    """ingest's steps, in the order the module docstring gives them."""
    from pyspark.sql.functions import col

    from ingest.kinds import registry
    from ingest.loader.file_load import manifest_key
    from ingest.loader.files import node_of

    every_table = [t.name for k in registry().values() for t in k.tables]
    tables = [t.name for t in kind.tables]
    ensure_spark_tables(spark, template, [MANIFEST, ISSUES, *every_table])
    spark.dataSource.register(data_source())
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    _collect_garbage(spark, every_table)

    manifest: dict[str, list[dict]] = {}  # path -> its versions' manifest rows
    for row in spark.table(f"raw.{MANIFEST}").collect():
        manifest.setdefault(row["path"], []).append(row.asDict())
    results, todo, paths = [], [], {}
    next_id = max((r["file_id"] for rows in manifest.values() for r in rows), default=0) + 1
    for path in found.files:
        key = manifest_key(path)
        if _unchanged_on_disk(manifest.get(key, []), path):
            results.append(_skip(manifest[key], node_of(path, kind, node), key))
            on_file(results[-1])
            continue
        todo.append((key, found.names.get(path, path.name), next_id))
        paths[key] = path
        next_id += 1
    now = datetime.now(UTC).replace(tzinfo=None)
    if not todo:
        return _relabel(spark, tables, results, now)
    run_id, cpus = f"spark-{now:%Y%m%dT%H%M%S%f}", int(spark.conf.get("spark.task.cpus", "1"))
    job = Job(kind_name, options, node, run_id, now.isoformat(), str(work), cpus)
    files = json.dumps(todo)

    def read(table: str):
        return (
            spark.read.format("wirehouse")
            .schema(spark_schema(template, table))
            .option("job", job.to_json())
            .option("table", table)
            .option("files", files)
            .load()
        )

    # every file parsed once, in parallel: its manifest row (the private warehouses stay)
    parsed = [version.asDict() for version in read(MANIFEST).collect()]
    done, touched, fresh = [], [], []
    for version in parsed:
        rows = manifest.get(version["path"], [])
        same = [r for r in rows if r["status"] in HAS_ROWS and r["sha256"] == version["sha256"]]
        if version["status"] in HAS_ROWS and same:  # only touched: its new times, skipped
            stat = paths[version["path"]].stat()
            touched += [{**r, "file_mtime_ns": stat.st_mtime_ns,
                         "file_ctime_ns": stat.st_ctime_ns} for r in same]  # fmt: skip
            done.append(_skip(rows, version["node"], version["path"]))
        else:
            fresh.append(version)
    if not kind.name_is_data:  # tshark's hourly files: the same bytes another hour are data
        known = [r for rows in manifest.values() for r in rows]
        fresh, twins = _without_twins(fresh, known)
        done += [
            SparkFileResult(t["path"], "skipped", message=f"same content as {t['twin']}")
            for t in twins
        ]
    unit = kind.tables[0].unit if len(kind.tables) == 1 else "rows"
    plans = [_plan(v, manifest.get(v["path"], []), paths[v["path"]], replace, unit) for v in fresh]

    # the rows of versions replaced on request logged first: a run killed later keeps the log
    _log_removals(spark, tables, [r for p in plans for r in p.removed], now)
    # superseded versions disappear (their manifest rows go), then the new data is written
    superseded = [i for p in plans for i in p.superseded]
    _drop_file_ids(spark, MANIFEST, superseded)
    written = [p.version["file_id"] for p in plans]
    for table in [*tables, ISSUES]:
        key = "file_id" if table == ISSUES else "_file_id"
        frame = read(table).where(col(key).isin(written))
        frame.select(*spark.table(f"raw.{table}").columns).write.insertInto(
            f"raw.{table}", overwrite=True
        )
    # then the new manifest rows, after their data: the files appear whole
    rows = [p.version for p in plans] + touched
    if rows:
        spark.createDataFrame(rows, spark_schema(template, MANIFEST)).select(
            *spark.table(f"raw.{MANIFEST}").columns
        ).write.insertInto(f"raw.{MANIFEST}", overwrite=True)
    for table in [*tables, ISSUES]:  # the superseded versions' rows, now listed nowhere
        _drop_file_ids(spark, table, superseded)
    done += [
        SparkFileResult(v["path"], v["status"], v["rows"], v["issues"], v["error"] or "")
        for v in (plan.version for plan in plans)
    ]
    for result in done:
        on_file(result)
    return _relabel(spark, tables, results + done, now)


def _relabel(spark, tables: list[str], results: list, now: datetime) -> list:
    """Move the files reported as relabelled (every generation of each) to their new node, as
    ingest.loader.manifest.relabel does: their rows logged as removed from the node they had,
    their raw rows rewritten with the run's load time (incremental models see them again),
    then their manifest rows with the new node; a run killed in between relabels again."""
    from pyspark.sql.functions import col, lit

    moved = {result.path: result.node for result in results if result.status == "relabelled"}
    if not moved:
        return results
    rows = [r.asDict() for r in spark.table(f"raw.{MANIFEST}").collect() if r["path"] in moved]
    _log_removals(spark, tables, [r for r in rows if r["status"] in HAS_ROWS], now, "relabel")
    ids = [r["file_id"] for r in rows]
    for table in tables:
        frame = spark.table(f"raw.{table}").where(col("_file_id").isin(ids))
        # materialised first: the partitions it reads are the ones overwritten
        frame = frame.withColumn("_loaded_at", lit(now)).localCheckpoint(eager=True)
        frame.select(*spark.table(f"raw.{table}").columns).write.insertInto(
            f"raw.{table}", overwrite=True
        )
    template = spark.table(f"raw.{MANIFEST}")
    spark.createDataFrame(
        [{**r, "node": moved[r["path"]], "loaded_at": now} for r in rows], template.schema
    ).select(*template.columns).write.insertInto(f"raw.{MANIFEST}", overwrite=True)
    return results


HAS_ROWS = ("loaded", "partial")


def _newest(rows: list[dict]) -> dict | None:
    """The newest version with rows of a path (of its newest generation), or None."""
    with_rows = [r for r in rows if r["status"] in HAS_ROWS]
    return max(with_rows, key=lambda r: (r["generation"], r["loaded_at"]), default=None)


def _unchanged_on_disk(rows: list[dict], path: Path) -> bool:
    """A version with rows of the same size, mtime and ctime: no need to read the file."""
    try:
        stat = path.stat()
    except OSError:
        return False  # the loader says why it cannot be read
    now = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
    return any(
        r["status"] in HAS_ROWS and [r["size_bytes"], r["file_mtime_ns"], r["file_ctime_ns"]] == now
        for r in rows
    )


def _skip(rows: list[dict], node: str, key: str) -> SparkFileResult:
    """An unchanged file is skipped; asked for under another node (given, or its folder's:
    ingest.loader.files.node_of), it is relabelled."""
    loaded_as = _newest(rows)["node"]
    if node == loaded_as:
        return SparkFileResult(key, "skipped", message="already loaded")
    return SparkFileResult(
        key, "relabelled",
        message=f"already loaded; moved from node {loaded_as or '(none)'!r} to {node!r}",
        node=node,
    )  # fmt: skip


@dataclass
class _Plan:
    """What writing one new version of a path does (ingest.loader.file_load's rules)."""

    version: dict  # its manifest row, generation and note set
    superseded: list[int]  # file ids whose manifest rows, rows and issues go
    removed: list[dict] = field(default_factory=list)  # rows logged as replaced (their versions')


def _plan(version: dict, rows: list[dict], path: Path, replace: bool, unit: str) -> _Plan:
    """A failed version goes beside the loaded one (its rows stay); a version that only
    grew the loaded one (its first bytes are the loaded bytes), or any new content with
    `replace`, replaces the newest generation; other new content (a copytruncate rotation,
    a re-export) is the next generation and the rows loaded before stay."""
    loaded = _newest(rows)
    generation = loaded["generation"] if loaded else 1
    if version["status"] not in HAS_ROWS:
        same = [r["file_id"] for r in rows if r["sha256"] == version["sha256"]]
        return _Plan({**version, "generation": generation}, same)
    failed = [r["file_id"] for r in rows if r["status"] not in HAS_ROWS]
    if loaded is None:
        return _Plan({**version, "generation": 1}, failed)
    grew = _prefix_sha256(path, loaded["size_bytes"]) == loaded["sha256"]
    if grew or replace:
        newest = [r for r in rows if r["status"] in HAS_ROWS and r["generation"] >= generation]
        return _Plan(
            {**version, "generation": generation},
            failed + [r["file_id"] for r in newest],
            [] if grew else newest,
        )
    kept = sum(r["rows"] for r in rows if r["status"] in HAS_ROWS and r["generation"] == generation)
    note = (
        f"does not start with the {loaded['size_bytes']:,} bytes loaded from it before"
        f" (now {version['size_bytes']:,} bytes: rotated or rewritten?): the {kept:,}"
        f" {unit} loaded then stay, these load as generation {generation + 1}"
        " (--replace replaces them instead)"
    )
    notes = "; ".join(n for n in (version["note"], note) if n)
    return _Plan({**version, "generation": generation + 1, "note": cap(notes)}, failed)


def _prefix_sha256(path: Path, size: int) -> str | None:
    """The sha256 of a file's first `size` bytes (None when it has fewer, or is gone)."""
    try:
        digest = digest_of(path, size, count_lines=False)
    except OSError:
        return None
    return digest.sha256 if digest.size == size else None


def _without_twins(versions: list[dict], loaded: list[dict]) -> tuple[list, list[dict]]:
    """The new versions to write, and those skipped as copies: a file with the bytes of
    another path of the same kind and node that has rows, loaded before (`loaded`: manifest
    rows) or earlier in this run (as ingest.loader.manifest.twin_of; its own earlier
    version stays)."""
    known = {
        (row["sha256"], row["kind"], row["node"]): row["path"]
        for row in loaded
        if row["status"] in HAS_ROWS
    }
    kept, twins = [], []
    for version in sorted(versions, key=lambda v: v["file_id"]):  # the order files were found
        key = (version["sha256"], version["kind"], version["node"])
        if version["status"] in HAS_ROWS:
            twin = known.get(key)
            if twin is not None and twin != version["path"]:
                twins.append({**version, "twin": twin})
                continue
            known[key] = version["path"]
        kept.append(version)
    return kept, twins


def _log_removals(
    spark, tables: list[str], versions: list[dict], now: datetime, reason: str = "replace"
) -> None:
    """Log in raw.removed_rows the rows of `versions` (manifest rows) about to be removed,
    per table and node, with their earliest timestamp (as ingest.loader.manifest.log_removal
    does): the incremental models rebuild those nodes from that day. Logged before anything
    is removed, so a run killed later still leaves the log (a second entry on the rerun is
    harmless)."""
    if not versions:
        return
    ids = ", ".join(str(row["file_id"]) for row in versions)
    logged = []
    for table in tables:
        first = "min(`timestamp`)" if "timestamp" in spark.table(f"raw.{table}").columns else "null"
        logged.append(
            f"select loaded_file.kind, '{table}', loaded_file.node,"
            f" cast({first} as timestamp), count(*), timestamp '{now.isoformat()}', '{reason}'"
            f" from raw.{table} as raw_row join raw.ingest_files as loaded_file"
            " on raw_row._file_id = loaded_file.file_id"
            f" where loaded_file.file_id in ({ids}) group by loaded_file.kind, loaded_file.node"
        )
    columns = "kind, table_name, node, first_timestamp, rows, removed_at, reason"
    spark.sql(f"insert into raw.removed_rows ({columns}) {' union all '.join(logged)}")


def forget(spark, paths: list[Path]) -> list[tuple[str, int]]:
    """Take files (or every file under a folder) out of Spark's raw tables, the manifest and
    the issues, as `wirehouse forget` does: their rows logged as removed ('forget'), their
    manifest rows dropped (the files disappear), then their partitions; (file, rows removed)
    for each. A run killed in between leaves only partitions the next ingest drops."""
    from ingest.kinds import registry
    from ingest.loader.file_load import manifest_key

    every_table = {name: [t.name for t in k.tables] for name, k in registry().items()}
    rows = [row.asDict() for row in spark.table(f"raw.{MANIFEST}").collect()]
    keys = [manifest_key(path) for path in paths]
    chosen = [
        r
        for r in rows
        if any(r["path"] == k or r["path"].startswith(k.rstrip("/") + "/") for k in keys)
    ]
    now = datetime.now(UTC).replace(tzinfo=None)
    for kind in sorted({r["kind"] for r in chosen}):
        with_rows = [r for r in chosen if r["kind"] == kind and r["status"] in HAS_ROWS]
        _log_removals(spark, every_table[kind], with_rows, now, "forget")
    ids = [r["file_id"] for r in chosen]
    _drop_file_ids(spark, MANIFEST, ids)
    for table in [t for tables in every_table.values() for t in tables] + [ISSUES]:
        _drop_file_ids(spark, table, ids)
    removed: dict[str, int] = {}
    for r in sorted(chosen, key=lambda r: r["path"]):
        removed[r["path"]] = removed.get(r["path"], 0) + (
            r["rows"] if r["status"] in HAS_ROWS else 0
        )
    return list(removed.items())


def _collect_garbage(spark, tables: list[str]) -> None:
    """Drop the partitions of file ids the manifest does not list: what a killed run left
    (data written before its manifest row, or a replaced version not yet dropped)."""
    listed = {row[0] for row in spark.sql("select file_id from raw.ingest_files").collect()}
    for table in [*tables, ISSUES]:
        orphans = sorted(_partition_ids(spark, table) - listed)
        if orphans:
            _drop_file_ids(spark, table, orphans)
