"""Helpers and shared fixtures of the test suites (ingest/tests, wirehouse/tests); the
repo-root conftest.py registers the fixtures."""

from __future__ import annotations

import bz2
import csv
import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HEADER = "timestamp,peer_id,peer_conn_type,peer_addr,flow,msg_type,size"


def write_csv(path: Path, lines: list[str]) -> Path:
    """Write lines the way nix-bitcoin-monitor does (csv module: CRLF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())
    return path


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    return SHARED


REPO = Path(__file__).resolve().parents[2]
BIN = Path(__import__("sys").executable).parent


@dataclass
class DbtRun:
    returncode: int
    output: str
    results: list[dict]  # run_results.json "results"
    stdout: str = ""

    def not_passing(self) -> list[str]:
        """Nodes that did not simply pass (warn, fail, error, skipped), as 'status name'."""
        return [
            f"{r['status']} {r['unique_id']}"
            for r in self.results
            # exposures (models/exposures.yml) are always no-op in a build
            if r["status"] not in ("pass", "success") and not r["unique_id"].startswith("exposure.")
        ]


PARSED = REPO / "target" / "tests-parsed"  # dbt parses that every test's dbt run starts from
WAREHOUSE_NAME = "warehouse.duckdb"

# dbt and `wirehouse` as their own process per call, as on the command line, but forked from
# a server that imported them once: importing dbt is 4 of the 7.7 s a `dbt run` that selects
# nothing takes here (and `wirehouse run` imports it too), the CLI's own imports 0.6 s; the
# suite starts about 70 dbt and 180 wirehouse commands.
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(["dbt.cli.main", "dbt.adapters.duckdb", "wirehouse.cli"])
# dbt's debug log file is ~7% of a small build; tests read its console output (a test that
# reads the file sets DBT_LOG_LEVEL_FILE itself)
QUIET_FILE_LOG = {"DBT_LOG_LEVEL_FILE": "none"}


def _become(env: dict, cwd: Path, out: Path, err: Path) -> None:
    """A forked child takes the caller's environment and directory, and writes to files."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for fd, path in ((1, out), (2, err)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)


def _dbt_child(args: list[str], env: dict, cwd: Path, out: Path, err: Path, results: Path) -> None:
    """The `dbt` command in a forked child: its environment, directory, output files and exit
    code. Only run_results.json is written (``results``): dbt's own writing of manifest.json
    is 1.7 of the 3.7 s a call that selects nothing takes, and no test reads it."""
    _become(env, cwd, out, err)
    from dbt.artifacts.schemas.run import RunExecutionResult
    from dbt.cli.main import dbtRunner

    from wirehouse.run import close_dbt_connection

    try:
        done = dbtRunner().invoke([*args, "--no-write-json"])
        if isinstance(done.result, RunExecutionResult):
            done.result.write(str(results))
    finally:
        # a forked child ends without closing DuckDB, which would leave the build's last
        # writes in the WAL: a copy of the .duckdb file alone would miss them
        close_dbt_connection()
    sys.exit(0 if done.success else 2 if done.exception is not None else 1)  # as `dbt` exits


def parsed_project(vars_arg: str = "") -> Path | None:
    """dbt's partial-parse state of this project for the given ``--vars`` (dbt parses in full
    again whenever the vars, the profile or dbt_project.yml differ from its saved state), made
    once per session and vars for every pytest-xdist worker: a file lock lets one parse. The
    state is reused only while dbt_project.yml and profiles.yml are unchanged (dbt notices
    changed model and macro files itself) and when the connection settings match: the
    warehouse given as ``warehouse.duckdb`` relative to the working directory, as ``dbt()``
    does for warehouses of that name. None when dbt cannot parse with these vars."""
    settings = b"".join((REPO / name).read_bytes() for name in ("dbt_project.yml", "profiles.yml"))
    fingerprint = hashlib.sha256(settings + vars_arg.encode()).hexdigest()
    here = PARSED / fingerprint[:16]
    state = here / "target" / "partial_parse.msgpack"
    here.mkdir(parents=True, exist_ok=True)
    with (here / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (here / "done").exists():
            subprocess.run(
                [
                    *(BIN / "dbt", "parse", "--profiles-dir", REPO, "--project-dir", REPO),
                    *("--target-path", here / "target", "--log-path", here / "logs"),
                    *(("--vars", vars_arg) if vars_arg else ()),
                ],
                env={**os.environ, "WIREHOUSE_DB": WAREHOUSE_NAME},
                cwd=here,
                capture_output=True,
            )
            (here / "done").touch()
    return state if state.exists() else None


def dbt(db: Path, tmp: Path, *args: str) -> DbtRun:
    """Run dbt against the warehouse `db` with its own target and log paths under `tmp`.

    A warehouse named ``warehouse.duckdb`` starts from the session's parse for the same vars
    (parsing the project is most of a small build); any other name is parsed from scratch."""
    target = tmp / "target"
    db_arg, cwd = str(db), Path.cwd()
    if db.name == WAREHOUSE_NAME:
        db_arg, cwd = WAREHOUSE_NAME, db.parent
        target.mkdir(parents=True, exist_ok=True)
        vars_arg = args[args.index("--vars") + 1] if "--vars" in args else ""
        state = parsed_project(vars_arg)
        if state is not None:  # replaces a state this target kept from other vars
            shutil.copy(state, target / "partial_parse.msgpack")
    out, err = tmp / "dbt.stdout", tmp / "dbt.stderr"
    results_file = target / "run_results.json"
    results_file.unlink(missing_ok=True)  # a call that runs nothing leaves none
    run = [*args, "--profiles-dir", REPO, "--project-dir", REPO]
    run += ["--target-path", target, "--log-path", tmp / "logs"]
    child = _FORKS.Process(
        target=_dbt_child,
        args=(
            [str(a) for a in run],
            {**QUIET_FILE_LOG, **os.environ, "WIREHOUSE_DB": db_arg},
            cwd,
            out,
            err,
            results_file,
        ),
    )
    child.start()
    child.join()
    stdout, stderr = out.read_text(), err.read_text()
    results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
    return DbtRun(child.exitcode, stdout + stderr, results, stdout)


def _wirehouse_child(args: list[str], env: dict, cwd: Path, out: Path, err: Path) -> None:
    """The `wirehouse` command in a forked child (click exits with the command's code)."""
    _become(env, cwd, out, err)
    from wirehouse.cli import main

    sys.argv = ["wirehouse", *args]
    main()


def wirehouse(*args: str | Path) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: a process of its own, with this one's environment and
    directory (forked from the server that imported it once)."""
    with tempfile.TemporaryDirectory(prefix="wirehouse-cli-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        run = [str(a) for a in args]
        child = _FORKS.Process(
            target=_wirehouse_child, args=(run, dict(os.environ), Path.cwd(), out, err)
        )
        child.start()
        child.join()
        return subprocess.CompletedProcess(
            ["wirehouse", *run], child.exitcode, out.read_text(), err.read_text()
        )


def write_preprocessed_tracepoints(src: Path, dst: Path) -> Path:
    """The published analysis' Step 1 output: timestamp,ipv6,flow,msg_type,size (pandas)."""
    with src.open(newline="") as f_in, dst.open("w", newline="") as f_out:
        out = csv.writer(f_out, lineterminator="\n")
        out.writerow(["timestamp", "ipv6", "flow", "msg_type", "size"])
        for row in csv.DictReader(f_in):
            stamp = row["timestamp"].replace("T", " ").replace("Z", "+00:00")
            ipv6 = "True" if "[" in row["peer_addr"] else "False"
            out.writerow([stamp, ipv6, row["flow"], row["msg_type"], row["size"]])
    return dst


def write_differenced_systemd(src: Path, dst: Path) -> Path:
    """What pandas' `df.dropna()[[bytes]].diff()[1:]` writes: per-interval floats."""
    names = ["IPIngressBytes", "IPEgressBytes"]
    opener = bz2.open if src.name.endswith(".bz2") else open
    with opener(src, "rt", newline="") as f_in, dst.open("w", newline="") as f_out:
        out = csv.writer(f_out, lineterminator="\n")
        out.writerow(["timestamp", *names])
        previous = None
        for row in csv.DictReader(f_in):
            if not row[names[0]]:
                continue  # dropna()
            values = [int(row[n]) for n in names]
            if previous is not None:
                stamp = row["timestamp"].replace("T", " ").replace("Z", "+00:00")
                out.writerow(
                    [stamp, *(f"{v - p:.1f}" for v, p in zip(values, previous, strict=True))]
                )
            previous = values
    return dst


@dataclass(frozen=True)
class DemoWarehouse:
    db: Path  # two days of Bitcoin data and a Kafka capture, dbt-built
    day3: Path  # the third day's tracepoint and systemd files, not ingested
    work: Path


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    root = factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


def shared_dir(factory: pytest.TempPathFactory, name: str) -> Path:
    """The directory ``built_once`` builds ``name`` in."""
    return _shared_root(factory) / name


@contextmanager
def built_once(factory: pytest.TempPathFactory, name: str) -> Iterator[Path | None]:
    """A directory built once per test session, also when pytest-xdist runs several workers
    (they share the parent of their own temporary directories): yields the empty directory
    to build in, or None when it is already built. A build that fails is redone next time."""
    root = _shared_root(factory)
    work = root / name
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (work / ".built").exists():
            yield None
            return
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        yield work
        (work / ".built").touch()


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> DemoWarehouse:
    """A small warehouse as `make demo` builds it (our generator, all three ingests, dbt
    build), shared by the report and publish tests (read it, or copy it to change it)."""
    with built_once(tmp_path_factory, "demo-warehouse") as work:
        if work is not None:
            _build_demo_warehouse(work)
    work = _shared_root(tmp_path_factory) / "demo-warehouse"
    return DemoWarehouse(work / "warehouse.duckdb", work / "day3", work)


def _build_demo_warehouse(work: Path) -> None:
    from wirehouse.demo import bitcoin as demo
    from wirehouse.demo import pcap as demo_pcap

    data = work / "data"
    demo.generate(data, days=3, peers=20, scale=0.02, seed=5)
    demo_pcap.generate(data / "captures" / "kafka-broker.pcap", seconds=20, seed=5)
    day3 = work / "day3"
    for kind in ("tracepoints/net", "systemd/ip_accounting"):
        (day3 / kind).mkdir(parents=True)
        shutil.move(data / kind / "2025-01-24.csv", day3 / kind / "2025-01-24.csv")
    db = work / "warehouse.duckdb"
    for kind, path in (("tracepoints", data), ("systemd", data), ("pcap", data / "captures")):
        result = wirehouse("ingest", kind, path, "--db", db)
        assert result.returncode == 0, result.stderr
    # models and seeds only: `make test` runs dbt's tests on its own fixtures
    run = dbt(db, work, "build", "--resource-type", "seed", "--resource-type", "model")
    assert run.returncode == 0, run.output


def build_every_kind(demo_warehouse: DemoWarehouse, factory: pytest.TempPathFactory) -> Path:
    """The demo warehouse plus an hourly tshark export and the Bluetooth demo sniff: every
    kind of data `make demo` loads. Built once per session, whichever test asks first."""
    with built_once(factory, "every-kind-warehouse") as work:
        if work is not None:
            _build_every_kind(demo_warehouse, work)
    return _shared_root(factory) / "every-kind-warehouse" / "warehouse.duckdb"


def _build_every_kind(demo_warehouse: DemoWarehouse, work: Path) -> None:
    from wirehouse.demo import bluetooth as demo_bluetooth
    from wirehouse.demo import pcap as demo_pcap
    from wirehouse.demo import tshark as demo_tshark

    db = work / "warehouse.duckdb"
    shutil.copy(demo_warehouse.db, db)
    capture = demo_warehouse.work / "data" / "captures" / "kafka-broker.pcap"
    # hours 0, 1, 2 and 4 (replayed 1, 2, 3, 2 times): hour 3 is a gap
    demo_tshark.generate(
        work / "tshark", capture, first_hour=int(demo_pcap.T0) - 6 * 3600, hours=5, missing=(3,)
    )
    demo_bluetooth.generate(work / "bluetooth", seed=5, seconds=30)
    for kind, path in (("tshark", work / "tshark"), ("pcap", work / "bluetooth")):
        result = wirehouse("ingest", kind, path, "--db", db)
        assert result.returncode == 0, result.stderr
    # the capture marts read every packet table: rebuild what the new kinds feed
    run = dbt(
        db,
        work,
        "build",
        *("--resource-type", "model", "--select", "staging.tshark+", "staging.bluetooth+"),
    )
    assert run.returncode == 0, run.output


@pytest.fixture(scope="session")
def every_kind_db(demo_warehouse: DemoWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_every_kind(demo_warehouse, tmp_path_factory)


def copy_marts(source: Path, target: Path, names: list[str]) -> None:
    """A warehouse holding only some marts (as a user with one kind of data has)."""
    with duckdb.connect(str(target)) as con:
        con.execute(f"attach '{source}' as src (read_only)")
        con.execute("create schema marts")
        for name in names:
            con.execute(f"create table marts.{name} as from src.marts.{name}")


def bitcoin_only_db(demo_warehouse: DemoWarehouse, db: Path) -> Path:
    """A node operator's warehouse: the marts the Bitcoin charts read, nothing else."""
    from wirehouse.serve.report import SECTIONS

    needs = {
        t.split(".")[1]
        for s in SECTIONS
        if s.section_id == "bitcoin"
        for c in s.charts
        for t in c.needs
    }
    copy_marts(demo_warehouse.db, db, sorted(needs))
    return db
