"""A realistic demo capture for the network marts, written with scapy.

Seen from the broker's host (so handshake RTTs are client-side round trips): a Kafka broker
on port 9092 with a producer and a consumer, plus DNS over UDP:

- each client connects (SYN, SYN-ACK, ACK), asks ApiVersions v3 and Metadata v12, then
  the producer sends Produce v9 (acks=1, 1-30 KB records, so large requests span several
  segments) and the consumer long-polls with Fetch v12 (max_wait_ms 500: empty fetches are
  answered after ~500 ms, which is waiting, not slowness);
- one Produce segment is retransmitted 200 ms later, the consumer advertises a zero window
  once and then a window update, and the consumer's second connection ends with an RST;
- every request/response is ACKed by the receiver, as a real TCP stack would.

Also ``generate_bitcoin``: one demo node's port-8333 connection to one peer for an hour,
consistent with the demo tracepoints (same messages, sizes and times), so the measured vs
estimated overhead mart has rows.

Deterministic for a seed. Used by `make demo`; tests use the shared real captures.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapWriter

from ingest.protocols.kafka import request_header_version, response_header_version

MSS = 1448
BROKER = ("10.20.0.5", 9092)
T0 = 1737554400.0  # 2025-01-22T14:00:00Z


@dataclass
class Endpoint:
    addr: str
    port: int
    mac: str
    seq: int
    window: int = 64240


@dataclass
class Connection:
    """One TCP connection between a client and the broker; writes packets as it goes."""

    out: list
    client: Endpoint
    server: Endpoint
    rtt: float
    correlation_id: int = 0
    retransmit_next: bool = field(default=False)

    def packet(self, src: Endpoint, dst: Endpoint, t: float, flags: str, payload: bytes = b""):
        pkt = (
            Ether(src=src.mac, dst=dst.mac)
            / IP(src=src.addr, dst=dst.addr, ttl=64)
            / TCP(
                sport=src.port,
                dport=dst.port,
                seq=src.seq,
                ack=dst.seq,
                flags=flags,
                window=src.window,
            )
        )
        if payload:
            pkt = pkt / Raw(payload)
        pkt.time = t
        self.out.append(pkt)
        return pkt

    def handshake(self, t: float) -> float:
        c, s = self.client, self.server
        self.packet(c, s, t, "S")
        c.seq += 1
        self.packet(s, c, t + self.rtt / 2, "SA")
        s.seq += 1
        self.packet(c, s, t + self.rtt, "A")
        return t + self.rtt

    def send(self, src: Endpoint, dst: Endpoint, t: float, data: bytes) -> float:
        """Segments of `data` 20 us apart; the peer ACKs the last one half an RTT later."""
        for i in range(0, len(data), MSS):
            chunk = data[i : i + MSS]
            pkt = self.packet(src, dst, t, "PA" if i + MSS >= len(data) else "A", chunk)
            if self.retransmit_next and i == 0:
                again = pkt.copy()
                again.time = t + 0.2  # RTO: the same bytes, same seq, 200 ms later
                self.out.append(again)
                self.retransmit_next = False
            src.seq += len(chunk)
            t += 20e-6
        return t

    def exchange(
        self,
        t: float,
        api_key: int,
        version: int,
        body: bytes,
        response_body: bytes,
        service_s: float,
    ) -> float:
        """A request, the broker's ACK, its response after service_s, the client's ACK."""
        self.correlation_id += 1
        request = _request(api_key, version, self.correlation_id, "wirehouse-demo", body)
        t = self.send(self.client, self.server, t, request)
        self.packet(self.server, self.client, t + self.rtt / 2, "A")
        response = _response(api_key, version, self.correlation_id, response_body)
        t = self.send(self.server, self.client, t + service_s, response)
        self.packet(self.client, self.server, t + self.rtt / 2, "A")
        return t + self.rtt / 2

    def close(self, t: float, reset: bool = False) -> None:
        c, s = self.client, self.server
        if reset:
            self.packet(c, s, t, "RA")
            return
        self.packet(c, s, t, "FA")
        c.seq += 1
        self.packet(s, c, t + self.rtt / 2, "FA")
        s.seq += 1
        self.packet(c, s, t + self.rtt, "A")


def _request(api_key: int, version: int, correlation_id: int, client_id: str, body: bytes) -> bytes:
    header = struct.pack(">hhi", api_key, version, correlation_id)
    header += struct.pack(">h", len(client_id)) + client_id.encode()
    if request_header_version(api_key, version) == 2:
        header += b"\x00"  # no tagged fields
    message = header + body
    return struct.pack(">i", len(message)) + message


def _response(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    header = struct.pack(">i", correlation_id)
    if response_header_version(api_key, version) == 1:
        header += b"\x00"
    return struct.pack(">i", len(header) + len(body)) + header + body


def _produce_body(rng: np.random.Generator) -> bytes:
    records = rng.bytes(int(rng.integers(1_000, 30_000)))
    # transactional_id null (compact), acks=1, timeout 30000 ms, then the topic data
    return b"\x00" + struct.pack(">hi", 1, 30_000) + b"\x02\x07orders" + records


def _fetch_body() -> bytes:
    # replica_id -1, max_wait_ms 500, min_bytes 1, max_bytes 50 MB, isolation 0, ...
    return struct.pack(">iiiib", -1, 500, 1, 52_428_800, 0) + b"\x00" * 12


def generate(path: Path, seconds: int = 90, seed: int = 1) -> int:
    """Write the demo capture; return its packet count."""
    rng = np.random.default_rng(seed)
    out: list = []
    broker_mac = "02:00:00:00:00:05"

    def server() -> Endpoint:
        return Endpoint(*BROKER, broker_mac, int(rng.integers(1, 2**31)))

    producer = Connection(
        out,
        Endpoint("10.20.1.11", 51234, "02:00:00:00:01:11", int(rng.integers(1, 2**31))),
        server(),
        rtt=0.0004,
    )
    consumer = Connection(
        out,
        Endpoint("10.20.1.12", 40522, "02:00:00:00:01:12", int(rng.integers(1, 2**31))),
        server(),
        rtt=0.0011,
    )
    for conn, start in ((producer, T0 + 0.05), (consumer, T0 + 0.3)):
        t = conn.handshake(start)
        # ApiVersions' error_code (0) comes first
        versions = b"\x00\x00" + rng.bytes(400)[2:]
        t = conn.exchange(t + 0.001, 18, 3, b"\x00" * 8, versions, 0.0006)
        conn.exchange(t + 0.001, 3, 12, b"\x02\x07orders\x00\x00", rng.bytes(900), 0.002)

    t = T0 + 1.0
    retransmit_at = T0 + seconds / 2
    while t < T0 + seconds:  # producer: a batch every ~100 ms, latency ~2 ms (lognormal)
        producer.retransmit_next = t >= retransmit_at
        retransmit_at = float("inf") if producer.retransmit_next else retransmit_at
        latency = float(rng.lognormal(np.log(0.002), 0.5))
        done = producer.exchange(t, 0, 9, _produce_body(rng), rng.bytes(60), latency)
        # one request in flight at a time (max.in.flight=1), so the stream stays in order
        t = max(t + float(rng.exponential(0.1)), done)
    producer.close(t + 0.01)

    t = T0 + 1.2
    zero_window_at = T0 + seconds / 3
    while t < T0 + seconds:  # consumer: long polls; data or the 500 ms wait
        has_data = rng.random() < 0.6
        service = (
            float(rng.uniform(0.001, 0.004)) if has_data else 0.5 + float(rng.exponential(0.002))
        )
        response = rng.bytes(int(rng.integers(2_000, 60_000))) if has_data else rng.bytes(40)
        response = struct.pack(">ih", 0, 0) + response[6:]  # Fetch v12: throttle, error_code
        t = consumer.exchange(t, 1, 12, _fetch_body(), response, service)
        if t > zero_window_at:  # the consumer's buffer fills once: zero window, then update
            consumer.client.window = 0
            consumer.packet(consumer.client, consumer.server, t + 0.0001, "A")
            consumer.client.window = 64240
            consumer.packet(consumer.client, consumer.server, t + 0.35, "A")
            t += 0.35
            zero_window_at = float("inf")
        t += 0.001
    consumer.close(t + 0.01, reset=True)

    for i, when in enumerate(np.sort(rng.uniform(T0, T0 + seconds, 20))):  # DNS lookups
        query = (
            Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:53")
            / IP(src=BROKER[0], dst="10.20.0.53")
            / UDP(sport=33000 + i, dport=53)
            / DNS(id=i, qd=DNSQR(qname="zk1.internal"))
        )
        query.time = float(when)
        answer = (
            Ether(src="02:00:00:00:00:53", dst="02:00:00:00:00:05")
            / IP(src="10.20.0.53", dst=BROKER[0])
            / UDP(sport=53, dport=33000 + i)
            / DNS(
                id=i,
                qr=1,
                qd=DNSQR(qname="zk1.internal"),
                an=DNSRR(rrname="zk1.internal", rdata="10.20.0.7"),
            )
        )
        answer.time = float(when) + 0.0003
        out.extend([query, answer])

    out.sort(key=lambda p: float(p.time))
    path.parent.mkdir(parents=True, exist_ok=True)
    with PcapWriter(str(path), nano=True, sync=False) as writer:
        for pkt in out:
            writer.write(pkt)
    return len(out)


# --- a Bitcoin node's port 8333, consistent with the demo tracepoints -----------------------

NODE = ("10.20.0.9", 50123)  # the demo node's side of one outbound connection
MAINNET = bytes.fromhex("f9beb4d9")
BITCOIN_MSS = 1448  # 1500 - 20 IPv4 - 32 TCP (timestamps option), as the overhead model


def pick_peer(directory: Path) -> tuple[str, list[tuple[float, str, str, int]]]:
    """One IPv4 outbound full-relay peer of the demo tracepoints and its first hour.

    Returns (peer_addr, [(stamp seconds, flow, msg_type, size)]) in log order.
    """
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    files = str(directory / "tracepoints" / "net" / "*.csv")
    peer = con.execute(
        "select peer_addr from read_csv(?, header = true, timestampformat = '%Y-%m-%dT%H:%M:%SZ')"
        " where peer_conn_type = 'outbound-full-relay' and regexp_full_match(peer_addr,"
        " '[0-9.]+:8333') group by all having count(*) filter (msg_type = 'version') = 2"
        " and min(timestamp) > (select min(timestamp) from read_csv(?, header = true,"
        " timestampformat = '%Y-%m-%dT%H:%M:%SZ')) order by min(timestamp) limit 1",
        [files, files],
    ).fetchone()[0]
    rows = con.execute(
        "with m as (select epoch(timestamp) as t, flow, msg_type, size from read_csv(?,"
        " header = true, timestampformat = '%Y-%m-%dT%H:%M:%SZ') where peer_addr = ?)"
        " select * from m where t < (select min(t) from m) + 3600",
        [files, peer],
    ).fetchall()
    con.close()
    return peer, [(float(t), flow, msg, int(size)) for t, flow, msg, size in rows]


def _v1(command: str, payload: bytes) -> bytes:
    """A Bitcoin P2P v1 message: magic, command, length, checksum, payload."""
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    header = MAINNET + command.encode().ljust(12, b"\0") + struct.pack("<I", len(payload))
    return header + checksum + payload


def generate_bitcoin(directory: Path, path: Path, seed: int = 1) -> int:
    """Write a v1 capture of one demo peer's first hour, as the tracepoints logged it.

    The node connects to the peer (SYN at the first message's time minus 1 s); each logged
    message is sent as v1 in its own segments (at most BITCOIN_MSS payload bytes) at a time
    inside the 5 s before its poll stamp; the receiver ACKs every second segment of a
    message and its last one, 200 us later. Returns the packet count.
    """
    rng = np.random.default_rng(seed)
    peer_addr, messages = pick_peer(directory)
    host, port = peer_addr.rsplit(":", 1)
    out: list = []
    node = Endpoint(*NODE, "02:00:00:00:00:09", int(rng.integers(1, 2**31)))
    peer = Endpoint(host, int(port), "02:00:00:00:08:33", int(rng.integers(1, 2**31)))
    conn = Connection(out, node, peer, rtt=0.03)
    options = [("NOP", None), ("NOP", None), ("Timestamp", (1, 0))]
    t = conn.handshake(messages[0][0] - 5)
    stamps = np.array([m[0] for m in messages])
    # times inside each poll interval, in log order: stamp - 5 s < t <= stamp
    offsets = rng.uniform(0.05, 4.95, len(stamps))
    when = stamps - 5 + offsets[np.lexsort((offsets, stamps))]
    when = np.maximum.accumulate(np.maximum(when, t + 0.001))
    for at, (_, flow, command, size) in zip(when, messages, strict=True):
        src, dst = (peer, node) if flow == "in" else (node, peer)
        data = _v1(command, rng.bytes(size))
        for k, i in enumerate(range(0, len(data), BITCOIN_MSS)):
            chunk = data[i : i + BITCOIN_MSS]
            last = i + BITCOIN_MSS >= len(data)
            pkt = conn.packet(src, dst, float(at) + k * 20e-6, "PA" if last else "A", chunk)
            pkt[TCP].options = options
            src.seq += len(chunk)
            if k % 2 == 1 or last:
                ack = conn.packet(dst, src, float(at) + k * 20e-6 + 200e-6, "A")
                ack[TCP].options = options
    out.sort(key=lambda p: float(p.time))
    path.parent.mkdir(parents=True, exist_ok=True)
    with PcapWriter(str(path), nano=True, sync=False) as writer:
        for pkt in out:
            writer.write(pkt)
    return len(out)
