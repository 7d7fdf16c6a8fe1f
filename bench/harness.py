"""Shared pieces of `make bench`: time one command in its own process, profile it, and
collect results into bench/RESULTS.md and bench/results.csv.

Every contender runs as a fresh subprocess, so its wall time includes interpreter start-up
and its peak RSS is its own (``os.wait4`` returns the child's rusage; ``ru_maxrss`` is the
largest resident set of the child and of the children it waited for).
"""

from __future__ import annotations

import collections
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass
class Measurement:
    wall_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str

    def check(self, what: str) -> Measurement:
        if self.returncode != 0:
            raise SystemExit(
                f"{what} failed ({self.returncode}):\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"
            )
        return self


def measure(
    cmd: list[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Measurement:
    """Wall time and peak RSS of one command in its own process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            stdout=out,
            stderr=err,
            env=None if env is None else os.environ | env,
            cwd=cwd,
        )
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measurement(
            wall,
            usage.ru_maxrss / 1024,
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def profile(
    cmd: list[str | Path], out: Path, env: dict[str, str] | None = None, top: int = 5
) -> list[tuple[str, float]]:
    """py-spy the command (100 samples/s, subprocesses too); the functions holding the most
    samples (self time, as 'function (file)'), with their share of all samples."""
    spy = BIN / "py-spy"
    run = subprocess.run(
        [
            str(spy),
            "record",
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            "100",
            "--output",
            str(out),
            "--",
            *map(str, cmd),
        ],
        capture_output=True,
        text=True,
        env=None if env is None else os.environ | env,
    )
    if run.returncode != 0 or not out.exists():
        return [(f"py-spy failed: {run.stderr.strip().splitlines()[-1:]}", 0.0)]
    self_time: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        leaf = stack.split(";")[-1]
        name = leaf.split(" (")[0] + " (" + Path(leaf.split(" (")[-1].split(":")[0]).name + ")"
        self_time[name] += int(count)
        total += int(count)
    return [(name, n / total) for name, n in self_time.most_common(top)] if total else []


def stack_share(raw_profile: Path, needles: list[str]) -> dict[str, float]:
    """Share of samples whose stack contains each needle (e.g. a function name)."""
    hits = dict.fromkeys(needles, 0)
    total = 0
    for line in raw_profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for needle in needles:
            if needle in stack:
                hits[needle] += int(count)
    return {k: v / total for k, v in hits.items()} if total else {}


@dataclass
class Row:
    suite: str
    size: str
    contender: str
    wall_s: float
    peak_rss_mb: float
    reference: str = ""  # the contender this row is compared with
    ratio: float | None = None  # reference wall / this wall (higher = this is faster)
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)  # suite -> lines
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)

    def add(
        self,
        suite: str,
        size: str,
        contender: str,
        m: Measurement | float,
        reference: Row | None = None,
        note: str = "",
    ) -> Row:
        wall = m if isinstance(m, float) else m.wall_s
        rss = 0.0 if isinstance(m, float) else m.peak_rss_mb
        row = Row(suite, size, contender, wall, rss, note=note)
        if reference is not None:
            row.reference = reference.contender
            row.ratio = reference.wall_s / wall if wall else None
        self.rows.append(row)
        print(
            f"  {suite} {size} {contender}: {wall:.2f} s, {rss:,.0f} MB"
            + (f", {row.ratio:.2f}x vs {row.reference}" if row.ratio else ""),
            flush=True,
        )
        return row

    def note(self, suite: str, text: str) -> None:
        notes = self.notes.setdefault(suite, [])
        if text not in notes:  # a suite run at several sizes says its goal once
            notes.append(text)

    def write(self, md: Path, csv_path: Path, titles: dict[str, str], goals: list[str]) -> None:
        with csv_path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[column.name for column in fields(Row)])
            writer.writeheader()
            writer.writerows(asdict(r) for r in self.rows)
        lines = ["# wirehouse benchmarks", "", *machine_lines(self), "", "## Goals", "", *goals]
        for suite, title in titles.items():
            rows = [r for r in self.rows if r.suite == suite]
            if not rows and not self.notes.get(suite):
                continue
            lines += ["", f"## {title}", ""]
            if rows:  # (profiles are notes only)
                lines += [
                    "| size | contender | wall s | peak RSS MB | vs | ratio |",
                    "|---|---|---:|---:|---|---:|",
                ]
            for r in rows:
                ratio = f"{r.ratio:.2f}x" if r.ratio else ""
                label = r.contender + (f" ({r.note})" if r.note else "")
                lines.append(
                    f"| {r.size} | {label} | {r.wall_s:.2f} | {r.peak_rss_mb:,.0f} |"
                    f" {r.reference} | {ratio} |"
                )
            lines += [""] * bool(rows) + self.notes.get(suite, [])
        md.write_text("\n".join(lines).rstrip() + "\n")


def machine_lines(results: Results) -> list[str]:
    import duckdb

    versions = {"python": platform.python_version(), "duckdb": duckdb.__version__}
    for package in ("dbt-core", "dbt-duckdb", "pandas", "scapy", "dpkt"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "-"
    tshark = subprocess.run(["tshark", "--version"], capture_output=True, text=True)
    first = tshark.stdout.split("\n")[0].split() if tshark.returncode == 0 else ["-"]
    versions["tshark"] = first[-1].rstrip(").")
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = (
        next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        / 2**20
    )
    took = (datetime.now(UTC) - results.started).total_seconds()
    return [
        f"Run {results.started:%Y-%m-%d %H:%M} UTC, {took / 60:.1f} min, `make bench`"
        f" (bench/run.py). Machine: {cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM;"
        f" load average {results.load_before[0]:.1f} at the start, {os.getloadavg()[0]:.1f}"
        " at the end (above ~0.5 the machine was shared: figures are not final).",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "Every ratio is two contenders measured in the same run, one after the other, on the"
        " same generated input (deterministic seeds); each contender is its own process"
        " (start-up included), peak RSS is that process tree's largest resident set.",
    ]


def dump(obj: object) -> str:
    return json.dumps(obj, default=str)
