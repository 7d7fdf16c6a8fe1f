"""Kafka request and response headers from the TCP segments of a capture.

Input is the packet reader's ``Segment`` stream (``ingest.sources.pcap.Segment``, or anything
with the same attributes), in capture order. Each TCP direction is reassembled in sequence
order and cut into Kafka messages (``int32 size`` + ``size`` bytes, FORMATS.md §4); one row per
message goes to ``raw.pcap_kafka_messages``.

Columns downstream models rely on:
- ``stream_id`` ("client:port-broker:port#connection_seq") identifies one TCP connection in
  the file; pair requests and responses on (``_source_file``, ``stream_id``, correlation_id).
- ``message_size_bytes`` is the size field (the 4-byte prefix excluded), as Kafka counts it.
- ``first_*``/``last_*``: the first and last packet carrying the message's bytes, so latency
  is response ``first_ts_ns`` - request ``last_ts_ns``.
- Responses carry api_key/api_version/header_version only when their request was seen on the
  same connection; ``produce_acks`` = 0 explains requests that never get a response;
  ``fetch_max_wait_ms`` is the broker's allowed long-poll wait.
- ``is_complete`` false: a gap or the end of the capture cut the message; ``has_gap_before``:
  bytes just before it were missing or skipped, so earlier messages may be lost.

Decisions worth knowing:
- Which side is the broker: a port in ``kafka_ports``; otherwise a strict request-header test
  on the start of a segment (known api_key, version in range, printable non-empty client_id).
  Once one direction is known to carry requests, the reverse direction carries responses.
- Memory: message bodies are never buffered. A direction keeps only the bytes of a header it
  has not finished reading, a bounded out-of-order buffer, and a counter of body bytes to skip.
- Gaps: a hole inside a message whose size is known just shortens what we skip (the message is
  marked incomplete and the next boundary is still exact). A hole we cannot see across, or
  bytes that do not parse, make the direction *hunt*: it drops data until a segment starts
  with a plausible header, and marks the next message ``has_gap_before``. We never scan inside
  a segment for a header: that is where false matches come from.
- A SYN with a new ISN on a known 4-tuple starts a new connection (``connection_seq`` + 1),
  and so does a sequence jump larger than any window (port reuse where no SYN was captured
  or passed to us: the packet reader only hands over segments that carry payload).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyarrow as pa

from ingest.sources.base import Data, Extraction, RawTable
from ingest.sources.pcap import _kernels as K
from ingest.sources.tcp import Segment
from ingest.sources.tcp.segment import segment_rows, segments

if TYPE_CHECKING:
    from ingest.sources.pcap.reader import PacketBatch

KAFKA_PORTS = (9092,)
MAX_MESSAGE_BYTES = 100 * 1024 * 1024  # brokers refuse far less (socket.request.max.bytes)
MAX_HEADER_BYTES = 128 * 1024  # bytes held while a header (plus a few body fields) is incomplete
MAX_OOO_SEGMENTS = 64  # out-of-order segments held per direction before we declare a gap
MAX_OOO_BYTES = 4 * 1024 * 1024
MAX_SEQ_JUMP = 64 * 1024 * 1024  # further than any window: not reordering but a new byte stream
MAX_PENDING_REQUESTS = 4096  # per connection, for response -> request matching
HEURISTIC_SEGMENTS = 8  # payload segments an unknown-port connection gets to look like Kafka
HELD_SEGMENTS = 4  # reverse-direction segments kept while a connection is being classified
MAX_HELD_BYTES = 16 * 1024 * 1024  # all connections together
MAX_TRACKED_CONNECTIONS = 200_000  # then non-Kafka connections are forgotten

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
SEQ_MOD = 1 << 32

# key -> (API name, highest valid version, first flexible version or None), from apache/kafka
# commit 1eb7644 (FORMATS.md §4). Newer brokers add versions; only the strict heuristic cares.
KAFKA_APIS: dict[int, tuple[str, int, int | None]] = {
    0: ("Produce", 11, 9),
    1: ("Fetch", 17, 12),
    2: ("ListOffsets", 10, 6),
    3: ("Metadata", 12, 9),
    4: ("LeaderAndIsr", 7, 4),
    5: ("StopReplica", 4, 2),
    6: ("UpdateMetadata", 8, 6),
    7: ("ControlledShutdown", 3, 3),
    8: ("OffsetCommit", 9, 8),
    9: ("OffsetFetch", 9, 6),
    10: ("FindCoordinator", 6, 3),
    11: ("JoinGroup", 9, 6),
    12: ("Heartbeat", 4, 4),
    13: ("LeaveGroup", 5, 4),
    14: ("SyncGroup", 5, 4),
    15: ("DescribeGroups", 5, 5),
    16: ("ListGroups", 5, 3),
    17: ("SaslHandshake", 1, None),
    18: ("ApiVersions", 4, 3),
    19: ("CreateTopics", 7, 5),
    20: ("DeleteTopics", 6, 4),
    21: ("DeleteRecords", 2, 2),
    22: ("InitProducerId", 5, 2),
    23: ("OffsetForLeaderEpoch", 4, 4),
    24: ("AddPartitionsToTxn", 5, 3),
    25: ("AddOffsetsToTxn", 4, 3),
    26: ("EndTxn", 5, 3),
    27: ("WriteTxnMarkers", 1, 1),
    28: ("TxnOffsetCommit", 4, 3),
    29: ("DescribeAcls", 3, 2),
    30: ("CreateAcls", 3, 2),
    31: ("DeleteAcls", 3, 2),
    32: ("DescribeConfigs", 4, 4),
    33: ("AlterConfigs", 2, 2),
    34: ("AlterReplicaLogDirs", 2, 2),
    35: ("DescribeLogDirs", 4, 2),
    36: ("SaslAuthenticate", 2, 2),
    37: ("CreatePartitions", 3, 2),
    38: ("CreateDelegationToken", 3, 2),
    39: ("RenewDelegationToken", 2, 2),
    40: ("ExpireDelegationToken", 2, 2),
    41: ("DescribeDelegationToken", 3, 2),
    42: ("DeleteGroups", 2, 2),
    43: ("ElectLeaders", 2, 2),
    44: ("IncrementalAlterConfigs", 1, 1),
    45: ("AlterPartitionReassignments", 0, 0),
    46: ("ListPartitionReassignments", 0, 0),
    47: ("OffsetDelete", 0, None),
    48: ("DescribeClientQuotas", 1, 1),
    49: ("AlterClientQuotas", 1, 1),
    50: ("DescribeUserScramCredentials", 0, 0),
    51: ("AlterUserScramCredentials", 0, 0),
    52: ("Vote", 1, 0),
    53: ("BeginQuorumEpoch", 1, 1),
    54: ("EndQuorumEpoch", 1, 1),
    55: ("DescribeQuorum", 2, 0),
    56: ("AlterPartition", 3, 0),
    57: ("UpdateFeatures", 2, 0),
    58: ("Envelope", 0, 0),
    59: ("FetchSnapshot", 1, 0),
    60: ("DescribeCluster", 1, 0),
    61: ("DescribeProducers", 0, 0),
    62: ("BrokerRegistration", 4, 0),
    63: ("BrokerHeartbeat", 1, 0),
    64: ("UnregisterBroker", 0, 0),
    65: ("DescribeTransactions", 0, 0),
    66: ("ListTransactions", 1, 0),
    67: ("AllocateProducerIds", 0, 0),
    68: ("ConsumerGroupHeartbeat", 1, 0),
    69: ("ConsumerGroupDescribe", 0, 0),
    70: ("ControllerRegistration", 0, 0),
    71: ("GetTelemetrySubscriptions", 0, 0),
    72: ("PushTelemetry", 0, 0),
    73: ("AssignReplicasToDirs", 0, 0),
    74: ("ListClientMetricsResources", 0, 0),
    75: ("DescribeTopicPartitions", 0, 0),
    76: ("ShareGroupHeartbeat", 0, 0),
    77: ("ShareGroupDescribe", 0, 0),
    78: ("ShareFetch", 0, 0),
    79: ("ShareAcknowledge", 0, 0),
    80: ("AddRaftVoter", 0, 0),
    81: ("RemoveRaftVoter", 0, 0),
    82: ("UpdateRaftVoter", 0, 0),
    83: ("InitializeShareGroupState", 0, 0),
    84: ("ReadShareGroupState", 0, 0),
    85: ("WriteShareGroupState", 0, 0),
    86: ("DeleteShareGroupState", 0, 0),
    87: ("ReadShareGroupStateSummary", 0, 0),
}
API_VERSIONS_KEY = 18

KAFKA_MESSAGES = RawTable(
    name="pcap_kafka_messages",
    columns={
        "stream_id": "VARCHAR NOT NULL",
        "connection_seq": "INTEGER NOT NULL",
        "client_addr": "VARCHAR NOT NULL",
        "client_port": "INTEGER NOT NULL",
        "broker_addr": "VARCHAR NOT NULL",
        "broker_port": "INTEGER NOT NULL",
        "is_request": "BOOLEAN NOT NULL",
        "message_index": "BIGINT NOT NULL",
        "message_size_bytes": "BIGINT NOT NULL",
        "api_key": "SMALLINT",
        "api_version": "SMALLINT",
        "header_version": "TINYINT",
        "correlation_id": "INTEGER NOT NULL",
        "client_id": "VARCHAR",
        "fetch_max_wait_ms": "INTEGER",
        "produce_acks": "SMALLINT",
        "first_frame_number": "BIGINT NOT NULL",
        "last_frame_number": "BIGINT NOT NULL",
        "first_ts_ns": "BIGINT NOT NULL",
        "last_ts_ns": "BIGINT NOT NULL",
        "first_seen_at": "TIMESTAMP_NS NOT NULL",
        "last_seen_at": "TIMESTAMP_NS NOT NULL",
        "message_packets": "INTEGER NOT NULL",
        "is_complete": "BOOLEAN NOT NULL",
        "has_gap_before": "BOOLEAN NOT NULL",
        "detected_by": "VARCHAR NOT NULL",
    },
    comment=(
        "One row per Kafka request or response header found in a reassembled TCP direction"
        " (stream_id, is_request, message_index). Responses carry api_key/api_version only"
        " when their request was seen on the same connection."
    ),
    unit="Kafka messages",
)

ARROW_SCHEMA = pa.schema(
    [
        ("stream_id", pa.string()),
        ("connection_seq", pa.int32()),
        ("client_addr", pa.string()),
        ("client_port", pa.int32()),
        ("broker_addr", pa.string()),
        ("broker_port", pa.int32()),
        ("is_request", pa.bool_()),
        ("message_index", pa.int64()),
        ("message_size_bytes", pa.int64()),
        ("api_key", pa.int16()),
        ("api_version", pa.int16()),
        ("header_version", pa.int8()),
        ("correlation_id", pa.int32()),
        ("client_id", pa.string()),
        ("fetch_max_wait_ms", pa.int32()),
        ("produce_acks", pa.int16()),
        ("first_frame_number", pa.int64()),
        ("last_frame_number", pa.int64()),
        ("first_ts_ns", pa.int64()),
        ("last_ts_ns", pa.int64()),
        ("first_seen_at", pa.timestamp("ns")),
        ("last_seen_at", pa.timestamp("ns")),
        ("message_packets", pa.int32()),
        ("is_complete", pa.bool_()),
        ("has_gap_before", pa.bool_()),
        ("detected_by", pa.string()),
    ]
)


Endpoint = tuple[str, int]
Buffer = bytes | bytearray | memoryview


class Header(NamedTuple):
    """The fields read from the start of one message."""

    size: int
    api_key: int | None
    api_version: int | None
    header_version: int | None
    correlation_id: int
    client_id: str | None
    fetch_max_wait_ms: int | None
    produce_acks: int | None


# --- header parsing ----------------------------------------------------------------------


class NeedMore(Exception):
    """The buffer ends before the field does, but the message does not."""


class Malformed(Exception):
    """The bytes cannot be this kind of Kafka message."""


INT16, INT32 = struct.Struct(">h"), struct.Struct(">i")
REQUEST_START = struct.Struct(">ihhi")  # size, api_key, api_version, correlation_id
RESPONSE_START = struct.Struct(">ii")  # size, correlation_id


class _Reader:
    """Big-endian reads that know the buffer end and the message end apart."""

    def __init__(self, buf: Buffer) -> None:
        self.buf = buf
        self.pos = 0
        self.msg_end = MAX_MESSAGE_BYTES + 4  # narrowed once the size is read

    def _advance(self, n: int) -> int:
        """Move past n bytes; returns where they start."""
        start, end = self.pos, self.pos + n
        if end > self.msg_end:
            raise Malformed("field runs past the message end")
        if end > len(self.buf):
            raise NeedMore
        self.pos = end
        return start

    def take(self, n: int) -> bytes:
        start = self._advance(n)
        return bytes(self.buf[start : self.pos])

    def skip(self, n: int) -> None:
        self._advance(n)

    def fixed(self, fmt: struct.Struct) -> tuple[int, ...]:
        return fmt.unpack_from(self.buf, self._advance(fmt.size))

    def int16(self) -> int:
        return INT16.unpack_from(self.buf, self._advance(2))[0]

    def int32(self) -> int:
        return INT32.unpack_from(self.buf, self._advance(4))[0]

    def uvarint(self) -> int:
        value = 0
        for shift in range(0, 35, 7):
            byte = self.buf[self._advance(1)]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise Malformed("varint longer than 5 bytes")

    def tagged_fields(self, strict: bool) -> None:
        count = self.uvarint()
        if strict and count > 16:
            raise Malformed("implausible tagged field count")
        last = -1
        for _ in range(count):
            tag = self.uvarint()
            if strict and tag <= last:
                raise Malformed("tags not ascending")
            last = tag
            self.skip(self.uvarint())


def request_header_version(api_key: int, api_version: int) -> int | None:
    """0, 1 or 2 (RequestHeader.json); None for an api_key we do not know."""
    api = KAFKA_APIS.get(api_key)
    if api is None:
        return None
    if api_key == 7 and api_version == 0:  # ControlledShutdown v0 predates client_id
        return 0
    flexible_from = api[2]
    return 2 if flexible_from is not None and api_version >= flexible_from else 1


def response_header_version(api_key: int, api_version: int) -> int | None:
    api = KAFKA_APIS.get(api_key)
    if api is None:
        return None
    if api_key == API_VERSIONS_KEY:  # KIP-511: always v0 so any client can read it
        return 0
    return 1 if api[2] is not None and api_version >= api[2] else 0


def _is_printable(raw: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in raw)


def parse_request(buf: Buffer, strict: bool = False) -> Header:
    """Read a request header (and Fetch max_wait_ms / Produce acks) from the start of buf.

    strict is the test used to *find* Kafka (unknown ports, resync after a gap): only known
    APIs and versions, a non-null printable client_id, sane body fields. Non-strict is used
    once a stream is in sync: anything with a valid size becomes a row.
    """
    r = _Reader(buf)
    size, api_key, api_version, correlation_id = r.fixed(REQUEST_START)
    if not 8 <= size <= MAX_MESSAGE_BYTES:
        raise Malformed(f"request size {size}")
    r.msg_end = 4 + size
    api = KAFKA_APIS.get(api_key)
    if api_key < 0 or api_version < 0:
        raise Malformed("negative api_key or api_version")
    if strict and (api is None or api_version > api[1] or correlation_id < 0):
        raise Malformed("unknown api, version or correlation id")
    header_version = request_header_version(api_key, api_version)
    client_id = None
    if header_version != 0:
        n = r.int16()
        if n < -1 or (strict and n < 1):
            raise Malformed("bad client_id length")
        if n >= 0:
            raw = r.take(n)
            if strict and not _is_printable(raw):
                raise Malformed("client_id not printable")
            client_id = raw.decode("utf-8", errors="backslashreplace")
    if header_version == 2:
        r.tagged_fields(strict)
    fetch_max_wait_ms = produce_acks = None
    try:
        if api_key == 1:
            if api_version < 15:  # ReplicaId (int32) precedes MaxWaitMs up to v14
                r.skip(4)
            fetch_max_wait_ms = r.int32()
            if strict and fetch_max_wait_ms < 0:
                raise Malformed("negative max_wait_ms")
        elif api_key == 0:
            if api_version >= 3:  # TransactionalId, nullable
                flexible = api is not None and api[2] is not None and api_version >= api[2]
                n = r.uvarint() - 1 if flexible else r.int16()
                if n > 0:
                    r.skip(n)
            produce_acks = r.int16()
            if strict and produce_acks not in (-1, 0, 1):
                raise Malformed("acks not -1, 0 or 1")
    except Malformed:
        if strict:
            raise
    return Header(
        size, api_key, api_version, header_version, correlation_id, client_id,
        fetch_max_wait_ms, produce_acks,
    )  # fmt: skip


def parse_response(buf: Buffer, strict: bool = False) -> Header:
    """Read a response header: size and correlation id (all headers start with both)."""
    size, correlation_id = _Reader(buf).fixed(RESPONSE_START)
    if not 4 <= size <= MAX_MESSAGE_BYTES:
        raise Malformed(f"response size {size}")
    if strict and correlation_id < 0:
        raise Malformed("negative correlation id")
    return Header(size, None, None, None, correlation_id, None, None, None)


# --- per-direction reassembly and framing -------------------------------------------------


def seq_delta(a: int, b: int) -> int:
    """a - b in 32-bit sequence space, as a signed distance (RFC 1982 style)."""
    d = (a - b) % SEQ_MOD
    return d - SEQ_MOD if d >= SEQ_MOD // 2 else d


@dataclass
class _Message:
    header: Header
    first_frame: int
    first_ts: int
    last_frame: int
    last_ts: int
    packets: int
    gap_before: bool
    complete: bool = True
    api_key: int | None = None  # for responses: from the matched request
    api_version: int | None = None
    header_version: int | None = None


@dataclass
class _Direction:
    conn: _Connection
    is_request: bool
    next_seq: int | None = None
    ooo: dict[int, tuple[bytes, int, int]] = field(default_factory=dict)  # seq -> segment
    ooo_bytes: int = 0
    # framing state
    hunting: bool = True  # until a SYN tells us where the stream starts
    gap_before: bool = False
    probe: list[tuple[bytes, int, int]] = field(default_factory=list)  # segments while hunting
    head: bytearray = field(default_factory=bytearray)  # bytes of an unfinished header
    head_first: tuple[int, int] = (0, 0)  # (frame, ts) of the first byte in head
    head_last_frame: int = -1
    head_packets: int = 0
    msg: _Message | None = None  # header read, body bytes still to come
    remaining: int = 0
    index: int = 0

    def start_at_syn(self, isn: int) -> None:
        self.next_seq = (isn + 1) % SEQ_MOD
        self.hunting = False

    # reassembly ------------------------------------------------------------------

    def on_segment(self, seq: int, payload: bytes, frame: int, ts: int, wire_len: int = 0) -> None:
        """wire_len: the segment's payload length on the wire when more than was captured."""
        if self.next_seq is None:
            self.next_seq = seq
        d = seq_delta(seq, self.next_seq)
        if d + len(payload) <= 0:
            return  # retransmission of bytes already delivered
        if d > 0:
            self._hold(seq, payload, frame, ts)
            return
        self._deliver_in_order(payload[-d:] if d < 0 else payload, frame, ts)
        if wire_len > len(payload):
            # Snaplen cut the segment: the missing tail is a gap of known size.
            missing = wire_len - len(payload)
            self._gap(missing)
            self.next_seq = (self.next_seq + missing) % SEQ_MOD
        self._drain()

    def jumped(self, seq: int) -> bool:
        """Is seq further from the expected one than any TCP window allows?"""
        return self.next_seq is not None and abs(seq_delta(seq, self.next_seq)) > MAX_SEQ_JUMP

    def _hold(self, seq: int, payload: bytes, frame: int, ts: int) -> None:
        held = self.ooo.get(seq)
        if held is None or len(held[0]) < len(payload):
            self.ooo_bytes += len(payload) - (len(held[0]) if held else 0)
            self.ooo[seq] = (payload, frame, ts)
        if len(self.ooo) > MAX_OOO_SEGMENTS or self.ooo_bytes > MAX_OOO_BYTES:
            self.skip_to_held()

    def skip_to_held(self) -> None:
        """Give up on the missing bytes: jump to the earliest held segment."""
        assert self.next_seq is not None
        first = min(self.ooo, key=lambda s: seq_delta(s, self.next_seq))  # type: ignore[arg-type]
        self._gap(seq_delta(first, self.next_seq))
        self.next_seq = first
        self._drain()

    def _drain(self) -> None:
        while self.ooo:
            assert self.next_seq is not None
            ready = [s for s in self.ooo if seq_delta(s, self.next_seq) <= 0]
            if not ready:
                return
            for s in sorted(ready, key=lambda s: seq_delta(s, self.next_seq)):  # type: ignore[arg-type]
                payload, frame, ts = self.ooo.pop(s)
                self.ooo_bytes -= len(payload)
                d = seq_delta(s, self.next_seq)
                if d + len(payload) > 0:
                    self._deliver_in_order(payload[-d:] if d < 0 else payload, frame, ts)

    def _deliver_in_order(self, data: bytes, frame: int, ts: int) -> None:
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + len(data)) % SEQ_MOD
        self._frame(data, frame, ts)

    def close(self) -> None:
        """End of capture (or of the connection): flush held segments, emit a cut message."""
        while self.ooo:
            self.skip_to_held()
        if self.msg is not None:
            self.msg.complete = False
            self._emit(self.msg)
            self.msg = None
        self.head.clear()

    # framing -----------------------------------------------------------------------

    def _gap(self, length: int | None) -> None:
        """length bytes of this direction are missing (None: unknown amount)."""
        if self.msg is not None:
            self.msg.complete = False
            if length is not None and length < self.remaining:
                self.remaining -= length  # still in sync: the next boundary is known
                return
            self._emit(self.msg)
            self.msg = None
            if length == self.remaining:
                return
        self.head.clear()
        self.probe = []
        self.hunting = True
        self.gap_before = True

    def _frame(self, payload: bytes, frame: int, ts: int) -> None:
        if self.hunting and not self._hunt(payload, frame, ts):
            return
        data = memoryview(payload)
        while data:
            if self.msg is not None:
                data = self._skip_body(data, frame, ts)
            else:
                data = self._read_header(data, frame, ts)

    def _hunt(self, payload: bytes, frame: int, ts: int) -> bool:
        """Out of sync: may framing restart with this segment? Only at segment starts.

        A segment too short to judge is kept as a probe and judged with the next ones.
        """
        if self.probe:
            candidate = b"".join(p for p, _, _ in self.probe) + payload
            verdict = self.conn.plausible_start(candidate, self.is_request)
            if verdict is None and len(candidate) <= MAX_HEADER_BYTES:
                self.probe.append((payload, frame, ts))
                return False
            probe, self.probe = self.probe, []
            if verdict:
                self.hunting = False
                for p, f, t in probe:  # replay the probed segments, now in sync
                    self._frame(p, f, t)
                return True
            self.gap_before = True  # the probe was not a message start; try this segment
        verdict = self.conn.plausible_start(payload, self.is_request)
        if verdict is None:
            self.probe = [(payload, frame, ts)]
            return False
        if not verdict:
            self.gap_before = True
            return False
        self.hunting = False
        return True

    def _skip_body(self, data: memoryview, frame: int, ts: int) -> memoryview:
        msg = self.msg
        assert msg is not None
        n = min(self.remaining, len(data))
        self.remaining -= n
        if frame != msg.last_frame:
            msg.packets += 1
        msg.last_frame, msg.last_ts = frame, ts
        if self.remaining == 0:
            self._emit(msg)
            self.msg = None
        return data[n:]

    def _read_header(self, data: memoryview, frame: int, ts: int) -> memoryview:
        if not self.head:
            self.head_first = (frame, ts)
            self.head_packets = 0
            self.head_last_frame = -1
        if frame != self.head_last_frame:
            self.head_packets += 1
            self.head_last_frame = frame
        prior = len(self.head)  # header bytes from earlier segments (usually none)
        buf = self.head + data if prior else data
        try:
            header = self._parse(buf)
        except NeedMore:
            self.head = bytearray(buf)
            if len(self.head) > MAX_HEADER_BYTES:
                self._desync()
            return data[len(data) :]
        except Malformed:
            self._desync()
            return data[len(data) :]
        msg = _Message(header, *self.head_first, frame, ts, self.head_packets, self.gap_before)
        self.gap_before = False
        self.head = bytearray()
        self.conn.on_header(msg, self.is_request)
        # NeedMore means the earlier bytes ended before the message did, so consumed > 0.
        consumed = header.size + 4 - prior
        if consumed <= len(data):
            self._emit(msg)
            return data[consumed:]
        self.msg, self.remaining = msg, consumed - len(data)
        return data[len(data) :]

    def _parse(self, buf: bytearray | memoryview) -> Header:
        if self.is_request:
            return parse_request(buf)
        return parse_response(buf)

    def _desync(self) -> None:
        self.head.clear()
        self.hunting = True
        self.gap_before = True

    def _emit(self, msg: _Message) -> None:
        self.conn.emit(msg, self.is_request, self.index)
        self.index += 1


@dataclass
class _Connection:
    extractor: KafkaExtractor
    seq: int  # connection_seq: how many earlier connections used this 4-tuple
    state: str = "unknown"  # unknown | kafka | other
    client: Endpoint | None = None
    broker: Endpoint | None = None
    detected_by: str = ""
    syn_client: Endpoint | None = None
    isn: dict[Endpoint, int] = field(default_factory=dict)
    has_data: bool = False
    closed: bool = False  # a FIN or RST was seen
    dirs: dict[Endpoint, _Direction] = field(default_factory=dict)  # by source endpoint
    pending: dict[int, tuple[int, int]] = field(default_factory=dict)  # corr id -> key, version
    held: list[Segment] = field(default_factory=list)  # while state == unknown
    tries: int = 0
    stream_id: str = ""

    def become_kafka(self, client: Endpoint, broker: Endpoint, detected_by: str) -> None:
        self.state, self.client, self.broker = "kafka", client, broker
        self.detected_by = detected_by
        self.stream_id = f"{_fmt(client)}-{_fmt(broker)}#{self.seq}"
        self.dirs = {client: _Direction(self, True), broker: _Direction(self, False)}
        self.extractor.broker_ports.add(broker[1])
        for src, isn in self.isn.items():
            self.dirs[src].start_at_syn(isn)

    def plausible_start(self, data: Buffer, is_request: bool) -> bool | None:
        """Could a message start at data[0]? None: too few bytes to tell yet.

        Used when a direction has lost its framing (or the capture began mid-stream).
        """
        try:
            if is_request:
                parse_request(data, strict=True)
                return True
            header = parse_response(data, strict=True)
        except NeedMore:
            return None
        except Malformed:
            return False
        if self.pending:
            return header.correlation_id in self.pending
        # No request to check against: the message must end at the segment end, or be
        # followed by another plausible header, or run past the segment.
        rest = data[header.size + 4 :]
        if not rest:
            return True
        try:
            parse_response(rest, strict=True)
        except NeedMore:
            return True
        except Malformed:
            return False
        return True

    def on_header(self, msg: _Message, is_request: bool) -> None:
        h = msg.header
        if is_request:
            assert h.api_key is not None and h.api_version is not None
            msg.api_key, msg.api_version, msg.header_version = (
                h.api_key, h.api_version, h.header_version,
            )  # fmt: skip
            if h.produce_acks == 0 and h.api_key == 0:
                return  # acks=0: the broker will not answer
            self.pending[h.correlation_id] = (h.api_key, h.api_version)
            if len(self.pending) > MAX_PENDING_REQUESTS:
                del self.pending[next(iter(self.pending))]
        else:
            matched = self.pending.pop(h.correlation_id, None)
            if matched is not None:
                msg.api_key, msg.api_version = matched
                msg.header_version = response_header_version(*matched)

    def emit(self, msg: _Message, is_request: bool, index: int) -> None:
        assert self.client and self.broker
        h = msg.header
        self.extractor.rows.append(
            (
                self.stream_id, self.seq, self.client[0], self.client[1],
                self.broker[0], self.broker[1], is_request, index, h.size,
                msg.api_key, msg.api_version, msg.header_version, h.correlation_id,
                h.client_id, h.fetch_max_wait_ms, h.produce_acks,
                msg.first_frame, msg.last_frame, msg.first_ts, msg.last_ts,
                msg.first_ts, msg.last_ts, msg.packets, msg.complete, msg.gap_before,
                self.detected_by,
            )
        )  # fmt: skip

    def close(self) -> None:
        for direction in self.dirs.values():
            direction.close()


# highest known version per api_key, -1 for unknown keys (the last slot catches key >= 88)
_MAX_VERSION = np.full(max(KAFKA_APIS) + 2, -1, np.int64)
for _key, (_, _max, _) in KAFKA_APIS.items():
    _MAX_VERSION[_key] = _max


def _heads(batch: PacketBatch, rows: np.ndarray) -> np.ndarray:
    """The first 8 captured payload bytes of each row, zero-padded (one gather, no loop)."""
    start = batch.fields[K.F_PAYLOAD_OFF, rows]
    have = np.where(start >= 0, np.minimum(batch.fields[K.F_PAYLOAD_CAPLEN, rows], 8), 0)
    idx = np.clip(start, 0, None)[:, None] + np.arange(8)
    heads = batch.buf[np.clip(idx, 0, len(batch.buf) - 1)]
    heads[np.arange(8) >= have[:, None]] = 0
    return heads


def _fmt(endpoint: Endpoint) -> str:
    addr, port = endpoint
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


class KafkaExtractor:
    """Feed TCP segments in capture order; collect one row per Kafka message.

    Usage: ``feed(batch)`` any number of times, ``take()`` for the rows finished so far (to
    stream them out), ``finish()`` at the end of the file for the rest.
    """

    def __init__(self, kafka_ports: Iterable[int] = KAFKA_PORTS) -> None:
        self.kafka_ports = frozenset(kafka_ports)
        # configured ports plus those found by the heuristic: every segment on them is wanted
        self.broker_ports: set[int] = set(self.kafka_ports)
        self.rows: list[tuple] = []
        self._conns: dict[tuple[Endpoint, Endpoint], _Connection] = {}
        self._held_bytes = 0
        self._holding: dict[tuple[Endpoint, Endpoint], None] = {}  # unknown conns holding data

    def wanted(self, src_port: np.ndarray, dst_port: np.ndarray, heads: np.ndarray) -> np.ndarray:
        """Vectorised pre-filter over a batch's TCP payload segments: which must ``feed`` see?

        Segments on a known broker port, segments whose first 8 bytes could start a Kafka
        request (size, known api_key, version in range: the cheap half of the strict test),
        and everything else on the destination port of such a segment in this batch (so a
        response in the same batch is not lost). The rest cannot change any row, because an
        unknown connection only becomes Kafka on a segment that passes the strict test.
        """
        size = heads[:, :4].astype(np.int64) @ np.array([1 << 24, 1 << 16, 1 << 8, 1])
        api_key = heads[:, 4].astype(np.int64) * 256 + heads[:, 5]
        version = heads[:, 6].astype(np.int64) * 256 + heads[:, 7]
        max_version = _MAX_VERSION[np.minimum(api_key, len(_MAX_VERSION) - 1)]
        request_like = (size >= 8) & (size <= MAX_MESSAGE_BYTES) & (version <= max_version)
        ports = np.fromiter(self.broker_ports, np.int64, len(self.broker_ports))
        ports = np.union1d(ports, dst_port[request_like])
        return request_like | np.isin(src_port, ports) | np.isin(dst_port, ports)

    tables = (KAFKA_MESSAGES,)
    link_types: frozenset[int] = frozenset()  # decodes no link layer itself

    def feed(self, batch: PacketBatch) -> Iterator[tuple[str, Data]]:
        """One batch of the capture: its TCP segments that could matter, then rows so far."""
        f, rows = batch.fields, segment_rows(batch)
        if len(rows):
            src, dst = f[K.F_SRC_PORT, rows], f[K.F_DST_PORT, rows]
            rows = rows[self.wanted(src, dst, _heads(batch, rows))]
        self.feed_segments(segments(batch, rows))
        if self.rows:
            yield KAFKA_MESSAGES.name, self.take()

    def feed_segments(self, segments: Iterable[Segment]) -> None:
        for seg in segments:
            self._on_segment(seg)

    def take(self) -> pa.Table:
        """Rows of the messages finished so far (removed from the extractor)."""
        columns = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(ARROW_SCHEMA)
        self.rows = []
        arrays = []
        for col, values in zip(ARROW_SCHEMA, columns, strict=True):
            if pa.types.is_timestamp(col.type):
                arrays.append(pa.array(values, pa.int64()).cast(col.type))
            else:
                arrays.append(pa.array(values, col.type))
        return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)

    def finish(self, report: Extraction) -> Iterator[tuple[str, Data]]:
        """End of the file: the last rows; the extractor is then ready for another file."""
        yield KAFKA_MESSAGES.name, self.close_all()

    def close_all(self) -> pa.Table:
        """End of input: close every connection (cut messages are marked incomplete)."""
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        self._holding.clear()
        self._held_bytes = 0
        return self.take()

    # --- internals ---

    def _on_segment(self, seg: Segment) -> None:
        src: Endpoint = (seg.src_addr, seg.src_port)
        dst: Endpoint = (seg.dst_addr, seg.dst_port)
        key = (src, dst) if src <= dst else (dst, src)
        conn = self._conns.get(key)
        seq = seg.seq
        if seg.flags & SYN:
            conn = self._on_syn(key, conn, src, seg)
            seq = (seq + 1) % SEQ_MOD  # the SYN takes one sequence number (data in it: TFO)
        if conn is None:
            conn = self._new_connection(key, 0, src, dst)
        if seg.flags & (FIN | RST):
            conn.closed = True
        if not seg.payload:
            if conn.closed and conn.state == "unknown":
                self._release(key, conn)
                conn.state = "other"  # ended without looking like Kafka
            return
        if conn.state == "kafka" and conn.dirs[src].jumped(seq):
            # No SYN seen, but sequence numbers of another byte stream: the 4-tuple was reused.
            conn.close()
            conn = self._new_connection(key, conn.seq + 1, src, dst)
        conn.has_data = True
        if conn.state == "kafka":
            wire_len = getattr(seg, "payload_len", 0)  # optional: not in the reader's Segment
            conn.dirs[src].on_segment(seq, seg.payload, seg.frame_number, seg.ts_ns, wire_len)
        elif conn.state == "unknown":
            self._classify(key, conn, src, dst, seg, seq)

    def _new_connection(
        self, key: tuple[Endpoint, Endpoint], seq: int, src: Endpoint, dst: Endpoint
    ) -> _Connection:
        if len(self._conns) >= MAX_TRACKED_CONNECTIONS:
            self._forget_non_kafka()
        conn = _Connection(self, seq)
        self._conns[key] = conn
        src_broker, dst_broker = src[1] in self.kafka_ports, dst[1] in self.kafka_ports
        if dst_broker and not src_broker:
            conn.become_kafka(src, dst, "port")
        elif src_broker and not dst_broker:
            conn.become_kafka(dst, src, "port")
        return conn

    def _on_syn(
        self,
        key: tuple[Endpoint, Endpoint],
        conn: _Connection | None,
        src: Endpoint,
        seg: Segment,
    ) -> _Connection:
        dst: Endpoint = (seg.dst_addr, seg.dst_port)
        if conn is not None:
            known = conn.isn.get(src)
            if known == seg.seq:
                return conn  # retransmitted SYN
            if known is not None or conn.has_data or conn.closed:
                # A new connection on a reused 4-tuple: finish the old one.
                conn.close()
                self._release(key, conn)
                conn = self._new_connection(key, conn.seq + 1, src, dst)
        else:
            conn = self._new_connection(key, 0, src, dst)
        conn.isn[src] = seg.seq
        if not seg.flags & ACK:
            conn.syn_client = src
        if conn.state == "kafka":
            conn.dirs[src].start_at_syn(seg.seq)
        return conn

    def _classify(
        self,
        key: tuple[Endpoint, Endpoint],
        conn: _Connection,
        src: Endpoint,
        dst: Endpoint,
        seg: Segment,
        seq: int,
    ) -> None:
        """Unknown ports: does this segment start with a Kafka request header?"""
        try:
            parse_request(seg.payload, strict=True)
            looks_like_request = True
        except (NeedMore, Malformed):
            looks_like_request = False
        if looks_like_request and (conn.syn_client in (None, src)):
            held = conn.held
            self._release(key, conn)
            conn.become_kafka(src, dst, "heuristic")
            for old in held:  # responses seen before we knew; in capture order
                if (old.src_addr, old.src_port) == dst:
                    conn.dirs[dst].on_segment(old.seq, old.payload, old.frame_number, old.ts_ns)
            conn.dirs[src].on_segment(seq, seg.payload, seg.frame_number, seg.ts_ns)
            return
        conn.tries += 1
        if conn.tries >= HEURISTIC_SEGMENTS:
            self._release(key, conn)
            conn.state = "other"
            return
        if len(conn.held) < HELD_SEGMENTS:
            conn.held.append(seg)
            self._held_bytes += len(seg.payload)
            self._holding[key] = None
            while self._held_bytes > MAX_HELD_BYTES and self._holding:
                oldest = next(iter(self._holding))
                self._release(oldest, self._conns[oldest])

    def _forget_non_kafka(self) -> None:
        """Bound memory on captures with very many connections (scans, busy hosts).

        Forgetting a non-Kafka connection is harmless: if it sends again it is classified
        again, and a segment from the middle of a non-Kafka stream fails the strict test.
        """
        for key in [k for k, c in self._conns.items() if c.state != "kafka"]:
            self._release(key, self._conns.pop(key))

    def _release(self, key: tuple[Endpoint, Endpoint], conn: _Connection) -> None:
        self._held_bytes -= sum(len(s.payload) for s in conn.held)
        conn.held = []
        self._holding.pop(key, None)
