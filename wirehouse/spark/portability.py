"""The same dbt project on Apache Spark (issue 22): load a DuckDB warehouse's raw tables
into a local Spark session, and compare the marts both engines built row for row.

    python -m wirehouse.spark.portability load-raw WAREHOUSE.duckdb
    python -m wirehouse.spark.portability compare WAREHOUSE.duckdb marts.fct_a reference \
        --exclude=marts.fct_b --ignore-column=loaded_at

compare takes relations (schema.table) and schemas (every table of the schema in the DuckDB
warehouse, --exclude=schema.table left out) and prints a table of rows compared and rows
that differ; it exits 1 when any relation differs.

    python -m wirehouse.spark.portability dbt build --target spark ...

runs dbt in-process on a Spark session with wirehouse's SQL functions registered
(wirehouse_pseudonym: the anonymised marts need it).

    python -m wirehouse.spark.portability plans TARGET/manifest.json

reads Spark's physical plan (EXPLAIN) of every mart dbt built on Spark (their compiled SQL in
dbt's manifest) and prints, per mart, the keys its shuffles partition by and any step that
funnels every row through one task; it exits 1 when a mart has such a step.

    python -m wirehouse.spark.portability measure COMMAND ...

runs a command and prints its wall time and the peak memory of its process tree.

Needs the `spark` dependency group (`uv sync --group spark`). The Spark session is configured
as profiles.yml's `spark` target configures dbt-spark's (same env vars, same warehouse and
Derby metastore under target/spark), so the tables registered here are the ones dbt reads.
Only one Spark JVM may hold the Derby metastore at a time: run these and dbt one after another.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date as date_type
from decimal import Decimal
from pathlib import Path

import duckdb

from wirehouse.spark.ingest import SIGNED_CASTS

# Parquet types DuckDB writes that Spark cannot read, cast in the export SELECT.
# TIMESTAMP_NS: microseconds (the raw tables keep the nanoseconds as BIGINT ts_ns columns).
_CASTS = {"TIMESTAMP_NS": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamp", **SIGNED_CASTS}


def spark_dir() -> Path:
    return Path(os.environ.get("WIREHOUSE_SPARK_DIR", "target/spark")).resolve()


def spark_session():
    """A local Spark session configured like profiles.yml's `spark` target."""
    from pyspark.sql import SparkSession

    home = spark_dir()
    home.mkdir(parents=True, exist_ok=True)
    conf = {
        "spark.master": os.environ.get("WIREHOUSE_SPARK_MASTER", "local[2]"),
        "spark.driver.memory": os.environ.get("WIREHOUSE_SPARK_DRIVER_MEMORY", "1g"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parser.escapedStringLiterals": "true",
        "spark.sql.shuffle.partitions": "4",
        # Derby's metastore cannot filter partitions by a bigint (the file id): Spark lists
        # them all instead (one per file)
        "spark.sql.hive.metastorePartitionPruningFallbackOnException": "true",
        # a description over 256 characters fails Hive's create, once (see profiles.yml)
        "spark.hadoop.hive.hmshandler.retry.attempts": "1",
        "spark.hadoop.hive.hmshandler.retry.interval": "0",
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home}",
    }
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def register_functions(spark) -> None:
    """Our SQL functions on a Spark session: ``wirehouse_pseudonym``, the same function the
    dbt-duckdb plugin registers on DuckDB (wirehouse/dbt_runtime/plugin.py), with the same
    key ($WIREHOUSE_ANON_KEY, read in Python, never in SQL), so one key gives the same
    pseudonyms on both engines. A vectorised (Arrow) UDF: each batch goes to a Python worker
    once, each distinct address is computed once per worker (anon's cache)."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import StringType

    def pseudonyms(addrs, modes, keep_ports, keys):
        from wirehouse.dbt_runtime import anon

        return pd.Series(
            [
                anon.for_key(key).pseudonym(None if pd.isna(addr) else addr, mode, bool(keep))
                for addr, mode, keep, key in zip(addrs, modes, keep_ports, keys, strict=True)
            ],
            dtype=object,
        )

    # pyspark reads the kind of UDF from the type hints, as classes (this module's
    # annotations are strings: `from __future__ import annotations`)
    pseudonyms.__annotations__ = dict.fromkeys(
        ["addrs", "modes", "keep_ports", "keys", "return"], pd.Series
    )
    wirehouse_pseudonym = pandas_udf(pseudonyms, StringType())
    spark.udf.register("wirehouse_pseudonym", wirehouse_pseudonym)


def run_dbt(arguments: list[str]) -> int:
    """dbt in this process on a Spark session we started, with our functions registered:
    dbt-spark's session method calls SparkSession.builder.getOrCreate(), which returns this
    session. Spark's Python workers run this interpreter (the project's environment)."""
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = spark_session()
    # dbt-spark asks the builder for its session before every statement: Spark warns each
    # time that the session exists (and that escapedStringLiterals is deprecated)
    spark.sparkContext.setLogLevel("ERROR")
    register_functions(spark)
    try:
        result = dbtRunner().invoke(arguments)
    finally:
        spark.stop()
    return 0 if result.success else 1


def export_raw(db: Path, out: Path) -> list[str]:
    """Every raw table of a DuckDB warehouse as out/<table>/, Parquet in types Spark reads."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db), read_only=True)
    tables = [
        name
        for (name,) in con.sql(
            "select table_name from information_schema.tables"
            " where table_schema = 'raw' and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    ]
    for table in tables:
        columns = con.sql(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'raw' and table_name = ? order by ordinal_position",
            params=[table],
        ).fetchall()
        items = []
        for name, data_type in columns:
            quoted = '"' + name.replace('"', '""') + '"'
            cast = _CASTS.get(data_type)
            items.append(f"{quoted}::{cast} as {quoted}" if cast else quoted)
        # a folder per table: the Hive metastore wants a table's location to be a directory
        (out / table).mkdir(exist_ok=True)
        target = out / table / "part-0.parquet"
        con.sql(f"copy (select {', '.join(items)} from raw.{table}) to '{target}' (format parquet)")
    con.close()
    return tables


def load_raw(db: Path) -> None:
    """Export the raw tables to Parquet and register them as Spark's raw.<table>."""
    parquet = spark_dir() / "raw"
    tables = export_raw(db, parquet)
    spark = spark_session()
    # DuckDB writes TIMESTAMP as Parquet timestamps not adjusted to UTC, which Spark reads
    # as timestamp_ntz; the models' times are Spark's `timestamp` (UTC session), so the
    # raw tables are registered with that type and no expression mixes the two
    spark.conf.set("spark.sql.parquet.inferTimestampNTZ.enabled", "false")
    spark.sql("create database if not exists raw")
    for table in tables:
        spark.sql(f"drop table if exists raw.{table}")
        spark.sql(f"create table raw.{table} using parquet location '{parquet / table}'")
        print(f"raw.{table}: {spark.table(f'raw.{table}').count()} rows")
    spark.stop()


def _micros(value) -> int:
    """Microseconds since 1970 of a timestamp; nanoseconds rounded half away from zero, as
    DuckDB rounds TIMESTAMP_NS to TIMESTAMP (and so the Spark side's raw times)."""
    import pandas as pd

    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    nanos = stamp.as_unit("ns").value
    return (abs(nanos) + 500) // 1000 * (1 if nanos >= 0 else -1)


def _value(value):
    """One cell, engine types normalised: nulls (None, NaN, NaT) alike, a whole float as an
    int (DuckDB sums BIGINT to HUGEINT, which pandas reads as float), times as UTC
    microseconds, lists as tuples."""
    import numpy as np
    import pandas as pd

    if isinstance(value, list | tuple | np.ndarray):
        return tuple(_value(item) for item in value)
    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
        return None
    if isinstance(value, date_type):  # a date (pandas reads DuckDB's as a midnight) or time
        return ("time", _micros(value))
    if isinstance(value, Decimal):  # as DuckDB's pandas conversion gives a DECIMAL
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "item"):  # numpy scalar
        return _value(value.item())
    return value


def _rows(frame, columns) -> list[tuple]:
    return [tuple(_value(v) for v in row) for row in frame[columns].itertuples(index=False)]


@dataclass
class Comparison:
    relation: str
    duckdb_rows: int
    spark_rows: int
    differing_rows: int  # rows of either side without an equal row on the other
    problems: list[str]
    ulp_rows: int = 0  # row pairs equal but for doubles 1 ulp apart (named in problems)


def _ulp_apart(x: tuple, y: tuple) -> list[int]:
    """Indexes of the doubles in which two rows differ, when they differ in nothing else and
    by at most one unit in the last place; [] otherwise."""
    import math

    apart = []
    for index, (a, b) in enumerate(zip(x, y, strict=True)):
        if a == b:
            continue
        if not (isinstance(a, float) and isinstance(b, float)):
            return []
        if abs(a - b) > math.ulp(max(abs(a), abs(b))):
            return []
        apart.append(index)
    return apart


def _compare_frames(relation: str, ours, theirs) -> Comparison:
    columns = list(ours.columns)
    if sorted(columns) != sorted(theirs.columns):
        return Comparison(
            relation, len(ours), len(theirs), max(len(ours), len(theirs)),
            [f"columns: duckdb {columns}, spark {list(theirs.columns)}"],
        )  # fmt: skip
    a, b = Counter(_rows(ours, columns)), Counter(_rows(theirs, columns))
    only_a, only_b = a - b, b - a
    problems = []
    ulp_rows = 0
    if only_a or only_b:
        # pair the leftovers in sorted order to name the columns that differ; a pair whose
        # only difference is doubles 1 ulp apart is counted apart (an engine's rounding)
        key = lambda row: tuple((v is None, str(v)) for v in row)  # noqa: E731
        left, right = sorted(only_a.elements(), key=key), sorted(only_b.elements(), key=key)
        ulp_columns: Counter = Counter()
        kept = []
        for x, y in zip(left, right, strict=False):
            apart = _ulp_apart(x, y)
            ulp_columns.update(columns[index] for index in apart)
            if not apart:
                kept.append((x, y))
        ulp_rows = len(left) - len(kept) if len(left) == len(right) else 0
        if ulp_rows:
            left, right = [x for x, _ in kept], [y for _, y in kept]
            named = ", ".join(f"{column} ({count})" for column, count in ulp_columns.items())
            problems.append(f"{ulp_rows} rows equal but for doubles 1 ulp apart: {named}")
        for index, column in enumerate(columns):
            pairs = [(x, y) for x, y in zip(left, right, strict=False) if x[index] != y[index]]
            if pairs:
                problems.append(
                    f"{column}: {len(pairs)} rows differ, first duckdb={pairs[0][0][index]!r}"
                    f" spark={pairs[0][1][index]!r}"
                )
        if len(left) != len(right):
            problems.append(f"{len(left)} rows only in duckdb, {len(right)} only in spark")
    differing = sum(only_a.values()) + sum(only_b.values()) - 2 * ulp_rows
    return Comparison(relation, len(ours), len(theirs), differing, problems, ulp_rows)


def relations_to_compare(db: Path, schemas: list[str], exclude: list[str]) -> list[str]:
    """Every table of the given schemas in the DuckDB warehouse, but the excluded ones."""
    con = duckdb.connect(str(db), read_only=True)
    names = [
        f"{schema}.{table}"
        for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' and table_schema in"
            f" ({', '.join('?' for _ in schemas)}) order by 1, 2",
            schemas,
        ).fetchall()
    ]
    con.close()
    return [name for name in names if name not in exclude]


def compare(db: Path, relations: list[str], ignored: list[str] = ()) -> list[Comparison]:
    """Row-for-row comparison of the relations both engines built (as multisets), but for
    the ignored columns (such as loaded_at, when each engine loaded the files itself)."""
    con = duckdb.connect(str(db), read_only=True)
    spark = spark_session()
    results = []
    for relation in relations:
        ours = con.sql(f"select * from {relation}").df()
        # through Arrow: nullable bigints stay exact (pandas would make them floats)
        theirs = spark.table(relation).toArrow().to_pandas(integer_object_nulls=True)
        kept = [column for column in ours.columns if column not in ignored]
        results.append(
            _compare_frames(relation, ours[kept], theirs.drop(columns=ignored, errors="ignore"))
        )
    spark.stop()
    con.close()
    return results


def report(results: list[Comparison]) -> str:
    """The equality lane's table (Markdown) and the differences found."""
    lines = [
        "| relation | rows DuckDB | rows Spark | differing rows | 1-ulp rows | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for result in results:
        status = "equal" if not result.differing_rows else "DIFFER"
        lines.append(
            f"| {result.relation} | {result.duckdb_rows} | {result.spark_rows}"
            f" | {result.differing_rows} | {result.ulp_rows} | {status} |"
        )
    for result in results:
        lines += [f"{result.relation}: {problem}" for problem in result.problems]
    equal = sum(not result.differing_rows for result in results)
    rows = sum(result.duckdb_rows for result in results)
    ulps = sum(result.ulp_rows for result in results)
    lines.append(
        f"{equal} of {len(results)} relations equal, {rows} rows compared,"
        f" {ulps} rows with a double 1 ulp apart"
    )
    return "\n".join(lines)


@dataclass
class PlanCheck:
    model: str
    partition_keys: list[str]  # each hash shuffle's keys, as "a, b"
    single_task_steps: list[str]  # steps through which every row goes in one task


# Operators that run in one task over all their input, wherever they appear
_ONE_TASK = ("CollectLimit", "TakeOrderedAndProject", "GlobalLimit")


def _plan_nodes(plan: str) -> list[str]:
    """The physical plan's operators, one per line, tree prefixes ("+- ", ":  ") removed,
    in the order Spark prints them (a node, then its first child on the next line)."""
    physical = plan.split("== Physical Plan ==")[-1]
    return [line.lstrip(" :+-*").strip() for line in physical.splitlines() if line.strip()]


def _strip_ids(text: str) -> str:
    return re.sub(r"#\d+L?", "", text)


def check_plan(model: str, plan: str) -> PlanCheck:
    """The shuffles of one physical plan, and the steps that take every row into one task:
    an `Exchange SinglePartition` (a window without `partition by`, a global sort by one
    task, a join or aggregate over everything), unless what it gathers is one partial result
    per task of a global aggregate (`max(x)` over a table: a row per task), and
    the operators that always run in one task (a limit or an ordered take)."""
    nodes = _plan_nodes(plan)
    keys, single = [], []
    for index, node in enumerate(nodes):
        hashed = re.match(r"Exchange hashpartitioning\((.*), \d+\)", node)
        if hashed:
            keys.append(_strip_ids(hashed.group(1)))
        elif node.startswith("Exchange SinglePartition"):
            child = nodes[index + 1] if index + 1 < len(nodes) else ""
            # an aggregate without keys below leaves one row per task
            if not re.match(r"\w*Aggregate\(keys=\[\],", child):
                single.append(f"{node.split(',')[0]} over {_strip_ids(child)[:120]}")
        elif node.startswith(_ONE_TASK):
            single.append(_strip_ids(node)[:120])
    return PlanCheck(model, sorted(set(keys)), single)


def check_plans(manifest: Path) -> list[PlanCheck]:
    """EXPLAIN of every mart's compiled SQL (as dbt last built it on Spark) on a session
    over the tables that build left (its inputs exist), each plan checked."""
    import json

    nodes = json.loads(manifest.read_text())["nodes"].values()
    marts = sorted(
        (node["name"], node["compiled_code"])
        for node in nodes
        if node["resource_type"] == "model"
        and node["fqn"][1:2] == ["marts"]
        and node.get("compiled_code")
    )
    spark = spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    register_functions(spark)
    checks = [check_plan(name, spark.sql(f"explain {sql}").collect()[0][0]) for name, sql in marts]
    spark.stop()
    return checks


def plans_report(checks: list[PlanCheck]) -> str:
    lines = ["| mart | shuffles partition by | steps in one task |", "|---|---|---|"]
    for check in checks:
        keys = "; ".join(f"({k})" for k in check.partition_keys) or "no shuffle"
        steps = "; ".join(check.single_task_steps) or "none"
        lines.append(f"| {check.model} | {keys} | {steps} |")
    funnels = sum(bool(check.single_task_steps) for check in checks)
    lines.append(f"{len(checks)} marts' plans checked, {funnels} with a step in one task")
    return "\n".join(lines)


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    total = 0
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def measure(command: list[str]) -> int:
    """Run a command; print its wall time and the peak resident memory of it and every
    process it started (the Spark JVM is a child of dbt's Python, not counted by
    `time -v` for dbt), sampled twice a second. Returns the command's exit code."""
    import subprocess
    import time

    started = time.monotonic()
    process = subprocess.Popen(command)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_bytes(process.pid))
        time.sleep(0.5)
    wall = time.monotonic() - started
    print(
        f"measured: {wall:.0f} s wall, peak RSS {peak / 2**20:.0f} MiB"
        f" (process tree), exit {process.returncode}: {' '.join(command[:3])} ...",
        file=sys.stderr,
    )
    return process.returncode


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "load-raw":
        load_raw(Path(argv[1]))
        return 0
    if len(argv) >= 2 and argv[0] == "compare":
        db, rest = Path(argv[1]), argv[2:]
        exclude = [name[len("--exclude=") :] for name in rest if name.startswith("--exclude=")]
        ignored = [n[len("--ignore-column=") :] for n in rest if n.startswith("--ignore-column=")]
        named = [name for name in rest if not name.startswith("--")]
        schemas = [name for name in named if "." not in name]
        relations = [name for name in named if "." in name]
        relations += relations_to_compare(db, schemas, exclude) if schemas else []
        results = compare(db, relations, ignored)
        print(report(results))
        return 1 if any(result.differing_rows for result in results) else 0
    if len(argv) >= 2 and argv[0] == "plans":
        checks = check_plans(Path(argv[1]))
        print(plans_report(checks))
        return 1 if any(check.single_task_steps for check in checks) else 0
    if len(argv) >= 2 and argv[0] == "dbt":
        return run_dbt(argv[1:])
    if len(argv) >= 2 and argv[0] == "measure":
        return measure(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
