"""Every row belongs to a node: named by the user, else by the layout's folder, else default."""

from __future__ import annotations

from pathlib import Path

import duckdb
from click.testing import CliRunner

from ingest.kinds import registry
from ingest.loader.files import expand_named, node_from_layout
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


def names(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("select path, name from raw.ingest_files").fetchall())


def test_each_file_is_named_below_the_folder_it_was_found_in(tmp_path: Path) -> None:
    """Names key captures in the marts wherever the files sit (the path is an attribute)."""
    for day in ("a/tracepoints/net/2025-01-22.csv", "b/x/tracepoints/net/2025-01-23.csv"):
        write_csv(tmp_path / "data" / day, [HEADER, ROW])
    loose = write_csv(tmp_path / "loose/export.csv", [HEADER, ROW])
    deep = write_csv(tmp_path / "glob/deep/in/net.csv", [HEADER, ROW])
    db = tmp_path / "w.duckdb"
    assert ingest("tracepoints", db, tmp_path / "data")[0] == 0
    assert ingest("tracepoints", db, loose)[0] == 0
    # globs come from wirehouse.toml: named below the folder before the first wildcard
    tracepoints = registry()["tracepoints"]
    assert expand_named([tmp_path / "glob/*/in/net.csv"], tracepoints) == {deep: "deep/in/net.csv"}
    assert ingest("tracepoints", db, tmp_path / "glob")[0] == 0
    got = {
        Path(path).relative_to(tmp_path.resolve()).as_posix(): n for path, n in names(db).items()
    }
    assert got == {
        "data/a/tracepoints/net/2025-01-22.csv": "a/tracepoints/net/2025-01-22.csv",
        "data/b/x/tracepoints/net/2025-01-23.csv": "b/x/tracepoints/net/2025-01-23.csv",
        "loose/export.csv": "export.csv",
        "glob/deep/in/net.csv": "deep/in/net.csv",
    }
    # grown and loaded again through another route: the name of its first load stays
    write_csv(deep, [HEADER, ROW, ROW.replace("14:00:04", "14:00:05")])
    assert ingest("tracepoints", db, deep)[0] == 0
    assert set(names(db).values()) >= {"deep/in/net.csv"}
    assert "net.csv" not in set(names(db).values())


def test_a_name_another_file_of_the_node_has_takes_more_of_the_path(tmp_path: Path) -> None:
    """Two folders given at once, each with its 2025-01-22.csv: one capture key each."""
    for folder, row in (("one", ROW), ("two", ROW.replace("14:00:04", "14:00:09"))):
        write_csv(tmp_path / folder / "tracepoints/net/2025-01-22.csv", [HEADER, row])
    db = tmp_path / "w.duckdb"
    code, out = ingest("tracepoints", db, tmp_path / "one", tmp_path / "two", "--node", "n")
    assert code == 0, out
    assert sorted(names(db).values()) == [
        "tracepoints/net/2025-01-22.csv",
        "two/tracepoints/net/2025-01-22.csv",
    ]
    # the same two again: unchanged, names kept
    assert ingest("tracepoints", db, tmp_path / "two", tmp_path / "one", "--node", "n")[0] == 0
    assert sorted(names(db).values())[1] == "two/tracepoints/net/2025-01-22.csv"
