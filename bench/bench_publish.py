"""`wirehouse publish` and `wirehouse report` on a built warehouse: time, size, peak memory.

Runs each command in its own subprocess (so peak RSS is its own), `--runs` times, on the
warehouse `make demo` leaves (or --db). For publish it also reports how long the warehouse
itself was held (the only time ingest or dbt would have to wait), the size of the DuckDB copy
and of the Parquet export, and reads the Parquet export back with a plain DuckDB.

Usage: python bench/bench_publish.py [--db warehouse.duckdb] [--runs 3]
       [--out bench/results/publish.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(cmd: list[str]) -> dict:
    """Wall time and peak RSS of one command, measured by a wrapper process."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'wall_s': wall, 'peak_rss_mb': rss / 1024, 'rc': p.returncode,"
        " 'out': p.stdout, 'err': p.stderr[-400:]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result['err']}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=ROOT / "warehouse.duckdb")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/publish.md")
    args = ap.parse_args()
    db = args.db.resolve()
    if not db.exists():
        raise SystemExit(f"no warehouse at {db}: run `make demo` first")
    wirehouse = str(BIN / "wirehouse")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "published"
        publishes = [
            run([wirehouse, "publish", "--db", str(db), "--to", str(target)])
            for _ in range(args.runs)
        ]
        reports = [
            run(
                [
                    wirehouse,
                    "report",
                    "--db",
                    str(db),
                    "--published",
                    str(target),
                    "--out",
                    str(Path(tmp) / "report"),
                ]
            )
            for _ in range(args.runs)
        ]
        held = [
            float(re.search(r"warehouse held ([\d.]+) s", p["out"]).group(1)) for p in publishes
        ]
        copy_bytes = (target / "published.duckdb").stat().st_size
        latest = target / "parquet" / "latest"
        parquet_files = sorted(latest.rglob("*.parquet"))
        parquet_bytes = sum(f.stat().st_size for f in parquet_files)
        report_bytes = (Path(tmp) / "report" / "report.html").stat().st_size
        with duckdb.connect() as con:  # any engine: a plain DuckDB reads the export back
            parquet_rows = con.execute(
                f"select count(*) from read_parquet('{latest}/**/*.parquet', union_by_name = true)"
            ).fetchall()[0][0]
            sample = con.execute(
                f"select flow, count(*) as hours, sum(measured_bytes) as measured_bytes"
                f" from read_parquet('{latest}/marts/fct_traffic_reconciled_hourly.parquet')"
                " group by flow order by flow"
            ).fetchall()
        with duckdb.connect(str(db), read_only=True) as con:
            warehouse_bytes = db.stat().st_size
            mart_rows = con.execute(
                "select sum(estimated_size) from duckdb_tables()"
                " where schema_name in ('marts', 'reference')"
            ).fetchall()[0][0]

    def median(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    mib = 2**20
    lines = [
        "# publish and report",
        "",
        f"Warehouse: `{db.name}` ({warehouse_bytes / mib:.1f} MiB, {mart_rows:,} mart and"
        f" lookup rows), {args.runs} runs each, medians; {platform.node()},"
        f" {platform.processor() or platform.machine()}, Python {platform.python_version()},"
        f" DuckDB {duckdb.__version__}. Taken with other work on the machine: re-measure",
        "on a quiet one.",
        "",
        "| command | wall s | peak RSS MiB | output |",
        "|---|---|---|---|",
        f"| `wirehouse publish` | {median(publishes, 'wall_s'):.2f} |"
        f" {median(publishes, 'peak_rss_mb'):.0f} | DuckDB copy {copy_bytes / mib:.1f} MiB,"
        f" Parquet {parquet_bytes / mib:.2f} MiB in {len(parquet_files)} files;"
        f" warehouse held {statistics.median(held):.2f} s |",
        f"| `wirehouse report` | {median(reports, 'wall_s'):.2f} |"
        f" {median(reports, 'peak_rss_mb'):.0f} | report.html {report_bytes / mib:.2f} MiB |",
        "",
        f"Parquet read back with a plain DuckDB: {parquet_rows:,} rows in all files;"
        " `fct_traffic_reconciled_hourly` per flow (flow, hours, measured_bytes):"
        f" {', '.join(str(tuple(r)) for r in sample)}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
