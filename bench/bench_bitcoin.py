"""Bitcoin marts: the seed notebooks' pandas way against wirehouse, on the same files.

1. Generates demo tracepoints + systemd samples under a temp dir (default ~10 M rows:
   5 days at scale 1.1), or uses --data.
2. Notebook way (bench/notebook_way.py, one subprocess): read the CSV folders with pandas,
   row-wise estimate with apply, groupby.apply per peer, hourly/daily aggregation, shares,
   bz2 CSV output, as in virtu/bitcoind-p2p-traffic's notebooks.
3. wirehouse: `wirehouse ingest tracepoints`, `wirehouse ingest systemd`, then `dbt build`
   of staging + every Bitcoin model, seed, data test and unit test, into a fresh warehouse.
4. Optionally (--big DIR) the wirehouse path again on a bigger folder (100 M rows).

Each command runs under a wrapper that reports its wall time and the peak RSS of its
process tree's largest process (getrusage(RUSAGE_CHILDREN).ru_maxrss).

Usage: python bench/bench_bitcoin.py [--data DIR] [--big DIR] [--out bench/results/bitcoin.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SELECTION = ["staging.bitcoin_p2p+", "staging.systemd_ip_accounting+", "bitcoin_message_types"]

WRAPPER = (
    "import json, os, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "wall = time.perf_counter() - t\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'wall_s': wall, 'peak_rss_mb': rss / 1024, 'rc': p.returncode,"
    " 'out': p.stdout[-2000:], 'err': p.stderr[-2000:]}))\n"
)


def run(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, env=env
    )
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{result['out']}\n{result['err']}")
    return result


def wirehouse(data: Path, work: Path) -> dict[str, dict]:
    """Ingest both streams into a fresh warehouse, then dbt build every Bitcoin model."""
    db = work / "warehouse.duckdb"
    env = os.environ | {"WIREHOUSE_DB": str(db)}
    steps = {
        "ingest_tracepoints": run(
            [str(BIN / "wirehouse"), "ingest", "tracepoints", str(data), "--db", str(db)]
        ),
        "ingest_systemd": run(
            [str(BIN / "wirehouse"), "ingest", "systemd", str(data), "--db", str(db)]
        ),
    }
    build = [
        str(BIN / "dbt"),
        "build",
        "-s",
        *SELECTION,
        "--profiles-dir",
        str(ROOT),
        "--project-dir",
        str(ROOT),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]
    # cold: fresh target dir, full parse (a new checkout); warm: the same build again,
    # manifest cached (partial parse), every model rebuilt and every test rerun (a daily run)
    steps["dbt_build"] = run(build, env=env)
    steps["dbt_build_warm"] = run(build, env=env)
    # a scheduled production run: unit tests check logic, not data (dbt's own advice is to
    # run them in development and CI only)
    steps["dbt_build_prod"] = run([*build, "--exclude-resource-type", "unit_test"], env=env)
    for key in ("dbt_build", "dbt_build_warm", "dbt_build_prod"):
        done = [line for line in steps[key]["out"].splitlines() if "Done." in line]
        steps[key]["summary"] = done[-1].split("Done. ")[-1] if done else "?"
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    steps["rows"] = con.execute("select count(*) from raw.bitcoin_p2p_messages").fetchone()[0]
    steps["db_mb"] = db.stat().st_size / 2**20
    con.close()
    return steps


def total(steps: dict[str, dict], names: list[str]) -> tuple[float, float]:
    return (
        sum(steps[n]["wall_s"] for n in names),
        max(steps[n]["peak_rss_mb"] for n in names),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, help="existing demo-data folder (else generated)")
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.1)
    ap.add_argument("--big", type=Path, help="a ~100 M-row demo-data folder for wirehouse only")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/bitcoin.md")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wirehouse-bench-bitcoin-"))
    try:
        data = args.data
        if data is None:
            data = tmp / "data"
            run(
                [
                    str(BIN / "wirehouse"),
                    "demo-data",
                    str(data),
                    "--days",
                    str(args.days),
                    "--scale",
                    str(args.scale),
                    "--seed",
                    "7",
                ]
            )
        (tmp / "wh").mkdir()
        wh = wirehouse(data, tmp / "wh")
        shutil.rmtree(tmp / "wh")
        nb = run([sys.executable, str(ROOT / "bench/notebook_way.py"), str(data), str(tmp / "nb")])
        nb["steps"] = json.loads(nb["out"].strip().splitlines()[-1])
        big = None
        if args.big:
            (tmp / "big").mkdir()
            big = wirehouse(args.big, tmp / "big")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = render(wh, nb, big)
    args.out.write_text(report)
    print(report)


def render(wh: dict, nb: dict, big: dict | None) -> str:
    rows = wh["rows"]
    s = nb["steps"]
    nb_transform = s["transform"] + s["transform_rowwise_estimate"]
    nb_transform += s["transform_groupby_apply_per_peer"]
    wh_wall, wh_rss = total(wh, ["ingest_tracepoints", "ingest_systemd", "dbt_build"])
    dbt = wh["dbt_build"]
    warm = wh["dbt_build_warm"]
    prod = wh["dbt_build_prod"]
    lines = [
        "# Bitcoin marts: notebook way vs wirehouse",
        "",
        f"Same generated folder for both: {rows:,} tracepoint rows (`wirehouse demo-data`,"
        " 5 days at scale 1.1, seed 7) plus 5 days of 5-s systemd samples. Machine:"
        f" {os.cpu_count()} cores, Python {platform.python_version()}. Script:"
        " `bench/bench_bitcoin.py` (pandas pipeline in `bench/notebook_way.py`). Peak memory"
        " = largest process's max RSS.",
        "",
        "| run | wall s | peak RSS MB | rows/s |",
        "|---|---|---|---|",
        f"| notebook way, end to end (read CSVs, transform, write bz2) | {nb['wall_s']:.1f} |"
        f" {nb['peak_rss_mb']:,.0f} | {rows / nb['wall_s']:,.0f} |",
        f"| wirehouse, end to end (ingest x2 + dbt build) | {wh_wall:.1f} | {wh_rss:,.0f} |"
        f" {rows / wh_wall:,.0f} |",
        f"| **speed-up end to end** | **{nb['wall_s'] / wh_wall:.1f}x** | | |",
        f"| notebook transform steps only (no read, no write) | {nb_transform:.1f} | | |",
        f"| `dbt build` alone on landed rows, cold ({dbt['summary']}) | {dbt['wall_s']:.1f} |"
        f" {dbt['peak_rss_mb']:,.0f} | {rows / dbt['wall_s']:,.0f} |",
        f"| `dbt build` again, warm (partial parse) | {warm['wall_s']:.1f} |"
        f" {warm['peak_rss_mb']:,.0f} | {rows / warm['wall_s']:,.0f} |",
        f"| `dbt build` warm without unit tests (production run; {prod['summary']}) |"
        f" {prod['wall_s']:.1f} | {prod['peak_rss_mb']:,.0f} | {rows / prod['wall_s']:,.0f} |",
        f"| **speed-up transform** (cold / warm / production) |"
        f" **{nb_transform / dbt['wall_s']:.1f}x / {nb_transform / warm['wall_s']:.1f}x /"
        f" {nb_transform / prod['wall_s']:.1f}x** | | |",
        "",
        "Notebook steps (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in s.items() if k != "rows")
        + ". The notebooks run the row-wise steps with pandarallel's `parallel_apply`; it is"
        " not installed here, so they ran on one core: on this 2-core machine pandarallel"
        " could at best halve `transform_rowwise_estimate`"
        f" ({s['transform_rowwise_estimate']:.1f} s).",
        "",
        "wirehouse steps: "
        + ", ".join(
            f"{k} {wh[k]['wall_s']:.1f} s / {wh[k]['peak_rss_mb']:,.0f} MB"
            for k in (
                "ingest_tracepoints",
                "ingest_systemd",
                "dbt_build",
                "dbt_build_warm",
                "dbt_build_prod",
            )
        )
        + f"; warehouse file {wh['db_mb']:,.0f} MB.",
        "",
    ]
    lines += [
        "Goals from the issue: end to end >= 20x (here"
        f" {nb['wall_s'] / wh_wall:.1f}x) and `dbt build` alone >= 50x the notebook's"
        f" transform (here {nb_transform / dbt['wall_s']:.1f}x cold,"
        f" {nb_transform / warm['wall_s']:.1f}x warm): not met at 10 M rows. wirehouse's"
        " cost at this size is mostly fixed: about 2.5 s of dbt start-up and parse, then"
        " every model, data test and unit test with its own round trip; the one pass over"
        " the messages (int_connection_messages_aggregated) is about 2 s of it. The ratio"
        " grows with the data (see the 100 M run).",
        "",
    ]
    if big:
        b_wall, b_rss = total(big, ["ingest_tracepoints", "ingest_systemd", "dbt_build"])
        lines += [
            f"## wirehouse at {big['rows']:,} rows",
            "",
            "| step | wall s | peak RSS MB |",
            "|---|---|---|",
        ]
        for k in ("ingest_tracepoints", "ingest_systemd", "dbt_build", "dbt_build_warm"):
            lines.append(f"| {k} | {big[k]['wall_s']:.1f} | {big[k]['peak_rss_mb']:,.0f} |")
        lines += [
            f"| **end to end** (ingest x2 + cold build) | **{b_wall:.1f}** | **{b_rss:,.0f}** |",
            "",
            f"`dbt build`: {big['dbt_build']['summary']}; warehouse file"
            f" {big['db_mb']:,.0f} MB. Goal < 300 s and < 8 GB for 100 M rows.",
            "",
            "The notebook way was not run at this size: scaled linearly from the 10 M run"
            f" (an extrapolation, not a measurement) it would take about"
            f" {nb['wall_s'] * big['rows'] / rows:,.0f} s end to end"
            f" ({nb_transform * big['rows'] / rows:,.0f} s of transform) and"
            f" ~{nb['peak_rss_mb'] * big['rows'] / rows / 1024:,.0f} GB of memory, more than"
            " this machine has; against that, wirehouse would be"
            f" ~{nb['wall_s'] * big['rows'] / rows / b_wall:.0f}x end to end and"
            f" ~{nb_transform * big['rows'] / rows / big['dbt_build']['wall_s']:.0f}x for"
            " `dbt build` alone.",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
