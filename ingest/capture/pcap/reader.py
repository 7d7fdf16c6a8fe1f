"""Capture containers (classic pcap, pcapng, gzip) walked in bounded chunks, dissected per batch.

Data flow for one file: ``_Input`` reads the (possibly gunzipped) bytes into one reusable numpy
buffer; a compiled walker (``_kernels.walk_pcap`` / ``walk_pcapng``) turns the records in it into
offset/length/timestamp arrays; ``_kernels.dissect`` decodes all headers of the batch into
integer columns and address texts; ``_to_arrow`` wraps those as one Arrow record batch. Python
code runs per batch (up to ``BATCH_SIZE`` packets), per pcapng SHB/IDB, and per malformed or
fallback packet, never per ordinary packet.
"""

from __future__ import annotations

import functools
import gzip
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from ingest.capture.magic import PCAP_MAGICS, PCAPNG_MAGIC
from ingest.kinds.base import Extraction, SourceError
from ingest.lazy import lazy_module

K = lazy_module("ingest.capture.pcap._kernels")  # numba loads when a capture is read


BATCH_SIZE = 131_072
CHUNK_BYTES = 32 << 20  # per-batch Python costs vanish in batches this large (tens of k packets)
MAX_RECORD = 64 << 20  # a record/block claiming more is damage, not a packet
MAXIMUM_SNAPLEN = 262_144  # libpcap: the largest captured length for most link types
MAX_SNAPLEN = {231: 128 << 20, 279: 8 << 20, 249: 1 << 20}  # D-Bus, EBHSCR, USBPcap
PCAPNG_MAX_BLOCK = 16 << 20  # libpcap's INITIAL_MAX_BLOCKSIZE (raised only for D-Bus)
SHB_MAX = 1 << 20  # libpcap's BT_SHB_INSANE_MAX
IP_TEXT_MAX = 39  # longest IPv6 text (IPv4 needs 15)

GZIP_MAGIC = b"\x1f\x8b"


@functools.cache
def malformed_texts() -> dict[int, str]:
    """Reason text per malformed code (a function: the codes live in the compiled kernels)."""
    return {
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
    """How to read captures: whole files (the analysis window is a dbt var, not an ingest one)."""

    # called with the number of on-disk bytes consumed since the last call (tqdm.update style)
    progress: Callable[[int], None] | None = None
    batch_size: int = BATCH_SIZE


@dataclass
class PacketBatch:
    """One batch of packets: the Arrow rows and the raw view extractors decode further.

    ``buf`` is the reader's byte buffer: it is overwritten by the next batch, so an extractor
    copies what it keeps. ``data_off``/``caplen`` (int64, aligned with the table's rows) locate
    each packet's captured bytes in ``buf`` (from the link-layer header on); ``link_type`` is
    the LINKTYPE_* per row. ``fields`` is the dissection matrix: one int64 row per
    ``_kernels.F_*`` field, one column per packet, -1 = null (e.g. ``F_PAYLOAD_OFF`` and
    ``F_PAYLOAD_CAPLEN`` locate TCP/UDP payloads in ``buf``, ``F_L3_OFF`` the IP header,
    ``F_ETHERTYPE`` the Ethernet/SLL type after VLAN tags).
    """

    table: pa.RecordBatch
    buf: np.ndarray
    data_off: np.ndarray
    caplen: np.ndarray
    link_type: np.ndarray
    fields: np.ndarray
    frame_number: np.ndarray
    ts_ns: np.ndarray  # -1 for pcapng simple packet blocks (they carry no time)


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


def _walk(inp: _Input, batch_size: int, report: Extraction) -> Iterator[_Records]:
    """Yield the records of the file batch by batch; raises SourceError on damage.

    A capture cut short sets ``report.truncated``; facts about a good capture go to
    ``report.notes``.
    """
    inp.fill()
    if inp.available() == 0:
        raise SourceError("empty file")
    if inp.available() < 4:
        raise SourceError(f"truncated file header: {inp.available()} bytes")
    magic = inp.bytes_at(inp.start, 4)
    if magic in PCAP_MAGICS:
        yield from _walk_pcap(inp, magic, batch_size, report)
    elif magic == PCAPNG_MAGIC:
        yield from _walk_pcapng(inp, batch_size, report)
    else:
        raise SourceError(f"not a pcap or pcapng file (magic 0x{magic.hex()})")
    if inp.gzip_cut:
        report.truncated = f"gzip stream cut short after {inp.base + inp.end} bytes"


def _new_records(n: int) -> _Records:
    return _Records(*(np.empty(n, np.int64) for _ in range(6)))


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def max_snaplen(link: int) -> int:
    """libpcap's largest acceptable captured length for a link type (pcap-common.c)."""
    return MAX_SNAPLEN.get(link, MAXIMUM_SNAPLEN)


def snapshot_length(link: int, snaplen: int) -> int:
    """A header's snapshot length as libpcap uses it: 0 or too large means the maximum."""
    return max_snaplen(link) if snaplen == 0 or snaplen > max_snaplen(link) else snaplen


def _pcap_length_swap(major: int, minor: int) -> int:
    """How records store caplen/len (see K.walk_pcap); SourceError for versions libpcap refuses."""
    if (major, minor) == (543, 0):  # DG/UX tcpdump: pre-2.3 layout
        return 1
    if major != 2 or minor > 4:
        raise SourceError(f"unsupported pcap savefile version {major}.{minor} at byte 4")
    return 1 if minor < 3 else 2 if minor == 3 else 0


def _walk_pcap(
    inp: _Input, magic: bytes, batch_size: int, report: Extraction
) -> Iterator[_Records]:
    big, frac_ns, hdr_len = PCAP_MAGICS[magic]
    if inp.available() < 24:
        raise SourceError(f"truncated file header: {inp.available()} of 24 bytes")
    e = ">" if big else "<"
    major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack(
        e + "HHiIII", inp.bytes_at(inp.start + 4, 20)
    )
    swap = _pcap_length_swap(major, minor)
    if linktype & 0x03FF0000:
        raise SourceError(f"link type reserved field not zero (0x{linktype & 0x03FF0000:08x})")
    link = linktype & 0xFFFF  # the upper bits carry the FCS length
    snapshot = snapshot_length(link, snaplen)
    stats = np.array([0, -1], np.int64)  # fraction fields >= 1 s: count, first position
    first_bad: int | None = None
    inp.start += 24
    while True:
        rec = _new_records(batch_size)
        n, pos, status, arg = K.walk_pcap(
            inp.buf, inp.start, inp.end, hdr_len, big, frac_ns, swap, max_snaplen(link),
            MAX_RECORD, rec.data_off, rec.caplen, rec.origlen, rec.ts_ns, stats,
        )  # fmt: skip
        if stats[0] and first_bad is None:  # a buffer position: a file position before it moves
            first_bad = inp.base + int(stats[1])
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
        if status == K.ERR_CAPLEN_TOO_BIG:
            raise SourceError(
                f"invalid packet capture length {arg} at byte {at}, bigger than snaplen of"
                f" {snapshot}"
            )
        # NEED_MORE: the record (or its header) continues past the buffer
        need = hdr_len
        if inp.available() >= hdr_len:
            incl, orig = struct.unpack_from(e + "II", inp.bytes_at(pos + 8, 8))
            need += orig if swap == 1 or (swap == 2 and incl > orig) else incl
        if not inp.ensure(need):
            if inp.available():
                what = "record" if inp.available() >= hdr_len else "record header"
                have = inp.available()
                report.truncated = (
                    f"cut short in {what} at byte {at} ({have} of {need} bytes present)"
                )
            break
    if stats[0]:
        field = "ts_usec outside 0..999999" if frac_ns == 1000 else "ts_nsec outside 0..999999999"
        report.notes.append(
            f"{field} in {plural(int(stats[0]), 'packet')} (first record at byte {first_bad}):"
            " read as libpcap and tshark read it, a signed number carried into the seconds"
        )


@dataclass
class _Interfaces:
    """Per-interface facts of the current pcapng section, as arrays for the walker."""

    link: list[int]
    snapshot: list[int]  # snaplen as libpcap adjusts it (0 or too large: the maximum)
    pow2: list[int]
    exp: list[int]
    offset_ns: list[int]

    def arrays(self) -> tuple[np.ndarray, ...]:
        k = max(len(self.link), 1)
        cols = (self.link, self.snapshot, self.pow2, self.exp, self.offset_ns)
        return tuple(np.array((c or [0])[:k], np.int64) for c in cols)

    def max_block(self) -> int:
        """libpcap's block size limit: 16 MiB, more for D-Bus (capped by our buffer)."""
        return (
            MAX_RECORD
            if any(max_snaplen(k) > MAXIMUM_SNAPLEN for k in self.link)
            else (PCAPNG_MAX_BLOCK)
        )


def _walk_pcapng(inp: _Input, batch_size: int, report: Extraction) -> Iterator[_Records]:
    big = False
    ifaces = _Interfaces([], [], [], [], [])
    arrays = ifaces.arrays()
    seen_idb = False
    while True:
        rec = _new_records(batch_size)
        n, pos, status, arg = K.walk_pcapng(
            inp.buf, inp.start, inp.end, big, ifaces.max_block(), *arrays, len(ifaces.link),
            rec.data_off, rec.caplen, rec.origlen, rec.ts_ns, rec.iface, rec.link,
        )  # fmt: skip
        if n:
            yield _Records(*(a[:n] for a in vars(rec).values()))
        inp.start = pos
        at = inp.base + pos
        if status == K.FULL:
            continue
        if status != K.NEED_MORE and status != K.STOP_BLOCK:
            raise SourceError(_pcapng_error(status, arg, at, inp, big, ifaces))
        if status == K.NEED_MORE:
            need = 8
            if inp.available() >= 8:
                need = struct.unpack_from(">I" if big else "<I", inp.bytes_at(pos + 4, 4))[0]
            if not inp.ensure(need):
                if inp.available():
                    if at == 0:
                        raise SourceError(f"truncated pcapng section header at byte {at}")
                    report.truncated = f"cut short in block at byte {at}"
                elif not seen_idb:
                    raise SourceError("pcapng file has no interface description block")
                return
            continue
        # STOP_BLOCK: a section header or interface description block at inp.start
        # (positions are re-read after each ensure(): filling moves the unread bytes)
        if inp.bytes_at(inp.start, 4) == PCAPNG_MAGIC:
            big, blen = _section_header(inp, at)
            ifaces = _Interfaces([], [], [], [], [])
        else:
            blen = struct.unpack(">I" if big else "<I", inp.bytes_at(inp.start + 4, 4))[0]
            _check_block_len(blen, at, 20)
            if blen > SHB_MAX:
                raise SourceError(f"pcapng interface block length {blen} at byte {at} is insane")
            if not inp.ensure(blen):
                report.truncated = f"cut short in block at byte {at}"
                return
            _parse_idb(inp.bytes_at(inp.start, blen), big, at, ifaces)
            seen_idb = True
        arrays = ifaces.arrays()
        inp.start += blen


def _pcapng_error(
    status: int, arg: int, at: int, inp: _Input, big: bool, ifaces: _Interfaces
) -> str:
    if status == K.ERR_BLOCK_LEN_SMALL:
        return f"pcapng block length {arg} at byte {at} is too small"
    if status == K.ERR_BLOCK_LEN_MULT4:
        return f"pcapng block length {arg} at byte {at} not a multiple of 4"
    if status == K.ERR_RECORD_TOO_BIG:
        return f"pcapng block length {arg} at byte {at} exceeds {ifaces.max_block()}"
    if status == K.ERR_BLOCK_TRAILER:
        return f"pcapng block at byte {at}: trailing length {arg} differs"
    if status == K.ERR_NO_IDB:
        return f"pcapng packet block at byte {at} for undefined interface {arg}"
    if status == K.ERR_CAPLEN_EXCEEDS_BLOCK:
        return f"pcapng packet block at byte {at}: caplen {arg} overruns it"
    # ERR_CAPLEN_TOO_BIG: an enhanced (6) or obsolete (2) packet block's interface
    e = ">" if big else "<"
    btype = struct.unpack(e + "I", inp.bytes_at(inp.start, 4))[0]
    head = inp.bytes_at(inp.start + 8, 4)
    ifid = struct.unpack(e + "I", head)[0] if btype == 6 else struct.unpack(e + "H", head[:2])[0]
    return (
        f"invalid packet capture length {arg} at byte {at}, bigger than snaplen of"
        f" {ifaces.snapshot[ifid]}"
    )


def _section_header(inp: _Input, at: int) -> tuple[bool, int]:
    """Check the section header block at inp.start; return (big endian, block length)."""
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
    if (major, minor) not in ((1, 0), (1, 2)):  # libpcap: 1.2 is read as 1.0
        raise SourceError(f"unsupported pcapng savefile version {major}.{minor} at byte {at}")
    return big, blen


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


# IDB options with a fixed length that libpcap reads (and refuses twice): code -> (name, len)
TIMESTAMP_OPTIONS = {9: ("if_tsresol", 1), 14: ("if_tsoffset", 8)}


def _parse_idb(block: bytes, big: bool, at: int, ifaces: _Interfaces) -> None:
    """One interface description block, with libpcap's option checks (process_idb_options)."""
    e = ">" if big else "<"
    _check_trailer(block, big, at)
    link, _reserved, snaplen = struct.unpack_from(e + "HHI", block, 8)
    pow2, exp, offset_s = 0, 6, 0
    seen: set[int] = set()
    o, end = 16, len(block) - 4  # the option area is a multiple of 4 bytes long
    while o < end:
        code, olen = struct.unpack_from(e + "HH", block, o)
        padded = (olen + 3) & ~3
        if o + 4 + padded > end:
            raise SourceError(f"pcapng option at byte {at + o} overruns its block")
        if code == 0:
            if olen:
                raise SourceError(
                    f"interface block at byte {at} has opt_endofopt option with length {olen} != 0"
                )
            break
        if code in TIMESTAMP_OPTIONS:
            name, want = TIMESTAMP_OPTIONS[code]
            if olen != want:
                raise SourceError(
                    f"interface block at byte {at} has {name} option with length {olen} != {want}"
                )
            if code in seen:
                raise SourceError(f"interface block at byte {at} has more than one {name}")
            seen.add(code)
            if code == 9:
                value = block[o + 4]
                pow2, exp = value >> 7, value & 0x7F
                if exp > (62 if pow2 else 18):  # finer than 1 ns cannot be held in int64
                    raise SourceError(f"interface block at byte {at}: if_tsresol 0x{value:02x}")
            else:
                offset_s = struct.unpack_from(e + "q", block, o + 4)[0]
        o += 4 + padded
    ifaces.link.append(link)
    ifaces.snapshot.append(snapshot_length(link, snaplen))
    ifaces.pow2.append(pow2)
    ifaces.exp.append(exp)
    ifaces.offset_ns.append(offset_s * 1_000_000_000)


# raw.pcap_packets: column -> (DuckDB type, Arrow type, dissection row name in _kernels or None);
# names, not numbers, so the table's schema is known without loading the compiled kernels
COLUMNS: dict[str, tuple[str, pa.DataType, str | None]] = {
    "frame_number": ("BIGINT", pa.int64(), None),
    "captured_at": ("TIMESTAMP_NS", pa.timestamp("ns"), None),
    "ts_ns": ("BIGINT", pa.int64(), None),
    "interface_id": ("UINTEGER", pa.uint32(), None),
    "caplen": ("UINTEGER", pa.uint32(), None),
    "origlen": ("UINTEGER", pa.uint32(), None),
    "link_type": ("USMALLINT", pa.uint16(), None),
    "vlan_ids": ("USMALLINT[]", pa.list_(pa.uint16()), None),
    "ip_version": ("UTINYINT", pa.uint8(), "F_IP_VERSION"),
    "src_addr": ("VARCHAR", pa.string(), None),
    "dst_addr": ("VARCHAR", pa.string(), None),
    "ip_proto": ("UTINYINT", pa.uint8(), "F_IP_PROTO"),
    "ttl": ("UTINYINT", pa.uint8(), "F_TTL"),
    "ip_total_len": ("UINTEGER", pa.uint32(), "F_IP_TOTAL_LEN"),
    "ip_id": ("UINTEGER", pa.uint32(), "F_IP_ID"),
    "frag_offset": ("USMALLINT", pa.uint16(), "F_FRAG_OFFSET"),
    "more_fragments": ("BOOLEAN", pa.bool_(), "F_MORE_FRAGMENTS"),
    "dont_fragment": ("BOOLEAN", pa.bool_(), "F_DONT_FRAGMENT"),
    "src_port": ("USMALLINT", pa.uint16(), "F_SRC_PORT"),
    "dst_port": ("USMALLINT", pa.uint16(), "F_DST_PORT"),
    "tcp_flags": ("USMALLINT", pa.uint16(), "F_TCP_FLAGS"),
    "tcp_seq": ("UINTEGER", pa.uint32(), "F_TCP_SEQ"),
    "tcp_ack": ("UINTEGER", pa.uint32(), "F_TCP_ACK"),
    "tcp_window": ("USMALLINT", pa.uint16(), "F_TCP_WINDOW"),
    "tcp_wscale": ("UTINYINT", pa.uint8(), "F_TCP_WSCALE"),
    "tcp_mss": ("USMALLINT", pa.uint16(), "F_TCP_MSS"),
    "tcp_sack_permitted": ("BOOLEAN", pa.bool_(), "F_TCP_SACK_PERMITTED"),
    "tcp_tsval": ("UINTEGER", pa.uint32(), "F_TCP_TSVAL"),
    "tcp_tsecr": ("UINTEGER", pa.uint32(), "F_TCP_TSECR"),
    "tcp_header_len": ("UTINYINT", pa.uint8(), "F_TCP_HEADER_LEN"),
    "payload_len": ("UINTEGER", pa.uint32(), "F_PAYLOAD_LEN"),
    "icmp_type": ("UTINYINT", pa.uint8(), "F_ICMP_TYPE"),
    "icmp_code": ("UTINYINT", pa.uint8(), "F_ICMP_CODE"),
    "malformed": ("VARCHAR", pa.string(), None),
}
SCHEMA = pa.schema([(name, typ) for name, (_, typ, _) in COLUMNS.items()])


def read_batches(
    path: Path, options: PcapOptions, report: Extraction | None = None
) -> Iterator[PacketBatch]:
    """Stream the packets of one capture as Arrow batches with their raw view.

    Raises SourceError for a damaged container. A capture cut short sets
    ``report.truncated`` after its last complete packet; facts about a good capture (a
    clock field out of range) go to ``report.notes``.
    """
    inp = _Input(path, CHUNK_BYTES, options.progress)
    frame = 1
    try:
        for rec in _walk(inp, options.batch_size, report or Extraction()):
            frames = np.arange(frame, frame + len(rec.ts_ns), dtype=np.int64)
            frame += len(rec.ts_ns)
            yield _dissect_batch(inp.buf, rec, frames)
    finally:
        inp.close()


def _dissect_batch(buf: np.ndarray, rec: _Records, frames: np.ndarray) -> PacketBatch:
    n = len(frames)
    data_off, caplen, origlen, link = rec.data_off, rec.caplen, rec.origlen, rec.link
    slow = ~link_in(link, K.FAST_LINK_TYPES | NO_FALLBACK_LINK_TYPES)
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
            cols[name] = _ints(out[getattr(K, row)], typ)
    table = pa.RecordBatch.from_arrays([cols[c] for c in SCHEMA.names], schema=SCHEMA)
    return PacketBatch(table, buf, rec.data_off, rec.caplen, rec.link, out, frames, rec.ts_ns)


def _ints(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    """int64 with -1 as null -> an Arrow array of ``typ`` (what a null slot holds is
    never read, so the -1s are cast along with the rest)."""
    mask = values < 0
    mask = mask if mask.any() else None
    if pa.types.is_boolean(typ):
        return pa.array(values == 1, mask=mask)
    if pa.types.is_timestamp(typ):
        return pa.array(values, type=pa.int64(), mask=mask).cast(typ)
    return pa.array(values.astype(typ.to_pandas_dtype()), type=typ, mask=mask)


def link_in(link: np.ndarray, types: Iterable[int]) -> np.ndarray:
    """Where ``link`` is one of ``types`` (a batch usually has one link type: one pass)."""
    if len(link) and (link == link[0]).all():
        return np.full(len(link), int(link[0]) in set(types))
    return np.isin(link, list(types))


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
        texts[i] = malformed_texts()[int(codes[i])].format(a=a, b=b)
    return pa.array(texts, pa.string())


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
        for rec in _walk(inp, 1, Extraction()):
            return int(rec.ts_ns[0]) if rec.ts_ns[0] >= 0 else None
    except SourceError:
        return None
    finally:
        inp.close()
    return None
