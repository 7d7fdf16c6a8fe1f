"""`wirehouse run` with engine = "spark" (issue 23): a node's tracepoints and systemd counters
through the Spark data sources and dbt on the same session give the marts the DuckDB run
gives (but for loaded_at, the time of each load); a second run with nothing new builds
nothing; after `wirehouse forget` of a day's file the next run rebuilds, and the marts are
those of the DuckDB run after the same forget. Needs Java 17 and the `spark` group."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
PROJECT = """
[warehouse]
path = "warehouse.duckdb"
engine = "{engine}"
spark_dir = "spark"

[build]
vars = {{ counter_mode = "exact" }}

[[source]]
kind = "tracepoints"
paths = ["{data}"]
node = "tau"

[[source]]
kind = "systemd"
paths = ["{data}"]
node = "tau"
"""


def _run(project: Path, *command: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WIREHOUSE_ANON_KEY": "test-key", "PYSPARK_PYTHON": sys.executable}
    return subprocess.run(
        [BIN / "wirehouse", *(command or ("run",)), "--project", project],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def _compare(tmp_path: Path) -> None:
    compare = subprocess.run(
        [sys.executable, "-m", "wirehouse.spark.portability", "compare",
         tmp_path / "duckdb" / "warehouse.duckdb", "marts", "--ignore-column=loaded_at"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "WIREHOUSE_SPARK_DIR": str(tmp_path / "spark" / "spark")},
    )  # fmt: skip
    assert compare.returncode == 0, compare.stdout[-4000:] + compare.stderr[-2000:]
    assert "relations equal" in compare.stdout


def test_wirehouse_run_on_spark_equals_the_duckdb_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = subprocess.run(
        [BIN / "wirehouse", "demo-data", data, "--days", "2", "--scale", "0.02", "--peers", "8",
         "--no-capture", "--no-bluetooth"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    runs = {}
    for engine in ("duckdb", "spark"):
        folder = tmp_path / engine
        folder.mkdir()
        (folder / "wirehouse.toml").write_text(PROJECT.format(engine=engine, data=data))
        runs[engine] = _run(folder / "wirehouse.toml")
        assert runs[engine].returncode == 0, runs[engine].stdout + runs[engine].stderr
    assert "build: full (first build) on spark" in runs["spark"].stdout
    assert "Traceback" not in runs["spark"].stderr

    again = _run(tmp_path / "spark" / "wirehouse.toml")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "build:" not in again.stdout and "skipped" in again.stdout

    _compare(tmp_path)

    first_day = sorted((data / "tracepoints" / "net").glob("*.csv"))[0]
    for engine in ("duckdb", "spark"):
        project = tmp_path / engine / "wirehouse.toml"
        forgot = _run(project, "forget", first_day)
        assert forgot.returncode == 0 and "forgot" in forgot.stdout, forgot.stderr
    moved = tmp_path / "forgotten.csv"  # out of the sources, or the next run loads it again
    first_day.rename(moved)
    for engine in ("duckdb", "spark"):
        rebuilt = _run(tmp_path / engine / "wirehouse.toml")
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert "build:" in rebuilt.stdout, rebuilt.stdout
    _compare(tmp_path)
