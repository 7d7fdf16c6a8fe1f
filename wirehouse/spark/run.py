"""`wirehouse run` with ``[warehouse] engine = "spark"``: every source of wirehouse.toml
through the Spark data sources (wirehouse/spark/ingest.py), then `dbt build --target spark`
in this process on the same session (dbt-spark's session method reuses it, with
``wirehouse_pseudonym`` registered). What is built follows the DuckDB run's rules: the
models of the kinds that have data; in full on the first build, with --full-refresh, or when
the dbt project or its vars changed (the fingerprint of the last build is kept in
``raw.wirehouse_spark_runs``); otherwise incrementally, when files were loaded or replaced.
Publish and the report read DuckDB files and are not run on this engine.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from wirehouse import run as runner
from wirehouse.project import Project
from wirehouse.spark import ingest as spark_ingest
from wirehouse.spark.ingest import SparkFileResult, ingest

RUNS = "raw.wirehouse_spark_runs"


@dataclass
class SparkRunSummary:
    files: list[SparkFileResult] = field(default_factory=list)
    build: runner.BuildResult | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> list[SparkFileResult]:
        return [f for f in self.files if f.status in ("loaded", "partial")]

    @property
    def failed(self) -> bool:
        bad_file = any(f.status in ("failed", "partial") for f in self.files)
        return bad_file or (self.build is not None and not self.build.ok)


def session_for(project: Project):
    """The project's Spark session: its master and directory (warehouse, metastore), the
    same settings profiles.yml's `spark` target reads from the environment."""
    os.environ["WIREHOUSE_SPARK_MASTER"] = project.spark_master
    os.environ["WIREHOUSE_SPARK_DIR"] = str(project.spark_dir)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from wirehouse.spark.portability import register_functions, spark_session

    spark = spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    register_functions(spark)
    return spark


def run(
    project: Project,
    full_refresh: bool = False,
    on_file: Callable[[SparkFileResult], None] = lambda _result: None,
) -> SparkRunSummary:
    started = time.perf_counter()
    summary = SparkRunSummary()
    spark = session_for(project)
    try:
        work = project.spark_dir / "ingest-work"  # a folder per run inside, removed after it
        for source in project.sources:
            summary.files += ingest(
                spark, source.kind, list(source.paths), source.node, dict(source.options),
                work_dir=work, on_file=on_file,
            )  # fmt: skip
        spark.sql(
            f"create table if not exists {RUNS} (run_id string, finished_at timestamp,"
            " build string, build_fingerprint string) using parquet"
        )
        fingerprint = runner.build_fingerprint(project.vars)
        plan = _plan(spark, fingerprint, full_refresh, bool(summary.changed) or _rows_went(spark))
        if plan is not None:
            summary.build = _build(project, plan)
            _record(spark, plan, summary.build, fingerprint)
    finally:
        spark.stop()
    summary.seconds = time.perf_counter() - started
    return summary


def forget(project: Project, paths: list) -> list[tuple[str, int]]:
    """`wirehouse forget` on the project's Spark tables: (file, rows removed) for each."""
    spark = session_for(project)
    try:
        if not spark.catalog.tableExists("raw.ingest_files"):
            return []
        return spark_ingest.forget(spark, paths)
    finally:
        spark.stop()


def _rows_went(spark) -> bool:
    """Rows were removed (forgotten, replaced) since the last build: the models rebuild
    the nodes they belonged to, though no file is new."""
    if not spark.catalog.tableExists(RUNS):
        return False
    went = spark.sql(
        f"select count(*) from raw.removed_rows where removed_at >"
        f" (select coalesce(max(finished_at), timestamp '1970-01-01') from {RUNS}"
        " where build != 'failed')"
    ).first()[0]
    return went > 0


def _plan(spark, fingerprint: str, full_refresh: bool, loaded: bool) -> runner.BuildPlan | None:
    kinds = {
        row[0]
        for row in spark.sql(
            "select distinct kind from raw.ingest_files where status in ('loaded', 'partial')"
        ).collect()
    }
    tables = runner.tables_of_kinds(kinds)
    if not tables:
        return None
    last = spark.sql(
        f"select build_fingerprint from {RUNS} where build != 'failed'"
        " order by finished_at desc limit 1"
    ).collect()
    reason = ""
    if full_refresh:
        reason = "--full-refresh"
    elif not last:
        reason = "first build"
    elif last[0][0] != fingerprint:
        reason = "the dbt project or its vars changed"
    if reason:
        return runner.BuildPlan("full", reason, tables, new=tables)
    if not loaded:
        return None
    return runner.BuildPlan("incremental", "new data or rows removed", tables, new=tables)


def _build(project: Project, plan: runner.BuildPlan) -> runner.BuildResult:
    """dbt build --target spark of the plan's selection, in this process."""
    from dbt.cli.main import dbtRunner

    started = time.perf_counter()
    common = [*runner.dbt_arguments(project), "--target", "spark"]
    parsed = dbtRunner().invoke(["parse", *common])
    if parsed.exception is not None or parsed.result is None:
        return runner.failed_build(plan, started, parsed.exception)
    selected = runner.selection(parsed.result, plan)
    args = ["build", *common, "--exclude-resource-type", "unit_test"]
    args += ["--indirect-selection", "buildable", "--select", *selected]
    if not project.data_tests:
        args += ["--exclude-resource-type", "test"]
    if plan.mode == "full":
        args.append("--full-refresh")
    outcome = dbtRunner(manifest=parsed.result).invoke(args)
    if outcome.exception is not None or outcome.result is None:
        return runner.failed_build(plan, started, outcome.exception)
    return runner.build_result(plan, outcome, selected, started)


def _record(spark, plan: runner.BuildPlan, build: runner.BuildResult, fingerprint: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat()
    status = plan.mode if build.ok else "failed"
    spark.sql(
        f"insert into {RUNS} values ('{uuid.uuid4()}', timestamp '{now}', '{status}',"
        f" '{fingerprint}')"
    )
