"""Kafka request and response headers (FORMATS.md §4): parsing and the strict tests.

The framer cuts messages (int32 size + size bytes); this module reads what the first bytes of
one say. ``strict`` is the test that *finds* Kafka (an unknown port, a resync after a gap):
only known APIs and versions, a non-null printable client_id, sane body fields.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from ingest.protocols.kafka.apis import KAFKA_APIS, request_header_version

MAX_MESSAGE_BYTES = 100 * 1024 * 1024  # brokers refuse far less (socket.request.max.bytes)

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


def _is_printable(raw: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in raw)


def parse_request(buf: Buffer, strict: bool = False, partial: bool = False) -> Header:
    """Read a request header (and Fetch max_wait_ms / Produce acks) from the start of buf.

    strict is the test used to *find* Kafka (unknown ports, resync after a gap): only known
    APIs and versions, a non-null printable client_id, sane body fields. Non-strict is used
    once a stream is in sync: anything with a valid size becomes a row. partial: buf is the
    first bytes of a message the framer already cut out; fields it does not hold (or that do
    not parse) come back as None instead of raising.
    """
    r = _Reader(buf)
    size, api_key, api_version, correlation_id = r.fixed(REQUEST_START)
    if not 8 <= size <= MAX_MESSAGE_BYTES:
        raise Malformed(f"request size {size}")
    r.msg_end = 4 + size
    api = KAFKA_APIS.get(api_key)
    if api_key < 0 or api_version < 0:
        if partial:
            return Header(size, api_key, api_version, None, correlation_id, None, None, None)
        raise Malformed("negative api_key or api_version")
    if strict and (api is None or api_version > api[1] or correlation_id < 0):
        raise Malformed("unknown api, version or correlation id")
    header_version = request_header_version(api_key, api_version)
    fields = _variable_fields(r, api_key, api_version, header_version, strict, partial)
    return Header(size, api_key, api_version, header_version, correlation_id, *fields)


def _variable_fields(
    r: _Reader,
    api_key: int,
    api_version: int,
    header_version: int | None,
    strict: bool,
    partial: bool,
) -> tuple[str | None, int | None, int | None]:
    """client_id, fetch_max_wait_ms, produce_acks (partial: what the bytes hold)."""
    client_id = fetch_max_wait_ms = produce_acks = None
    try:
        client_id = _client_id(r, header_version, strict)
        fetch_max_wait_ms, produce_acks = _body_fields(r, api_key, api_version, strict)
    except (NeedMore, Malformed):
        if not partial:
            raise
    return client_id, fetch_max_wait_ms, produce_acks


def _client_id(r: _Reader, header_version: int | None, strict: bool) -> str | None:
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
    return client_id


def _body_fields(
    r: _Reader, api_key: int, api_version: int, strict: bool
) -> tuple[int | None, int | None]:
    """Fetch max_wait_ms and Produce acks: the body fields that explain latencies."""
    api = KAFKA_APIS.get(api_key)
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
    return fetch_max_wait_ms, produce_acks


def parse_response(buf: Buffer, strict: bool = False) -> Header:
    """Read a response header: size and correlation id (all headers start with both)."""
    size, correlation_id = _Reader(buf).fixed(RESPONSE_START)
    if not 4 <= size <= MAX_MESSAGE_BYTES:
        raise Malformed(f"response size {size}")
    if strict and correlation_id < 0:
        raise Malformed("negative correlation id")
    return Header(size, None, None, None, correlation_id, None, None, None)
