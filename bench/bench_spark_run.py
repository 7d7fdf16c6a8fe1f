"""`wirehouse run` on the demo data, DuckDB and Spark side by side in one run (issue 23): the
two nodes and every kind of data `make demo` loads (alpha: 3 days of tracepoints and systemd
counters, a Kafka broker's capture and its hourly tshark export, a capture of the node's
Bitcoin port, a Bluetooth sniff; beta: 3 days at half the scale), one project file per
engine with the same sources and vars (no publish or report: Spark has neither).

    .venv/bin/python bench/bench_spark_run.py

Then every raw table row for row (but the columns that name a load: file ids and load
times), summed per kind, and every mart, compared between the two warehouses. Needs the
`spark` dependency group and Java 17. Writes bench/results/spark_run.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb

from bench import inputs
from bench.harness import BIN, ROOT, measure
from ingest.kinds import registry

KEY = {"WIREHOUSE_ANON_KEY": "wirehouse-demo-data-only"}
RUN_COLUMNS = ["_file_id", "_loaded_at", "file_id", "loaded_at", "ingest_run_id"]
PROJECT = """
[warehouse]
path = "warehouse.duckdb"
engine = "{engine}"
spark_dir = "spark"

[build]
vars = {{ counter_mode = "exact", max_collection_gap_seconds = 3600 }}

[[source]]
kind = "tracepoints"
paths = ["{data}/alpha", "{data}/beta"]

[[source]]
kind = "systemd"
paths = ["{data}/alpha", "{data}/beta"]

[[source]]
kind = "pcap"
paths = ["{data}/alpha/captures/kafka-broker.pcap"]
node = "kafka-broker"
kafka_ports = [9092]

[[source]]
kind = "pcap"
paths = ["{data}/alpha/captures/bitcoin-node.pcap"]
node = "alpha"

[[source]]
kind = "tshark"
paths = ["{data}/alpha/tshark"]
node = "kafka-broker"

[[source]]
kind = "pcap"
paths = ["{data}/alpha/bluetooth"]
node = "sniffer"
"""
# Spark's raw tables as Parquet files, but the columns that name a load (in its own process:
# one JVM at a time); DuckDB then compares them with its own raw tables
EXPORT = """
import json, sys
from pathlib import Path
from wirehouse.spark.portability import spark_session
out, tables, ignored = Path(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
spark = spark_session()
for table in tables:
    frame = spark.table(f"raw.{table}")
    frame.drop(*[c for c in ignored if c in frame.columns]).write.parquet(str(out / table))
spark.stop()
"""


def raw_differences(db: Path, exported: Path, table: str) -> tuple[int, int, int]:
    """Rows of one raw table in DuckDB and in Spark's export, and the rows of either
    without an equal row on the other (multisets; DuckDB's side in the types Spark got)."""
    from wirehouse.spark.ingest import spark_select

    con = duckdb.connect(str(db), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    ours = spark_select(con, table)
    spark = f"read_parquet('{exported / table}/*.parquet')"
    columns = [row[0] for row in con.execute(f"describe select * from {spark}").fetchall()]
    listed = ", ".join(f'"{c}"' for c in columns)
    a, b = f"(select {listed} from ({ours}))", f"(select {listed} from {spark})"
    [(rows_duckdb,)] = con.execute(f"select count(*) from {a}").fetchall()
    [(rows_spark,)] = con.execute(f"select count(*) from {b}").fetchall()
    [(differing,)] = con.execute(
        f"select (select count(*) from ({a} except all {b}))"
        f" + (select count(*) from ({b} except all {a}))"
    ).fetchall()
    con.close()
    return rows_duckdb, rows_spark, differing


def demo_data() -> Path:
    """`make demo`'s two nodes, made once in bench/.data."""
    data = inputs.DATA / "spark-demo"
    if not (data / ".done").exists():
        shutil.rmtree(data, ignore_errors=True)
        for args in (
            ["alpha", "--days", "3", "--seed", "1"],
            ["beta", "--days", "3", "--scale", "0.5", "--seed", "2", "--no-capture",
             "--no-bluetooth"],
        ):  # fmt: skip
            subprocess.run(
                [BIN / "wirehouse", "demo-data", data / args[0], *args[1:]],
                check=True, capture_output=True,
            )  # fmt: skip
        (data / ".done").touch()
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare-only", action="store_true", help="the last run's warehouses")
    args = parser.parse_args()
    data = demo_data()
    work = inputs.DATA / "spark-run"
    runs = {}
    if not args.compare_only:
        shutil.rmtree(work, ignore_errors=True)
        for engine in ("duckdb", "spark"):
            (work / engine).mkdir(parents=True)
            project = work / engine / "wirehouse.toml"
            project.write_text(PROJECT.format(engine=engine, data=data))
            env = {**KEY, "PYSPARK_PYTHON": sys.executable}
            runs[engine] = measure([BIN / "wirehouse", "run", "--project", project], env=env)
            runs[engine].check(f"wirehouse run on {engine}")
            print(f"{engine}: {runs[engine].wall_s:.1f} s", flush=True)
    db = work / "duckdb" / "warehouse.duckdb"
    spark_env = {"WIREHOUSE_SPARK_DIR": str(work / "spark" / "spark"),
                 "WIREHOUSE_SPARK_DRIVER_MEMORY": "4g"}  # fmt: skip
    kinds = {t.name: kind for kind, k in registry().items() for t in k.tables}
    kinds.update({"ingest_files": "manifest", "ingest_issues": "manifest"})
    exported = work / "exported"
    shutil.rmtree(exported, ignore_errors=True)
    measure(
        [sys.executable, "-c", EXPORT, exported, json.dumps(list(kinds)), json.dumps(RUN_COLUMNS)],
        env=spark_env, cwd=ROOT,
    ).check("export")  # fmt: skip
    raw = {table: raw_differences(db, exported, table) for table in kinds}
    done = measure(
        [sys.executable, "-m", "wirehouse.spark.portability", "compare", db, "marts",
         "--ignore-column=loaded_at"],
        env=spark_env, cwd=ROOT,
    )  # fmt: skip
    marts = [line for line in done.stdout.splitlines() if line.startswith("| marts.")]

    lines = [
        "| engine | wall s | peak RSS MiB (the `wirehouse run` process; not its Spark JVM) |",
        "|---|---:|---:|",
        *(f"| {e} | {m.wall_s:.1f} | {m.peak_rss_mb:,.0f} |" for e, m in runs.items()),
        "",
        "| kind | raw tables | rows DuckDB path | rows Spark path | differing rows |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("tracepoints", "systemd", "pcap", "tshark", "manifest"):
        found = [raw[t] for t in raw if kinds[t] == kind]
        lines.append(
            f"| {kind} | {len(found)} | {sum(f[0] for f in found):,} |"
            f" {sum(f[1] for f in found):,} | {sum(f[2] for f in found):,} |"
        )
    lines += ["", "Marts (loaded_at aside: each engine loaded the files itself):", ""]
    lines += [done.stdout.strip()]
    table = "\n".join(lines)
    out = ROOT / "bench" / "results" / "spark_run.md"
    out.write_text(f"# `wirehouse run` on the demo data: DuckDB and Spark\n\n{table}\n")
    print(table)
    if done.returncode != 0 or any(f[2] for f in raw.values()) or not marts:
        raise SystemExit("the engines differ")


if __name__ == "__main__":
    main()
