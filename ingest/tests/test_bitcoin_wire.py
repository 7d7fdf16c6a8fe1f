"""Bitcoin P2P v1 messages from captures: framing, detection, attribution, tshark agreement."""

from __future__ import annotations

import collections
import hashlib
import os
import shutil
import struct
import subprocess
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from ingest.capture.tcp import ACK, SYN, Segment
from ingest.capture.tcp.streams import TcpStreams
from ingest.kinds.base import Extraction
from ingest.kinds.pcap import SOURCE
from ingest.loader.warehouse import Warehouse
from ingest.protocols.bitcoin import BitcoinProtocol, command_of, header_ok

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NDPI = DATA / "pcap-general" / "ndpi_bitcoin.pcap"
MAIN, TESTNET = bytes.fromhex("f9beb4d9"), bytes.fromhex("0b110907")


def v1(command: str, payload: bytes = b"", magic: bytes = MAIN) -> bytes:
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return (
        magic
        + command.encode().ljust(12, b"\0")
        + struct.pack("<I", len(payload))
        + (checksum + payload)
    )


class Conn:
    """Segments of one connection with per-side sequence numbers."""

    def __init__(self, port: int = 8333) -> None:
        self.ends = {True: ("10.0.0.1", 50000), False: ("10.0.0.2", port)}
        self.seq = {True: 1000, False: 9000}
        self.frame = 0

    def send(self, from_orig: bool, data: bytes, flags: int = 0x18) -> Segment:
        src, dst = self.ends[from_orig], self.ends[not from_orig]
        seq = self.seq[from_orig]
        self.seq[from_orig] = (seq + len(data) + (1 if flags & SYN else 0)) % (1 << 32)
        self.frame += 1
        return Segment(self.frame, self.frame * 1000, *src, *dst, seq, 0, flags, data)


def extract(segments: list[Segment], ports=(8333,)) -> list[dict]:
    streams = TcpStreams([BitcoinProtocol(ports)])
    out = [t for _, t in streams.feed_segments(segments)]
    out += [t for _, t in streams.finish(Extraction())]
    return pa.concat_tables(out).to_pylist() if out else []


def test_header_checks_as_bitcoin_core() -> None:
    assert command_of(v1("version")) == "version"
    assert command_of(MAIN + b"ver\0sion\0\0\0\0" + bytes(8)) is None  # text after a NUL
    assert command_of(MAIN + b"\x01bad" + bytes(16)) is None
    assert header_ok(v1("ping", bytes(8))) is True
    assert header_ok(v1("ping", magic=TESTNET), magic=MAIN) is False
    assert header_ok(MAIN[:3]) is None  # too short to tell
    assert header_ok(b"GET / HTTP/1.1\r\n") is False


def test_messages_over_segments_and_several_in_one() -> None:
    c = Conn()
    handshake = [c.send(True, b"", SYN), c.send(False, b"", SYN | ACK)]
    block = v1("block", bytes(3000))
    small = v1("inv", bytes(37)) + v1("ping", bytes(8))
    segs = [*handshake, c.send(True, v1("version", bytes(100))), c.send(False, small)]
    segs += [c.send(True, block[k : k + 1448]) for k in range(0, len(block), 1448)]
    rows = extract(segs)
    got = [
        (r["is_from_orig"], r["command"], r["payload_bytes"], r["message_packets"]) for r in rows
    ]
    assert sorted(got) == sorted(
        [(True, "version", 100, 1), (False, "inv", 37, 1), (False, "ping", 8, 1),
         (True, "block", 3000, 3)]
    )  # fmt: skip
    assert all(r["network"] == "main" and r["detected_by"] == "port" for r in rows)
    assert {r["orig_port"] for r in rows} == {50000}
    assert all(r["is_complete"] and not r["has_gap_before"] for r in rows)


def test_found_by_magic_on_another_port_and_not_in_other_traffic() -> None:
    c = Conn(port=18444)
    segs = [
        c.send(True, v1("version", bytes(100), TESTNET)),
        c.send(False, v1("verack", b"", TESTNET)),
    ]
    segs.append(c.send(False, v1("ping", bytes(8))))  # mainnet magic in a testnet stream: not one
    rows = extract(segs)
    assert [(r["command"], r["network"], r["detected_by"]) for r in rows] == [
        ("version", "testnet3", "magic"),
        ("verack", "testnet3", "magic"),
    ]
    web = Conn(port=8080)
    assert extract([web.send(True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3)]) == []


def test_a_gap_then_resync_at_a_segment_that_starts_a_message() -> None:
    c = Conn()
    first, lost, mid, last = (
        v1("tx", bytes(500)),
        v1("tx", bytes(500)),
        v1("inv", bytes(37)),
        v1("ping", bytes(8)),
    )
    segs = [c.send(True, b"", SYN), c.send(True, first), c.send(True, lost[:100])]
    c.send(True, lost[100:] + mid[:10])  # lost: the rest of tx 2 and the start of inv
    segs += [c.send(True, mid[10:]), c.send(True, last)]
    rows = extract(segs)
    assert [(r["command"], r["is_complete"], r["has_gap_before"]) for r in rows] == [
        ("tx", True, False),
        ("tx", False, False),  # its length said where inv would start: cut, still in sync
        ("ping", True, True),  # inv's head was lost; ping's segment starts a message
    ]


def test_wire_bytes_add_up_to_the_packets(tmp_path: Path) -> None:
    """A segment holding several messages shares its headers; the sum is every data packet."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    pkts, seq = [], 1000
    payloads = [v1("version", bytes(100)), v1("inv", bytes(37)) + v1("ping", bytes(8)),
                v1("tx", bytes(2000))[:1448], v1("tx", bytes(2000))[1448:]]  # fmt: skip
    for k, data in enumerate(payloads):
        pkt = (
            eth
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / TCP(sport=50000, dport=8333, seq=seq, flags="PA")
        )
        pkt = pkt / data
        pkt.time = 1_700_000_000 + k
        seq += len(data)
        pkts.append(pkt)
    wrpcap(str(tmp_path / "b.pcap"), pkts)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables(SOURCE.tables)
        assert wh.ingest_file(tmp_path / "b.pcap", SOURCE).rows_by_table == {
            "pcap_packets": 4,
            "pcap_bitcoin_messages": 4,
        }
        got = wh.con.execute(
            "select command, ip_bytes, frame_bytes from raw.pcap_bitcoin_messages"
            " order by message_index"
        ).fetchall()
        totals = wh.con.execute(
            "select sum(ip_total_len), sum(origlen) from raw.pcap_packets"
        ).fetchone()
    assert [c for c, *_ in got] == ["version", "inv", "ping", "tx"]
    # inv (61 bytes) and ping (32) share one packet's 40 header bytes: 26 and 14
    assert got[1][1] == 61 + 26 and got[2][1] == 32 + 14
    assert (sum(g[1] for g in got), sum(g[2] for g in got)) == totals


def tshark_messages(path: Path) -> collections.Counter:
    """(src port, dst port, command, length) of each mainnet message tshark's dissector shows."""
    fields = ["tcp.srcport", "tcp.dstport", "bitcoin.magic", "bitcoin.command", "bitcoin.length"]
    out = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-Y", "bitcoin", "-T", "fields"]
        + [arg for f in fields for arg in ("-e", f)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: collections.Counter = collections.Counter()
    for line in out.splitlines():
        sport, dport, magics, commands, lengths = line.split("\t")
        for magic, command, length in zip(
            magics.split(","), commands.split(","), lengths.split(","), strict=True
        ):
            if magic == "0xf9beb4d9":  # tshark also shows misframed bytes after gaps
                found[(int(sport), int(dport), command, int(length))] += 1
    return found


@pytest.mark.integration
@pytest.mark.skipif(not NDPI.exists(), reason="shared general captures not present")
def test_ndpi_bitcoin_agrees_with_tshark(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tshark is required under CI")
        pytest.skip("tshark not installed")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables(SOURCE.tables)
        assert wh.ingest_file(NDPI, SOURCE).status == "loaded"
        rows = wh.con.execute(
            "select if(is_from_orig, orig_port, resp_port), if(is_from_orig, resp_port,"
            " orig_port), command, payload_bytes, first_frame_number, is_complete,"
            " has_gap_before from raw.pcap_bitcoin_messages"
        ).fetchall()
    ours = collections.Counter(tuple(r[:4]) for r in rows)
    theirs = tshark_messages(NDPI)
    assert theirs - ours == collections.Counter()  # every message tshark decodes, we do
    assert sum(theirs.values()) == 271
    # what only we have: cut messages (tshark shows no partial PDU) and messages after a
    # gap, where tshark's dissector lost the framing and we resynced at a message start
    resync = collections.defaultdict(lambda: 1 << 62)
    for sport, dport, _, _, frame, _, gap in rows:
        if gap:
            resync[(sport, dport)] = min(resync[(sport, dport)], frame)
    for key, n in (ours - theirs).items():
        explained = [
            r for r in rows
            if tuple(r[:4]) == key and (not r[5] or r[4] >= resync[(r[0], r[1])])
        ]  # fmt: skip
        assert len(explained) >= n, key


def test_loaded_rows_go_through_staging(tmp_path: Path) -> None:
    c = Conn()
    rows = extract([c.send(True, b"", SYN), c.send(True, v1("version", bytes(100)))])
    table = pa.Table.from_pylist(rows)
    con = duckdb.connect()
    con.register("t", table)
    assert con.execute("select count(*), min(first_seen_at) from t").fetchone()[0] == 1
