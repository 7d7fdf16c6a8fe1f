"""Files into Spark (issue 23), side by side in one run: the same files through `wirehouse
ingest` (DuckDB, one process) and through the Spark data source on `local[1]` and
`local[2]`, cold (a new JVM and Python workers: imports, numba's cached kernels loaded) and
warm (the same session again, into empty tables).

    .venv/bin/python bench/bench_spark_ingest.py [--days 12] [--captures 6]

Needs the `spark` dependency group and Java 17. Inputs in bench/.data: distinct daily
tracepoint files of one node (the CSV kind: DuckDB's reader in each task) and distinct mixed
captures (the pcap kind: the numba reader). Writes bench/results/spark_ingest.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import inputs
from bench.harness import BIN, ROOT, measure

CHILD = """
import json, os, shutil, sys, time
from pathlib import Path
os.environ["WIREHOUSE_SPARK_MASTER"] = sys.argv[1]
os.environ["PYSPARK_PYTHON"] = sys.executable
from wirehouse.spark.portability import spark_session
from wirehouse.spark import ingest
kind, folder, work = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
options = json.loads(sys.argv[5])
started = time.perf_counter()
spark = spark_session()
spark.sparkContext.setLogLevel("ERROR")
session = time.perf_counter() - started
times = []
for attempt in ("cold", "warm"):
    shutil.rmtree(work / attempt, ignore_errors=True)
    spark.sql("drop database if exists raw cascade")
    started = time.perf_counter()
    results = ingest.ingest(spark, kind, [folder], options=options, work_dir=work / attempt)
    times.append(time.perf_counter() - started)
rows = spark.sql(f"select sum(rows) from raw.ingest_files").first()[0]
print(json.dumps({"session_s": session, "cold_s": times[0], "warm_s": times[1],
                  "files": len(results), "rows": rows}))
spark.stop()
"""


def captures_folder(count: int, packets: int) -> Path:
    """`count` distinct mixed captures (different packet counts, so different bytes)."""
    folder = inputs.DATA / f"spark-captures-{count}x{packets}"
    if not (folder / ".done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            shutil.copy(inputs.mixed_capture(packets + i), folder / f"capture-{i:02d}.pcap")
        (folder / ".done").touch()
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=12)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--captures", type=int, default=6)
    parser.add_argument("--packets", type=int, default=150_000)
    args = parser.parse_args()
    work = inputs.DATA / "spark-work"
    node = inputs.node_folder("spark-node", args.days, args.scale, seed=5)
    shutil.rmtree(node / "systemd", ignore_errors=True)  # tracepoints only
    (node / ".done").write_text(f"{args.days} {args.scale} 5")
    cases = [
        ("tracepoints", node, {}),
        ("pcap", captures_folder(args.captures, args.packets), {}),
    ]
    lines = [
        "| kind | files | rows | path | session start s | cold s | warm s | rows/s warm |"
        " warm vs local[1] |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for kind, folder, options in cases:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        db = work / "duckdb.duckdb"
        duck = measure([BIN / "wirehouse", "ingest", kind, folder, "--db", db]).check(kind)
        files = len([p for p in folder.rglob("*") if p.is_file() and p.name != ".done"])
        rows = int(
            measure([BIN / "wirehouse", "query", "--live", "--db", db, "--format", "csv",
                     "select sum(rows) from raw.ingest_files"])
            .check("rows").stdout.split()[-1]
        )  # fmt: skip
        lines.append(
            f"| {kind} | {files} | {rows:,} | DuckDB path (one process) | - |"
            f" {duck.wall_s:.1f} | - | {rows / duck.wall_s:,.0f} | - |"
        )
        single = None
        for master in ("local[1]", "local[2]"):
            env = {"WIREHOUSE_SPARK_DIR": str(work / f"spark-{master[6]}")}
            done = measure(
                [sys.executable, "-c", CHILD, master, kind, folder, work / f"w{master[6]}",
                 json.dumps(options)], env=env, cwd=ROOT,
            ).check(f"{kind} on {master}")  # fmt: skip
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            assert figures["rows"] == rows, (figures, rows)
            single = single or figures["warm_s"]
            lines.append(
                f"| {kind} | {files} | {rows:,} | Spark {master} | {figures['session_s']:.1f} |"
                f" {figures['cold_s']:.1f} | {figures['warm_s']:.1f} |"
                f" {rows / figures['warm_s']:,.0f} | {single / figures['warm_s']:.2f}x |"
            )
    table = "\n".join(lines)
    out = ROOT / "bench" / "results" / "spark_ingest.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# Files into Spark: DuckDB path vs local[1] vs local[2]\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
