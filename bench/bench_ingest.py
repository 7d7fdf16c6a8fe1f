"""Tracepoint ingest throughput: `wirehouse ingest` against DuckDB's bare read_csv.

Generates N days of demo tracepoints (default ~10 M rows) under a temp dir, then runs each
contender in its own subprocess (so peak RSS is its own) on the same files:

- bare:      one `create table as select * from read_csv([...])` (the physical reference)
- wirehouse: `wirehouse ingest tracepoints DIR` (sha256, manifest, per-file transactions,
             reject tracking, bookkeeping columns: everything a real load does)

Usage: python bench/bench_ingest.py [--days 5] [--scale 1.1] [--out bench/results/ingest.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

BARE = """
import duckdb, glob, sys
files = sorted(glob.glob(sys.argv[1] + '/tracepoints/net/*.csv'))
con = duckdb.connect(sys.argv[2])
con.execute('set enable_progress_bar = false')
cols = {'timestamp': 'TIMESTAMP', 'peer_id': 'BIGINT', 'peer_conn_type': 'VARCHAR',
        'peer_addr': 'VARCHAR', 'flow': 'VARCHAR', 'msg_type': 'VARCHAR', 'size': 'BIGINT'}
con.execute(f"create table t as select * from read_csv({files}, header=true, columns={cols},"
            " auto_detect=false)")
print(con.execute('select count(*) from t').fetchone()[0])
"""


def run(cmd: list[str]) -> dict:
    """Wall time and peak RSS of one command, measured by a wrapper process."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'wall_s': wall, 'peak_rss_mb': rss / 1024, 'rc': p.returncode,"
        " 'out': p.stdout[-400:], 'err': p.stderr[-400:]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/ingest.md")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wirehouse-bench-"))
    try:
        t = time.perf_counter()
        subprocess.run(
            [
                BIN / "wirehouse",
                "demo-data",
                work / "data",
                "--days",
                str(args.days),
                "--scale",
                str(args.scale),
                "--no-capture",
            ],
            check=True,
            capture_output=True,
        )
        gen_s = time.perf_counter() - t
        files = sorted((work / "data/tracepoints/net").glob("*.csv"))
        size_mb = sum(f.stat().st_size for f in files) / 1e6

        bare = run([sys.executable, "-c", BARE, str(work / "data"), str(work / "bare.duckdb")])
        rows = int(bare["out"].strip())
        ours = run(
            [
                str(BIN / "wirehouse"),
                "ingest",
                "tracepoints",
                str(work / "data"),
                "--db",
                str(work / "ours.duckdb"),
            ]
        )
        assert ours["rc"] == 0, ours["err"]
        again = run(
            [
                str(BIN / "wirehouse"),
                "ingest",
                "tracepoints",
                str(work / "data"),
                "--db",
                str(work / "ours.duckdb"),
            ]
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def line(name: str, r: dict) -> str:
        return (
            f"| {name} | {r['wall_s']:.2f} | {rows / r['wall_s'] / 1e6:.2f} |"
            f" {r['peak_rss_mb']:.0f} |"
        )

    ratio = bare["wall_s"] / ours["wall_s"]
    report = "\n".join(
        [
            "# Tracepoint ingest benchmark",
            "",
            f"{rows:,} rows in {len(files)} daily files ({size_mb:,.0f} MB CSV), generated in"
            f" {gen_s:.1f} s; {os.cpu_count()} cores. Wall time includes process start-up.",
            "",
            "| contender | wall s | M rows/s | peak RSS MB |",
            "|---|---|---|---|",
            line("DuckDB bare read_csv into a table", bare),
            line("wirehouse ingest (first load)", ours),
            line("wirehouse ingest (rerun, all unchanged)", again),
            "",
            f"wirehouse reaches **{ratio:.0%}** of the bare read_csv speed (goal >= 80 %).",
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
