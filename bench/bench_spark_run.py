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

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import inputs
from bench.harness import BIN, ROOT, measure

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
# the Spark side of the comparison, in its own process (one JVM at a time)
COMPARE = """
import json, sys
from pathlib import Path
from ingest.kinds import registry
from wirehouse.spark.portability import compare, relations_to_compare
db, ignored = Path(sys.argv[1]), json.loads(sys.argv[2])
raw = {f"raw.{t.name}": kind for kind, k in registry().items() for t in k.tables}
raw.update({"raw.ingest_files": "manifest", "raw.ingest_issues": "manifest"})
marts = relations_to_compare(db, ["marts"], [])
found = compare(db, [*raw, *marts], ignored)
print(json.dumps([
    {"relation": c.relation, "kind": raw.get(c.relation, "mart"), "duckdb": c.duckdb_rows,
     "spark": c.spark_rows, "differing": c.differing_rows, "problems": c.problems}
    for c in found
]))
"""


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
    data = demo_data()
    work = inputs.DATA / "spark-run"
    shutil.rmtree(work, ignore_errors=True)
    runs = {}
    for engine in ("duckdb", "spark"):
        (work / engine).mkdir(parents=True)
        project = work / engine / "wirehouse.toml"
        project.write_text(PROJECT.format(engine=engine, data=data))
        env = {**KEY, "PYSPARK_PYTHON": sys.executable}
        runs[engine] = measure([BIN / "wirehouse", "run", "--project", project], env=env)
        runs[engine].check(f"wirehouse run on {engine}")
    done = measure(
        [sys.executable, "-c", COMPARE, work / "duckdb" / "warehouse.duckdb",
         json.dumps(RUN_COLUMNS)],
        env={"WIREHOUSE_SPARK_DIR": str(work / "spark" / "spark")}, cwd=ROOT,
    ).check("compare")  # fmt: skip
    found = json.loads(done.stdout.strip().splitlines()[-1])

    lines = [
        "| engine | wall s | peak RSS MiB (the run's process) |",
        "|---|---:|---:|",
        *(f"| {e} | {m.wall_s:.1f} | {m.peak_rss_mb:,.0f} |" for e, m in runs.items()),
        "",
        "| kind | raw tables | rows DuckDB path | rows Spark path | differing rows |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("tracepoints", "systemd", "pcap", "tshark", "manifest"):
        rows = [f for f in found if f["kind"] == kind]
        lines.append(
            f"| {kind} | {len(rows)} | {sum(f['duckdb'] for f in rows):,} |"
            f" {sum(f['spark'] for f in rows):,} | {sum(f['differing'] for f in rows):,} |"
        )
    marts = [f for f in found if f["kind"] == "mart"]
    equal = [f for f in marts if not f["differing"]]
    lines += [
        "",
        f"Marts: {len(equal)} of {len(marts)} equal, {sum(f['duckdb'] for f in marts):,} rows"
        " (loaded_at aside: each engine loaded the files itself).",
    ]
    lines += [f"- {f['relation']}: {'; '.join(f['problems'])}" for f in found if f["differing"]]
    table = "\n".join(lines)
    out = ROOT / "bench" / "results" / "spark_run.md"
    out.write_text(f"# `wirehouse run` on the demo data: DuckDB and Spark\n\n{table}\n")
    print(table)
    if len(equal) != len(marts) or any(f["differing"] for f in found):
        raise SystemExit("the engines differ")


if __name__ == "__main__":
    main()
