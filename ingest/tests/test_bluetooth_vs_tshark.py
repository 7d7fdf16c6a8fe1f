"""Bluetooth decoding against tshark, frame by frame, and `dbt build` with only Bluetooth data.

A fresh warehouse gets every shared Bluetooth capture (../shared/data/pcap-bluetooth) and the
demo sniff, nothing else; `dbt build` must pass on it (models, tests, unit tests, contracts).
Then, per capture, what we decoded (raw tables and the typed intermediate models) is compared
with tshark 4.0's `btbredr_rf` and `btle` dissectors, and the packet counts by type must be
equal. Where we say more than tshark, the test names the rule (EXPLAINED below).

The PPI captures carry their BLE packets under DLT 147 (USER0), which tshark decodes only
with a user DLT table entry mapping it to btle; the test passes one.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import SHARED as SHARED_DATA
from ingest.tests.helpers import built_once, dbt, shared_dir, wirehouse
from oracles.network import tshark_or_fail
from wirehouse.demo import bluetooth as demo_bluetooth

pytestmark = pytest.mark.integration

SHARED = SHARED_DATA / "pcap-bluetooth"
USER_DLT = 'uat:user_dlts:"User 0 (DLT=147)","btle","0","","0",""'
HEADER_OR_HEC = "Incorrect Packet Header or HEC"

EXPLAINED = {
    "zero header": "libbtbb writes an all-zero header word when it decoded no header; tshark"
    " shows it as a NULL packet with an incorrect HEC, we as no header (ID without payload)",
    "data crc": "we check the CRC of data PDUs with the CRC init of the CONNECT_IND seen"
    " earlier in the file; tshark 4.0 leaves them unchecked",
    "no crc verdict": "tshark stops before the CRC (malformed advertising data, a data PDU"
    " longer than the frame) and gives no verdict",
}


def tshark_fields(path: Path, fields: list[str]) -> dict[int, dict[str, str]]:
    out = subprocess.run(
        [tshark_or_fail(), "-n", "-r", str(path), "-o", USER_DLT, "-T", "fields"]
        + ["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"]
        + [arg for f in ["frame.number", *fields] for arg in ("-e", f)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = csv.reader(io.StringIO(out), delimiter="\t", quoting=csv.QUOTE_NONE)
    return {int(r[0]): dict(zip(fields, r[1:], strict=True)) for r in rows}


def tshark_names(path: Path, field: str, pattern: str) -> dict[int, str]:
    """The name tshark shows for ``field`` per frame (from PDML shownames)."""
    out = subprocess.run(
        [tshark_or_fail(), "-n", "-r", str(path), "-o", USER_DLT, "-T", "pdml"],
        check=True,
        capture_output=True,
    ).stdout
    names = {}
    for i, packet in enumerate(ET.fromstring(out).iter("packet"), 1):
        for node in packet.iter("field"):
            if node.get("name") == field:
                names[i] = re.search(pattern, node.get("showname", "")).group(1)
                break
    return names


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    with built_once(tmp_path_factory, "btdemo") as demo:
        if demo is not None:
            demo_bluetooth.generate(demo, seed=3, seconds=40)
    demo = shared_dir(tmp_path_factory, "btdemo")
    shared = sorted(p for p in SHARED.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return shared + sorted(demo.glob("*.pcap"))


@pytest.fixture(scope="module")
def warehouse(
    captures: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> duckdb.DuckDBPyConnection:
    with built_once(tmp_path_factory, "bluetooth") as tmp:  # one build for every worker
        if tmp is not None:
            ingest = wirehouse("ingest", "pcap", *captures, "--db", tmp / "warehouse.duckdb")
            assert ingest.returncode == 0, ingest.stderr
            # every model and data test (dbt's unit tests read no data: make test runs them)
            build = dbt(
                tmp / "warehouse.duckdb", tmp, "build", "--exclude-resource-type", "unit_test"
            )
            assert build.returncode == 0 and not build.not_passing(), (
                build.not_passing() or build.output[-3000:]
            )
    db = shared_dir(tmp_path_factory, "bluetooth") / "warehouse.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_dbt_build_green_with_only_bluetooth_data(
    warehouse: duckdb.DuckDBPyConnection, captures: list[Path]
) -> None:
    files = warehouse.execute("select kind, status, count(*) from raw.ingest_files group by all")
    assert files.fetchall() == [("pcap", "loaded", len(captures))]  # every capture, nothing else
    for mart in (
        "dim_bluetooth_devices",
        "fct_bluetooth_device_packet_types",
        "fct_bluetooth_packets_per_second",
        "fct_bluetooth_device_packets_per_second",
        "fct_bluetooth_packet_types_per_second",
        "fct_bluetooth_le_advertising",
    ):
        assert warehouse.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0, mart


def ours(con: duckdb.DuckDBPyConnection, model: str, path: Path) -> dict[int, dict]:
    rel = con.execute(f"select * from {model} where source_file = ?", [str(path.resolve())])
    cols = [d[0] for d in rel.description]
    rows = [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]
    return {row["frame_number"]: row for row in rows}


def by_link_type(con: duckdb.DuckDBPyConnection, path: Path) -> set[int]:
    rows = con.execute(
        "select distinct link_type from raw.pcap_packets"
        " join raw.ingest_files on file_id = _file_id where path = ?",
        [str(path.resolve())],
    ).fetchall()
    return {r[0] for r in rows}


def test_bredr_types_match_tshark(
    warehouse: duckdb.DuckDBPyConnection, captures: list[Path]
) -> None:
    checked = 0
    for path in captures:
        if by_link_type(warehouse, path) != {255}:
            continue
        fields = ["btbredr_rf.packet_header.type", "btbredr_rf.packet_header"]
        fields += ["btbredr_rf.lower_address_part", "btbredr_rf.reference_upper_addres_part"]
        fields += ["btbredr_rf.rf_channel", "btbredr_rf.signal_power", "_ws.expert.message"]
        theirs = tshark_fields(path, fields)
        names = tshark_names(path, "btbredr_rf.packet_header.type", r"Type: (.*) \(0x")
        mine = ours(warehouse, "intermediate.int_bluetooth_bredr_packets_typed", path)
        assert mine.keys() == theirs.keys(), path.name
        their_counts: Counter[str] = Counter()
        our_counts: Counter[str] = Counter()
        for frame, t in theirs.items():
            m = mine[frame]
            assert m["lap"] == int(t["btbredr_rf.lower_address_part"], 16), (path.name, frame)
            assert m["rf_channel"] == int(t["btbredr_rf.rf_channel"]), (path.name, frame)
            their_signal = t["btbredr_rf.signal_power"]
            assert m["signal_dbm"] == (int(their_signal) if their_signal else None)
            their_uap = t["btbredr_rf.reference_upper_addres_part"]
            assert m["uap"] == (int(their_uap, 16) if their_uap else None), (path.name, frame)
            their_type = t["btbredr_rf.packet_header.type"]
            shown = names.get(frame, "-")
            their_counts[shown] += 1
            if m["type_code"] is None and their_type:
                # EXPLAINED["zero header"]
                assert int(their_type, 16) == 0 and int(t["btbredr_rf.packet_header"], 16) == 0
                assert HEADER_OR_HEC in t["_ws.expert.message"], (path.name, frame)
                our_counts[shown] += 1
                continue
            assert m["type_code"] == (int(their_type, 16) if their_type else None), frame
            if m["type_code"] is not None:
                assert m["packet_type"] == shown, (path.name, frame)
                assert m["is_hec_valid"] == (HEADER_OR_HEC not in t["_ws.expert.message"])
            our_counts[m["packet_type"] if m["type_code"] is not None else "-"] += 1
            checked += 1
        assert our_counts == their_counts, path.name
    assert checked > 300


def test_legacy_btbb_frames_match_tshark_ethernet(
    warehouse: duckdb.DuckDBPyConnection, captures: list[Path]
) -> None:
    """tshark 4.0 has no btbb dissector (it was a libbtbb plugin): the frames show as Ethernet
    with data, from which the plugin's reading is taken - source MAC NAP:UAP:LAP, an empty
    frame is ID, else the type in bits 3-6 of the seventh data byte."""
    path = next(p for p in captures if p.name == "btbb-legacy.pcap")
    theirs = tshark_fields(path, ["eth.src", "eth.type", "data.data"])
    mine = ours(warehouse, "intermediate.int_bluetooth_bredr_packets_typed", path)
    assert mine.keys() == theirs.keys()
    counts: Counter[str] = Counter()
    for frame, t in theirs.items():
        m = mine[frame]
        nap, uap, lap = t["eth.src"][:5], t["eth.src"][6:8], t["eth.src"][9:]
        assert m["lap_hex"] == lap and t["eth.type"] == "0xfff0"
        data = bytes.fromhex(t["data.data"])
        if not data:
            assert m["packet_type"] == "ID" and m["is_to_master"] is None
            counts["ID"] += 1
            continue
        assert m["bd_addr"] == f"{nap}:{uap}:{lap}"
        assert m["type_code"] == (data[6] >> 3) & 0x0F
        assert m["is_to_master"] == bool(data[0] & 1)  # btbb plugin: Direction, set = to master
        counts[m["packet_type"]] += 1
    assert counts["ID"] and len(counts) > 3
    assert sum(counts.values()) == len(theirs)


LE_FIELDS = [
    "btle.access_address",
    "btle.advertising_header.pdu_type",
    "btle.data_header.llid",
    "btle.advertising_address",
    "btle.target_address",
    "btle.scanning_address",
    "btle.initiator_address",
    "btle.control_opcode",
    "btle.crc.incorrect",
    "btle.crc.indeterminate",
    "btle.crc",
    "btle_rf.channel",
]


def test_le_pdus_match_tshark(warehouse: duckdb.DuckDBPyConnection, captures: list[Path]) -> None:
    checked = 0
    for path in captures:
        if not by_link_type(warehouse, path) & {192, 251, 256}:
            continue
        theirs = tshark_fields(path, LE_FIELDS)
        mine = ours(warehouse, "intermediate.int_bluetooth_le_packets_typed", path)
        assert mine.keys() == theirs.keys(), path.name
        their_counts: Counter[tuple] = Counter()
        our_counts: Counter[tuple] = Counter()
        for frame, t in theirs.items():
            m = mine[frame]
            where = (path.name, frame)
            assert m["malformed_reason"] is None, where
            assert m["access_address"] == int(t["btle.access_address"], 16), where
            pdu = t["btle.advertising_header.pdu_type"]
            llid = t["btle.data_header.llid"]
            their_counts[(int(pdu, 16) if pdu else None, int(llid, 16) if llid else None)] += 1
            our_counts[(m["pdu_type_code"], m["llid"])] += 1
            if t["btle_rf.channel"]:
                assert m["rf_channel"] == int(t["btle_rf.channel"]), where
            adv = t["btle.advertising_address"] or None
            assert m["advertiser_addr"] == adv, where
            target = t["btle.target_address"] or t["btle.scanning_address"]
            assert m["target_addr"] == (target or t["btle.initiator_address"] or None), where
            opcode = t["btle.control_opcode"]
            assert m["control_opcode"] == (int(opcode, 16) if opcode else None), where
            if t["btle.crc.incorrect"]:
                assert m["is_crc_valid"] is False, where
            elif t["btle.crc.indeterminate"]:
                # EXPLAINED["data crc"]
                assert m["is_crc_checked"] is None or m["llid"] is not None, where
            elif not t["btle.crc"]:
                pass  # EXPLAINED["no crc verdict"]
            else:
                assert m["is_crc_valid"] is True, where
            checked += 1
        assert our_counts == their_counts, path.name
    assert checked > 1500


def test_devices_need_a_crc_valid_packet(warehouse: duckdb.DuckDBPyConnection) -> None:
    """A noisy sniff's bit-flipped addresses are kept but are not devices.

    hackrf_take_3_adv37.pcap (HackRF, channel 37) holds 4a:0e:cd:c0:3c:3b, 24 of its 31
    packets CRC-valid, and copies of it one or two bits off whose every packet failed its
    CRC. The BR/EDR sniff carries no CRC information: its LAP stays a device.
    """
    dim = {
        row[0]: row[1:]
        for row in warehouse.execute(
            "select device_id, packets, crc_checked_packets, crc_valid_packets, is_device"
            " from marts.dim_bluetooth_devices"
        ).fetchall()
    }
    assert dim["4a:0e:cd:c0:3c:3b"] == (31, 31, 24, True)
    assert dim["4a:0a:cd:c0:3c:3b"] == (2, 2, 0, False)  # seen twice, never valid
    assert dim["4a:0e:cc:c0:3c:3b"] == (1, 1, 0, False)
    assert dim["60:a5:3a"] == (70, 0, 0, True)  # libbtbb BR/EDR: no CRC, not a ghost
    # every BLE advertiser against the raw rows: checked / valid counts and the rule
    raw = warehouse.execute(
        "select advertiser_addr, count(*), count(*) filter (where crc_checked),"
        " count(*) filter (where crc_checked and crc_valid)"
        " from raw.bluetooth_le_packets where advertiser_addr is not null group by all"
    ).fetchall()
    for addr, packets, checked, valid in raw:
        assert dim[addr] == (packets, checked, valid, valid > 0 or checked < packets), addr
    shown = warehouse.execute(
        "select count(distinct device_id) filter (where is_device),"
        " count(distinct device_id) filter (where not is_device)"
        " from marts.fct_bluetooth_device_packet_types"
    ).fetchone()
    assert shown == (
        sum(1 for d in dim.values() if d[3]),
        sum(1 for d in dim.values() if not d[3]),
    )
