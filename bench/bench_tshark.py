"""tshark CSV ingest throughput: `wirehouse ingest tshark` against DuckDB's bare read_csv.

Writes two 1 M-row exports (default) with DuckDB, in the two shapes users have:

- nefias:   the 21 NeFiAS fields, every value double-quoted, empty fields bare
            (`-E quote=d -E occurrence=f`, as in ../shared/data/tshark-csv);
- notebook: the 8 fields of the hourly cron job, bare values, named by Unix time;

then runs each contender in its own subprocess (so peak RSS is its own) on the same file:

- bare:      `create table t as select * from read_csv(FILE)` (DuckDB sniffs the types)
- wirehouse: `wirehouse ingest tshark FILE` (header check, typed columns, repeated-field and
             other-field handling, rejects, sha256, manifest, one transaction)

Usage: python bench/bench_tshark.py [--rows 1000000] [--out bench/results/tshark.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from bench_ingest import run  # one wall/RSS wrapper for every benchmark (same folder)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START = 1483873200

BARE = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
con.execute('set enable_progress_bar = false')
con.execute(f"create table t as select * from read_csv('{sys.argv[1]}')")
print(con.execute('select count(*) from t').fetchone()[0])
"""

# i = row number; a TCP conversation between a few hosts, ~1 packet per ms
NEFIAS = """
select
    '6' as "ip.proto", null as "ipv6.nxt", (i + 1)::varchar as "frame.number",
    printf('%.9f', i / 1000.0) as "frame.time_relative",
    (66 + (i * 7919) % 1409)::varchar as "frame.len",
    (66 + (i * 7919) % 1409)::varchar as "frame.cap_len",
    '00:22:5f:d6:0e:2d' as "eth.src", 'f8:8b:37:b6:8c:a7' as "eth.dst",
    '192.168.0.' || (i % 7 + 2) as "ip.src", '80.228.115.' || (i % 13 + 1) as "ip.dst",
    null as "ipv6.src", null as "ipv6.dst",
    (40000 + i % 2000)::varchar as "tcp.srcport", '443' as "tcp.dstport",
    null as "udp.srcport", null as "udp.dstport", (i * 1448)::varchar as "tcp.seq",
    null as "mqtt.topic", null as "mqtt.msgtype", null as "mqtt.clientid",
    null as "mqtt.disconnect.reason_code"
from range({rows}) as r(i)
"""
NOTEBOOK = """
select
    printf('%.9f', i * 3.5 / {rows} * 1000) as "frame.time_relative",
    '192.168.0.' || (i % 7 + 2) as "ip.src",
    case when i % 5 > 0 then (40000 + i % 2000)::varchar end as "tcp.srcport",
    case when i % 5 = 0 then '53' end as "udp.srcport",
    '80.228.115.' || (i % 13 + 1) as "ip.dst",
    case when i % 5 > 0 then '443' end as "tcp.dstport",
    case when i % 5 = 0 then (33000 + i % 1000)::varchar end as "udp.dstport",
    (66 + (i * 7919) % 1409)::varchar as "frame.len"
from range({rows}) as r(i)
"""


def write(path: Path, select: str, rows: int, quoted: bool) -> None:
    quote = ", force_quote *" if quoted else ""
    with duckdb.connect() as con:
        con.execute(f"copy ({select.format(rows=rows)}) to '{path}' (header, delimiter ','{quote})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/tshark.md")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wirehouse-bench-tshark-"))
    lines = []
    try:
        shapes = {
            "nefias": (work / "nefias/export.pcap.csv", NEFIAS, True, ["--start", str(START)]),
            "notebook": (work / f"notebook/{START}.csv", NOTEBOOK, False, []),
        }
        for name, (path, select, quoted, extra) in shapes.items():
            path.parent.mkdir(parents=True)
            t = time.perf_counter()
            write(path, select, args.rows, quoted)
            gen_s = time.perf_counter() - t
            bare = run([sys.executable, "-c", BARE, str(path), str(work / f"{name}-bare.duckdb")])
            assert bare["rc"] == 0, bare["err"]
            rows = int(bare["out"].strip())
            ingest = [str(BIN / "wirehouse"), "ingest", "tshark", str(path), *extra]
            ingest += ["--db", str(work / f"{name}-ours.duckdb")]
            ours = run(ingest)
            assert ours["rc"] == 0, ours["err"]
            again = run(ingest)
            mb = path.stat().st_size / 1e6

            def line(label: str, r: dict, rows: int = rows, name: str = name) -> str:
                return (
                    f"| {name} | {label} | {r['wall_s']:.2f} | {rows / r['wall_s'] / 1e6:.2f} |"
                    f" {r['peak_rss_mb']:.0f} |"
                )

            lines += [
                line("DuckDB bare read_csv into a table", bare),
                line("wirehouse ingest tshark (first load)", ours),
                line("wirehouse ingest tshark (rerun, unchanged)", again),
                f"| {name} | **ratio bare / wirehouse** | **{bare['wall_s'] / ours['wall_s']:.2f}**"
                f" | | |",
            ]
            lines.append(f"<!-- {name}: {rows:,} rows, {mb:.0f} MB, written in {gen_s:.1f} s -->")
            shutil.rmtree(path.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report = "\n".join(
        [
            "# tshark CSV ingest benchmark",
            "",
            f"{args.rows:,}-row exports per shape; {os.cpu_count()} cores. Wall time includes"
            " process start-up; the rerun line is wirehouse's fixed cost (start-up, imports,"
            " opening the warehouse, the unchanged-file check).",
            "",
            "| shape | contender | wall s | M rows/s | peak RSS MB |",
            "|---|---|---|---|---|",
            *[x for x in lines if not x.startswith("<!--")],
            "",
            *[x[5:-4] for x in lines if x.startswith("<!--")],
            "",
            "Goal: ratio >= 0.8 (wirehouse at least 80 % of the bare read_csv speed).",
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
