"""The compiled stream layer on hostile input: bounded holds, no quadratic path, gaps noted."""

from __future__ import annotations

import struct

import pyarrow as pa

from ingest.capture.tcp import SYN, Segment
from ingest.capture.tcp import _kernel as K
from ingest.capture.tcp.streams import MAX_ARENA, TcpStreams
from ingest.kinds.base import Extraction
from ingest.protocols.kafka import KafkaProtocol

CLIENT, BROKER = ("10.0.0.1", 40000), ("10.0.0.2", 9092)


def request(corr: int, body: bytes = b"") -> bytes:
    msg = struct.pack(">hhi", 3, 2, corr) + struct.pack(">h", 3) + b"cli" + body
    return struct.pack(">i", len(msg)) + msg


def segments(data: bytes, sizes: int, isn: int = 1000) -> list[Segment]:
    """A SYN, then data cut into segments of `sizes` bytes."""
    out = [Segment(1, 1, *CLIENT, *BROKER, isn, 0, SYN, b"")]
    seq = isn + 1
    for k, i in enumerate(range(0, len(data), sizes)):
        chunk = data[i : i + sizes]
        out.append(Segment(k + 2, k + 2, *CLIENT, *BROKER, seq % (1 << 32), 0, 0x18, chunk))
        seq += len(chunk)
    return out


def run(segs: list[Segment]) -> tuple[TcpStreams, list[dict]]:
    streams = TcpStreams([KafkaProtocol()])
    out = [t for _, t in streams.feed_segments(segs)]
    out += [t for _, t in streams.finish(Extraction())]
    return streams, (pa.concat_tables(out).to_pylist() if out else [])


def test_one_byte_segments() -> None:
    data = b"".join(request(i, b"x" * 50) for i in range(200))
    _, rows = run(segments(data, 1))
    assert [r["correlation_id"] for r in rows] == list(range(200))
    assert all(r["message_packets"] == 67 and r["is_complete"] for r in rows)


def test_a_huge_declared_length_is_counted_not_buffered() -> None:
    huge = struct.pack(">i", 100 * 1024 * 1024) + struct.pack(">hhi", 0, 2, 7) + b"\0\3cli"
    segs = segments(huge + bytes(2_000_000), 1448)
    streams, rows = run(segs)
    (row,) = rows
    assert (row["message_size_bytes"], row["is_complete"]) == (100 * 1024 * 1024, False)
    assert len(streams.arena) <= 1 << 20  # nothing was held: the body was skipped


def test_a_flood_of_out_of_order_segments_stays_bounded() -> None:
    data = b"".join(request(i, b"y" * 1000) for i in range(5000))
    segs = segments(data, 1000)
    flood = [segs[0], *segs[2::2], *segs[1::2]]  # every odd segment arrives after all others
    streams = TcpStreams([KafkaProtocol()])
    held_max = 0
    out = []
    for k in range(0, len(flood), 500):
        out += [t for _, t in streams.feed_segments(flood[k : k + 500])]
        held_max = max(held_max, int(streams.G[K.G_ATOP]))
    out += [t for _, t in streams.finish(Extraction())]
    rows = pa.concat_tables(out).to_pylist()
    assert len(streams.arena) <= MAX_ARENA and held_max <= MAX_ARENA
    ids = [r["correlation_id"] for r in rows]
    assert ids == sorted(set(ids)) and set(ids) <= set(range(5000))  # nothing invented
    assert any(r["has_gap_before"] or not r["is_complete"] for r in rows)  # holes were given up
