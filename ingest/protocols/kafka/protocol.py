"""Kafka as a stream protocol: which connections are Kafka, and one row per message header.

Plugs into ``ingest.capture.tcp.streams.TcpStreams``; the compiled stream layer reassembles
each direction and cuts it at the size fields, so this module sees only message heads.

Columns downstream models rely on (``raw.pcap_kafka_messages``):
- ``stream_id`` ("client:port-broker:port#connection_seq") identifies one TCP connection in
  the file; pair requests and responses on (``_file_id``, ``stream_id``, correlation_id).
- ``message_size_bytes`` is the size field (the 4-byte prefix excluded), as Kafka counts it.
- ``first_*``/``last_*``: the first and last packet carrying the message's bytes, so latency
  is response ``first_ts_ns`` - request ``last_ts_ns``.
- Responses carry api_key/api_version/header_version only when their request was seen on the
  same connection; ``produce_acks`` = 0 explains requests that never get a response;
  ``fetch_max_wait_ms`` is the broker's allowed long-poll wait.
- ``error_code``: a response's top-level error code (0: none) where its API and version hold
  one at a fixed place in the body (``apis.ERROR_CODE_AT``); NULL elsewhere, for responses
  without their request, and when the message ends before it.
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

import contextlib
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

from ingest.capture.tcp.streams import (
    MESSAGE_SPAN_COLUMNS,
    Connection,
    FramerSpec,
    Messages,
)
from ingest.kinds.base import Data, RawTable, arrow_schema
from ingest.lazy import lazy_module
from ingest.protocols.kafka.apis import (
    API_VERSIONS_KEY,
    ERROR_CODE_OFFSET,
    MAX_VERSION,
    NO_ERROR_CODE,
)
from ingest.protocols.kafka.headers import (
    MAX_MESSAGE_BYTES,
    Buffer,
    Malformed,
    NeedMore,
    _Reader,
    parse_request,
    parse_response,
)
from ingest.protocols.ports import KAFKA_PORTS

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
        "error_code": "SMALLINT",
        **MESSAGE_SPAN_COLUMNS,
    },
    comment=(
        "One row per Kafka request or response header found in a reassembled TCP direction"
        " (stream_id, is_request, message_index). Responses carry api_key/api_version only"
        " when their request was seen on the same connection."
    ),
    unit="Kafka messages",
)

SCHEMA = arrow_schema(KAFKA_MESSAGES)
KK = lazy_module("ingest.protocols.kafka._kernel")  # numba loads when a capture is read


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
        self._parts: list[tuple] = []  # numpy columns of each on_messages call
        self._conns: dict[int, tuple] = {}  # gen -> the connection's columns

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
        """One row per message whose header is complete; request heads read in compiled
        code, responses matched to their request in capture order (per connection)."""
        is_request = messages.from_client.astype(bool)
        keep = np.flatnonzero(messages.head_len >= np.where(is_request, 12, 8))
        if not len(keep):
            return  # cut before its header was complete: nothing to say about it
        heads, head_len = messages.heads[keep], messages.head_len[keep]
        gens, is_request = messages.gen[keep], is_request[keep]
        F = np.full((KK.N_R, len(keep)), KK.NONE, np.int64)
        req = np.flatnonzero(is_request)
        F[:, req] = KK.request_fields(heads[req], head_len[req], KK.KNOWN, KK.FLEX_FROM)
        resp = np.flatnonzero(~is_request)
        F[KK.R_CORR, resp] = _be(heads[resp], 4, 4)
        F[KK.R_CORR] = np.where(F[KK.R_CORR] >= 1 << 31, F[KK.R_CORR] - (1 << 32), F[KK.R_CORR])
        client_ids: list[str | None] = [None] * len(keep)
        for i in req[F[KK.R_PYTHON, req] == 1].tolist():  # negative or unknown api: as before
            h = parse_request(heads[i, : head_len[i]].tobytes(), partial=True)
            hv, wait, acks = h.header_version, h.fetch_max_wait_ms, h.produce_acks
            F[KK.R_HV, i] = KK.NONE if hv is None else hv
            F[KK.R_MAX_WAIT, i] = KK.NONE if wait is None else wait
            F[KK.R_ACKS, i] = KK.NONE if acks is None else acks
            client_ids[i] = h.client_id
        offs, lens = F[KK.R_CID_OFF], F[KK.R_CID_LEN]
        for i in np.flatnonzero(offs >= 0).tolist():
            raw = heads[i, offs[i] : offs[i] + lens[i]].tobytes()
            client_ids[i] = raw.decode("utf-8", errors="backslashreplace")
        self._match(conns, gens, is_request, F)
        errors = _error_codes(heads, head_len, messages.length[keep], is_request, F)
        for gen in np.unique(gens).tolist():  # what the rows say of it, even once it closed
            c = conns[gen]
            self._conns[gen] = (c.state["stream_id"], c.seqno, *c.client, *c.server, c.detected_by)
        ft, lt = messages.first_ts[keep], messages.last_ts[keep]
        self._parts.append(
            (
                gens, is_request, messages.index[keep], messages.length[keep], F,
                client_ids, messages.first_frame[keep], messages.last_frame[keep], ft, lt,
                messages.packets[keep], messages.complete[keep], messages.gap_before[keep],
                errors,
            )
        )  # fmt: skip

    def _match(
        self, conns: dict[int, Connection], gens: np.ndarray, is_request: np.ndarray, F: np.ndarray
    ) -> None:
        """Responses get the api_key/api_version of the pending request they answer."""
        keys, versions, corrs = F[KK.R_KEY], F[KK.R_VERSION], F[KK.R_CORR]
        for i, (gen, request, key, version, corr, acks) in enumerate(
            zip(gens.tolist(), is_request.tolist(), keys.tolist(), versions.tolist(),
                corrs.tolist(), F[KK.R_ACKS].tolist(), strict=True)
        ):  # fmt: skip
            pending = conns[gen].state["pending"]
            if request:
                if not (acks == 0 and key == 0):  # acks=0: the broker will not answer
                    pending[corr] = (key, version)
                    if len(pending) > MAX_PENDING_REQUESTS:
                        del pending[next(iter(pending))]
            elif (matched := pending.pop(corr, None)) is not None:
                keys[i], versions[i] = matched
        answered = ~is_request & (keys != KK.NONE)
        known = answered & (keys >= 0) & (keys < len(KK.KNOWN))
        known[known] = KK.KNOWN[keys[known]] == 1
        flexible = versions >= KK.FLEX_FROM[np.clip(keys, 0, len(KK.KNOWN) - 1)]
        hv = np.where(keys == API_VERSIONS_KEY, 0, flexible.astype(np.int64))
        F[KK.R_HV] = np.where(is_request, F[KK.R_HV], np.where(known, hv, KK.NONE))

    def _table(self) -> pa.Table:
        """The messages gathered since the last call as one Arrow table."""
        parts = list(zip(*self._parts, strict=True))
        (gens, is_request, index, length, F, _, ff, lf, ft, lt, packets, complete, gap, errors) = (
            np.concatenate(p, axis=-1) if i != 5 else None for i, p in enumerate(parts)
        )
        client_ids = [c for chunk in parts[5] for c in chunk]
        unique, at = np.unique(gens, return_inverse=True)
        per_conn = list(zip(*(self._conns[g] for g in unique.tolist()), strict=True))
        take = pa.array(at)
        stream_id, seqno, client_addr, client_port, server_addr, server_port, detected = (
            pa.array(values).take(take) for values in per_conn
        )

        def col(values: np.ndarray, typ: pa.DataType) -> pa.Array:
            return pa.array(values, mask=values == KK.NONE).cast(typ)

        arrays = [
            stream_id, seqno.cast(pa.int32()), client_addr, client_port.cast(pa.int32()),
            server_addr, server_port.cast(pa.int32()), pa.array(is_request), pa.array(index),
            pa.array(length), col(F[KK.R_KEY], pa.int16()), col(F[KK.R_VERSION], pa.int16()),
            col(F[KK.R_HV], pa.int8()), col(F[KK.R_CORR], pa.int32()),
            pa.array(client_ids, pa.string()), col(F[KK.R_MAX_WAIT], pa.int32()),
            col(F[KK.R_ACKS], pa.int16()), col(errors, pa.int16()), pa.array(ff),
            pa.array(lf), pa.array(ft), pa.array(lt), pa.array(ft).cast(pa.timestamp("ns")),
            pa.array(lt).cast(pa.timestamp("ns")), pa.array(packets).cast(pa.int32()),
            pa.array(complete.astype(bool)), pa.array(gap.astype(bool)), detected,
        ]  # fmt: skip
        self._parts, self._conns = [], {}
        return pa.Table.from_arrays(arrays, schema=SCHEMA)

    def on_close(self, conn: Connection) -> None:
        conn.state.clear()

    def rows(self) -> Iterator[tuple[str, Data]]:
        if self._parts:
            yield KAFKA_MESSAGES.name, self._table()


# Kafka's error codes run from -1 (UNKNOWN_SERVER_ERROR) to about 130 (Kafka 4.1); room to grow
MAX_ERROR_CODE = 200


def _error_codes(
    heads: np.ndarray, head_len: np.ndarray, size: np.ndarray, is_request: np.ndarray, F: np.ndarray
) -> np.ndarray:
    """The error_code of each response whose API and version hold one at a fixed place
    (``KK.NONE`` elsewhere): after the header (v0: correlation id; v1: its tagged fields too)
    and the offset ``ERROR_CODE_OFFSET`` gives, if the head and the message reach that far."""
    keys, versions, hv = F[KK.R_KEY], F[KK.R_VERSION], F[KK.R_HV]
    out = np.full(len(keys), KK.NONE, np.int64)
    known = ~is_request & (hv != KK.NONE) & (versions >= 0)
    key_at = np.clip(keys, 0, ERROR_CODE_OFFSET.shape[0] - 1)
    version_at = np.clip(versions, 0, ERROR_CODE_OFFSET.shape[1] - 1)
    offset = np.where(
        known & (versions <= MAX_VERSION[key_at]),
        ERROR_CODE_OFFSET[key_at, version_at],
        NO_ERROR_CODE,
    )
    end = np.minimum(head_len, 4 + size)
    # body start: 8 after a v0 header; after a v1 header 9 when it has no tagged fields (the
    # usual case, read at once), else found by reading them (-1: they do not fit)
    width = heads.shape[1]
    no_tags = heads[:, min(8, width - 1)] == 0
    body = np.where(hv == 1, np.where(no_tags & (end > 8), 9, -1), 8)
    for i in np.flatnonzero((offset != NO_ERROR_CODE) & (body < 0)).tolist():
        reader = _Reader(heads[i, : end[i]].tobytes())
        reader.pos = 8
        with contextlib.suppress(NeedMore, Malformed):
            reader.tagged_fields(strict=False)
            body[i] = reader.pos
    at = body + offset
    found = np.flatnonzero((offset != NO_ERROR_CODE) & (body >= 0) & (at + 2 <= end))
    code = (heads[found, at[found]].astype(np.int64) << 8) | heads[found, at[found] + 1]
    code = np.where(code >= 1 << 15, code - (1 << 16), code)
    # a number Kafka never uses as an error code is not one (bytes of a body we misread)
    out[found] = np.where((code >= -1) & (code <= MAX_ERROR_CODE), code, KK.NONE)
    return out


def _response_or_short(data: Buffer) -> bool:
    try:
        parse_response(data, strict=True)
    except NeedMore:
        return True
    except Malformed:
        return False
    return True
