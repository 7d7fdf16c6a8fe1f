"""Bitcoin P2P v1 messages seen on the wire -> ``raw.pcap_bitcoin_messages``.

A stream protocol for ``ingest.capture.tcp.streams.TcpStreams``: every v1 message is a 24-byte
header (4-byte network magic, 12-byte NUL-padded command, little-endian uint32 payload
length, 4-byte checksum) and its payload. The compiled stream layer reassembles each
direction and cuts it at the length fields; only the 24 header bytes come here.

Which connections are Bitcoin: ``--bitcoin-port`` (default 8333) on one side, or, on any
port, a segment that starts with a known network magic, a valid command (printable ASCII,
then only NULs, as Bitcoin Core checks) and a length within MAX_SIZE. A direction whose
messages stop starting with its own magic lost its framing and resyncs only at a segment
start that passes the same test.

Per message: ``payload_bytes`` (the length field), ``message_bytes`` (header + payload),
and the bytes of the TCP segments that carried it: ``ip_bytes`` (IP packets, headers
included) and ``frame_bytes`` (link-layer frames). A segment carrying several messages
shares its headers among them by payload bytes (integer shares that add up to the
segment); retransmitted bytes and pure ACKs are not attributed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ingest.capture.tcp.streams import (
    MESSAGE_SPAN_COLUMNS,
    Connection,
    FramerSpec,
    Messages,
)
from ingest.kinds.base import Data, RawTable, arrow_rows
from ingest.protocols.ports import BITCOIN_PORTS

MAX_SIZE = 0x02000000  # Bitcoin Core's MAX_SIZE: a longer length field is not a message
HEADER_BYTES = 24
NETWORKS = {  # message start bytes (chainparams pchMessageStart) -> network
    b"\xf9\xbe\xb4\xd9": "main",
    b"\x0b\x11\x09\x07": "testnet3",
    b"\x1c\x16\x3f\x28": "testnet4",
    b"\x0a\x03\xcf\x40": "signet",
    b"\xfa\xbf\xb5\xda": "regtest",
}
_MAGICS = np.array([int.from_bytes(m, "big") for m in NETWORKS], np.int64)

BITCOIN_MESSAGES = RawTable(
    name="pcap_bitcoin_messages",
    columns={
        "stream_id": "VARCHAR NOT NULL",
        "connection_seq": "INTEGER NOT NULL",
        "orig_addr": "VARCHAR NOT NULL",
        "orig_port": "INTEGER NOT NULL",
        "resp_addr": "VARCHAR NOT NULL",
        "resp_port": "INTEGER NOT NULL",
        "is_from_orig": "BOOLEAN NOT NULL",
        "message_index": "BIGINT NOT NULL",
        "network": "VARCHAR NOT NULL",
        "command": "VARCHAR NOT NULL",
        "payload_bytes": "BIGINT NOT NULL",
        "message_bytes": "BIGINT NOT NULL",
        "ip_bytes": "BIGINT NOT NULL",
        "frame_bytes": "BIGINT NOT NULL",
        **MESSAGE_SPAN_COLUMNS,
    },
    comment=(
        "One row per Bitcoin P2P v1 message found in a reassembled TCP direction"
        " (stream_id, is_from_orig, message_index): command, sizes, and the bytes of the"
        " segments that carried it."
    ),
    unit="Bitcoin messages",
)


def command_of(header: bytes) -> str | None:
    """The command of a v1 header, or None where Bitcoin Core would refuse it."""
    raw = header[4:16]
    name = raw.rstrip(b"\0")
    if not name or b"\0" in name or not all(0x20 <= b <= 0x7E for b in name):
        return None
    return name.decode("ascii")


def header_ok(header: bytes, magic: bytes | None = None) -> bool | None:
    """Is this the start of a v1 message (of network ``magic`` when given)? None: too short."""
    if len(header) < HEADER_BYTES:
        start = header[:4]
        known = [m for m in NETWORKS if magic in (None, m)]
        return None if any(m.startswith(start) for m in known) else False
    if header[:4] not in NETWORKS or (magic is not None and header[:4] != magic):
        return False
    length = int.from_bytes(header[16:20], "little")
    return command_of(header) is not None and length <= MAX_SIZE


class BitcoinProtocol:
    """Bitcoin P2P v1 messages from the framed TCP streams of a capture."""

    name = "bitcoin"
    framer = FramerSpec(
        prefix=HEADER_BYTES,
        len_off=16,
        big_endian=False,
        base=HEADER_BYTES,
        client_range=(0, MAX_SIZE),
        server_range=(0, MAX_SIZE),
        magic_len=4,
        head_cap=HEADER_BYTES,
    )
    tables = (BITCOIN_MESSAGES,)

    def __init__(self, bitcoin_ports: Iterable[int] = BITCOIN_PORTS) -> None:
        self.ports = frozenset(bitcoin_ports)
        self._rows: list[tuple] = []

    def probe(self, heads: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """A known magic, a lowercase first command letter, a sane length (or too short)."""
        magic = np.zeros(len(heads), np.int64)
        for k in range(4):
            magic = (magic << 8) | heads[:, k]
        length = np.zeros(len(heads), np.int64)
        for k in range(4):
            length |= heads[:, 16 + k].astype(np.int64) << (8 * k)
        first = heads[:, 4]
        start = np.isin(magic, _MAGICS) & (first >= 0x61) & (first <= 0x7A) & (length <= MAX_SIZE)
        return start | (lengths < HEADER_BYTES)

    def claims(self, payload: bytes) -> bool:
        return bool(header_ok(payload))

    def plausible(self, conn: Connection, from_client: bool, data: bytes) -> bool | None:
        return header_ok(data, conn.state.get("magic"))

    def on_connect(self, conn: Connection) -> None:
        conn.state["stream_id"] = conn.stream_id

    def on_messages(self, conns: dict[int, Connection], messages: Messages) -> None:
        columns = (
            messages.gen, messages.from_client, messages.index, messages.length,
            messages.total, messages.ip_bytes, messages.frame_bytes, messages.first_frame,
            messages.last_frame, messages.first_ts, messages.last_ts, messages.packets,
            messages.complete, messages.gap_before, messages.head_len,
        )  # fmt: skip
        for k, (gen, orig, index, length, total, ipb, fb, ff, lf, ft, lt, packets, complete,
                gap, n) in enumerate(zip(*(c.tolist() for c in columns), strict=True)):  # fmt: skip
            if n < HEADER_BYTES:
                continue  # cut before its header was complete
            header = messages.heads[k, :HEADER_BYTES].tobytes()
            conn = conns[gen]
            conn.state.setdefault("magic", header[:4])
            command = command_of(header) or header[4:16].hex()
            self._rows.append(
                (
                    conn.state["stream_id"], conn.seqno, *conn.client, *conn.server,
                    bool(orig), index, NETWORKS.get(header[:4], header[:4].hex()), command,
                    length, total, ipb, fb, ff, lf, ft, lt, ft, lt, packets, bool(complete),
                    bool(gap), "magic" if conn.detected_by == "heuristic" else "port",
                )
            )  # fmt: skip

    def on_close(self, conn: Connection) -> None:
        conn.state.clear()

    def rows(self) -> Iterator[tuple[str, Data]]:
        if self._rows:
            yield BITCOIN_MESSAGES.name, arrow_rows(BITCOIN_MESSAGES, self._rows)
            self._rows = []
