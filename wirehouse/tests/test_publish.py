"""`wirehouse publish`: what the copy holds, Parquet any engine reads, waiting for writers
(test_publish_atomic.py: versions, the one swap, kills; test_publish_stale.py: the note)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from ingest.loader.warehouse import WarehouseBusy
from ingest.tests.helpers import REPO
from wirehouse.cli import main
from wirehouse.serve.publish import PublishError, publish


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Marts as dbt leaves them (with persisted descriptions), plus layers not published."""
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        for schema in ("raw", "intermediate", "marts", "reference"):
            con.execute(f"create schema {schema}")
        con.execute("create table raw.packets as select 1 as x")
        con.execute("create table intermediate.int_x as select 1 as x")
        con.execute(
            "create table marts.fct_hourly as select"
            " timestamp '2025-01-22 00:00:00' + to_hours(i) as hour_at, i::bigint as msgs"
            " from range(48) t(i)"
        )
        con.execute("comment on table marts.fct_hourly is 'One row per hour (hour_at): test.'")
        con.execute("comment on column marts.fct_hourly.msgs is 'Messages in the hour.'")
        con.execute("create table marts.dim_things as select 'a' as thing_id")
        con.execute("create table reference.kinds as select 1 as kind_id")
    return db


@pytest.mark.integration
def test_copy_holds_marts_and_lookups_with_their_docs(warehouse: Path, tmp_path: Path) -> None:
    result = publish(warehouse, tmp_path / "pub")
    assert [t.name for t in result.tables] == [
        "marts.dim_things",
        "marts.fct_hourly",
        "reference.kinds",
    ]
    with duckdb.connect(str(result.duckdb_path), read_only=True) as con:
        tables = con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables() order by 1"
        ).fetchall()
        assert tables == [
            ("main.publish_info", None),
            ("marts.dim_things", None),
            ("marts.fct_hourly", "One row per hour (hour_at): test."),
            ("reference.kinds", None),
        ]
        assert con.execute(
            "select comment from duckdb_columns()"
            " where column_name = 'msgs' and schema_name = 'marts'"
        ).fetchall() == [("Messages in the hour.",)]
        assert con.execute("select sum(msgs) from marts.fct_hourly").fetchall() == [(1128,)]
        assert con.execute("select tables from publish_info").fetchall() == [(3,)]


@pytest.mark.integration
def test_parquet_is_read_by_plain_duckdb_and_large_facts_split_by_day(
    warehouse: Path, tmp_path: Path
) -> None:
    result = publish(warehouse, tmp_path / "pub", partition_rows=10)
    hourly = next(t for t in result.tables if t.name == "marts.fct_hourly")
    assert hourly.partitioned_by == "hour_at" and hourly.parquet.is_dir()
    days = sorted(p.name for p in hourly.parquet.iterdir())
    assert days == ["partition_date=2025-01-22", "partition_date=2025-01-23"]
    small = next(t for t in result.tables if t.name == "marts.dim_things")
    assert small.partitioned_by is None and small.parquet.suffix == ".parquet"
    latest = result.directory / "parquet" / "latest"
    with duckdb.connect() as con:  # any engine: a plain in-memory DuckDB reading the files
        rows = con.execute(
            f"select partition_date, count(*), sum(msgs) from read_parquet("
            f"'{latest}/marts/fct_hourly/*/*.parquet', hive_partitioning = true)"
            " group by all order by 1"
        ).fetchall()
        assert [(str(d), n, s) for d, n, s in rows] == [
            ("2025-01-22", 24, 276),
            ("2025-01-23", 24, 852),
        ]
    with duckdb.connect(str(result.views_path), read_only=True) as con:
        con.execute(f"set file_search_path = '{result.directory}'")  # its paths are relative
        assert con.execute("describe marts.fct_hourly").fetchall()[0][:2] == (
            "hour_at",
            "TIMESTAMP",
        )
        assert [c[0] for c in con.execute("describe marts.fct_hourly").fetchall()] == [
            "hour_at",
            "msgs",
        ]
        assert con.execute("select count(*) from marts.fct_hourly").fetchall() == [(48,)]
        assert con.execute("select * from reference.kinds").fetchall() == [(1,)]


@pytest.mark.integration
def test_reader_keeps_its_snapshot_across_a_publish(warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "pub"
    first = publish(warehouse, target)
    held = duckdb.connect(str(first.duckdb_path), read_only=True)
    try:
        with duckdb.connect(str(warehouse)) as con:
            con.execute("delete from marts.fct_hourly where msgs >= 10")
        publish(warehouse, target)
        # the open connection still reads the file it opened (the old inode), whole
        assert held.execute("select count(*) from marts.fct_hourly").fetchall() == [(48,)]
        fresh = subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb,sys; print(duckdb.connect(sys.argv[1],"
                " read_only=True).execute('select count(*) from marts.fct_hourly').fetchall())",
                str(first.duckdb_path),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert fresh.stdout.strip() == "[(10,)]"
    finally:
        held.close()


@pytest.mark.integration
def test_nothing_to_publish_is_a_usage_error(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["publish", "--db", str(tmp_path / "none.duckdb")])
    assert out.exit_code == 2 and "no warehouse at" in out.stderr
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(PublishError, match="no marts yet; run `dbt build` first"):
        publish(empty)
    assert not (tmp_path / "published" / "published.duckdb").exists()


def _hold_write_lock(db: Path, seconds: float | None = None) -> subprocess.Popen:
    """Another process writing the warehouse, as ingest or dbt build would."""
    wait = f"time.sleep({seconds})" if seconds else "sys.stdin.read()"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys,time; c=duckdb.connect({str(db)!r});"
            f" print('ready', flush=True); {wait}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "ready"
    return holder


@pytest.mark.integration
def test_publish_waits_for_a_writer_then_gives_up_naming_it(
    warehouse: Path, tmp_path: Path
) -> None:
    holder = _hold_write_lock(warehouse)
    try:
        with pytest.raises(WarehouseBusy, match=f"in use by process {holder.pid}"):
            publish(warehouse, tmp_path / "pub", wait_seconds=0.5)
        out = CliRunner().invoke(
            main, ["publish", "--db", str(warehouse), "--to", str(tmp_path / "p"), "--wait", "0"]
        )
        assert out.exit_code == 3 and out.stderr.startswith("wirehouse: busy: ")
        assert f"in use by process {holder.pid}" in out.stderr
    finally:
        holder.communicate("")
    holder = _hold_write_lock(warehouse, seconds=1.0)
    result = publish(warehouse, tmp_path / "pub", wait_seconds=30)  # waits, then copies
    holder.wait()
    assert len(result.tables) == 3


@pytest.mark.integration
def test_cli_publish_prints_where_and_how_big(warehouse: Path, tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["publish", "--db", str(warehouse), "--to", str(tmp_path / "p")])
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("published 3 tables (50 rows) in ")
    assert f"DuckDB copy:    {tmp_path / 'p' / 'published.duckdb'}" in out.stdout


def test_published_copy_exposure_lists_every_mart_and_seed() -> None:
    """models/exposures.yml names everything publish copies (the lineage graph's last node):
    a new mart or seed needs a line there."""
    published = {p.stem for p in (REPO / "models" / "marts").rglob("*.sql")}
    published |= {p.stem for p in (REPO / "seeds").glob("*.csv")}
    exposures = yaml.safe_load((REPO / "models" / "exposures.yml").read_text())["exposures"]
    copy = next(e for e in exposures if e["name"] == "published_copy")
    listed = {re.fullmatch(r"ref\('(\w+)'\)", d).group(1) for d in copy["depends_on"]}
    assert listed == published, (
        f"add {sorted(published - listed)}, drop {sorted(listed - published)}"
    )
