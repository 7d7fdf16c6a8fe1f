"""TCP streams of a capture cut into protocol messages: the pcap extractor for framed protocols.

``TcpStreams(protocols)`` is one extractor (see ``ingest.capture.pcap``) that runs the
compiled stream layer (``_kernel.py``) over each batch and hands each protocol the messages
of the connections it claimed. A protocol plug-in (``StreamProtocol``) gives:

- ``ports`` and a ``FramerSpec`` (how its messages are length-prefixed);
- ``probe``: a vectorised cheap test on the first bytes of every payload segment (which
  segments could start one of its messages), so only candidates reach
- ``claims`` (strict test: does a client message start at this segment of a connection not
  yet claimed?) and ``plausible`` (may a direction that lost its framing resync here? None:
  too few bytes to tell, the next segments decide);
- ``on_connect`` / ``on_messages`` / ``on_close`` (build rows from message heads), ``rows``
  (what is finished) and ``tables``.

Python runs per batch, per message head and per rare event (a new connection that passes a
probe, a resync candidate), never per segment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ingest.capture.pcap.reader import PacketBatch
from ingest.capture.tcp.segment import Segment, segment_rows
from ingest.kinds.base import Data, Extraction, RawTable
from ingest.lazy import lazy_module

PK = lazy_module("ingest.capture.pcap._kernels")  # numba loads when a capture is read
K = lazy_module("ingest.capture.tcp._kernel")  # numba loads when a capture is read

PROBE_BYTES = 24  # payload bytes every probe sees (zero-padded)
MAX_TRACKED_CONNECTIONS = 200_000  # then connections that can produce nothing are forgotten
MAX_ARENA = 64 << 20  # held out-of-order / unclassified bytes, all connections


@dataclass(frozen=True)
class FramerSpec:
    """A length-prefixed message format: ``base + length field`` bytes per message."""

    prefix: int  # bytes needed to read the length field
    len_off: int
    big_endian: bool
    base: int
    client_range: tuple[int, int]  # valid length field, client-to-server messages
    server_range: tuple[int, int]
    magic_len: int = 0  # first bytes every message of a direction repeats (0: none)
    head_cap: int = 64  # message bytes kept for ``on_messages``

    def row(self) -> list[int]:
        spec = [0] * K.N_S
        spec[K.S_PREFIX], spec[K.S_LEN_OFF] = self.prefix, self.len_off
        spec[K.S_BIG], spec[K.S_BASE] = int(self.big_endian), self.base
        spec[K.S_MIN_CLIENT], spec[K.S_MAX_CLIENT] = self.client_range
        spec[K.S_MIN_SERVER], spec[K.S_MAX_SERVER] = self.server_range
        spec[K.S_MAGIC_LEN], spec[K.S_HEAD_CAP] = self.magic_len, self.head_cap
        return spec


@dataclass
class Connection:
    """A claimed connection as protocols see it (``state``: the protocol's own)."""

    gen: int
    seqno: int  # earlier connections on the same 4-tuple in this file
    client: tuple[str, int]
    server: tuple[str, int]
    detected_by: str  # port | heuristic
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def stream_id(self) -> str:
        """client-server#seqno, addresses written as peers are ([v6]:port, v4:port)."""
        return f"{_endpoint(self.client)}-{_endpoint(self.server)}#{self.seqno}"


def _endpoint(endpoint: tuple[str, int]) -> str:
    addr, port = endpoint
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


# The columns every stream protocol's message table ends with: where the message sat in
# the capture (frames, times, packets) and how it was framed.
MESSAGE_SPAN_COLUMNS = {
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
}


@dataclass
class Messages:
    """Message records of one protocol (int64 arrays, one entry per message) and heads."""

    gen: np.ndarray
    from_client: np.ndarray
    index: np.ndarray  # position in its direction
    length: np.ndarray  # the length field
    total: np.ndarray  # bytes on the wire, prefix included
    first_frame: np.ndarray
    first_ts: np.ndarray
    last_frame: np.ndarray
    last_ts: np.ndarray
    packets: np.ndarray
    complete: np.ndarray
    gap_before: np.ndarray
    ip_bytes: np.ndarray  # IP bytes of the carrying packets attributed to the message
    frame_bytes: np.ndarray
    head_len: np.ndarray
    heads: np.ndarray  # (n, head width) uint8; head i is heads[i, :head_len[i]]

    def __len__(self) -> int:
        return len(self.gen)


class StreamProtocol(Protocol):
    name: str
    ports: frozenset[int]
    framer: FramerSpec
    tables: tuple[RawTable, ...]

    def probe(self, heads: np.ndarray, lengths: np.ndarray) -> np.ndarray: ...
    def claims(self, payload: bytes) -> bool: ...
    def plausible(self, conn: Connection, from_client: bool, data: bytes) -> bool | None: ...
    def on_connect(self, conn: Connection) -> None: ...
    def on_messages(self, conns: dict[int, Connection], messages: Messages) -> None: ...
    def on_close(self, conn: Connection) -> None: ...
    def rows(self) -> Iterator[tuple[str, Data]]: ...


@dataclass
class _Input:
    """Kernel input for one batch: the packet matrix, the byte buffer, endpoint texts."""

    P: np.ndarray
    buf: np.ndarray
    endpoints: Any  # row -> (src_addr, src_port, dst_addr, dst_port)


class TcpStreams:
    """The pcap extractor for length-prefixed TCP protocols (one pass for all of them)."""

    link_types: frozenset[int] = frozenset()  # it decodes above IP only

    def __init__(self, protocols: Sequence[StreamProtocol]) -> None:
        if len(protocols) > 62:
            raise ValueError("at most 62 stream protocols")
        self.protocols = list(protocols)
        self.tables = tuple(t for p in self.protocols for t in p.tables)
        self.port_map = np.zeros(65536, np.int64)
        for k, p in enumerate(self.protocols):
            for port in p.ports:
                self.port_map[port] |= 1 << k
        self.head_width = max([64, *(p.framer.head_cap for p in self.protocols)])
        self.S: np.ndarray | None = None  # built on first use: it needs the compiled kernels

    # --- extractor interface ---

    def feed(self, batch: PacketBatch) -> Iterator[tuple[str, Data]]:
        self._ready()
        if self.protocols:
            self._run(_from_batch(batch, self.protocols))
        yield from self._rows()

    def finish(self, report: Extraction) -> Iterator[tuple[str, Data]]:
        """End of the file: every connection finished (cut messages marked incomplete)."""
        self._ready()
        self._until_done(K.close_all)
        yield from self._rows()
        self._new_state()

    def feed_segments(self, segments: Iterable[Segment]) -> Iterator[tuple[str, Data]]:
        """Hand-built or scapy-read segments instead of a capture (tests, other readers)."""
        self._ready()
        self._run(_from_segments(list(segments), self.protocols))
        yield from self._rows()

    # --- the kernel loop ---

    def _ready(self) -> None:
        if self.S is None:
            rows = [p.framer.row() for p in self.protocols]
            self.S = np.array(rows, np.int64).reshape(-1, K.N_S)
            self._new_state()

    def _new_state(self) -> None:
        self.C = np.full((1024, K.N_C), -1, np.int64)
        self.C[:, K.C_STATE] = K.FREE
        self.D = np.full((1024, K.N_D), -1, np.int64)
        self.H = np.zeros((1024, K.N_H), np.int64)
        self.arena = np.empty(1 << 20, np.uint8)
        self.heads = np.zeros((1024, self.head_width), np.uint8)
        self.index = np.full(4096, -1, np.int64)
        self.G = np.zeros(K.N_G, np.int64)
        for f in (K.G_CFREE, K.G_DFREE, K.G_HFREE, K.G_RESUME_CONN):
            self.G[f] = -1
        self.G[K.G_MAX_CONNS] = MAX_TRACKED_CONNECTIONS
        self.M = np.zeros((K.N_M, 16384), np.int64)
        self.OH = np.zeros((16384, self.head_width), np.uint8)
        self.L = np.zeros((K.N_L, 1024), np.int64)
        self.X = np.zeros(1024, np.int64)
        self.conns: dict[int, Connection] = {}
        self._endpoints: Any = None

    def _until_done(self, fn: Any) -> None:
        """Run close_all / evict to the end (they stop like advance does, without a packet)."""
        while True:
            status = fn(self.C, self.D, self.H, self.arena, self.S, self.M, self.OH,
                        self.heads, self.G, self.X)  # fmt: skip
            self._drain_outputs()
            if status == K.DONE:
                return
            self._handle(status, int(self.G[K.G_HUNT_DIR]), int(self.G[K.G_HUNT_ENTRY]))

    def _run(self, inp: _Input) -> None:
        P, n = inp.P, inp.P.shape[1]
        self._endpoints = inp.endpoints
        i = 0
        while i < n:
            i, status, a0, a1 = K.advance(
                P, i, n, inp.buf, self.C, self.D, self.H, self.arena, self.heads, self.index,
                self.G, self.S, self.port_map, self.M, self.OH, self.L, self.X,
            )  # fmt: skip
            self._drain_outputs()
            if status != K.DONE:
                self._handle(status, int(a0), int(a1), P[:, i], inp.buf)

    def _handle(
        self,
        status: int,
        a0: int,
        a1: int,
        packet: np.ndarray | None = None,
        buf: np.ndarray | None = None,
    ) -> None:
        """Answer why a kernel call stopped, so the next call can go on."""
        if status == K.EV_CLASSIFY:
            self._classify(a0, packet, buf)
        elif status == K.EV_HUNT:
            self._hunt(a0, a1, packet, buf)
        elif status == K.NEED_CONN:
            self._make_room_for_connections()
        elif status == K.NEED_DIR:
            self.D = _grown(self.D, -1)
            self.heads = _grown(self.heads, 0)
        elif status == K.NEED_HELD:
            self.H = _grown(self.H, 0)
        elif status == K.NEED_ARENA:
            self._make_room_in_arena(int(self.G[K.G_ARENA_WANT]))

    def _drain_outputs(self) -> None:
        G = self.G
        for k in range(int(G[K.G_NL])):  # connections claimed (before their messages)
            gen, row, client_is_src, seqno, f, detect = (int(v) for v in self.L[:, k])
            src_addr, src_port, dst_addr, dst_port = self._endpoints(row)
            src, dst = (src_addr, src_port), (dst_addr, dst_port)
            client, server = (src, dst) if client_is_src else (dst, src)
            conn = Connection(gen, seqno, client, server, ("port", "heuristic")[detect])
            conn.state["protocol"] = f
            self.conns[gen] = conn
            self.protocols[f].on_connect(conn)
        G[K.G_NL] = 0
        n = int(G[K.G_NM])
        if n:
            M = self.M[:, :n]
            for f, proto in enumerate(self.protocols):
                pick = np.flatnonzero(M[K.M_FRAMER] == f)
                if len(pick):
                    proto.on_messages(self.conns, _messages(M[:, pick], self.OH[pick]))
            G[K.G_NM] = 0
        for gen in self.X[: int(G[K.G_NX])].tolist():
            conn = self.conns.pop(gen)
            self.protocols[conn.state["protocol"]].on_close(conn)
        G[K.G_NX] = 0

    def _rows(self) -> Iterator[tuple[str, Data]]:
        for proto in self.protocols:
            yield from proto.rows()

    def _classify(self, c: int, packet: np.ndarray, buf: np.ndarray) -> None:
        """A segment of an unclaimed connection passed probes: the strict tests decide."""
        payload = _payload(buf, packet)
        verdict = -1
        for f, proto in enumerate(self.protocols):
            if (packet[K.P_PROBE] >> f) & 1 and proto.claims(payload):
                verdict = f
                break
        self.C[c, K.C_VERDICT_FRAME] = packet[K.P_FRAME]
        self.C[c, K.C_VERDICT] = verdict

    def _hunt(self, d: int, entry: int, packet: np.ndarray | None, buf: np.ndarray | None) -> None:
        """A direction that lost its framing reached a segment start that passed the probe
        (or continues a probe): may framing restart at the probe, or at this segment?"""
        data = self._held_bytes(entry) if entry >= 0 else _payload(buf, packet)  # type: ignore[arg-type]
        probe, e = b"", self.D[d, K.D_PROBE]
        while e >= 0:
            probe += self._held_bytes(e)
            e = self.H[e, K.H_NEXT]
        c = self.D[d, K.D_CONN]
        conn = self.conns[int(self.C[c, K.C_GEN])]
        proto = self.protocols[int(self.C[c, K.C_FRAMER])]
        from_client = bool(self.D[d, K.D_IS_CLIENT])
        verdict = None
        if probe:
            candidate = probe + data
            start = proto.plausible(conn, from_client, candidate)
            if start is None and len(candidate) <= K.MAX_PROBE_BYTES:
                verdict = K.V_MORE
            elif start:
                verdict = K.V_SYNC_PROBE
        if verdict is None:
            start = proto.plausible(conn, from_client, data)
            if start is None:
                verdict = K.V_NEW_PROBE if len(data) <= K.MAX_PROBE_BYTES else K.V_REJECT
            else:
                verdict = K.V_SYNC_HERE if start else K.V_REJECT
        self.D[d, K.D_VERDICT_SEQ] = self.G[K.G_HUNT_SEQ]
        self.D[d, K.D_VERDICT] = verdict

    def _held_bytes(self, entry: int) -> bytes:
        off, n = self.H[entry, K.H_OFF], self.H[entry, K.H_LEN]
        return self.arena[off : off + n].tobytes()

    def _make_room_for_connections(self) -> None:
        if self.G[K.G_NCONN] >= self.G[K.G_MAX_CONNS]:
            self._until_done(K.evict)
            # claimed open connections stay: let the table grow past them, evict again later
            self.G[K.G_MAX_CONNS] = max(MAX_TRACKED_CONNECTIONS, 2 * int(self.G[K.G_NCONN]))
        elif self.G[K.G_CFREE] < 0 and self.G[K.G_CTOP] >= len(self.C):
            self.C = _grown(self.C, -1)
            self.C[len(self.C) // 2 :, K.C_STATE] = K.FREE
        while self.G[K.G_NCONN] + 1 >= len(self.index) // 2:
            self.index = np.full(2 * len(self.index), -1, np.int64)
        K.rehash(self.index, self.C, self.G[K.G_CTOP])

    def _make_room_in_arena(self, want: int) -> None:
        used = self.H[: self.G[K.G_HTOP]]
        live = int(used[used[:, K.H_INUSE] == 1, K.H_LEN].sum())
        size = len(self.arena)
        while live + want > size // 2 and size < MAX_ARENA:
            size *= 2
        new = np.empty(size, np.uint8)
        K.compact(self.H, self.arena, new, self.G)
        self.arena = new
        self.G[K.G_ARENA_FULL] = int(live + want > size)


def _grown(a: np.ndarray, fill: int) -> np.ndarray:
    """a with twice the rows; new rows filled with ``fill``."""
    out = np.full((2 * a.shape[0], *a.shape[1:]), fill, a.dtype)
    out[: a.shape[0]] = a
    return out


def _payload(buf: np.ndarray, packet: np.ndarray) -> bytes:
    off, n = int(packet[K.P_OFF]), int(packet[K.P_CAPLEN])
    return buf[off : off + n].tobytes() if off >= 0 else b""


def _messages(M: np.ndarray, heads: np.ndarray) -> Messages:
    return Messages(
        M[K.M_GEN], M[K.M_IS_CLIENT], M[K.M_INDEX], M[K.M_VALUE], M[K.M_TOTAL], M[K.M_FF],
        M[K.M_FT], M[K.M_LF], M[K.M_LT], M[K.M_PACKETS], M[K.M_COMPLETE], M[K.M_GAP_BEFORE],
        M[K.M_IP], M[K.M_FB], M[K.M_HLEN], heads,
    )  # fmt: skip


def _probe_bits(protocols: Sequence[StreamProtocol], buf: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Bit k set where protocol k's probe passes on the segment's first payload bytes."""
    heads = np.empty((P.shape[1], PROBE_BYTES), np.uint8)
    K.gather_heads(buf, P[K.P_OFF], P[K.P_CAPLEN], heads)
    caplen = P[K.P_CAPLEN]
    bits = np.zeros(len(caplen), np.int64)
    for k, proto in enumerate(protocols):
        bits |= proto.probe(heads, caplen).astype(np.int64) << k
    bits[caplen <= 0] = 0  # only payload segments can start a message
    return bits


def _from_batch(batch: PacketBatch, protocols: Sequence[StreamProtocol]) -> _Input:
    rows = segment_rows(batch)
    P = np.empty((K.N_P, len(rows)), np.int64)
    origlen = batch.table.column("origlen").to_numpy()
    K.segment_matrix(batch.buf, batch.fields, rows, batch.frame_number, batch.ts_ns, origlen, P)
    P[K.P_PROBE] = _probe_bits(protocols, batch.buf, P)
    table, f = batch.table, batch.fields

    def endpoints(row: int) -> tuple[str, int, str, int]:
        return (
            table.column("src_addr")[row].as_py(), int(f[PK.F_SRC_PORT, row]),
            table.column("dst_addr")[row].as_py(), int(f[PK.F_DST_PORT, row]),
        )  # fmt: skip

    return _Input(P, batch.buf, endpoints)


def _from_segments(segments: list[Segment], protocols: Sequence[StreamProtocol]) -> _Input:
    n = len(segments)
    P = np.zeros((K.N_P, n), np.int64)
    offsets = np.cumsum([0, *(len(s.payload) for s in segments)])
    buf = np.frombuffer(b"".join(s.payload for s in segments) or b"\0", np.uint8).copy()
    for i, s in enumerate(segments):
        src, dst = ipaddress.ip_address(s.src_addr), ipaddress.ip_address(s.dst_addr)
        P[K.P_SRC_HI, i], P[K.P_SRC_LO, i] = _words(src.packed)
        P[K.P_DST_HI, i], P[K.P_DST_LO, i] = _words(dst.packed)
        P[K.P_VER, i] = src.version
        P[K.P_FRAME, i], P[K.P_TS, i] = s.frame_number, s.ts_ns
        P[K.P_SPORT, i], P[K.P_DPORT, i] = s.src_port, s.dst_port
        P[K.P_SEQ, i], P[K.P_FLAGS, i] = s.seq, s.flags
        length = len(s.payload)
        P[K.P_OFF, i] = offsets[i] if length else -1
        P[K.P_CAPLEN, i] = P[K.P_WIRELEN, i] = length
        P[K.P_IPBYTES, i] = P[K.P_FRAMEBYTES, i] = length + 40
    P[K.P_ROW] = np.arange(n)
    P[K.P_PROBE] = _probe_bits(protocols, buf, P)

    def endpoints(row: int) -> tuple[str, int, str, int]:
        s = segments[row]
        return s.src_addr, s.src_port, s.dst_addr, s.dst_port

    return _Input(P, buf, endpoints)


def _words(packed: bytes) -> tuple[int, int]:
    """An address as two signed 64-bit words (IPv4: 0 and the address)."""
    raw = packed.rjust(16, b"\0")
    hi, lo = (int.from_bytes(raw[k : k + 8], "big", signed=True) for k in (0, 8))
    return hi, lo
