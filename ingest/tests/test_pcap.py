"""pcap source: containers, link types, broken captures, fuzzing, options and the loader."""
# ruff: noqa: E501 - the broken-capture table keeps one file per line

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux, Dot1AD, Dot1Q
from scapy.layers.l2 import Ether as _Ether
from scapy.utils import wrpcap

from ingest.capture.pcap import PcapOptions, find, first_packet_ns, make_source, read_batches
from ingest.capture.tcp import Segment, iter_tcp_segments, segments
from ingest.kinds.base import SourceError
from ingest.kinds.pcap import SOURCE
from ingest.loader.warehouse import Warehouse

BROKEN = Path(__file__).resolve().parents[3] / "shared" / "data" / "pcap-broken"
T0 = 1_700_000_000  # seconds


def Ether() -> _Ether:
    return _Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


TCP_SYN = (
    Ether()
    / IP(src="10.0.0.1", dst="10.0.0.2", ttl=61, id=7, flags="DF")
    / TCP(sport=1234, dport=9092, seq=100, flags="S", window=65535,
          options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (5, 0)), ("WScale", 7)])
)  # fmt: skip
TCP_DATA = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=9092, seq=101,
    ack=9, flags="PA") / (b"x" * 30)  # fmt: skip
UDP6 = (
    Ether() / IPv6(src="2001:db8::1", dst="2001:db8:0:0:1::") / UDP(sport=53, dport=5353) / b"abc"
)
QINQ = Ether() / Dot1AD(vlan=100) / Dot1Q(vlan=200) / IP(src="1.2.3.4", dst="5.6.7.8") / ICMP()


def rows(path: Path, **options: object) -> list[dict]:
    out: list[dict] = []
    for batch in read_batches(path, PcapOptions(**options)):  # type: ignore[arg-type]
        out.extend(batch.table.to_pylist())
    return out


def write_pcap(path: Path, packets: list, *, t0: int = T0, **kw: object) -> Path:
    for k, pkt in enumerate(packets):
        pkt.time = t0 + k
    wrpcap(str(path), packets, **kw)
    return path


# --- pcapng writer for tests: enough to cover byte orders, interfaces, SPB, sections ---------


def _block(e: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def shb(e: str, version: tuple[int, int] = (1, 0)) -> bytes:
    return _block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, *version, -1))


def opt(e: str, code: int, value: bytes, length: int | None = None) -> bytes:
    """One option; ``length`` overrides the declared length (to build bad ones)."""
    n = len(value) if length is None else length
    return struct.pack(e + "HH", code, n) + value + b"\0" * (-len(value) % 4)


def idb(
    e: str, link: int, snap: int = 0, tsresol: int | None = None, opts: bytes | None = None
) -> bytes:
    if opts is None:
        opts = b"" if tsresol is None else opt(e, 9, bytes([tsresol])) + opt(e, 0, b"")
    return _block(e, 1, struct.pack(e + "HHI", link, 0, snap) + opts)


def epb(e: str, iface: int, ts_units: int, data: bytes, orig: int | None = None) -> bytes:
    head = struct.pack(e + "IIIII", iface, ts_units >> 32, ts_units & 0xFFFFFFFF, len(data),
                       orig if orig is not None else len(data))  # fmt: skip
    return _block(e, 6, head + data)


def spb(e: str, data: bytes) -> bytes:
    return _block(e, 3, struct.pack(e + "I", len(data)) + data)


# --- containers --------------------------------------------------------------------------


def test_classic_pcap_fields(tmp_path: Path) -> None:
    got = rows(write_pcap(tmp_path / "a.pcap", [TCP_SYN, TCP_DATA, UDP6, QINQ]))
    syn, data, udp6, qinq = got
    assert syn["frame_number"] == 1 and syn["ts_ns"] == T0 * 10**9
    assert (syn["src_addr"], syn["dst_addr"], syn["ip_proto"], syn["ttl"]) == (
        "10.0.0.1", "10.0.0.2", 6, 61)  # fmt: skip
    assert syn["dont_fragment"] is True and syn["ip_id"] == 7
    assert (syn["tcp_mss"], syn["tcp_wscale"], syn["tcp_sack_permitted"]) == (1460, 7, True)
    assert (syn["tcp_tsval"], syn["tcp_tsecr"], syn["tcp_flags"]) == (5, 0, 0x02)
    assert syn["payload_len"] == 0 and syn["tcp_header_len"] == 40
    assert data["payload_len"] == 30 and data["tcp_flags"] == 0x18 and data["tcp_ack"] == 9
    assert data["tcp_mss"] is None and data["tcp_sack_permitted"] is False
    assert (udp6["ip_version"], udp6["src_addr"], udp6["dst_addr"]) == (
        6, "2001:db8::1", "2001:db8:0:0:1::")  # fmt: skip
    assert udp6["ip_total_len"] == 40 + 8 + 3 and udp6["payload_len"] == 3
    assert qinq["vlan_ids"] == [100, 200] and qinq["icmp_type"] == 8 and qinq["icmp_code"] == 0
    assert all(r["malformed"] is None for r in got)


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("nano", [False, True])
def test_classic_byte_orders_and_resolutions(tmp_path: Path, big: bool, nano: bool) -> None:
    e = ">" if big else "<"
    frame = bytes(TCP_DATA)
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    data = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    data += struct.pack(e + "IIII", T0, 123, len(frame), len(frame)) + frame
    (tmp_path / "x.pcap").write_bytes(data)
    (got,) = rows(tmp_path / "x.pcap")
    assert got["ts_ns"] == T0 * 10**9 + (123 if nano else 123_000)
    assert got["payload_len"] == 30


def test_kuznetzov_modified_pcap(tmp_path: Path) -> None:
    frame = bytes(TCP_DATA)
    data = struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1)
    data += struct.pack("<IIII", T0, 5, len(frame), len(frame)) + b"\0" * 8 + frame
    (tmp_path / "k.pcap").write_bytes(data)
    (got,) = rows(tmp_path / "k.pcap")
    assert got["ts_ns"] == T0 * 10**9 + 5000 and got["dst_port"] == 9092


@pytest.mark.parametrize("e", ["<", ">"])
def test_pcapng_interfaces_resolutions_spb_and_sections(tmp_path: Path, e: str) -> None:
    eth, raw4 = bytes(TCP_DATA), bytes(TCP_DATA[IP])
    data = (
        shb(e) + idb(e, 1) + idb(e, 101, tsresol=9) + idb(e, 1, tsresol=0x80 | 20)
        + epb(e, 0, T0 * 10**6 + 1, eth)  # µs default
        + _block(e, 0x0BAD, b"unknown block")
        + epb(e, 1, T0 * 10**9 + 1, raw4)  # ns
        + epb(e, 2, (T0 << 20) + (1 << 19), eth)  # 2^-20 s units: +0.5 s
        + spb(e, eth)
        + shb(e) + idb(e, 228, snap=40)  # second section: interface ids restart
        + spb(e, raw4)
    )  # fmt: skip
    (tmp_path / "x.pcapng").write_bytes(data)
    got = rows(tmp_path / "x.pcapng")
    assert [r["link_type"] for r in got] == [1, 101, 1, 1, 228]
    assert [r["interface_id"] for r in got] == [0, 1, 2, 0, 0]
    assert [r["ts_ns"] for r in got[:3]] == [
        T0 * 10**9 + 1000,
        T0 * 10**9 + 1,
        T0 * 10**9 + 5 * 10**8,
    ]
    assert got[3]["ts_ns"] is None and got[3]["captured_at"] is None  # SPB has no time
    assert got[4]["caplen"] == 40 and got[4]["origlen"] == len(raw4)  # SPB caplen = snaplen
    assert all(r["dst_port"] == 9092 for r in got)


def test_gzip_and_first_packet_and_find_order(tmp_path: Path) -> None:
    late = write_pcap(tmp_path / "late.pcap", [TCP_DATA], t0=T0 + 100)
    early = tmp_path / "sub" / "early.pcap.gz"
    early.parent.mkdir()
    write_pcap(tmp_path / "e.tmp", [TCP_SYN, TCP_DATA])
    early.write_bytes(gzip.compress((tmp_path / "e.tmp").read_bytes()))
    (tmp_path / "notes.txt").write_text("not a capture")
    assert first_packet_ns(early) == T0 * 10**9
    assert find(tmp_path) == [early, late]
    assert [r["tcp_seq"] for r in rows(early)] == [100, 101]


# --- link types ---------------------------------------------------------------------------


def _one_packet_pcap(tmp_path: Path, link: int, frame: bytes, orig: int = 0) -> dict:
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link)
    data += struct.pack("<IIII", T0, 0, len(frame), max(orig, len(frame))) + frame
    (tmp_path / f"l{link}.pcap").write_bytes(data)
    (got,) = rows(tmp_path / f"l{link}.pcap")
    return got


@pytest.mark.parametrize(
    ("link", "header"),
    [
        (0, struct.pack("<I", 24)),  # BSD null, AF_INET6 (NetBSD) little endian
        (0, struct.pack(">I", 30)),  # AF_INET6 (macOS) written big endian
        (108, struct.pack(">I", 28)),  # OpenBSD loop, AF_INET6 (FreeBSD)
        (229, b""),
        (101, b""),
        (12, b""),
        (276, struct.pack(">HHIHBB", 0x86DD, 0, 1, 1, 0, 6) + b"\0" * 8),  # SLL2
    ],
)
def test_ipv6_under_link_types(tmp_path: Path, link: int, header: bytes) -> None:
    got = _one_packet_pcap(tmp_path, link, header + bytes(UDP6[IPv6]))
    assert (got["ip_version"], got["dst_port"], got["payload_len"]) == (6, 5353, 3)


def test_sll_and_ipv6_extension_headers(tmp_path: Path) -> None:
    frag = IPv6(src="::1", dst="::2") / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(id=77, m=1)
    got = _one_packet_pcap(tmp_path, 113, bytes(CookedLinux(proto=0x86DD) / frag / TCP() / b"hi"))
    assert (got["ip_proto"], got["ip_id"], got["more_fragments"], got["frag_offset"]) == (
        6,
        77,
        True,
        0,
    )
    assert got["payload_len"] == 2 and got["src_addr"] == "::1"


def test_unknown_link_type_is_kept_with_lengths(tmp_path: Path) -> None:
    got = _one_packet_pcap(tmp_path, 255, b"\x11" * 30)  # Bluetooth BR/EDR: no IP
    assert (got["link_type"], got["caplen"], got["ip_version"], got["malformed"]) == (
        255,
        30,
        None,
        None,
    )


# --- malformed packets are rows, not errors ---------------------------------------------


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (bytes(Ether() / IP(ihl=3) / TCP())[:34], "ipv4 header length 12 < 20"),
        (bytes(Ether())[:10], "ethernet header truncated: 10 of 14 bytes captured"),
        (bytes(Ether() / IP() / TCP())[:40], "tcp header truncated: 6 of 20 bytes captured"),
        (bytes(Ether() / IP(len=400) / UDP()), "ip length 400 > 46 bytes on the wire"),
    ],
)
def test_malformed_packet_flagged(tmp_path: Path, frame: bytes, reason: str) -> None:
    # origlen 60: as if the snaplen had cut these frames
    assert _one_packet_pcap(tmp_path, 1, frame, orig=60)["malformed"] == reason


# --- broken captures through the loader: file -> status -> one-line message ---------------

BROKEN_TABLE = [
    ("libpcap_linktype-reserved-field-not-zero.pcap", "failed", 0, "link type reserved field not zero (0x00300000)", ""),
    ("libpcap_pcap-empty-file.pcap", "failed", 0, "empty file", ""),
    ("libpcap_pcap-invalid-version-1.pcap", "failed", 0, "unsupported pcap savefile version 1.4 at byte 4", ""),
    ("libpcap_pcap-truncated-hdr-23.pcap", "failed", 0, "truncated file header: 23 of 24 bytes", ""),
    ("libpcap_pcapng-block-len-not-mult4.pcapng", "failed", 0, "pcapng block length 21 at byte 28 not a multiple of 4", ""),
    ("libpcap_pcapng-block-len-too-small.pcapng", "failed", 0, "pcapng block length 4 at byte 28 is too small", ""),
    ("libpcap_pcapng-idb-tsresol-dup.pcapng", "failed", 0, "interface block at byte 28 has more than one if_tsresol", ""),
    ("libpcap_pcapng-invalid-vers-1.pcapng", "failed", 0, "unsupported pcapng savefile version 0.1 at byte 0", ""),
    ("libpcap_pcapng-no-idb.pcapng", "failed", 0, "pcapng file has no interface description block", ""),
    ("libpcap_pcapng-packet-before-idb.pcapng", "failed", 0, "pcapng packet block at byte 28 for undefined interface 0", ""),
    ("libpcap_pcapng-shb-len-insane.pcapng", "failed", 0, "pcapng section header length 2097152 at byte 0 is insane", ""),
    ("libpcap_pcapng-truncated-shb.pcapng", "failed", 0, "truncated pcapng section header at byte 0", ""),
    ("ndpi_fuzz-2006-06-26-2594.pcap", "loaded", 691, "", ""),
    ("ndpi_fuzz-2021-10-13.pcap", "partial", 1, "cut short in record header at byte 237 (2 of 16 bytes present)", "ts_nsec outside 0..999999999 in 1 packet (first record at byte 24): read as libpcap and tshark read it, a signed number carried into the seconds"),  # v2.0: caplen/len swapped, as libpcap and tshark read it
    ("ndpi_malformed_icmp.pcap", "loaded", 1, "", ""),
    ("ndpi_ossfuzz_seed_fake_traces_4.pcapng", "loaded", 2, "", ""),
    ("ndpi_tls_invalid_reads.pcap", "loaded", 12, "", ""),
    ("pcapparser_err-eof.bin", "failed", 0, "not a pcap or pcapng file (magic 0x06000000)", ""),
    ("pcapparser_modified-format.pcap", "loaded", 1, "", ""),
    ("scapy_bad_rsn_parsing_overrides_ssid.pcap", "partial", 1, "cut short in record header at byte 359 (1 of 16 bytes present)", "link type 127 (IEEE802_11_RADIOTAP) not decoded: 1 packet kept with time and lengths only"),
    ("tcpdump_aoe-oobr-1.pcap", "loaded", 1, "", ""),
    ("tcpdump_bgp_mp_reach_nlri-oobr.pcap", "loaded", 1, "", ""),
    ("tcpdump_bootp_asan.pcap", "loaded", 1, "", ""),
    # valid but empty: loaded with no rows, as tshark reads them
    ("tcpdump_empty.pcap", "loaded", 0, "", ""),
    ("tcpdump_empty.pcapng", "loaded", 0, "", ""),
    ("tcpdump_heapoverflow-tcp_print.pcap", "loaded", 1, "", ""),
    ("tcpdump_ipv6-bad-version.pcap", "loaded", 4, "", ""),
    ("tcpdump_pim_header_asan-2.pcap", "loaded", 3, "", ""),
    ("tcpdump_quic_handshake_truncated.pcap", "loaded", 18, "", ""),
    ("tcpdump_tcp_rst_data-trunc.pcap", "loaded", 1, "", ""),
]  # fmt: skip


def test_broken_table_covers_every_file() -> None:
    on_disk = {p.name for p in BROKEN.iterdir() if p.suffix != ".md"}
    assert on_disk == {name for name, *_ in BROKEN_TABLE}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    wh = Warehouse(tmp_path_factory.mktemp("wh") / "w.duckdb")
    wh.ensure_tables(SOURCE.tables)
    return wh


@pytest.mark.parametrize(("name", "status", "n_rows", "message", "note"), BROKEN_TABLE)
def test_broken_capture(
    warehouse: Warehouse, name: str, status: str, n_rows: int, message: str, note: str
) -> None:
    result = warehouse.ingest_file(BROKEN / name, SOURCE)
    assert (result.status, result.rows, result.message, result.note) == (
        status, n_rows, message, note)  # fmt: skip
    assert "\n" not in result.message


# --- what libpcap refuses (sf-pcap.c, sf-pcapng.c) is refused here, with a position --------


def pcap_file(
    records: list[tuple[int, int, bytes, int]], version: tuple[int, int] = (2, 4), snap: int = 65535
) -> bytes:
    """Classic µs pcap, Ethernet; records are (seconds, fraction, data, orig) in 2.4 layout."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, *version, 0, 0, snap, 1)
    for sec, frac, data, orig in records:
        lengths = (orig, len(data)) if version < (2, 3) else (len(data), orig)
        out += struct.pack("<IIII", sec, frac, *lengths) + data
    return out


E = "<"
IDB_AT = 28  # every test file: a 28-byte section header, then the interface block
REFUSED = {
    "pcap version 2.5": (
        pcap_file([], version=(2, 5)),
        "unsupported pcap savefile version 2.5 at byte 4",
    ),
    "pcap caplen above libpcap's maximum": (
        pcap_file([(T0, 0, b"\0" * 262_145, 262_145)]),
        "invalid packet capture length 262145 at byte 24, bigger than snaplen of 65535",
    ),
    "pcapng version 1.1": (
        shb(E, (1, 1)) + idb(E, 1),
        "unsupported pcapng savefile version 1.1 at byte 0",
    ),
    "if_tsresol of length 2": (
        shb(E) + idb(E, 1, opts=opt(E, 9, b"\x06\x00")),
        "interface block at byte 28 has if_tsresol option with length 2 != 1",
    ),
    "if_tsoffset of length 3": (
        shb(E) + idb(E, 1, opts=opt(E, 14, b"\0\0\1")),
        "interface block at byte 28 has if_tsoffset option with length 3 != 8",
    ),
    "if_tsoffset twice": (
        shb(E) + idb(E, 1, opts=opt(E, 14, bytes(8)) + opt(E, 14, bytes(8))),
        "interface block at byte 28 has more than one if_tsoffset",
    ),
    "end of options of length 1": (
        shb(E) + idb(E, 1, opts=opt(E, 0, b"\0")),
        "interface block at byte 28 has opt_endofopt option with length 1 != 0",
    ),
    "option longer than its block": (
        shb(E) + idb(E, 1, opts=opt(E, 2, b"eth0", length=9)),
        "pcapng option at byte 44 overruns its block",
    ),
    "packet longer than the interface snaplen": (
        shb(E) + idb(E, 1, snap=100) + epb(E, 0, 0, bytes(200)),
        "invalid packet capture length 200 at byte 48, bigger than snaplen of 100",
    ),
    "simple packet block shorter than its packet": (
        shb(E) + idb(E, 1) + _block(E, 3, struct.pack(E + "I", 500) + bytes(60)),
        "pcapng packet block at byte 48: caplen 500 overruns it",
    ),
}


@pytest.mark.parametrize(("data", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_libpcap_refusals(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / ("x.pcapng" if data[:4] == b"\x0a\x0d\x0d\x0a" else "x.pcap")
    path.write_bytes(data)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables(SOURCE.tables)
        result = wh.ingest_file(path, SOURCE)
    assert (result.status, result.message) == ("failed", reason)


def test_what_libpcap_reads_is_read(tmp_path: Path) -> None:
    """pcap 2.2 (caplen/len swapped), 2.3 either way, pcapng 1.2, options libpcap skips."""
    frame = bytes(TCP_DATA)
    for version in ((2, 2), (2, 3)):
        (got,) = rows_of(tmp_path, pcap_file([(T0, 0, frame, len(frame) + 9)], version=version))
        assert (got["caplen"], got["origlen"], got["dst_port"]) == (
            len(frame),
            len(frame) + 9,
            9092,
        )
    ng = shb(E, (1, 2)) + idb(E, 1, opts=opt(E, 2, b"eth0") + opt(E, 0, b"")) + epb(E, 0, 5, frame)
    (got,) = rows_of(tmp_path, ng)
    assert got["ts_ns"] == 5000 and got["dst_port"] == 9092


def rows_of(tmp_path: Path, data: bytes) -> list[dict]:
    path = tmp_path / ("x.pcapng" if data[:4] == b"\x0a\x0d\x0d\x0a" else "x.pcap")
    path.write_bytes(data)
    return rows(path)


def test_a_negative_microsecond_field_is_read_signed_as_tshark_reads_it(
    tmp_path: Path,
) -> None:
    """An Ubertooth capture writes some ts_usec as negative 32-bit numbers; libpcap's
    tv_usec is an int32 and tshark shows 4294398122 as -569,174 µs (checked with tshark 4:
    frame.time_epoch 1006 s - 0.569174 s), not 71.5 minutes later."""
    frame = bytes(TCP_DATA)
    path = tmp_path / "ubertooth.pcap"
    recs = [
        (T0, 500_000, frame, len(frame)),
        (T0 + 1, 2**32 - 569_174, frame, len(frame)),
        (T0 + 2, 2**32 - 1, frame, len(frame)),
    ]
    path.write_bytes(pcap_file(recs))
    assert [r["ts_ns"] for r in rows(path)] == [
        T0 * 10**9 + 500_000_000,
        (T0 + 1) * 10**9 - 569_174_000,
        (T0 + 2) * 10**9 - 1000,
    ]


def test_microseconds_of_a_second_or_more_are_kept_and_noted(tmp_path: Path) -> None:
    frame = bytes(TCP_DATA)
    path = tmp_path / "clock.pcap"
    recs = [
        (T0, 1, frame, len(frame)),
        (T0, 1_500_000, frame, len(frame)),
        (T0, 2_000_000, frame, len(frame)),
    ]
    path.write_bytes(pcap_file(recs))
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables(SOURCE.tables)
        result = wh.ingest_file(path, SOURCE)
        stamps = wh.con.execute(
            "select ts_ns from raw.pcap_packets order by frame_number"
        ).fetchall()
    assert (result.status, result.rows) == ("loaded", 3)
    first_bad = 24 + 16 + len(frame)
    assert result.note == (
        f"ts_usec outside 0..999999 in 2 packets (first record at byte {first_bad}):"
        " read as libpcap and tshark read it, a signed number carried into the seconds"
    )
    assert [s for (s,) in stamps] == [
        T0 * 10**9 + 1000,
        (T0 + 1) * 10**9 + 5 * 10**8,
        (T0 + 2) * 10**9,
    ]


def test_undecoded_link_types_and_ethertypes_are_noted(tmp_path: Path) -> None:
    data = (
        shb(E) + idb(E, 255) + idb(E, 1) + idb(E, 189)
        + epb(E, 0, 1, bytes(30)) + epb(E, 0, 2, bytes(30))
        + epb(E, 1, 3, bytes(12) + b"\xff\xf0" + bytes(20))  # libbtbb's Ethernet wrapping
        + epb(E, 1, 4, bytes(TCP_DATA))
        + epb(E, 2, 5, bytes(48))  # a USB URB
    )  # fmt: skip
    path = tmp_path / "bt.pcapng"
    path.write_bytes(data)
    notes = {}
    for name, source in (("dissector alone", make_source()), ("with extractors", SOURCE)):
        with Warehouse(tmp_path / f"{name}.duckdb") as wh:
            wh.ensure_tables(source.tables)
            result = wh.ingest_file(path, source)
        assert (result.status, result.rows_by_table["pcap_packets"]) == ("loaded", 5)
        notes[name] = result.note
    usb = "link type 189 (USB_LINUX) not decoded: 1 packet kept with time and lengths only"
    assert notes == {
        "dissector alone": "link type 189 (USB_LINUX) not decoded: 1 packet kept with time and"
        " lengths only; link type 255 (BLUETOOTH_BREDR_BB) not decoded: 2 packets kept with time"
        " and lengths only; ethertype 0xfff0 (Bluetooth baseband in Ethernet (legacy"
        " libbtbb/Kismet)) not decoded: 1 frame kept with time and lengths only",
        "with extractors": usb,  # the Bluetooth extractor decodes the rest
    }


def test_malformed_rows_in_broken_captures_say_why() -> None:
    got = rows(BROKEN / "tcpdump_ipv6-bad-version.pcap")
    assert {r["malformed"] for r in got} == {None, "ip version 0 under ethertype 0x86dd"}


# --- fuzzing: any bytes end in rows or SourceError, never another exception or a hang ------

SEEDS = [BROKEN / "ndpi_tls_invalid_reads.pcap", BROKEN / "tcpdump_quic_handshake_truncated.pcap"]


def _read_all(path: Path) -> None:
    try:
        for batch in read_batches(path, PcapOptions()):
            segments(batch)
    except SourceError as exc:
        assert str(exc) and "\n" not in str(exc)


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    st.binary(max_size=300),
    st.sampled_from([b"", b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a", b"\x1f\x8b"]),
)
def test_fuzz_random_bytes(tmp_path: Path, data: bytes, magic: bytes) -> None:
    (tmp_path / "f.pcap").write_bytes(magic + data)
    _read_all(tmp_path / "f.pcap")


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.integers(0, 4000),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 7)), max_size=8),
)
def test_fuzz_truncate_and_flip(tmp_path: Path, seed: Path, cut: int, flips: list) -> None:
    data = bytearray(seed.read_bytes()[:cut])
    for pos, bit in flips:
        if pos < len(data):
            data[pos] ^= 1 << bit
    (tmp_path / "f.pcap").write_bytes(bytes(data))
    _read_all(tmp_path / "f.pcap")


@FUZZ
@given(st.integers(0, 400), st.sampled_from(["<", ">"]))
def test_fuzz_truncated_pcapng(tmp_path: Path, cut: int, e: str) -> None:
    data = shb(e) + idb(e, 1, tsresol=9) + epb(e, 0, 5, bytes(TCP_DATA)) + spb(e, bytes(UDP6))
    (tmp_path / "f.pcapng").write_bytes(data[:cut])
    _read_all(tmp_path / "f.pcapng")


# --- options, segments and the loader ------------------------------------------------------


def test_segments_from_an_extractor_and_standalone(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "s.pcap", [TCP_SYN, TCP_DATA, UDP6])
    seen: list[Segment] = []

    class Spy:  # the smallest extractor: it only looks at the TCP segments
        tables = ()

        def feed(self, batch):
            seen.extend(segments(batch))
            return iter(())

        def finish(self, report):
            return iter(())

    source = make_source([Spy()])
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables(source.tables)
        assert wh.ingest_file(path, source).rows == 3
    syn, seg = seen  # control packets (SYN/FIN/RST) come along for connection bounds
    assert syn.frame_number == 1 and syn.flags & 0x02 and syn.payload == b""
    assert seg == Segment(
        2, (T0 + 1) * 10**9, "10.0.0.1", 1234, "10.0.0.2", 9092, 101, 9, 0x18, b"x" * 30
    )
    assert list(iter_tcp_segments(path)) == seen


def test_loader_rows_status_and_progress(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "a.pcap", [TCP_SYN, TCP_DATA, UDP6, QINQ] * 50)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(path.read_bytes()[:-7])
    progress: list[int] = []
    source = make_source(options=PcapOptions(progress=progress.append, batch_size=64))
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables(source.tables)
        ok = wh.ingest_file(path, source)
        partial = wh.ingest_file(cut, source)
        count, v6, vlans = wh.con.execute(
            "select count(*), count(*) filter (ip_version = 6), max(len(vlan_ids))"
            " from raw.pcap_packets join raw.ingest_files on file_id = _file_id"
            " where path = ?", [str(path.resolve())]
        ).fetchone()  # fmt: skip
    assert (ok.status, ok.rows) == ("loaded", 200)
    assert (count, v6, vlans) == (200, 50, 2)
    assert partial.status == "partial" and partial.rows == 199
    assert partial.message.startswith("cut short in record at byte")
    assert sum(progress) == path.stat().st_size + cut.stat().st_size
