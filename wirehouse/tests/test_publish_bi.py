"""The published copy as BI clients read it (issue 24): SQLAlchemy + duckdb_engine as
Superset uses them, pandas, polars and pyarrow, at the versions uv.lock pins (the README's
BI section names the versions tried and what each did)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy
from sqlalchemy import create_engine, inspect, text

from wirehouse.run import DBT_PROJECT
from wirehouse.serve.contracts import mart_contracts
from wirehouse.serve.publish import publish

pytestmark = pytest.mark.integration

HOURLY = "fct_traffic_estimated_hourly"  # TIMESTAMP columns
DEVICES = "dim_bluetooth_devices"  # TIMESTAMP_NS columns


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding two of the project's marts, as dbt builds them (contract columns,
    descriptions), every other kind never loaded; published."""
    work = tmp_path_factory.mktemp("bi")
    contracts = mart_contracts(DBT_PROJECT)
    with duckdb.connect(str(work / "wh.duckdb")) as con:
        con.execute("create schema marts")
        for name in (HOURLY, DEVICES):
            contract = contracts[name]
            con.execute(contract.create_sql())
            con.execute(f"comment on table marts.{name} is {_quote(contract.description)}")
            for column in contract.columns:
                con.execute(
                    f'comment on column marts.{name}."{column.name}"'
                    f" is {_quote(column.description)}"
                )
        con.execute(
            f"insert into marts.{HOURLY} by name select 'alpha' as node_id,"
            " timestamp '2025-01-22 10:00:00' as hour_at, 'in' as flow, 'inv' as msg_type,"
            " 3 as msgs"
        )
        con.execute(
            f"insert into marts.{DEVICES} by name select 'ble' as technology,"
            " 'aa:bb' as device_id,"
            " timestamp_ns '2025-01-22 10:00:00.123456789' as first_seen_at"
        )
    return publish(work / "wh.duckdb", work / "published").directory


def _engine(published: Path) -> sqlalchemy.Engine:
    # Superset's URI: duckdb:////abs/path/published.duckdb with read-only access
    return create_engine(
        f"duckdb:///{published / 'published.duckdb'}", connect_args={"read_only": True}
    )


def test_every_mart_is_published_empty_where_its_kind_was_never_loaded(published: Path) -> None:
    contracts = mart_contracts(DBT_PROJECT)
    with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
        tables = dict(
            con.execute(
                "select table_name, estimated_size from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        )
        assert set(tables) == set(contracts)
        assert con.execute("select count(*) from marts.fct_kafka_requests").fetchall() == [(0,)]
        columns = con.execute(
            "select column_name, comment from duckdb_columns()"
            " where schema_name = 'marts' and table_name = 'fct_kafka_requests'"
            " order by column_index"
        ).fetchall()
        kafka = contracts["fct_kafka_requests"]
        assert columns == [(c.name, c.description or None) for c in kafka.columns]
        assert con.execute(
            "select comment from duckdb_tables() where table_name = 'fct_kafka_requests'"
        ).fetchall() == [(kafka.description,)]
        assert con.execute("select tables from publish_info").fetchall() == [(len(contracts),)]
    empty = published / "parquet" / "latest" / "marts" / "fct_kafka_requests.parquet"
    assert pq.read_table(empty).num_rows == 0
    with _views(published) as con:
        assert con.execute("select count(*) from fct_kafka_requests").fetchall() == [(0,)]


def test_sqlalchemy_reflects_the_marts_with_their_descriptions(published: Path) -> None:
    engine = _engine(published)
    try:
        inspector = inspect(engine)
        columns = inspector.get_columns(HOURLY, schema="marts")
        assert [c["name"] for c in columns][:2] == ["node_id", "hour_at"]
        assert columns[0]["comment"].startswith("Node (")
        assert inspector.get_pk_constraint(HOURLY, schema="marts")["constrained_columns"] == []
        assert inspector.get_table_comment(HOURLY, schema="marts")["text"].startswith(
            "One row per node, UTC hour"
        )
        # the bare names, in the schema a client lands on (duckdb_engine 0.17 without a
        # schema lists the columns of every schema's relation of that name)
        assert HOURLY in inspector.get_view_names(schema="main")
        assert [c["name"] for c in inspector.get_columns(HOURLY, schema="main")][:2] == [
            "node_id",
            "hour_at",
        ]
        table = sqlalchemy.Table(HOURLY, sqlalchemy.MetaData(), schema="main", autoload_with=engine)
        assert len(table.columns) == len(mart_contracts(DBT_PROJECT)[HOURLY].columns)
    finally:
        engine.dispose()


def test_pandas_and_polars_read_marts_by_their_bare_names(published: Path) -> None:
    engine = _engine(published)
    try:
        with engine.connect() as con:
            frame = pd.read_sql_query(text(f"select * from {HOURLY}"), con)
            assert frame["msgs"].tolist() == [3]
            assert pd.read_sql_table(HOURLY, con, schema="marts")["msgs"].tolist() == [3]
            assert pd.read_sql_table(HOURLY, con, schema="main")["msgs"].tolist() == [3]
            assert pl.read_database(f"select msgs from {HOURLY}", con)["msgs"].to_list() == [3]
    finally:
        engine.dispose()
    with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
        assert pl.read_database(f"select msgs from {HOURLY}", con)["msgs"].to_list() == [3]


def test_parquet_carries_descriptions_and_utc_timestamps(published: Path) -> None:
    contracts = mart_contracts(DBT_PROJECT)
    latest = published / "parquet" / "latest" / "marts"
    hourly = pq.read_table(latest / f"{HOURLY}.parquet")
    assert hourly.schema.field("hour_at").type == pa.timestamp("us", tz="UTC")
    assert hourly.column("hour_at").to_pylist()[0].isoformat() == "2025-01-22T10:00:00+00:00"
    described = {c.name: c.description for c in contracts[HOURLY].columns}
    for field in hourly.schema:
        assert field.metadata[b"description"].decode() == described[field.name]
    metadata = hourly.schema.metadata
    assert metadata[b"description"].decode() == contracts[HOURLY].description
    assert json.loads(metadata[b"column_descriptions"]) == described
    devices = pq.read_table(latest / f"{DEVICES}.parquet")
    assert devices.schema.field("first_seen_at").type == pa.timestamp("ns", tz="UTC")
    assert devices.column("first_seen_at").cast(pa.int64()).to_pylist() == [1737540000123456789]
    frame = pl.read_parquet(latest / f"{DEVICES}.parquet")
    assert frame.schema["first_seen_at"] == pl.Datetime("ns", "UTC")
    assert (
        json.loads(pl.read_parquet_metadata(latest / f"{HOURLY}.parquet")["column_descriptions"])
        == described
    )
    # DuckDB's own views give the copy's types back, nanoseconds kept
    with _views(published) as con:
        assert con.execute(
            f"select typeof(first_seen_at), epoch_ns(first_seen_at) from {DEVICES}"
        ).fetchall() == [("TIMESTAMP_NS", 1737540000123456789)]
        assert con.execute(
            f"select typeof(hour_at), hour_at::varchar from marts.{HOURLY}"
        ).fetchall() == [("TIMESTAMP", "2025-01-22 10:00:00")]


def test_parquet_views_work_in_a_moved_folder(published: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(published, moved, symlinks=True)
    shutil.rmtree(published / "versions")  # nothing left at the old place
    try:
        with _views(moved) as con:
            assert con.execute(f"select msgs from {HOURLY}").fetchall() == [(3,)]
        # a reader running in the folder needs no setting
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb; print(duckdb.connect('parquet_views.duckdb', read_only=True)"
                f".execute('select msgs from marts.{HOURLY}').fetchall())",
            ],
            cwd=moved,
            capture_output=True,
            text=True,
        )
        assert out.stdout.strip() == "[(3,)]", out.stderr
    finally:
        shutil.rmtree(published)
        shutil.copytree(moved, published, symlinks=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _views(directory: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(directory / "parquet_views.duckdb"), read_only=True)
    con.execute(f"set file_search_path = '{directory}'")
    return con
