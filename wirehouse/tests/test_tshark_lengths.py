"""A tshark export's impossible frame lengths leave the byte sums and are listed.

A real NeFiAS export (../shared/data/tshark-csv) with three frames edited as broken exports
carry them: frame.len -1514 (frame 10), 300000 (frame 20, above max_packet_bytes) and a
cap_len above frame.len (frame 30). It must load, build green, count every packet, add only
the plausible frames' bytes, and fct_implausible_values must name the file and each frame.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import SHARED, dbt, wirehouse

pytestmark = pytest.mark.integration

EXPORT = SHARED / "tshark-csv" / "nefias_SCC_ABABAB_40.pcap.csv"
BROKEN = {10: ("-1514", None), 20: ("300000", "300000"), 30: ("60", "74")}


@pytest.fixture(scope="module")
def broken_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    if not EXPORT.is_file():
        pytest.skip("../shared/data not present")
    with EXPORT.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        frame = int(row["frame.number"])
        if frame in BROKEN:
            wire, captured = BROKEN[frame]
            row["frame.len"] = wire
            row["frame.cap_len"] = captured or row["frame.cap_len"]
    path = tmp_path_factory.mktemp("tshark-lengths") / "broken.pcap.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), quoting=csv.QUOTE_NONNUMERIC)
        writer.writeheader()
        writer.writerows(rows)
    return path, rows


@pytest.fixture(scope="module")
def warehouse(broken_export: tuple[Path, list[dict]]) -> duckdb.DuckDBPyConnection:
    path, _ = broken_export
    db = path.parent / "warehouse.duckdb"
    done = wirehouse("ingest", "tshark", path, "--start", "1600000000", "--db", db)
    assert done.returncode == 0, done.stderr
    build = dbt(
        db,
        path.parent,
        "build",
        "-s",
        "+fct_capture_totals",
        "+fct_implausible_values",
        "--indirect-selection",
        "cautious",
    )
    assert build.returncode == 0 and not build.not_passing(), (
        build.not_passing() or build.output[-3000:]
    )
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_implausible_lengths_leave_the_byte_sums(
    warehouse: duckdb.DuckDBPyConnection, broken_export: tuple[Path, list[dict]]
) -> None:
    path, rows = broken_export
    plausible = [r for r in rows if int(r["frame.number"]) not in BROKEN]
    totals = warehouse.execute(
        "select packets, wire_bytes, captured_bytes from marts.fct_capture_totals"
        " where capture_id = ?",
        [f"default/{path.name}"],  # node/name
    ).fetchone()
    assert totals == (
        len(rows),  # every packet still counts
        sum(int(r["frame.len"]) for r in plausible),
        sum(int(r["frame.cap_len"]) for r in plausible),
    )


def test_implausible_lengths_are_listed_with_file_and_frame(
    warehouse: duckdb.DuckDBPyConnection, broken_export: tuple[Path, list[dict]]
) -> None:
    path, rows = broken_export
    (cap_len_10,) = (r["frame.cap_len"] for r in rows if r["frame.number"] == "10")
    listed = warehouse.execute(
        "select source_kind, source_file, frame_number, column_name, check_name,"
        " observed_value, row_count from marts.fct_implausible_values order by frame_number"
    ).fetchall()
    where = str(path.resolve())
    assert listed == [
        ("tshark", where, 10, "length", "negative length", f"-1514 / {cap_len_10}", 1),
        ("tshark", where, 20, "length", "length above max_packet_bytes", "300000 / 300000", 1),
        ("tshark", where, 30, "length", "captured more than the wire", "60 / 74", 1),
    ]
