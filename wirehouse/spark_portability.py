"""The same dbt project on Apache Spark (issue 22): load a DuckDB warehouse's raw tables
into a local Spark session, and compare the marts both engines built row for row.

    python -m wirehouse.spark_portability load-raw WAREHOUSE.duckdb
    python -m wirehouse.spark_portability compare WAREHOUSE.duckdb marts.fct_a marts.fct_b

Needs the `spark` dependency group (`uv sync --group spark`). The Spark session is configured
as profiles.yml's `spark` target configures dbt-spark's (same env vars, same warehouse and
Derby metastore under target/spark), so the tables registered here are the ones dbt reads.
Only one Spark JVM may hold the Derby metastore at a time: run these and dbt one after another.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

# Parquet types DuckDB writes that Spark cannot read, cast in the export SELECT.
# TIMESTAMP_NS: microseconds (the raw tables keep the nanoseconds as BIGINT ts_ns columns).
_CASTS = {
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "decimal(20, 0)",
    "HUGEINT": "decimal(38, 0)",
    "UHUGEINT": "decimal(38, 0)",
    "UUID": "varchar",
    "USMALLINT[]": "integer[]",
}


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
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parser.escapedStringLiterals": "true",
        "spark.sql.shuffle.partitions": "4",
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
    spark.sql("create database if not exists raw")
    for table in tables:
        spark.sql(f"drop table if exists raw.{table}")
        spark.sql(f"create table raw.{table} using parquet location '{parquet / table}'")
        print(f"raw.{table}: {spark.table(f'raw.{table}').count()} rows")
    spark.stop()


def _value(value):
    """One cell, engine types normalised: nulls (None, NaN, NaT) alike, a whole float as an
    int (DuckDB sums BIGINT to HUGEINT, which pandas reads as float), times as µs naive."""
    import pandas as pd

    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
        return None
    if hasattr(value, "isoformat"):
        return pd.Timestamp(value).tz_localize(None).as_unit("us").isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "item"):  # numpy scalar
        return _value(value.item())
    return value


def _rows(frame, columns):
    rows = [tuple(_value(v) for v in row) for row in frame[columns].itertuples(index=False)]
    return sorted(rows, key=lambda row: tuple((v is None, str(v)) for v in row))


def compare(db: Path, relations: list[str]) -> int:
    """Row-for-row comparison of marts built by both engines; returns how many differ."""
    con = duckdb.connect(str(db), read_only=True)
    spark = spark_session()
    differing = 0
    for relation in relations:
        ours = con.sql(f"select * from {relation}").df()
        theirs = spark.table(relation).toPandas()
        columns = list(ours.columns)
        problems = []
        if sorted(columns) != sorted(theirs.columns):
            problems.append(f"columns: duckdb {columns}, spark {list(theirs.columns)}")
        else:
            a, b = _rows(ours, columns), _rows(theirs, columns)
            if len(a) != len(b):
                problems.append(f"rows: duckdb {len(a)}, spark {len(b)}")
            for index, column in enumerate(columns):
                differ = sum(x[index] != y[index] for x, y in zip(a, b, strict=False))
                if differ:
                    first = next((x, y) for x, y in zip(a, b, strict=False) if x != y)
                    problems.append(
                        f"{column}: {differ} rows differ, first duckdb={first[0]!r}"
                        f" spark={first[1]!r}"
                    )
        status = "EQUAL" if not problems else "DIFFER"
        differing += bool(problems)
        print(f"{relation}: {status} ({len(ours)} rows duckdb, {len(theirs)} rows spark)")
        for problem in problems:
            print(f"  {problem}")
    spark.stop()
    return differing


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "load-raw":
        load_raw(Path(argv[1]))
        return 0
    if len(argv) >= 3 and argv[0] == "compare":
        return 1 if compare(Path(argv[1]), argv[2:]) else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
