"""Bluetooth decoding rules on tiny scapy-built packets, and the extractor inside ingest pcap."""

from __future__ import annotations

from pathlib import Path

import duckdb
from scapy.layers.bluetooth4LE import (
    BTLE,
    BTLE_ADV,
    BTLE_ADV_IND,
    BTLE_CONNECT_REQ,
    BTLE_DATA,
    BTLE_PPI,
    BTLE_RF,
    BTLE_SCAN_REQ,
)
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.ppi import PPI, PPI_Hdr
from scapy.packet import Raw
from scapy.utils import PcapWriter, RawPcapReader

from ingest.capture import pcap
from ingest.kinds import pcap as captures
from ingest.kinds.base import Extraction
from ingest.loader.warehouse import Warehouse
from ingest.protocols.bluetooth import bredr, le
from ingest.protocols.bluetooth.layers import BTBB, BTBREDR_RF, hec_for, hec_ok
from wirehouse.demo import bluetooth as demo_bluetooth

GIAC = 0x9E8B33
DEWHITENED, SIGNAL, NOISE, REF_LAP, REF_UAP = 0x1, 0x2, 0x4, 0x10, 0x80
ALL_VALID = DEWHITENED | SIGNAL | NOISE | REF_LAP | REF_UAP


def record(uap: int, type_code: int, flags: int = ALL_VALID, lap: int = 0x60A53A, **kw) -> bytes:
    """A DLT 255 record: LT_ADDR 7, FLOW 1, the HEC for ``uap`` unless given."""
    data = 7 | type_code << 3 | 1 << 7
    fields = {
        "rf_channel": 5, "signal_power": -40, "noise_power": -90, "transport": 0, "rate": 1,
        "lap": lap, "ref_lap": lap, "ref_uap": uap, "lt_addr": 7, "type": type_code, "flow": 1,
        "hec": hec_for(uap, data), "flags": flags,
    }  # fmt: skip
    return bytes(BTBREDR_RF(**(fields | kw)))


def test_hec_of_the_libbtbb_sample_header(shared: Path) -> None:
    """Frame 24 of libbtbb's test capture: header 0x4edf (DH3, LT_ADDR 7) under UAP 0x70 -
    the one header in that file whose HEC Wireshark accepts."""
    frames = list(RawPcapReader(str(shared / "pcap-bluetooth" / "libbtbb_btbredr_test.pcap")))
    pkt = BTBREDR_RF(frames[23][0])
    assert (pkt.header_word(), pkt.ref_uap, pkt.type, pkt.lt_addr) == (0x4EDF, 0x70, 11, 7)
    assert hec_ok(0x70, 0x4EDF) and hec_for(0x70, 0x4EDF & 0x3FF) == 0x13
    assert not hec_ok(0x71, 0x4EDF)


def test_bredr_header_read_when_dewhitened_with_uap() -> None:
    row = bredr.decode_bredr(record(0x70, 11) + bytes(20))
    assert (row["type_code"], row["lt_addr"], row["flow"], row["hec_valid"]) == (11, 7, True, True)
    assert (row["uap"], row["lap"], row["payload_len"], row["signal_dbm"]) == (
        0x70,
        0x60A53A,
        20,
        -40,
    )
    assert row["transport"] == 0 and row["rate"] == 1 and row["malformed"] is None


def test_bredr_header_unreadable_or_absent() -> None:
    no_uap = bredr.decode_bredr(record(0xFF, 3, flags=ALL_VALID & ~REF_UAP))
    assert no_uap["type_code"] is None and no_uap["uap"] is None and no_uap["lap"] == 0x60A53A
    whitened = bredr.decode_bredr(record(0x70, 3, flags=ALL_VALID & ~DEWHITENED))
    assert whitened["type_code"] is None
    # libbtbb's all-zero word for "no header decoded" fails its HEC: no header, not NULL
    zero = bredr.decode_bredr(record(0x70, 0, hec=0, lt_addr=0, flow=0))
    assert zero["type_code"] is None and zero["payload_len"] == 0
    # a real NULL packet (valid HEC) keeps its header
    assert bredr.decode_bredr(record(0x70, 0))["type_code"] == 0
    bad = bredr.decode_bredr(record(0x70, 4, hec=0x11))
    assert bad["type_code"] == 4 and bad["hec_valid"] is False


def test_bredr_inquiry_lap() -> None:
    """On the GIAC only FHS packets have a header (HEC under UAP 0); the rest are IDs."""
    fhs = bredr.decode_bredr(record(0, 2, flags=ALL_VALID & ~REF_UAP, lap=GIAC) + bytes(20))
    assert fhs["type_code"] == 2 and fhs["hec_valid"] is True
    other = bredr.decode_bredr(record(0, 4, flags=ALL_VALID & ~REF_UAP, lap=GIAC))
    assert other["type_code"] is None


def test_bredr_invalid_fields_and_truncation() -> None:
    row = bredr.decode_bredr(record(0x70, 1, flags=DEWHITENED | REF_UAP, transport=15, rate=15))
    assert row["signal_dbm"] is None and row["noise_dbm"] is None
    assert row["transport"] is None and row["rate"] is None
    short = bredr.decode_bredr(b"\x11" * 9)
    assert short["malformed"] == "pseudo-header truncated: 9 of 22 bytes" and short["lap"] is None


def legacy(nap: int, uap: int, lap: int, meta: BTBB | None = None, payload: bytes = b"") -> bytes:
    src = ":".join(f"{b:02x}" for b in (nap << 32 | uap << 24 | lap).to_bytes(6, "big"))
    frame = Ether(dst="00:00:00:00:00:00", src=src, type=0xFFF0)
    return bytes(frame / meta / Raw(payload) if meta is not None else frame)


def test_legacy_frames() -> None:
    bare = bredr.decode_btbb(legacy(0, 0, 0xED1D9C))
    assert (bare["lap"], bare["uap"], bare["nap"], bare["type_code"], bare["payload_len"]) == (
        0xED1D9C, None, None, None, 0,
    )  # fmt: skip
    data = 7 | 1 << 3
    meta = BTBB(clock=0x1234567, channel=40, nap_known=1, clock27_known=1, lt_addr=7, type=1)
    meta.hec = hec_for(0x36, data)
    row = bredr.decode_btbb(legacy(0x0011, 0x36, 0xED1D9C, meta, bytes(4)))
    assert (row["type_code"], row["lt_addr"], row["hec_valid"], row["payload_len"]) == (
        1,
        7,
        True,
        4,
    )
    assert (row["uap"], row["nap"], row["rf_channel"]) == (0x36, 0x0011, 40)
    assert (row["clock"], row["clock_bits"]) == (0x1234567, 27)
    cut = bredr.decode_btbb(legacy(0, 0x36, 0xED1D9C)[:14] + b"\x01\x02\x03")
    assert cut["malformed"] == "btbb meta header truncated: 3 of 9 bytes"


def rf(air: BTLE, **flags: int) -> bytes:
    return bytes(BTLE_RF(rf_channel=12, signal=-50, noise=-90, sig_power_valid=1, **flags)) + bytes(
        air
    )


def test_le_addresses_follow_txadd_rxadd() -> None:
    """In SCAN_REQ the sender is the scanner: TxAdd is ScanA's kind, RxAdd AdvA's."""
    decoder = le.LeDecoder()
    scan = BTLE() / BTLE_ADV(TxAdd=1, RxAdd=0, PDU_type=3) / BTLE_SCAN_REQ(
        ScanA="11:22:33:44:55:66", AdvA="00:1b:dc:44:10:7e"
    )  # fmt: skip
    row = decoder.decode(rf(scan), 256)
    assert (row["advertiser_addr"], row["advertiser_addr_random"]) == ("00:1b:dc:44:10:7e", False)
    assert (row["target_addr"], row["target_addr_random"]) == ("11:22:33:44:55:66", True)
    assert (row["pdu_type_code"], row["rf_channel"], row["signal_dbm"]) == (3, 12, -50)
    assert row["noise_dbm"] is None and row["crc_valid"] is True
    adv = BTLE() / BTLE_ADV(TxAdd=1) / BTLE_ADV_IND(AdvA="4a:0e:cd:c0:3c:3b")
    row = decoder.decode(bytes(adv), 251)
    assert row["advertiser_addr_random"] is True and row["target_addr"] is None
    assert row["rf_channel"] is None


def test_le_data_crc_needs_the_connect_ind() -> None:
    decoder = le.LeDecoder()
    aa, crc_init = 0x50654A27, 0x2ED45D
    air_init = int.from_bytes(crc_init.to_bytes(3, "little"), "big")
    pdu = bytes(BTLE_DATA(LLID=2) / Raw(b"\x05\x00\x04\x00\x0a\x01\x00"))
    data = bytes(
        BTLE(access_addr=aa, crc=int.from_bytes(BTLE.compute_crc(pdu, air_init), "big")) / Raw(pdu)
    )
    assert decoder.decode(data, 251)["crc_checked"] is None  # connection not seen yet
    connect = BTLE() / BTLE_ADV(PDU_type=5) / BTLE_CONNECT_REQ(
        InitA="11:22:33:44:55:66", AdvA="77:88:99:aa:bb:cc", AA=aa, crc_init=crc_init
    )  # fmt: skip
    assert decoder.decode(bytes(connect), 251)["connection_access_address"] == aa
    row = decoder.decode(data, 251)
    assert (row["llid"], row["pdu_len"], row["crc_checked"], row["crc_valid"]) == (2, 7, True, True)
    assert decoder.decode(data[:-1] + bytes([data[-1] ^ 1]), 251)["crc_valid"] is False


def test_le_sniffer_crc_verdict_stands_and_truncation() -> None:
    adv = BTLE() / BTLE_ADV() / BTLE_ADV_IND(AdvA="4a:0e:cd:c0:3c:3b")
    row = le.LeDecoder().decode(rf(adv, crc_checked=1, crc_valid=0), 256)
    assert (row["crc_checked"], row["crc_valid"]) == (True, False)
    cut = le.LeDecoder().decode(bytes(adv)[:12], 251)
    assert cut["malformed"] == "pdu length 6 but 3 bytes captured"
    assert (
        le.LeDecoder().decode(b"\xd6\xbe\x89", 251)["malformed"].startswith("air packet truncated")
    )


def test_le_ppi() -> None:
    air = bytes(BTLE() / BTLE_ADV() / BTLE_ADV_IND(AdvA="4a:0e:cd:c0:3c:3b"))
    field = BTLE_PPI(btle_channel=2426, rssi_max=-20, rssi_min=-40, rssi_avg=-30, rssi_count=9)
    wrapped = bytes(PPI(dlt=147, headers=[PPI_Hdr(pfh_type=30006) / field])) + air
    row = le.LeDecoder().decode(wrapped, 192)
    assert (row["rf_channel"], row["rssi_avg"], row["advertiser_addr"]) == (
        12,
        -30,
        "4a:0e:cd:c0:3c:3b",
    )
    assert le.LeDecoder().decode(bytes(PPI(dlt=105)) + b"\x80\x00", 192) is None  # 802.11


def ingest(paths: list[Path], db: Path) -> Warehouse:
    wh = Warehouse(db)
    wh.ensure_tables(captures.SOURCE.tables)
    for path in paths:
        result = wh.ingest_file(path, captures.SOURCE)
        assert result.status == "loaded", result
    return wh


def test_demo_sniff_loads_every_packet(tmp_path: Path) -> None:
    written = demo_bluetooth.generate(tmp_path / "bt", seed=5, seconds=10)
    with ingest(sorted((tmp_path / "bt").glob("*.pcap")), tmp_path / "w.duckdb") as wh:
        counts = dict(
            wh.con.execute(
                "select regexp_extract(path, '[^/]+$'), count(*) from ("
                " select _file_id from raw.bluetooth_bredr_packets union all"
                " select _file_id from raw.bluetooth_le_packets)"
                " join raw.ingest_files on file_id = _file_id group by all"
            ).fetchall()
        )
        notes = wh.con.execute("select count(note) from raw.ingest_files").fetchone()[0]
    assert counts == written and notes == 0


def test_legacy_frames_picked_by_ethertype(tmp_path: Path) -> None:
    path = tmp_path / "mixed.pcap"
    with PcapWriter(str(path), linktype=1) as w:
        w.write(Ether() / IP(dst="10.0.0.1") / UDP(dport=53))
        w.write(Ether(src="00:00:00:ed:1d:9c", type=0xFFF0))
        w.write(Ether(type=0xFFF1) / Raw(bytes(9)))
    with ingest([path], tmp_path / "w.duckdb") as wh:
        rows = wh.con.execute(
            "select frame_number, lap from raw.bluetooth_bredr_packets"
        ).fetchall()
        packets = wh.con.execute("select count(*) from raw.pcap_packets").fetchone()[0]
    assert rows == [(2, 0xED1D9C)] and packets == 3


def test_rows_stream_per_batch_and_malformed_noted(tmp_path: Path) -> None:
    path = tmp_path / "bredr.pcap"
    with PcapWriter(str(path), linktype=255, nano=True) as w:
        w.write_header(None)
        for i in range(250):
            w.write_packet(record(0x70, i % 16), sec=1_700_000_000, usec=i)
        w.write_packet(b"\x01\x02\x03", sec=1_700_000_001, usec=0)
    report = Extraction()
    options = pcap.PcapOptions(batch_size=100)
    out = [
        (name, data.num_rows)
        for name, data in pcap.extract(
            path, duckdb.connect(), report, captures.extractors(), options
        )
        if name == "bluetooth_bredr_packets"
    ]
    assert out == [("bluetooth_bredr_packets", 100)] * 2 + [("bluetooth_bredr_packets", 51)]
    assert report.notes == [
        "1 Bluetooth packets only partly decoded (raw.bluetooth_bredr_packets.malformed)"
    ]
