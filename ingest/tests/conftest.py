from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


ROOT = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).parent / "dbt"


def run_dbt(args: list[str], db: Path, work: Path) -> None:
    """dbt against `db`, its target/ and logs/ under `work` (the repository's stay untouched)."""
    env = {**os.environ, "WIREHOUSE_DB": str(db), "DBT_PROFILES_DIR": str(ROOT)}
    subprocess.run(
        [
            str(DBT),
            *args,
            "--quiet",
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )


@dataclass(frozen=True)
class DemoWarehouse:
    db: Path  # two days of Bitcoin data and a Kafka capture, dbt-built
    day3: Path  # the third day's tracepoint and systemd files, not ingested
    work: Path


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> DemoWarehouse:
    """A small warehouse as `make demo` builds it (our generator, all three ingests, dbt
    build), shared by the report and publish tests."""
    from click.testing import CliRunner

    from ingest import demo, demo_pcap
    from ingest.cli import main

    work = tmp_path_factory.mktemp("demo-warehouse")
    data = work / "data"
    demo.generate(data, days=3, peers=20, scale=0.02, seed=5)
    demo_pcap.generate(data / "captures" / "kafka-broker.pcap", seconds=20, seed=5)
    day3 = work / "day3"
    for kind in ("tracepoints/net", "systemd/ip_accounting"):
        (day3 / kind).mkdir(parents=True)
        shutil.move(data / kind / "2025-01-24.csv", day3 / kind / "2025-01-24.csv")
    db = work / "warehouse.duckdb"
    runner = CliRunner()
    for kind, path in (("tracepoints", data), ("systemd", data), ("pcap", data / "captures")):
        result = runner.invoke(main, ["ingest", kind, str(path), "--db", str(db)])
        assert result.exit_code == 0, result.output
    # models and seeds only: `make test` runs dbt's tests on its own fixtures
    run_dbt(["build", "--resource-type", "seed", "--resource-type", "model"], db, work)
    return DemoWarehouse(db, day3, work)
