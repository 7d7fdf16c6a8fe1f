"""Incremental builds give the same marts as a full refresh.

Two nodes' generated files arrive the way nix-bitcoin-monitor writes them: a day at a time,
today's file growing (loaded part-way, then again when complete, after a later day already
arrived), one node lagging behind the other. After each step `wirehouse run` builds
incrementally; at the end every Bitcoin model must equal a full refresh of the same files
(connections and counter intervals across midnight, the restart on day 2, both nodes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import wirehouse

pytestmark = pytest.mark.integration

DAYS = ["2025-01-22", "2025-01-23", "2025-01-24"]
FOLDERS = ["tracepoints/net", "systemd/ip_accounting"]
COMPARED = [
    "intermediate.int_node_runs_detected",
    "intermediate.int_connection_messages_aggregated",
    "intermediate.int_counter_samples_differenced",
    "marts.fct_traffic_estimated_hourly",
    "marts.fct_traffic_estimated_daily",
    "marts.fct_traffic_measured_hourly",
    "marts.fct_traffic_measured_daily",
    "marts.fct_traffic_reconciled_hourly",
    "marts.fct_traffic_reconciled_daily",
    "marts.fct_counter_resets",
    "marts.fct_counter_gaps",
    "marts.fct_peer_connections",
    "marts.fct_peer_message_shares",
    "marts.fct_peer_message_shares_wide",
    "marts.dim_peers",
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    for node, seed in (("alpha", "11"), ("beta", "12")):
        made = wirehouse(
            *("demo-data", root / node, "--days", "3", "--scale", "0.02"),
            *("--peers", "14", "--seed", seed, "--no-capture", "--no-bluetooth"),
        )
        assert made.returncode == 0, made.stderr
    return root


def arrive(generated: Path, inbox: Path, node: str, day: str, share: float = 1.0) -> None:
    """Copy a node's files of one day into the inbox; share < 1: the first part of each."""
    for folder in FOLDERS:
        src = generated / node / folder / f"{day}.csv"
        dst = inbox / node / folder / f"{day}.csv"
        dst.parent.mkdir(parents=True, exist_ok=True)
        if share == 1.0:
            shutil.copyfile(src, dst)
        else:
            lines = src.read_bytes().splitlines(keepends=True)
            dst.write_bytes(b"".join(lines[: int(len(lines) * share)]))


def project(directory: Path, inbox: Path) -> Path:
    path = directory / "wirehouse.toml"
    path.write_text(
        # the data tests are test_source_matrix's: here only the numbers are compared
        '[warehouse]\npath = "warehouse.duckdb"\n'
        '[build]\ntarget_path = "target"\ndata_tests = false\n'
        f'[[source]]\nkind = "tracepoints"\npaths = ["{inbox}"]\n'
        f'[[source]]\nkind = "systemd"\npaths = ["{inbox}"]\n'
    )
    return path


def run(config: Path, *args: str) -> str:
    result = wirehouse("run", "--project", config, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def differences(a: Path, b: Path, table: str) -> list[tuple]:
    """Rows in one warehouse's table and not the other's (load times aside)."""
    with duckdb.connect() as con:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        columns = [
            row[0]
            for row in con.execute(
                "select column_name from duckdb_columns() where database_name = 'a'"
                " and schema_name || '.' || table_name = ? and column_name <> 'loaded_at'",
                [table],
            ).fetchall()
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        one_way = f"select {listed} from {{}}.{table} except all select {listed} from {{}}.{table}"
        return con.execute(
            f"({one_way.format('a', 'b')}) union all ({one_way.format('b', 'a')}) limit 5"
        ).fetchall()


def test_incremental_builds_equal_a_full_refresh(generated: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (tmp_path / "daily").mkdir()
    config = project(tmp_path / "daily", inbox)
    steps = [
        [("alpha", DAYS[0], 1.0), ("beta", DAYS[0], 1.0)],
        [("alpha", DAYS[1], 0.6), ("beta", DAYS[1], 1.0)],  # alpha's day 2 still growing
        [("alpha", DAYS[2], 1.0)],  # beta lags a day
        [("alpha", DAYS[1], 1.0), ("beta", DAYS[2], 1.0)],  # alpha's day 2 complete
    ]
    for number, step in enumerate(steps):
        for node, day, share in step:
            arrive(generated, inbox, node, day, share)
        out = run(config)
        assert ("full (first build)" if number == 0 else "incremental") in out, out
    assert "nothing new" in run(config)

    (tmp_path / "full").mkdir()
    full = project(tmp_path / "full", inbox)
    assert "full" in run(full, "--full-refresh")
    daily_db, full_db = tmp_path / "daily/warehouse.duckdb", tmp_path / "full/warehouse.duckdb"
    for table in COMPARED:
        assert differences(daily_db, full_db, table) == [], table
    with duckdb.connect(str(daily_db), read_only=True) as con:
        nodes = con.execute(
            "select node_id, count(*) from marts.fct_traffic_estimated_daily group by all"
        ).fetchall()
        runs = con.execute(
            "select node_id, max(node_run_id) from intermediate.int_node_runs_detected"
            " group by all order by 1"
        ).fetchall()
    assert {node for node, _ in nodes} == {"alpha", "beta"}
    assert runs == [("alpha", 2), ("beta", 2)]  # the restart on day 2, per node
