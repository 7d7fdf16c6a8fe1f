"""The traffic marts on tshark exports: equal to the same capture's pcap, and gapless.

- Each shared NeFiAS export is ingested with ``--start`` = the first packet of its source
  capture; packet count, bytes and the per-minute series must equal the capture's own.
- A folder in the hourly layout (from the demo writer) with two hours missing gives zero rows
  for exactly those hours.

A warehouse holding only tshark data building green is the ``tshark`` case of
test_source_matrix.py.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import SHARED, dbt, wirehouse
from wirehouse.demo import pcap as demo_pcap
from wirehouse.demo import tshark as demo_tshark

pytestmark = pytest.mark.integration

TSHARK_CSV = SHARED / "tshark-csv"
FIRST_HOUR = 1483873200


def hourly_folder(tmp: Path) -> Path:
    capture = tmp / "demo.pcap"
    demo_pcap.generate(capture, seconds=8, seed=3)
    folder = tmp / "hourly"
    demo_tshark.generate(folder, capture, first_hour=FIRST_HOUR, hours=6, missing=(2, 3))
    return folder


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    if not TSHARK_CSV.is_dir():
        pytest.skip("../shared/data not present")
    tmp = tmp_path_factory.mktemp("tshark-marts")
    db = tmp / "warehouse.duckdb"
    for csv in sorted(TSHARK_CSV.glob("*.pcap.csv")):
        pcap = csv.with_suffix("")
        assert wirehouse("ingest", "pcap", pcap, "--db", db).returncode == 0
        with duckdb.connect(str(db), read_only=True) as con:
            first_ns = con.execute(
                "select min(ts_ns) from raw.pcap_packets"
                " join raw.ingest_files on file_id = _file_id where path = ?",
                [str(pcap.resolve())],
            ).fetchone()[0]
        start = f"{first_ns // 10**9}.{first_ns % 10**9:09d}"
        done = wirehouse("ingest", "tshark", csv, "--start", start, "--db", db)
        assert done.returncode == 0, done.stderr
    done = wirehouse("ingest", "tshark", hourly_folder(tmp), "--db", db)
    assert done.returncode == 0, done.stderr
    build = dbt(db, tmp, "build", "-s", "+marts.traffic_profile", "--exclude", "test_type:data")
    assert build.returncode == 0, build.output[-3000:]
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize(
    "name",
    [
        "nefias_HTTPS_NWZ_Zeitung.pcap",
        "nefias_SCC_ABABAB_40.pcap",
        "nefias_Size_Mod_1000_1001_300ms_0925_1800.pcap",
    ],
)
def test_export_equals_its_capture(warehouse: duckdb.DuckDBPyConnection, name: str) -> None:
    # captures are keyed by node and name, wherever the files sit
    pcap = f"default/{name}"
    csv = pcap + ".csv"

    def totals(capture: str) -> tuple:
        return warehouse.execute(
            "select packets, wire_bytes, first_packet_at, last_packet_at"
            " from marts.fct_capture_totals where capture_id = ?",
            [capture],
        ).fetchone()

    def minutes(capture: str) -> list[tuple]:
        return warehouse.execute(
            "select minute_at, minutes_since_start, packets, wire_bytes"
            " from marts.fct_packet_traffic_minutely where capture_id = ? order by minute_at",
            [capture],
        ).fetchall()

    assert totals(csv) == totals(pcap)
    paired = "select exported_from_capture_id from marts.fct_capture_totals where capture_id = ?"
    assert warehouse.execute(paired, [csv]).fetchone() == (pcap,)
    assert totals(csv)[0] > 1000
    assert minutes(csv) == minutes(pcap)
    assert len(minutes(csv)) > 10


def test_missing_hours_are_zero_rows(warehouse: duckdb.DuckDBPyConnection) -> None:
    hours = warehouse.execute(
        "select hours_since_start, packets, wire_bytes from marts.fct_packet_traffic_hourly"
        " where source_kind = 'tshark' and capture_id like '%/hourly' order by hour_at"
    ).fetchall()
    assert [h[0] for h in hours] == [0, 1, 2, 3, 4, 5]
    assert [h[1:] for h in hours if h[0] in (2, 3)] == [(0, 0), (0, 0)]
    assert all(h[1] > 0 for h in hours if h[0] not in (2, 3))
    # hour k replays the capture 1 + k % 3 times
    assert hours[1][1] == 2 * hours[0][1] and hours[5][1] == 3 * hours[0][1]
    first = warehouse.execute(
        "select min(hour_at) from marts.fct_packet_traffic_hourly where capture_id like '%/hourly'"
    ).fetchone()[0]
    assert first.timestamp() == FIRST_HOUR
