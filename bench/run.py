"""`make bench`: every speed and memory figure of wirehouse, side by side in one run.

    .venv/bin/python bench/run.py [--quick] [--only csv,bitcoin,daily,big,pcap]

Writes bench/RESULTS.md and bench/results.csv. Suites (sizes span 10x, inputs in bench/.data):

- csv:     three daily tracepoint files, `wirehouse ingest` vs DuckDB's bare read_csv
- bitcoin: the notebooks' pandas pipeline (bench/notebook_way.py) vs `wirehouse run` on the
           same folders (1 M / 3 M / 10 M messages, and one 2 M-message day); `dbt build`
           against the notebook's transform steps
- daily:   one day added to a 30-day warehouse vs that day alone in a fresh one, and a run
           with nothing new (days of 0.18 M / 0.55 M / 1.8 M messages)
- big:     `wirehouse run` alone on ~100 M messages (55 days)
- pcap:    the capture reader vs scapy, dpkt and tshark on a mixed and a Kafka-heavy capture
           (bench/bench_pcap.py's contenders, owned by the capture reader)

Profiles name each pipeline's slowest step: the notebook's own step timer, dbt's per-model
timing plus EXPLAIN ANALYZE of the slowest model, py-spy of `wirehouse run` and of ingest.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import inputs
from bench.harness import BIN, ROOT, Measurement, Results, measure, profile, stack_share

WORK = inputs.DATA / "work"
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
TITLES = {
    "csv": "CSV ingest: wirehouse ingest vs DuckDB's bare read_csv (three daily files)",
    "bitcoin": "Bitcoin marts: notebook way vs wirehouse run",
    "daily": "Daily operation: one day added to a 30-day warehouse",
    "big": "Bitcoin at ~100 M messages (wirehouse alone)",
    "pcap": "Captures: our reader vs scapy, dpkt, tshark (seconds per million packets)",
    "profiles": "Slowest steps (profiles)",
}


def fresh(name: str) -> Path:
    path = WORK / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def project(directory: Path, paths: list[Path], data_tests: bool = True) -> Path:
    """A wirehouse.toml in `directory` loading tracepoints and systemd from `paths`."""
    listed = ", ".join(f'"{p}"' for p in paths)
    text = (
        f'[warehouse]\npath = "warehouse.duckdb"\n'
        f'[build]\ntarget_path = "target"\ndata_tests = {str(data_tests).lower()}\n'
        f'[[source]]\nkind = "tracepoints"\npaths = [{listed}]\n'
        f'[[source]]\nkind = "systemd"\npaths = [{listed}]\n'
    )
    (directory / "wirehouse.toml").write_text(text)
    return directory / "wirehouse.toml"


def wirehouse_run(config: Path, *args: str):
    return measure([BIN / "wirehouse", "run", "--project", config, *args]).check(f"run {config}")


def build_seconds(out: str) -> float:
    found = re.search(r"^build: .* in ([\d.]+) s$", out, re.M)
    return float(found[1]) if found else 0.0


def suite_csv(res: Results, sizes: dict[str, Path], quick: bool) -> None:
    for size, folder in sizes.items():
        # the runs are seconds long, so one noisy second moves a ratio: the two alternate
        # and each figure is the median of its runs
        repeats = 1 if quick else 3 if size.startswith("10") else 5
        bare_runs, ours_runs = [], []
        for _ in range(repeats):
            work = fresh(f"csv-{size}")
            bare_runs.append(measure([sys.executable, "-c", BARE, folder, work / "bare.duckdb"]))
            ingest = [BIN / "wirehouse", "ingest", "tracepoints", folder, "--db", work / "w.duckdb"]
            ours_runs.append(measure(ingest).check("ingest"))
        again = measure(ingest).check("ingest again")
        bare = res.add("csv", size, "DuckDB read_csv into a table", median(bare_runs))
        res.add("csv", size, "wirehouse ingest tracepoints", median(ours_runs), bare)
        res.add("csv", size, "wirehouse ingest again (all unchanged)", again, bare)
        if repeats > 1:
            res.note("csv", f"{size}: median of {repeats} alternating runs of each.")
    res.note(
        "csv",
        "Process start-up is included on both sides. Goal: wirehouse >= 0.8x at"
        " three 1 M-row files.",
    )


def median(runs: list[Measurement]) -> Measurement:
    return sorted(runs, key=lambda m: m.wall_s)[len(runs) // 2]


def suite_bitcoin(res: Results, sizes: dict[str, Path], quick: bool) -> None:
    for size, folder in sizes.items():
        work = fresh(f"bitcoin-{size}")
        nb = measure([sys.executable, ROOT / "bench/notebook_way.py", folder, work / "nb"]).check(
            "notebook"
        )
        steps = json.loads(nb.stdout.strip().splitlines()[-1])
        nb_row = res.add("bitcoin", size, "notebook way, end to end", nb)
        transform = sum(v for k, v in steps.items() if k.startswith("transform"))
        nb_t = res.add("bitcoin", size, "notebook transform steps only", transform)
        (work / "a").mkdir()
        run = wirehouse_run(project(work / "a", [folder]))
        res.add("bitcoin", size, "wirehouse run, end to end", run, nb_row)
        res.add("bitcoin", size, "dbt build inside wirehouse run", build_seconds(run.stdout), nb_t)
        (work / "b").mkdir()
        lean = wirehouse_run(project(work / "b", [folder], data_tests=False))
        res.add("bitcoin", size, "wirehouse run without data tests", lean, nb_row)
        res.add(
            "bitcoin", size, "dbt build inside it (models only)", build_seconds(lean.stdout), nb_t
        )
        cli = measure(
            [
                BIN / "dbt",
                "build",
                "--exclude-resource-type",
                "unit_test",
                "--project-dir",
                ROOT,
                "--profiles-dir",
                ROOT,
                "--target-path",
                work / "cli-target",
                "--log-path",
                work / "cli-logs",
                "--full-refresh",
                # what wirehouse run builds for these kinds (their upstream exists)
                "--select",
                "source:*.bitcoin_p2p_messages+",
                "source:*.systemd_ip_accounting_samples+",
            ],
            env={"WIREHOUSE_DB": str(work / "a/warehouse.duckdb")},
        ).check("dbt build")
        res.add("bitcoin", size, "dbt build CLI on the landed rows (cold)", cli, nb_t)
        res.note(
            "bitcoin",
            f"{size}: notebook steps (s) "
            + ", ".join(f"{k} {v:.1f}" for k, v in steps.items() if k != "rows"),
        )
    res.note(
        "bitcoin",
        "Goals: end to end >= 20x at 10 M rows, `dbt build` >= 50x the"
        " notebook's transform steps, >= 10x end to end on one day (2 M messages). The"
        " notebooks' pandarallel is not installed: their row-wise steps ran on one core.",
    )


def suite_daily(res: Results, sizes: dict[str, Path], days: int) -> None:
    for size, folder in sizes.items():
        work = fresh(f"daily-{size}")
        (work / "month").mkdir()
        (work / "alone").mkdir()
        month = project(work / "month", [work / "inbox"])
        inputs.link_days(folder, work / "inbox", range(days))
        setup = wirehouse_run(month)
        res.add("daily", size, f"setup: {days} days, first build", setup)
        alone_inbox = work / "alone-inbox"
        inputs.link_days(folder, alone_inbox, range(days, days + 1))
        alone = res.add(
            "daily",
            size,
            "that day alone, fresh warehouse",
            wirehouse_run(project(work / "alone", [alone_inbox])),
        )
        # the notebook reads one node's folder: link_days put the day under node "tau"
        notebook = res.add(
            "daily",
            size,
            "notebook way on that day",
            measure(
                [sys.executable, ROOT / "bench/notebook_way.py", alone_inbox / "tau", work / "nb"]
            ).check("notebook"),
        )
        inputs.link_days(folder, work / "inbox", range(days, days + 1))
        added = wirehouse_run(month)
        res.add("daily", size, f"that day added to the {days}-day warehouse", added, alone)
        res.add("daily", size, "that day added (vs the notebook way)", added, notebook)
        nothing = wirehouse_run(month)
        res.add("daily", size, "run again, nothing new", nothing, alone)
    res.note(
        "daily",
        "ratio = the day alone (or the notebook way on that day) / this run. Goals for the"
        " added day: > 0.67x the day alone (< 1.5x its cost) and >= 10x the notebook way at"
        " 2 M messages; nothing new <= 1 s. Both with data tests (the default).",
    )


def suite_big(res: Results, folder: Path) -> None:
    work = fresh("big")
    run = wirehouse_run(project(work, [folder]))
    rows = re.search(r"\(([\d,]+) rows\)", run.stdout)
    res.add(
        "big",
        rows[1] if rows else "?",
        "wirehouse run, end to end (first build)",
        run,
        note=f"build {build_seconds(run.stdout):.0f} s",
    )
    res.note("big", "Goal: < 300 s and < 8 GB peak RSS.")


def suite_pcap(res: Results, sizes: list[int]) -> None:
    from bench import bench_pcap

    bench_pcap.OUT_DIR.mkdir(parents=True, exist_ok=True)
    # every compiled kernel (Kafka's too) runs once before anything is timed
    bench_pcap.kafka_demo(bench_pcap.OUT_DIR / "warmup.pcap", 20_000)
    for label, make in (("mixed", inputs.mixed_capture), ("kafka-heavy", inputs.kafka_capture)):
        for packets in sizes:
            path = make(packets)
            bench_pcap.run_bare(path)  # page cache: the first contender must not pay the disk
            size = f"{label} {packets:,} packets"
            # scapy reads at most 20,000 packets (about 10 s); the others the whole file
            limits = {"scapy": min(packets, 20_000), "dpkt": packets}
            results = {
                name: bench_pcap.measure(name, path, limits.get(name, 0))
                for name in ("ours", "ours+duckdb", "scapy", "dpkt", "tshark")
            }
            # seconds per million packets, so contenders that read a part compare fairly
            per_m = {n: r["seconds"] * 1e6 / max(r["packets"], 1) for n, r in results.items()}
            ours = res.add("pcap", size, "ours (Arrow batches), s per 1 M packets", per_m["ours"])
            ours.peak_rss_mb = results["ours"]["maxrss_kb"] / 1024
            for name, r in results.items():
                if name == "ours":
                    continue
                row = res.add("pcap", size, f"{name}, s per 1 M packets", per_m[name])
                row.peak_rss_mb = r["maxrss_kb"] / 1024
                row.reference, row.ratio = ours.contender, row.wall_s / ours.wall_s
    res.note(
        "pcap",
        "Seconds inside each contender's process per million packets (start-up and JIT"
        " load excluded, as in bench/bench_pcap.py; scapy reads the first 20,000"
        " packets); ratio = contender time / ours (how many times faster ours is)."
        " ours+duckdb = the whole `wirehouse ingest pcap` (extractors, DuckDB insert,"
        " commit): its ratio is how many times the source alone it takes.",
    )


def suite_profiles(res: Results, folder: Path) -> None:
    """The slowest step of each pipeline, from a profile of one run at the middle size."""
    work = fresh("profiles")
    (work / "w").mkdir()
    config = project(work / "w", [folder])
    raw = work / "run.raw"
    top = profile([BIN / "wirehouse", "run", "--project", config], raw)
    shares = stack_share(raw, ["ingest_files", "dbt_build", "execute ("])
    res.note(
        "profiles",
        "`wirehouse run` (py-spy, first build of the 3 M folder): "
        f"ingest {shares.get('ingest_files', 0):.0%} of samples, dbt"
        f" {shares.get('dbt_build', 0):.0%}; inside DuckDB's execute (any caller)"
        f" {shares.get('execute (', 0):.0%}; top self time: "
        + "; ".join(f"{name} {share:.0%}" for name, share in top[:4])
        + ".",
    )
    results = json.loads((work / "w/target/run_results.json").read_text())["results"]
    slow = sorted(results, key=lambda r: -r["execution_time"])[:5]
    res.note(
        "profiles",
        "dbt's slowest nodes (s): "
        + ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.2f}" for r in slow)
        + ".",
    )
    import duckdb

    # the slowest model plain DuckDB can run (the anonymised ones call dbt's plugin function)
    for r in slow:
        if r["unique_id"].startswith("model."):
            try:
                res.note("profiles", explain(work / "w", r["unique_id"].split(".")[-1]))
                break
            except duckdb.Error:
                continue


def explain(directory: Path, model: str) -> str:
    """EXPLAIN ANALYZE of a model's compiled SQL: its three costliest operators."""
    import duckdb

    compiled = next((directory / "target/compiled").rglob(f"{model}.sql"), None)
    if compiled is None:
        return f"{model}: no compiled SQL"
    con = duckdb.connect(str(directory / "warehouse.duckdb"), read_only=True)
    con.execute("set enable_progress_bar = false")
    con.execute("set enable_profiling = 'json'")
    con.execute(f"set profiling_output = '{directory / 'explain.json'}'")
    con.execute(compiled.read_text()).fetchall()
    con.close()
    tree = json.loads((directory / "explain.json").read_text())
    ops: list[tuple[float, str]] = []

    def walk(node: dict) -> None:
        # DuckDB 2.0: {"type", "timing", "children"} under "operator"; 1.x: operator_* keys
        name = node.get("type") or node.get("operator_type") or node.get("operator_name")
        if name:
            ops.append((node.get("timing", node.get("operator_timing", 0.0)), name.strip()))
        for child in node.get("operator", []) + node.get("children", []):
            walk(child)

    walk(tree)
    total = sum(t for t, _ in ops) or 1.0
    latency = tree.get("query", {}).get("total_time", tree.get("latency", total))
    ops.sort(reverse=True)
    return (
        f"EXPLAIN ANALYZE {model} (total {latency:.2f} s): "
        + ", ".join(f"{name} {t / total:.0%}" for t, name in ops[:3])
        + "."
    )


GOALS = [
    "- CSV ingest of three 1 M-row files >= 0.8x bare read_csv (suite csv, size 3 M).",
    "- Bitcoin end to end >= 20x the notebook at 10 M rows; `dbt build` >= 50x its"
    " transform steps; >= 10x end to end on one 2 M-message day.",
    "- One day added to a 30-day warehouse < 1.5x that day alone (ratio > 0.67x).",
    "- ~100 M messages end to end < 5 min and < 8 GB.",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes (checks the harness)")
    parser.add_argument("--only", default="csv,bitcoin,daily,big,pcap,profiles")
    parser.add_argument("--name", default="RESULTS", help="results file stem")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every data size (not the goals')"
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    res = Results()
    k = 0.01 if args.quick else args.scale
    suffix = ".quick" if args.quick else ""
    stem = args.name
    if k != 1.0:
        res.note("csv", f"Data sizes scaled by {k:g} (`--scale`): not the goals' sizes.")
    out = ROOT / "bench"

    def save() -> None:  # after every suite: a run cut short keeps what it measured
        res.write(out / f"{stem}{suffix}.md", out / f"{stem.lower()}{suffix}.csv", TITLES, GOALS)

    # three daily files per size: 1 M, 3 M, 10 M messages in all
    folders = {
        f"{n / 1e6 * k:g} M": inputs.node_folder(
            f"three-days-{n}-{k}", 3, inputs.scale_for(n * k / 3), 7
        )
        for n in (1_000_000, 3_000_000, 10_000_000)
    }
    if "csv" in only:
        suite_csv(res, folders, args.quick)
        save()
    if "bitcoin" in only:
        day = inputs.node_folder(f"one-day-{k}", 1, inputs.scale_for(2_000_000 * k), 8)
        suite_bitcoin(res, {**folders, f"one day, {2 * k:g} M": day}, args.quick)
        save()
    big = None
    if only & {"daily", "big"}:
        big = inputs.node_folder(f"big-{k}", 4 if args.quick else 55, 1.0 * k, 9)
    if "big" in only and big is not None:
        suite_big(res, big)
        save()
    if "daily" in only and big is not None:
        month = 3 if args.quick else 30
        # largest first: the goal's size (1.8 M messages a day) is the figure that matters
        suite_daily(res, {f"{k * 1.83:.2g} M/day": big}, month)
        save()
        small = {
            f"{s * k * 1.83:.2g} M/day": inputs.node_folder(f"month-{s}-{k}", month + 1, s * k, 10)
            for s in (0.3, 0.1)
        }
        suite_daily(res, small, month)
        save()
    if "pcap" in only:
        suite_pcap(res, [int(n * min(k * 10, 1)) for n in (20_000, 60_000, 200_000)])
        save()
    if "profiles" in only:
        suite_profiles(res, list(folders.values())[1])
        save()
    print((out / f"{stem}{suffix}.md").read_text())


if __name__ == "__main__":
    main()
