"""Files into Spark (issue 23): the same files through `wirehouse ingest` (DuckDB) and through
the Spark data source give the same raw rows, manifest and issues; a bad file beside good
ones; kill -9 during a Spark ingest, then a rerun, equals a clean load. Needs Java 17 and
the `spark` dependency group: `make test-spark` runs this folder (one Spark JVM at a time)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import HEADER, write_csv
from wirehouse import api
from wirehouse.spark import ingest as spark_ingest
from wirehouse.spark.portability import _compare_frames

# the columns that name a load, not its content: the run's time and id, the file's id
RUN_COLUMNS = {"_file_id", "_loaded_at", "file_id", "loaded_at", "ingest_run_id"}
KINDS = {  # kind -> (options, node, the demo data's files of it)
    "tracepoints": ({}, None, ["tracepoints"]),
    "systemd": ({}, None, ["systemd"]),
    "pcap": ({"kafka_ports": [9092]}, "broker", ["captures", "bluetooth"]),
    "tshark": ({}, "broker", ["tshark"]),
}


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    os.environ["WIREHOUSE_SPARK_DIR"] = str(tmp_path_factory.mktemp("spark"))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from wirehouse.spark.portability import spark_session

    session = spark_session()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A day of every kind from the generator, and bad files beside the good ones."""
    folder = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [Path(sys.executable).parent / "wirehouse", "demo-data", str(folder / "data"),
         "--days", "1", "--scale", "0.02", "--peers", "10"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = folder / "data"
    write_csv(  # a bad line among good ones: partial, with its issue
        data / "tracepoints" / "net" / "2025-01-23.csv",
        [HEADER, "2025-01-23 00:00:04,1,inbound,1.2.3.4:8333,in,ping,8",
         "2025-01-23 00:00:09,1,inbound,1.2.3.4:8333,in,ping,eight",
         "2025-01-23 00:00:14,1,inbound,1.2.3.4:8333,out,pong,8"],
    )  # fmt: skip
    (data / "captures" / "not-a-capture.pcap").write_bytes(b"this is no pcap\n" * 4)  # failed
    return data


def _duckdb_tables(db: Path, kind: str) -> dict[str, object]:
    con = duckdb.connect(str(db), read_only=True)
    tables = [t.name for t in api.make_kind(kind).tables] + ["ingest_files", "ingest_issues"]
    frames = {t: con.sql(f"select * from raw.{t}").df() for t in tables}
    con.close()
    return frames


def _spark_tables(spark, kind: str) -> dict[str, object]:
    """The kind's raw tables, and its files' manifest rows and issues (Spark's manifest
    holds every kind loaded so far; each DuckDB warehouse here holds one)."""
    frames = {
        t.name: _exact_frame(spark.table(f"raw.{t.name}")) for t in api.make_kind(kind).tables
    }
    files = f"select file_id from raw.ingest_files where kind = '{kind}'"
    frames["ingest_files"] = _exact_frame(spark.table("raw.ingest_files").where(f"kind = '{kind}'"))
    frames["ingest_issues"] = _exact_frame(
        spark.sql(f"select * from raw.ingest_issues where file_id in ({files})")
    )
    return frames


def _exact_frame(frame):
    """A Spark DataFrame as pandas with nullable bigints kept exact (not as floats)."""
    return frame.toArrow().to_pandas(integer_object_nulls=True)


def _without_run_columns(frame):
    return frame[sorted(c for c in frame.columns if c not in RUN_COLUMNS)]


def _differences(ours: dict, theirs: dict) -> list[str]:
    problems = []
    for table, frame in ours.items():
        result = _compare_frames(
            table, _without_run_columns(frame), _without_run_columns(theirs[table])
        )
        if result.differing_rows:
            problems.append(f"{table}: {result.problems}")
    return problems


def test_every_kind_lands_the_same_rows_as_the_duckdb_path(spark, demo, tmp_path) -> None:
    for kind, (options, node, folders) in KINDS.items():
        paths = [demo / folder for folder in folders]
        db = tmp_path / f"{kind}.duckdb"
        api.ingest(db, api.make_kind(kind, **options), paths, node)
        results = spark_ingest.ingest(
            spark, kind, paths, node, options, work_dir=tmp_path / f"work-{kind}"
        )
        ours, theirs = _duckdb_tables(db, kind), _spark_tables(spark, kind)
        assert _differences(ours, theirs) == [], kind
        assert len(results) == len(ours["ingest_files"]) > 0
        statuses = {Path(r.path).name: r.status for r in results}
        if kind == "tracepoints":
            assert statuses["2025-01-23.csv"] == "partial"
            assert len(theirs["ingest_issues"]) == 1
        if kind == "pcap":
            assert statuses["not-a-capture.pcap"] == "failed"
        # a second run skips every loaded file (a failed one is tried again and fails again,
        # as `wirehouse ingest` does) and changes nothing
        again = spark_ingest.ingest(
            spark, kind, paths, node, options, work_dir=tmp_path / f"work-{kind}-2"
        )
        failed = sorted(r.path for r in results if r.status == "failed")
        assert sorted(r.path for r in again if r.status == "failed") == failed
        assert {r.status for r in again if r.path not in failed} == {"skipped"}
        assert _differences(ours, _spark_tables(spark, kind)) == [], kind


def _tables_under(spark, folder: Path) -> dict[str, object]:
    """Spark's tracepoint rows, manifest rows and issues of the files under `folder`."""
    files = f"select file_id from raw.ingest_files where path like '{folder}/%'"
    frames = {
        "bitcoin_p2p_messages": spark.sql(
            f"select * from raw.bitcoin_p2p_messages where _file_id in ({files})"
        ),
        "ingest_files": spark.sql(f"select * from raw.ingest_files where path like '{folder}/%'"),
        "ingest_issues": spark.sql(f"select * from raw.ingest_issues where file_id in ({files})"),
    }
    return {name: _exact_frame(frame) for name, frame in frames.items()}


def _removals(rows) -> list[tuple]:
    return sorted((r[0], r[1], r[2], str(r[3]), r[4], r[5]) for r in rows)


def test_a_file_that_grows_rotates_is_replaced_fails_and_is_forgotten(spark, tmp_path) -> None:
    """One node's file through both paths, step by step, the raw rows, manifest, issues and
    removal log equal after each: it grows (its rows replaced), is rotated in place (a second
    generation: the earlier rows stay), only touched (skipped), re-exported with --replace
    (the newest generation replaced, logged), a second file fails, then loads, then is moved
    to another node, and the first is forgotten (every generation gone, logged)."""
    folder = (tmp_path / "node-g").resolve()
    day = folder / "tracepoints" / "net" / "2025-01-22.csv"
    other = folder / "tracepoints" / "net" / "2025-01-23.csv"
    db = tmp_path / "duckdb.duckdb"
    line = "2025-01-22 00:00:{:02d},1,inbound,1.2.3.4:8333,in,{},{}"
    pings = [line.format(i, "ping", i) for i in range(6)]
    pongs = [line.format(i, "pong", i) for i in range(30, 33)]

    def both(step: str, replace: bool = False, paths=(folder,), node=None) -> list[str]:
        api.ingest(db, api.make_kind("tracepoints"), list(paths), node, replace=replace)
        results = spark_ingest.ingest(
            spark, "tracepoints", list(paths), node, work_dir=tmp_path / f"w-{step}",
            replace=replace,
        )  # fmt: skip
        ours, theirs = _duckdb_tables(db, "tracepoints"), _tables_under(spark, folder)
        assert _differences(ours, theirs) == [], step
        with duckdb.connect(str(db), read_only=True) as con:
            logged = con.execute(
                "select kind, table_name, node, first_timestamp, rows, reason from raw.removed_rows"
            ).fetchall()
        spark_logged = spark.sql(
            "select kind, table_name, node, first_timestamp, rows, reason from raw.removed_rows"
            " where node in ('node-g', 'node-h')"
        ).collect()
        assert _removals(logged) == _removals(spark_logged), step
        return sorted(f"{Path(r.path).name} {r.status}" for r in results)

    write_csv(day, [HEADER, *pings[:3]])
    assert both("first") == ["2025-01-22.csv loaded"]
    write_csv(day, [HEADER, *pings])  # grew: its rows replaced, nothing logged
    assert both("grew") == ["2025-01-22.csv loaded"]
    write_csv(day, [HEADER, *pongs])  # copytruncate: generation 2, the pings stay
    assert both("rotated") == ["2025-01-22.csv loaded"]
    os.utime(day, ns=(day.stat().st_atime_ns, day.stat().st_mtime_ns + 10**9))  # touched only
    assert both("touched") == ["2025-01-22.csv skipped"]
    write_csv(other, ["not,a,tracepoint,header", "1,2,3,4"])  # failed
    assert both("failed") == ["2025-01-22.csv skipped", "2025-01-23.csv failed"]
    write_csv(other, [HEADER, *pings[:2]])  # fixed: loads, the failed row goes
    assert both("fixed") == ["2025-01-22.csv skipped", "2025-01-23.csv loaded"]
    write_csv(day, [HEADER, pongs[0]])  # re-exported and replaced: generation 2 replaced
    assert both("replaced", replace=True) == ["2025-01-22.csv loaded", "2025-01-23.csv skipped"]
    # the second file, unchanged, asked for under another node: moved there, logged
    assert both("relabelled", paths=(other,), node="node-h") == ["2025-01-23.csv relabelled"]
    removed = spark_ingest.forget(spark, [day])
    assert removed == [(str(day), 7)]  # generation 1's six pings and generation 2's pong
    assert api.forget(db, [day]) == removed
    day.unlink()
    # the folder again, its node named by the folder: the second file moves back to node-g
    assert both("forgotten") == ["2025-01-23.csv relabelled"]


PEER = "1.2.3.4:8333"
KILLED_LOAD = """
import sys
from pathlib import Path
from wirehouse.spark.portability import spark_session
from wirehouse.spark import ingest
spark = spark_session()
ingest.ingest(spark, "tracepoints", [Path(sys.argv[1])], work_dir=Path(sys.argv[2]))
"""


def test_a_killed_spark_ingest_converges_on_the_rerun(tmp_path) -> None:
    """kill -9 at several points of a Spark ingest of many files (its own JVM: the module's
    session is not running then), then the rerun: equal to a clean DuckDB load."""
    files = tmp_path / "node-k"
    for day in range(20):
        write_csv(
            files / "tracepoints" / "net" / f"2025-02-{day + 1:02d}.csv",
            [HEADER]
            + [f"2025-02-{day + 1:02d} 00:{i // 60:02d}:{i % 60:02d},{i},inbound,{PEER},in,ping,{i}"
               for i in range(200)],
        )  # fmt: skip
    # the workers' Python is this one (the module's session sets it only when it runs)
    env = {**os.environ, "WIREHOUSE_SPARK_DIR": str(tmp_path / "spark"),
           "PYSPARK_PYTHON": sys.executable}  # fmt: skip
    script = [sys.executable, "-c", KILLED_LOAD, str(files)]
    empty = tmp_path / "nothing-yet"
    empty.mkdir()
    first = subprocess.run(
        [sys.executable, "-c", KILLED_LOAD, str(empty), str(tmp_path / "work-0")],
        env=env, check=False,
    )  # fmt: skip
    assert first.returncode == 0  # the metastore and the tables, before any kill
    killed_after = []
    for delay in (10, 16, 22):
        process = subprocess.Popen(
            [*script, str(tmp_path / f"work-{delay}")], env=env, start_new_session=True
        )
        time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the JVM too
            killed_after.append(delay)
        process.wait()
    assert killed_after, "every load finished before its kill: nothing was tested"
    done = subprocess.run([*script, str(tmp_path / "work-final")], env=env, check=False)
    assert done.returncode == 0
    db = tmp_path / "clean.duckdb"
    api.ingest(db, api.make_kind("tracepoints"), [files])
    ours = _duckdb_tables(db, "tracepoints")
    (tmp_path / "theirs").mkdir()
    check = subprocess.run(
        [sys.executable, "-c", READ_BACK, str(tmp_path / "theirs")], env=env, check=False
    )
    assert check.returncode == 0
    import pandas as pd

    theirs = {t: pd.read_parquet(tmp_path / "theirs" / t) for t in ours}
    assert _differences(ours, theirs) == []


READ_BACK = """
import sys
from wirehouse.spark.portability import spark_session
spark = spark_session()
for table in ("bitcoin_p2p_messages", "ingest_files", "ingest_issues"):
    spark.table(f"raw.{table}").toPandas().to_parquet(f"{sys.argv[1]}/{table}")
"""


def test_copies_of_a_loaded_file_are_skipped_as_the_duckdb_path_skips_them() -> None:
    def version(path, sha, file_id, status="loaded", node="n"):
        return dict(path=path, sha256=sha, kind="tracepoints", node=node, status=status,
                    file_id=file_id)  # fmt: skip

    loaded = [version("/a", "x", 1)]
    new = [
        version("/c", "y", 3),
        version("/b", "x", 2),  # the bytes of /a, loaded before
        version("/d", "y", 4),  # the bytes of /c, earlier in this run
        version("/e", "y", 5, node="m"),  # the same bytes for another node: its own data
        version("/f", "z", 6, status="failed"),
        version("/g", "z", 7, status="failed"),  # failed loads are no copies of each other
    ]
    kept, twins = spark_ingest._without_twins(new, loaded)
    assert [v["path"] for v in kept] == ["/c", "/e", "/f", "/g"]
    assert [(t["path"], t["twin"]) for t in twins] == [("/b", "/a"), ("/d", "/c")]
