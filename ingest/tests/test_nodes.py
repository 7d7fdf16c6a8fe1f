"""Every row belongs to a node: named by the user, else by the layout's folder, else default."""

from __future__ import annotations

from pathlib import Path

import duckdb
from click.testing import CliRunner

from ingest.kinds import registry
from ingest.loader.files import node_from_layout
from ingest.tests.helpers import HEADER, write_csv
from wirehouse.cli import main

ROW = "2025-01-22T14:00:04Z,0,block-relay-only,123.100.246.24:8333,out,version,102"
SAMPLE_HEADER = "timestamp,IPIngressPackets,IPEgressPackets,IPIngressBytes,IPEgressBytes"


def ingest(kind: str, db: Path, *args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ingest", kind, *map(str, args), "--db", str(db)])
    return result.exit_code, result.stdout + result.stderr


def nodes(db: Path, table: str = "bitcoin_p2p_messages") -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            f"select node, count(*) from raw.{table} join raw.ingest_files on file_id = _file_id"
            " group by all order by 1"
        ).fetchall()


def test_the_layout_names_the_node(tmp_path: Path) -> None:
    tracepoints, systemd = registry()["tracepoints"], registry()["systemd"]
    assert node_from_layout(tmp_path / "tau/tracepoints/net/2025-01-22.csv", tracepoints.layouts)
    assert node_from_layout(tmp_path / "tau/net.csv", tracepoints.layouts) == "tau"
    assert node_from_layout(tmp_path / "rho/systemd/ip_accounting/d.csv", systemd.layouts) == "rho"
    assert node_from_layout(tmp_path / "somewhere/export.csv", tracepoints.layouts) is None
    for node in ("alpha", "beta"):
        write_csv(tmp_path / node / "tracepoints/net/2025-01-22.csv", [HEADER, ROW])
    write_csv(tmp_path / "loose.csv", [HEADER, ROW])
    code, out = ingest("tracepoints", tmp_path / "w.duckdb", tmp_path)
    assert code == 0, out
    # the same content for another node is that node's data: loaded, not skipped as a copy
    assert nodes(tmp_path / "w.duckdb") == [("alpha", 1), ("beta", 1)]
    code, out = ingest("tracepoints", tmp_path / "w.duckdb", tmp_path / "loose.csv")
    assert nodes(tmp_path / "w.duckdb") == [("alpha", 1), ("beta", 1), ("default", 1)]


def test_node_option_wins_and_moving_a_file_relabels_it(tmp_path: Path) -> None:
    day = write_csv(tmp_path / "alpha/systemd/ip_accounting/2025-01-22.csv",
                    [SAMPLE_HEADER, "2025-01-22T00:00:04Z,1,2,3,4"])  # fmt: skip
    db = tmp_path / "w.duckdb"
    assert ingest("systemd", db, day, "--node", "tau")[0] == 0
    assert nodes(db, "systemd_ip_accounting_samples") == [("tau", 1)]
    code, out = ingest("systemd", db, day, "--node", "rho")
    assert code == 0, out
    assert "moved from node 'tau' to 'rho'" in out
    assert nodes(db, "systemd_ip_accounting_samples") == [("rho", 1)]
    assert ingest("systemd", db, day, "--node", "rho")[1].count("unchanged") == 1


def test_a_bad_node_name_is_a_usage_error(tmp_path: Path) -> None:
    day = write_csv(tmp_path / "d.csv", [HEADER, ROW])
    code, out = ingest("tracepoints", tmp_path / "w.duckdb", day, "--node", " tau\t")
    assert code == 2
    assert "node name" in out
