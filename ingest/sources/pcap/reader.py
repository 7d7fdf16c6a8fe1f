"""Capture containers (classic pcap, pcapng, gzip) walked in bounded chunks, dissected per batch.

Data flow for one file: ``_Input`` reads the (possibly gunzipped) bytes into one reusable numpy
buffer; a compiled walker (``_kernels.walk_pcap`` / ``walk_pcapng``) turns the records in it into
offset/length/timestamp arrays; ``_kernels.dissect`` decodes all headers of the batch into
integer columns and address texts; ``_to_arrow`` wraps those as one Arrow record batch. Python
code runs per batch (up to ``BATCH_SIZE`` packets), per pcapng SHB/IDB, and per malformed or
fallback packet, never per ordinary packet.
"""

from __future__ import annotations

import gzip
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
import pyarrow as pa

from ingest.sources.base import SourceError
from ingest.sources.pcap import _kernels as K

BATCH_SIZE = 131_072
CHUNK_BYTES = 4 << 20  # small enough that walk and dissection find the bytes in cache
MAX_RECORD = 64 << 20  # a record/block claiming more is damage, not a packet
SHB_MAX = 1 << 20  # libpcap's BT_SHB_INSANE_MAX
IP_TEXT_MAX = 39  # longest IPv6 text (IPv4 needs 15)

PCAP_MAGICS = {  # first 4 bytes -> (big endian, ns per fraction unit, record header length)
    b"\xd4\xc3\xb2\xa1": (False, 1000, 16),
    b"\xa1\xb2\xc3\xd4": (True, 1000, 16),
    b"\x4d\x3c\xb2\xa1": (False, 1, 16),
    b"\xa1\xb2\x3c\x4d": (True, 1, 16),
    b"\x34\xcd\xb2\xa1": (False, 1000, 24),  # Kuznetzov "modified pcap"
    b"\xa1\xb2\xcd\x34": (True, 1000, 24),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"

MALFORMED = {
    K.M_ETH_TRUNC: "ethernet header truncated: {a} of 14 bytes captured",
    K.M_VLAN_TRUNC: "vlan tag {a} truncated",
    K.M_LINK_HDR_TRUNC: "link-layer header truncated: {a} of {b} bytes captured",
    K.M_IPV4_TRUNC: "ipv4 header truncated: {a} of {b} bytes captured",
    K.M_IPV4_IHL: "ipv4 header length {a} < 20",
    K.M_IPV4_TOTAL_LT_IHL: "ipv4 total length {a} < header length {b}",
    K.M_IP_VERSION_MISMATCH: "ip version {a} under ethertype {b:#06x}",
    K.M_IPV6_TRUNC: "ipv6 header truncated: {a} of {b} bytes captured",
    K.M_IPV6_EXT_TRUNC: "ipv6 extension header (next header {a}) truncated",
    K.M_TCP_TRUNC: "tcp header truncated: {a} of {b} bytes captured",
    K.M_TCP_HLEN: "tcp header length {a} < 20",
    K.M_TCP_HLEN_GT_PAYLOAD: "tcp header length {a} > ip payload {b}",
    K.M_UDP_TRUNC: "udp header truncated: {a} of {b} bytes captured",
    K.M_UDP_SHORT: "ip payload {a} too short for a udp header",
    K.M_IP_VERSION_UNKNOWN: "unknown ip version {a}",
    K.M_IP_LEN_GT_WIRE: "ip length {a} > {b} bytes on the wire",
    K.M_ICMP_TRUNC: "icmp header truncated: {a} of {b} bytes captured",
    K.M_IPV6_EXT_GT_PAYLOAD: "ipv6 extension headers ({b} bytes) exceed payload length {a}",
    K.M_IPV4_OPTIONS_TRUNC: "ipv4 options truncated: {a} of {b} bytes captured",
}

# Link types never handed to scapy: they carry no IP (Bluetooth, USB) and scapy is slow on them.
NO_FALLBACK_LINK_TYPES = frozenset({186, 187, 189, 201, 220, 249, 251, 254, 255, 256, 272})


@dataclass(frozen=True)
class PcapOptions:
    """How to read captures. Times are epoch nanoseconds (UTC), inclusive bounds."""

    since_ns: int | None = None
    until_ns: int | None = None
    kafka_ports: tuple[int, ...] = (9092,)
    # called with the number of on-disk bytes consumed since the last call (tqdm.update style)
    progress: Callable[[int], None] | None = None
    # called after each batch with that batch's TCP segments (see Segment), before the batch
    # is yielded; lets another extractor (Kafka) share the single pass over the file
    segment_hook: Callable[[Sequence[Segment]], None] | None = None
    # optional vectorised pre-filter: (src_port, dst_port, first 8 payload bytes as an
    # (n, 8) uint8 array, zero-padded) -> bool mask of the segments the hook must see;
    # building a Segment object per TCP packet is the slow part of a load
    segment_filter: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
    batch_size: int = BATCH_SIZE


class Segment(NamedTuple):
    """One TCP packet with payload or with SYN, FIN or RST set (connection bounds for the
    Kafka extractor); payload holds only the captured bytes (empty for control packets)."""

    frame_number: int
    ts_ns: int
    src_addr: str
    src_port: int
    dst_addr: str
    dst_port: int
    seq: int
    ack: int
    flags: int
    payload: bytes


@dataclass
class PacketBatch:
    """One batch of packets: the Arrow rows and (if asked for) the TCP segments among them.

    ``buf`` with ``data_off``/``caplen`` (aligned with the table's rows) is the batch's raw
    view: packet i is ``buf[data_off[i] : data_off[i] + caplen[i]]``, valid only until the
    reader moves on to the next batch.
    """

    table: pa.RecordBatch
    segments: list[Segment]
    buf: np.ndarray | None = None
    data_off: np.ndarray | None = None
    caplen: np.ndarray | None = None


@dataclass
class _Records:
    """What a walker found in the buffer: per-record arrays (buffer offsets, not file offsets)."""

    data_off: np.ndarray
    caplen: np.ndarray
    origlen: np.ndarray
    ts_ns: np.ndarray
    iface: np.ndarray
    link: np.ndarray


class _Input:
    """The file's (decompressed) bytes through one growable buffer: buf[start:end] is unread."""

    def __init__(self, path: Path, chunk: int, progress: Callable[[int], None] | None) -> None:
        self.raw: BinaryIO = path.open("rb")
        self.progress = progress
        self.reported = 0
        self.gzip = self.raw.read(2) == GZIP_MAGIC
        self.raw.seek(0)
        self.src: BinaryIO = gzip.GzipFile(fileobj=self.raw) if self.gzip else self.raw
        self.buf = np.empty(chunk, np.uint8)
        self.start = 0
        self.end = 0
        self.base = 0  # file offset (decompressed) of buf[0]
        self.eof = False
        self.gzip_cut = False

    def close(self) -> None:
        self.src.close()
        self.raw.close()

    def available(self) -> int:
        return self.end - self.start

    def fill(self, need: int = 0) -> None:
        """Move unread bytes to the front, grow to hold ``need`` bytes, read until full/EOF."""
        if self.start:
            left = self.end - self.start
            self.buf[:left] = self.buf[self.start : self.end]
            self.base += self.start
            self.start, self.end = 0, left
        if need > len(self.buf):
            grown = np.empty(max(need, 2 * len(self.buf)), np.uint8)
            grown[: self.end] = self.buf[: self.end]
            self.buf = grown
        view = memoryview(self.buf)
        while self.end < len(self.buf) and not self.eof:
            try:
                got = self.src.readinto(view[self.end :])
            except EOFError:  # gzip member cut short: what was decompressed is good
                got, self.gzip_cut = 0, True
            except (gzip.BadGzipFile, zlib.error, OSError) as exc:
                raise SourceError(f"corrupt gzip data: {exc}") from None
            if not got:
                self.eof = True
            self.end += got
        if self.progress:
            pos = self.raw.tell()
            self.progress(pos - self.reported)
            self.reported = pos

    def ensure(self, need: int) -> bool:
        """Make ``need`` unread bytes available if the file has them."""
        if self.available() < need and not self.eof:
            self.fill(need)
        return self.available() >= need

    def bytes_at(self, pos: int, n: int) -> bytes:
        return self.buf[pos : pos + n].tobytes()


def _walk(inp: _Input, batch_size: int, report_cut: Callable[[str], None]) -> Iterator[_Records]:
    """Yield the records of the file batch by batch; raises SourceError on damage."""
    inp.fill()
    if inp.available() == 0:
        raise SourceError("empty file")
    if inp.available() < 4:
        raise SourceError(f"truncated file header: {inp.available()} bytes")
    magic = inp.bytes_at(inp.start, 4)
    if magic in PCAP_MAGICS:
        yield from _walk_pcap(inp, magic, batch_size, report_cut)
    elif magic == PCAPNG_MAGIC:
        yield from _walk_pcapng(inp, batch_size, report_cut)
    else:
        raise SourceError(f"not a pcap or pcapng file (magic 0x{magic.hex()})")
    if inp.gzip_cut:
        report_cut(f"gzip stream cut short after {inp.base + inp.end} bytes")


def _new_records(n: int) -> _Records:
    return _Records(*(np.empty(n, np.int64) for _ in range(6)))


def _walk_pcap(
    inp: _Input, magic: bytes, batch_size: int, report_cut: Callable[[str], None]
) -> Iterator[_Records]:
    big, frac_ns, hdr_len = PCAP_MAGICS[magic]
    if inp.available() < 24:
        raise SourceError(f"truncated file header: {inp.available()} of 24 bytes")
    e = ">" if big else "<"
    major, minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack(
        e + "HHiIII", inp.bytes_at(inp.start + 4, 20)
    )
    if major != 2:
        raise SourceError(f"unsupported pcap version {major}.{minor}")
    if linktype & 0x03FF0000:
        raise SourceError(f"link type reserved field not zero (0x{linktype & 0x03FF0000:08x})")
    link = linktype & 0xFFFF  # the upper bits carry the FCS length
    inp.start += 24
    while True:
        rec = _new_records(batch_size)
        n, pos, status, arg = K.walk_pcap(
            inp.buf, inp.start, inp.end, hdr_len, big, frac_ns, MAX_RECORD,
            rec.data_off, rec.caplen, rec.origlen, rec.ts_ns,
        )  # fmt: skip
        if n:
            rec.iface[:n] = 0
            rec.link[:n] = link
            yield _Records(*(a[:n] for a in vars(rec).values()))
        inp.start = pos
        if status == K.FULL:
            continue
        at = inp.base + pos
        if status == K.ERR_RECORD_TOO_BIG:
            raise SourceError(f"record length {arg} at byte {at} exceeds {MAX_RECORD} bytes")
        # NEED_MORE: the record (or its header) continues past the buffer
        need = hdr_len
        if inp.available() >= hdr_len:
            need += struct.unpack_from(e + "I", inp.bytes_at(pos + 8, 4))[0]
        if not inp.ensure(need):
            if inp.available():
                what = "record" if inp.available() >= hdr_len else "record header"
                have = inp.available()
                report_cut(f"cut short in {what} at byte {at} ({have} of {need} bytes present)")
            return


@dataclass
class _Interfaces:
    """Per-interface facts of the current pcapng section, as arrays for the walker."""

    link: list[int]
    snap: list[int]
    pow2: list[int]
    exp: list[int]
    offset_ns: list[int]

    def arrays(self) -> tuple[np.ndarray, ...]:
        k = max(len(self.link), 1)
        cols = (self.link, self.snap, self.pow2, self.exp, self.offset_ns)
        return tuple(np.array((c or [0])[:k], np.int64) for c in cols)


def _walk_pcapng(
    inp: _Input, batch_size: int, report_cut: Callable[[str], None]
) -> Iterator[_Records]:
    big = False
    ifaces = _Interfaces([], [], [], [], [])
    arrays = ifaces.arrays()
    seen_idb = False
    while True:
        rec = _new_records(batch_size)
        n, pos, status, arg = K.walk_pcapng(
            inp.buf, inp.start, inp.end, big, MAX_RECORD, *arrays, len(ifaces.link),
            rec.data_off, rec.caplen, rec.origlen, rec.ts_ns, rec.iface, rec.link,
        )  # fmt: skip
        if n:
            yield _Records(*(a[:n] for a in vars(rec).values()))
        inp.start = pos
        at = inp.base + pos
        if status == K.FULL:
            continue
        if status == K.ERR_BLOCK_LEN_SMALL:
            raise SourceError(f"pcapng block length {arg} at byte {at} is too small")
        if status == K.ERR_BLOCK_LEN_MULT4:
            raise SourceError(f"pcapng block length {arg} at byte {at} not a multiple of 4")
        if status == K.ERR_RECORD_TOO_BIG:
            raise SourceError(f"pcapng block length {arg} at byte {at} exceeds {MAX_RECORD}")
        if status == K.ERR_BLOCK_TRAILER:
            raise SourceError(f"pcapng block at byte {at}: trailing length {arg} differs")
        if status == K.ERR_NO_IDB:
            raise SourceError(f"pcapng packet block at byte {at} for undefined interface {arg}")
        if status == K.ERR_CAPLEN_EXCEEDS_BLOCK:
            raise SourceError(f"pcapng packet block at byte {at}: caplen {arg} overruns it")
        if status == K.NEED_MORE:
            need = 8
            if inp.available() >= 8:
                need = struct.unpack_from(">I" if big else "<I", inp.bytes_at(pos + 4, 4))[0]
            if not inp.ensure(need):
                if inp.available():
                    if at == 0:
                        raise SourceError(f"truncated pcapng section header at byte {at}")
                    report_cut(f"cut short in block at byte {at}")
                elif not seen_idb:
                    raise SourceError("pcapng file has no interface description block")
                return
            continue
        # STOP_BLOCK: a section header or interface description block at inp.start
        # (positions are re-read after each ensure(): filling moves the unread bytes)
        if inp.bytes_at(inp.start, 4) == PCAPNG_MAGIC:
            if not inp.ensure(12):
                raise SourceError(f"truncated pcapng section header at byte {at}")
            big = _shb_byte_order(inp.bytes_at(inp.start + 8, 4), at)
            blen = struct.unpack(">I" if big else "<I", inp.bytes_at(inp.start + 4, 4))[0]
            _check_block_len(blen, at, 28)
            if blen > SHB_MAX:
                raise SourceError(f"pcapng section header length {blen} at byte {at} is insane")
            if not inp.ensure(blen):
                raise SourceError(f"truncated pcapng section header at byte {at}")
            _check_trailer(inp.bytes_at(inp.start, blen), big, at)
            major, minor = struct.unpack(">HH" if big else "<HH", inp.bytes_at(inp.start + 12, 4))
            if major != 1:
                raise SourceError(f"unsupported pcapng version {major}.{minor} at byte {at}")
            ifaces = _Interfaces([], [], [], [], [])
        else:
            blen = struct.unpack(">I" if big else "<I", inp.bytes_at(inp.start + 4, 4))[0]
            _check_block_len(blen, at, 20)
            if blen > SHB_MAX:
                raise SourceError(f"pcapng interface block length {blen} at byte {at} is insane")
            if not inp.ensure(blen):
                report_cut(f"cut short in block at byte {at}")
                return
            _parse_idb(inp.bytes_at(inp.start, blen), big, at, ifaces)
            seen_idb = True
        arrays = ifaces.arrays()
        inp.start += blen


def _shb_byte_order(bom: bytes, at: int) -> bool:
    if bom == b"\x1a\x2b\x3c\x4d":
        return True
    if bom == b"\x4d\x3c\x2b\x1a":
        return False
    raise SourceError(f"pcapng byte-order magic 0x{bom.hex()} at byte {at + 8} is invalid")


def _check_block_len(blen: int, at: int, minimum: int) -> None:
    if blen < minimum:
        raise SourceError(f"pcapng block length {blen} at byte {at} is too small")
    if blen % 4:
        raise SourceError(f"pcapng block length {blen} at byte {at} not a multiple of 4")


def _check_trailer(block: bytes, big: bool, at: int) -> None:
    trailer = struct.unpack_from(">I" if big else "<I", block, len(block) - 4)[0]
    if trailer != len(block):
        raise SourceError(f"pcapng block at byte {at}: trailing length {trailer} differs")


def _parse_idb(block: bytes, big: bool, at: int, ifaces: _Interfaces) -> None:
    e = ">" if big else "<"
    _check_trailer(block, big, at)
    link, _reserved, snap = struct.unpack_from(e + "HHI", block, 8)
    pow2, exp, offset_s = 0, 6, 0
    seen_tsresol = False
    o, end = 16, len(block) - 4
    while o + 4 <= end:
        code, olen = struct.unpack_from(e + "HH", block, o)
        if code == 0:
            break
        if o + 4 + olen > end:
            raise SourceError(f"pcapng option at byte {at + o} overruns its block")
        if code == 9 and olen >= 1:
            if seen_tsresol:
                raise SourceError(f"interface block at byte {at} has more than one if_tsresol")
            seen_tsresol = True
            value = block[o + 4]
            pow2, exp = value >> 7, value & 0x7F
            if exp > (62 if pow2 else 18):
                raise SourceError(f"interface block at byte {at}: if_tsresol 0x{value:02x}")
        elif code == 14 and olen == 8:
            offset_s = struct.unpack_from(e + "q", block, o + 4)[0]
        o += 4 + ((olen + 3) & ~3)
    ifaces.link.append(link)
    ifaces.snap.append(snap)
    ifaces.pow2.append(pow2)
    ifaces.exp.append(exp)
    ifaces.offset_ns.append(offset_s * 1_000_000_000)


# raw.pcap_packets: column -> (DuckDB type, Arrow type, dissection row or None)
COLUMNS: dict[str, tuple[str, pa.DataType, int | None]] = {
    "frame_number": ("BIGINT", pa.int64(), None),
    "captured_at": ("TIMESTAMP_NS", pa.timestamp("ns"), None),
    "ts_ns": ("BIGINT", pa.int64(), None),
    "interface_id": ("UINTEGER", pa.uint32(), None),
    "caplen": ("UINTEGER", pa.uint32(), None),
    "origlen": ("UINTEGER", pa.uint32(), None),
    "link_type": ("USMALLINT", pa.uint16(), None),
    "vlan_ids": ("USMALLINT[]", pa.list_(pa.uint16()), None),
    "ip_version": ("UTINYINT", pa.uint8(), K.F_IP_VERSION),
    "src_addr": ("VARCHAR", pa.string(), None),
    "dst_addr": ("VARCHAR", pa.string(), None),
    "ip_proto": ("UTINYINT", pa.uint8(), K.F_IP_PROTO),
    "ttl": ("UTINYINT", pa.uint8(), K.F_TTL),
    "ip_total_len": ("UINTEGER", pa.uint32(), K.F_IP_TOTAL_LEN),
    "ip_id": ("UINTEGER", pa.uint32(), K.F_IP_ID),
    "frag_offset": ("USMALLINT", pa.uint16(), K.F_FRAG_OFFSET),
    "more_fragments": ("BOOLEAN", pa.bool_(), K.F_MORE_FRAGMENTS),
    "dont_fragment": ("BOOLEAN", pa.bool_(), K.F_DONT_FRAGMENT),
    "src_port": ("USMALLINT", pa.uint16(), K.F_SRC_PORT),
    "dst_port": ("USMALLINT", pa.uint16(), K.F_DST_PORT),
    "tcp_flags": ("USMALLINT", pa.uint16(), K.F_TCP_FLAGS),
    "tcp_seq": ("UINTEGER", pa.uint32(), K.F_TCP_SEQ),
    "tcp_ack": ("UINTEGER", pa.uint32(), K.F_TCP_ACK),
    "tcp_window": ("USMALLINT", pa.uint16(), K.F_TCP_WINDOW),
    "tcp_wscale": ("UTINYINT", pa.uint8(), K.F_TCP_WSCALE),
    "tcp_mss": ("USMALLINT", pa.uint16(), K.F_TCP_MSS),
    "tcp_sack_permitted": ("BOOLEAN", pa.bool_(), K.F_TCP_SACK_PERMITTED),
    "tcp_tsval": ("UINTEGER", pa.uint32(), K.F_TCP_TSVAL),
    "tcp_tsecr": ("UINTEGER", pa.uint32(), K.F_TCP_TSECR),
    "tcp_header_len": ("UTINYINT", pa.uint8(), K.F_TCP_HEADER_LEN),
    "payload_len": ("UINTEGER", pa.uint32(), K.F_PAYLOAD_LEN),
    "icmp_type": ("UTINYINT", pa.uint8(), K.F_ICMP_TYPE),
    "icmp_code": ("UTINYINT", pa.uint8(), K.F_ICMP_CODE),
    "malformed": ("VARCHAR", pa.string(), None),
}
SCHEMA = pa.schema([(name, typ) for name, (_, typ, _) in COLUMNS.items()])


def read_batches(
    path: Path, options: PcapOptions, report_cut: Callable[[str], None] | None = None
) -> Iterator[PacketBatch]:
    """Stream the packets of one capture as Arrow batches (segments filled if segment_hook).

    Raises SourceError for a damaged container; a capture cut short calls ``report_cut`` with
    the reason after its last complete packet (default: ignore).
    """
    cut = report_cut or (lambda _reason: None)
    inp = _Input(path, CHUNK_BYTES, options.progress)
    frame = 1
    try:
        for rec in _walk(inp, options.batch_size, cut):
            frames = np.arange(frame, frame + len(rec.ts_ns), dtype=np.int64)
            frame += len(rec.ts_ns)
            keep = _in_window(rec.ts_ns, options)
            if keep is not None:
                rec = _Records(*(a[keep] for a in vars(rec).values()))
                frames = frames[keep]
                if not len(frames):
                    continue
            yield _dissect_batch(inp.buf, rec, frames, options)
    finally:
        inp.close()


def _in_window(ts_ns: np.ndarray, options: PcapOptions) -> np.ndarray | None:
    if options.since_ns is None and options.until_ns is None:
        return None
    keep = np.ones(len(ts_ns), bool)
    if options.since_ns is not None:
        keep &= ts_ns >= options.since_ns
    if options.until_ns is not None:
        keep &= ts_ns <= options.until_ns
    return keep & (ts_ns >= 0)  # packets without a time (SPB) cannot be placed in a window


def _dissect_batch(
    buf: np.ndarray, rec: _Records, frames: np.ndarray, options: PcapOptions
) -> PacketBatch:
    n = len(frames)
    data_off, caplen, origlen, link = rec.data_off, rec.caplen, rec.origlen, rec.link
    slow = ~np.isin(link, list(K.FAST_LINK_TYPES)) & ~np.isin(link, list(NO_FALLBACK_LINK_TYPES))
    if slow.any():
        data_off, caplen, origlen, link = _locate_ip_with_scapy(buf, rec, slow)
    out = np.full((K.N_FIELDS, n), -1, np.int64)
    out[K.F_MAL_CODE] = 0
    out[K.F_VLAN_COUNT] = 0
    vlans = np.zeros((n, K.MAX_VLANS), np.int64)
    src_chars = np.empty(n * IP_TEXT_MAX, np.uint8)
    dst_chars = np.empty(n * IP_TEXT_MAX, np.uint8)
    src_end = np.empty(n, np.int32)
    dst_end = np.empty(n, np.int32)
    K.dissect(
        buf, data_off, caplen, origlen, link, out, vlans, src_chars, dst_chars, src_end, dst_end
    )

    has_ip = out[K.F_IP_VERSION] >= 0
    cols: dict[str, pa.Array] = {
        "frame_number": pa.array(frames),
        "captured_at": _ints(rec.ts_ns, pa.timestamp("ns")),
        "ts_ns": _ints(rec.ts_ns, pa.int64()),
        "interface_id": pa.array(rec.iface.astype(np.uint32)),
        "caplen": pa.array(rec.caplen.astype(np.uint32)),
        "origlen": pa.array(rec.origlen.astype(np.uint32)),
        "link_type": pa.array(rec.link.astype(np.uint16)),
        "vlan_ids": _vlan_lists(out[K.F_VLAN_COUNT], vlans),
        "src_addr": _texts(src_chars, src_end, has_ip),
        "dst_addr": _texts(dst_chars, dst_end, has_ip),
        "malformed": _malformed(out),
    }
    for name, (_, typ, row) in COLUMNS.items():
        if row is not None:
            cols[name] = _ints(out[row], typ)
    table = pa.RecordBatch.from_arrays([cols[c] for c in SCHEMA.names], schema=SCHEMA)
    segs = _segments(buf, table, out, options.segment_filter) if options.segment_hook else []
    return PacketBatch(table, segs, buf, rec.data_off, rec.caplen)


def _ints(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    """int64 with -1 as null -> an Arrow array of ``typ``."""
    mask = values < 0
    if pa.types.is_boolean(typ):
        return pa.array(values == 1, mask=mask if mask.any() else None)
    if pa.types.is_timestamp(typ):
        return pa.array(values, type=pa.int64(), mask=mask if mask.any() else None).cast(typ)
    np_type = typ.to_pandas_dtype()
    if mask.any():
        return pa.array(np.where(mask, 0, values).astype(np_type), type=typ, mask=mask)
    return pa.array(values.astype(np_type), type=typ)


def _texts(chars: np.ndarray, ends: np.ndarray, valid: np.ndarray) -> pa.Array:
    n = len(ends)
    offsets = np.zeros(n + 1, np.int32)
    offsets[1:] = ends
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    data = pa.py_buffer(chars[: offsets[-1]].copy())
    return pa.Array.from_buffers(pa.string(), n, [bitmap, pa.py_buffer(offsets), data])


def _vlan_lists(counts: np.ndarray, vlans: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    values = vlans[np.arange(K.MAX_VLANS) < counts[:, None]].astype(np.uint16)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.uint16()))


def _malformed(out: np.ndarray) -> pa.Array:
    codes = out[K.F_MAL_CODE]
    bad = np.flatnonzero(codes)
    if not len(bad):
        return pa.nulls(len(codes), pa.string())
    texts = np.full(len(codes), None, object)
    for i in bad:
        a, b = int(out[K.F_MAL_A, i]), int(out[K.F_MAL_B, i])
        texts[i] = MALFORMED[int(codes[i])].format(a=a, b=b)
    return pa.array(texts, pa.string())


def _segments(
    buf: np.ndarray,
    table: pa.RecordBatch,
    out: np.ndarray,
    want: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None,
) -> list[Segment]:
    control = (out[K.F_TCP_FLAGS] >= 0) & (out[K.F_TCP_FLAGS] & 0x07 != 0)  # FIN, SYN, RST
    rows = np.flatnonzero((out[K.F_IP_PROTO] == 6) & ((out[K.F_PAYLOAD_LEN] > 0) | control))
    if want is not None and len(rows):
        rows = rows[want(out[K.F_SRC_PORT, rows], out[K.F_DST_PORT, rows], _heads(buf, out, rows))]
    if not len(rows):
        return []
    pick = pa.array(rows)
    names = Segment._fields[:-1]  # every field but the payload is a column of the batch
    renamed = {"seq": "tcp_seq", "ack": "tcp_ack", "flags": "tcp_flags"}
    columns = [table.column(renamed.get(f, f)).take(pick).to_pylist() for f in names]
    starts = out[K.F_PAYLOAD_OFF, rows].tolist()
    ends = (out[K.F_PAYLOAD_OFF, rows] + out[K.F_PAYLOAD_CAPLEN, rows]).tolist()
    return [
        Segment(*values, buf[start:end].tobytes() if start >= 0 else b"")
        for values, start, end in zip(zip(*columns, strict=True), starts, ends, strict=True)
    ]


def _heads(buf: np.ndarray, out: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The first 8 captured payload bytes of each row, zero-padded (one gather, no loop)."""
    start = out[K.F_PAYLOAD_OFF, rows]
    have = np.where(start >= 0, np.minimum(out[K.F_PAYLOAD_CAPLEN, rows], 8), 0)
    idx = np.clip(start, 0, None)[:, None] + np.arange(8)
    heads = buf[np.clip(idx, 0, len(buf) - 1)]
    heads[np.arange(8) >= have[:, None]] = 0
    return heads


def _locate_ip_with_scapy(
    buf: np.ndarray, rec: _Records, slow: np.ndarray
) -> tuple[np.ndarray, ...]:
    """For link types the fast path does not know, let scapy find the IP header, if any.

    Returns data_off/caplen/origlen/link arrays where those packets are re-pointed at their IP
    header with link type 228/229 (raw IPv4/IPv6), so the one compiled dissection decodes
    every packet the same way.
    """
    from scapy.config import conf
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    data_off, caplen = rec.data_off.copy(), rec.caplen.copy()
    origlen, link = rec.origlen.copy(), rec.link.copy()
    for i in np.flatnonzero(slow):
        cls = conf.l2types.get(int(rec.link[i]))
        if cls is None:
            continue
        raw = buf[rec.data_off[i] : rec.data_off[i] + rec.caplen[i]].tobytes()
        try:
            pkt = cls(raw)
        except Exception:  # scapy dissectors can raise anything on bad input
            continue
        layer = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        if layer is None or layer.original is None:
            continue
        skip = len(raw) - len(layer.original)
        data_off[i] += skip
        caplen[i] -= skip
        origlen[i] -= skip
        link[i] = K.LT_IPV4 if isinstance(layer, IP) else K.LT_IPV6
    return data_off, caplen, origlen, link


def first_packet_ns(path: Path) -> int | None:
    """Timestamp of the first packet (cheap: reads one small chunk); None if none/unreadable."""
    inp = _Input(path, 1 << 16, None)
    try:
        for rec in _walk(inp, 1, lambda _reason: None):
            return int(rec.ts_ns[0]) if rec.ts_ns[0] >= 0 else None
    except SourceError:
        return None
    finally:
        inp.close()
    return None


def last_packet_ns(path: Path) -> int | None:
    """Timestamp of the last packet of an uncompressed single-section pcapng, else None.

    pcapng blocks end with their length, so the last packet block is found by stepping back
    from the end of the file. Its timestamp is decoded by the ordinary walker on a tiny file
    made of the section's header blocks and that one block (same resolution and offset
    rules). Classic pcap cannot be walked backwards: None, and the caller reads the file.
    """
    try:
        with path.open("rb") as f:
            head = f.read(1 << 20)
            if head[:4] != PCAPNG_MAGIC or len(head) < 12:
                return None
            big = head[8:12] == b"\x1a\x2b\x3c\x4d"
            e = ">" if big else "<"
            header = _header_blocks(head, e)
            size = f.seek(0, 2)
            last = _last_packet_block(f, size, e)
    except (OSError, struct.error):
        return None
    if header is None or last is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".pcapng") as tmp:
        tmp.write(header + last)
        tmp.flush()
        return first_packet_ns(Path(tmp.name))


def _header_blocks(head: bytes, e: str) -> bytes | None:
    """The section header block and the interface blocks that follow it."""
    pos = 0
    while pos + 8 <= len(head):
        btype, blen = struct.unpack_from(e + "II", head, pos)
        if blen < 12 or blen % 4 or pos + blen > len(head):
            return None
        if pos and btype != 1:  # 1: interface description block
            return head[:pos]
        pos += blen
    return None


def _last_packet_block(f: BinaryIO, size: int, e: str, max_blocks: int = 64) -> bytes | None:
    pos = size
    for _ in range(max_blocks):
        if pos < 12:
            return None
        f.seek(pos - 4)
        (blen,) = struct.unpack(e + "I", f.read(4))
        if blen < 12 or blen % 4 or blen > min(pos, MAX_RECORD):
            return None
        f.seek(pos - blen)
        block = f.read(blen)
        btype = struct.unpack_from(e + "I", block)[0]
        if block[:4] == PCAPNG_MAGIC:
            return None  # another section starts here: its interfaces are not the first ones
        if btype in (6, 2):  # enhanced / obsolete packet block
            return block
        pos -= blen
    return None
