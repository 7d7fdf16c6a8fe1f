"""Kafka as a stream protocol: which connections are Kafka, and one row per message header.

Plugs into ``ingest.sources.tcp.streams.TcpStreams``; the compiled stream layer reassembles
each direction and cuts it at the size fields, so this module sees only message heads.

Columns downstream models rely on (``raw.pcap_kafka_messages``):
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
- Which side is the broker: a port in ``kafka_ports``; otherwise the strict request-header
  test on the start of a segment (known api_key, version in range, printable non-empty
  client_id). Once one direction is known to carry requests, the other carries responses.
- Only the first ``HEAD_BYTES`` of a message are read: a client_id or transactional id that
  reaches past them leaves the fields after it NULL (the fixed fields are always there).
- A direction that lost its framing resyncs only at a segment start that passes the strict
  test (for responses: a correlation id we are waiting for, or a response that ends where
  the segment does or is followed by another plausible one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ingest.sources.base import Data, RawTable, arrow_rows
from ingest.sources.kafka.apis import MAX_VERSION, response_header_version
from ingest.sources.kafka.headers import (
    MAX_MESSAGE_BYTES,
    Buffer,
    Malformed,
    NeedMore,
    parse_request,
    parse_response,
)
from ingest.sources.ports import KAFKA_PORTS
from ingest.sources.tcp.streams import (
    MESSAGE_SPAN_COLUMNS,
    Connection,
    FramerSpec,
    Messages,
)

HEAD_BYTES = 256  # of each message: enough for the header and the body fields we read
MAX_PENDING_REQUESTS = 4096  # per connection, for response -> request matching

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
        **MESSAGE_SPAN_COLUMNS,
    },
    comment=(
        "One row per Kafka request or response header found in a reassembled TCP direction"
        " (stream_id, is_request, message_index). Responses carry api_key/api_version only"
        " when their request was seen on the same connection."
    ),
    unit="Kafka messages",
)


def _be(heads: np.ndarray, start: int, n: int) -> np.ndarray:
    """Big-endian unsigned integers from heads[:, start:start+n]."""
    value = np.zeros(len(heads), np.int64)
    for k in range(n):
        value = (value << 8) | heads[:, start + k]
    return value


class KafkaProtocol:
    """Kafka request/response headers from the framed TCP streams of a capture."""

    name = "kafka"
    framer = FramerSpec(
        prefix=4,
        len_off=0,
        big_endian=True,
        base=4,
        client_range=(8, MAX_MESSAGE_BYTES),  # a request header is at least 8 bytes
        server_range=(4, MAX_MESSAGE_BYTES),
        head_cap=HEAD_BYTES,
    )
    tables = (KAFKA_MESSAGES,)

    def __init__(self, kafka_ports: Iterable[int] = KAFKA_PORTS) -> None:
        self.ports = frozenset(kafka_ports)
        self._rows: list[tuple] = []

    def probe(self, heads: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Could a request or response start here? The cheap half of the strict tests."""
        size = _be(heads, 0, 4)  # >= 2**31 is a negative int32: out of range anyway
        api_key, version, corr = _be(heads, 4, 2), _be(heads, 6, 2), _be(heads, 4, 4)
        known = MAX_VERSION[np.minimum(api_key, len(MAX_VERSION) - 1)]
        request = (size >= 8) & (size <= MAX_MESSAGE_BYTES) & (version <= known)
        response = (size >= 4) & (size <= MAX_MESSAGE_BYTES) & (corr < 1 << 31)
        return request | response | (lengths < 8)  # too short to tell: the strict test decides

    def claims(self, payload: bytes) -> bool:
        try:
            parse_request(payload, strict=True)
        except (NeedMore, Malformed):
            return False
        return True

    def plausible(self, conn: Connection, from_client: bool, data: bytes) -> bool | None:
        """May a direction that lost its framing restart here? None: too few bytes to tell."""
        try:
            if from_client:
                parse_request(data, strict=True)
                return True
            header = parse_response(data, strict=True)
        except NeedMore:
            return None
        except Malformed:
            return False
        pending = conn.state["pending"]
        if pending:
            return header.correlation_id in pending
        # No request to check against: the message must end at the segment end, or be
        # followed by another plausible header, or run past the segment.
        rest = data[header.size + 4 :]
        return not rest or _response_or_short(rest)

    def on_connect(self, conn: Connection) -> None:
        conn.state["pending"] = {}  # correlation id -> (api_key, api_version)
        conn.state["stream_id"] = conn.stream_id

    def on_messages(self, conns: dict[int, Connection], messages: Messages) -> None:
        columns = (
            messages.gen, messages.from_client, messages.index, messages.length,
            messages.first_frame, messages.last_frame, messages.first_ts, messages.last_ts,
            messages.packets, messages.complete, messages.gap_before, messages.head_len,
        )  # fmt: skip
        for k, (
            gen,
            is_request,
            index,
            size,
            ff,
            lf,
            ft,
            lt,
            packets,
            complete,
            gap,
            n,
        ) in enumerate(zip(*(c.tolist() for c in columns), strict=True)):
            conn = conns[gen]
            head = messages.heads[k, :n].tobytes()
            key = version = hv = client_id = max_wait = acks = None
            if n < (12 if is_request else 8):
                continue  # cut before its header was complete: nothing to say about it
            if is_request:
                h = parse_request(head, partial=True)
                key, version, hv, corr = (
                    h.api_key,
                    h.api_version,
                    h.header_version,
                    h.correlation_id,
                )
                client_id, max_wait, acks = h.client_id, h.fetch_max_wait_ms, h.produce_acks
                if not (acks == 0 and key == 0):  # acks=0: the broker will not answer
                    pending = conn.state["pending"]
                    pending[corr] = (key, version)
                    if len(pending) > MAX_PENDING_REQUESTS:
                        del pending[next(iter(pending))]
            else:
                corr = parse_response(head).correlation_id
                matched = conn.state["pending"].pop(corr, None)
                if matched is not None:
                    key, version = matched
                    hv = response_header_version(key, version)
            self._rows.append(
                (
                    conn.state["stream_id"], conn.seqno, *conn.client, *conn.server,
                    bool(is_request), index, size, key, version, hv, corr, client_id, max_wait,
                    acks, ff, lf, ft, lt, ft, lt, packets, bool(complete), bool(gap),
                    conn.detected_by,
                )
            )  # fmt: skip

    def on_close(self, conn: Connection) -> None:
        conn.state.clear()

    def rows(self) -> Iterator[tuple[str, Data]]:
        if self._rows:
            yield KAFKA_MESSAGES.name, arrow_rows(KAFKA_MESSAGES, self._rows)
            self._rows = []


def _response_or_short(data: Buffer) -> bool:
    try:
        parse_response(data, strict=True)
    except NeedMore:
        return True
    except Malformed:
        return False
    return True
