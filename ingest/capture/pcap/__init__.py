"""pcap/pcapng captures -> ``raw.pcap_packets``, one row per packet, no Python object per packet.

How it is fast
    The record walk (classic pcap: each offset depends on the previous record's length) and
    the header dissection are two small numba-compiled loops (``_kernels.py``) over a reusable
    numpy byte buffer; their integer outputs become Arrow columns without per-packet Python.
    Why numba rather than pure numpy gathers: the walk is inherently sequential (no numpy
    formulation without scanning every byte offset), and dissection has data-dependent offsets
    (VLAN stacks, IP options, IPv6 extension chains, TCP options) that would take many masked
    gather passes in numpy; one compiled loop does both at memory speed and stays readable.
    numba is a well-kept PyPI wheel (llvmlite bundled, no compiler needed) that supports this
    Python and numpy; its JIT results are cached on disk (``cache=True``).

Streaming
    The file (or its gzip stream) is read in 4 MiB chunks into one buffer that only grows for a
    single record larger than that (capped at 64 MiB: a bigger claim is damage). Batches of up
    to 131,072 packets go out as Arrow record batches, so memory is flat whatever the size.

What is an error, what is data
    - Damaged container (bad magic/version, reserved link-type bits, bad pcapng block length,
      packet before any interface, ...): ``SourceError`` with a one-line reason and byte
      position; the loader rolls the file back and records it as failed.
    - Capture cut short (killed tcpdump, truncated gzip): all complete packets are kept and
      ``report.truncated`` says where it ends -> status ``partial``.
    - Malformed packets inside a valid container are data, not load issues: the row keeps what
      decoded and ``malformed`` says what did not (e.g. "ipv4 header length 12 < 20",
      "tcp header truncated: 8 of 20 bytes captured" when the snaplen cut it). A valid capture
      therefore loads as ``loaded``. Query ``malformed is not null`` to find them.

Column semantics (raw.pcap_packets)
    ``ts_ns``/``captured_at``: UTC; null for pcapng Simple Packet Blocks (they carry no time).
    ``link_type``: LINKTYPE_* value (low 16 bits; FCS bits dropped). ``vlan_ids``: outer first.
    ``ip_proto``: the transport protocol after any IPv6 extension headers. ``ip_total_len``:
    IPv4 total length, IPv6 payload length + 40. ``ip_id``: IPv4 id or IPv6 fragment id.
    ``frag_offset``: in 8-byte units as on the wire. ``tcp_header_len``: bytes.
    ``payload_len``: TCP/UDP payload bytes computed from the IP lengths (not caplen), so it is
    right for packets cut by the snaplen and ignores Ethernet padding. TCP option columns are
    null when the option is absent; ``tcp_sack_permitted`` is false for TCP without it.
    Addresses: text, IPv6 in RFC 5952 form exactly as Python's ``ipaddress`` prints it.
    Link types other than Ethernet, SLL, SLL2, raw IP (12, 14, 101, 228, 229) and BSD
    null/loop are located by scapy (the reference dissector) when it knows them; Bluetooth
    and USB captures are kept as rows with link type and lengths (Bluetooth is decoded
    further by its extractor, ingest/protocols/bluetooth).

Extractors
    Protocol decoders share the single pass over the file: ``make_source(extractors)``. An
    extractor has ``tables`` (its raw tables), ``feed(batch) -> Iterator[(table, data)]``,
    called once per ``PacketBatch`` before the next batch overwrites the buffer, and
    ``finish(report) -> Iterator[(table, data)]`` at the end of each file, which leaves it
    ready for the next file (it may append to ``report.notes``/``issues``). Optional
    ``link_types`` / ``ethertypes`` (sets of ints) say which link layers it decodes: a link
    type that neither the dissector nor an extractor decodes gets a one-line note per file,
    and so do Ethernet frames of ``NOTED_ETHERTYPES`` that no extractor claims.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import duckdb
import numpy as np

from ingest.capture.pcap.reader import (
    COLUMNS,
    NO_FALLBACK_LINK_TYPES,
    PacketBatch,
    PcapOptions,
    first_packet_ns,
    link_in,
    plural,
    read_batches,
)
from ingest.kinds.base import Data, Extraction, RawTable, SourceError, SourceKind
from ingest.lazy import lazy_module

K = lazy_module("ingest.capture.pcap._kernels")  # numba loads when a capture is read

__all__ = [
    "PACKETS",
    "PacketBatch",
    "PacketExtractor",
    "PcapOptions",
    "SourceError",
    "find",
    "first_packet_ns",
    "make_source",
    "read_batches",
]

SUFFIXES = (".pcap", ".pcapng", ".cap")

PACKETS = RawTable(
    name="pcap_packets",
    columns={name: duckdb_type for name, (duckdb_type, _, _) in COLUMNS.items()},
    comment="One row per captured packet (source file, frame_number): decoded L2-L4 headers.",
    unit="packets",
)

# names for the notes; other link types are named by number
LINK_TYPE_NAMES = {
    105: "IEEE802_11",
    127: "IEEE802_11_RADIOTAP",
    187: "BLUETOOTH_HCI_H4",
    189: "USB_LINUX",
    192: "PPI",
    201: "BLUETOOTH_HCI_H4_WITH_PHDR",
    220: "USB_LINUX_MMAPPED",
    249: "USBPCAP",
    251: "BLUETOOTH_LE_LL",
    255: "BLUETOOTH_BREDR_BB",
    256: "BLUETOOTH_LE_LL_WITH_PHDR",
    272: "NORDIC_BLE",
}
# non-IP Ethernet payloads worth a note when nothing decodes them (ARP and the like are not)
NOTED_ETHERTYPES = {0xFFF0: "Bluetooth baseband in Ethernet (legacy libbtbb/Kismet)"}


class PacketExtractor(Protocol):
    """A protocol decoder fed by the packet reader (see the module docstring)."""

    tables: tuple[RawTable, ...]

    def feed(self, batch: PacketBatch) -> Iterator[tuple[str, Data]]: ...

    def finish(self, report: Extraction) -> Iterator[tuple[str, Data]]: ...


class _Undecoded:
    """Counts, per file, the packets that no decoder looked into (for the notes)."""

    def __init__(self, extractors: Sequence[PacketExtractor]) -> None:
        self.link_types = set(K.FAST_LINK_TYPES)
        self.ethertypes: set[int] = set()
        for ex in extractors:
            self.link_types |= set(getattr(ex, "link_types", ()))
            self.ethertypes |= set(getattr(ex, "ethertypes", ()))
        self.packets: Counter[int] = Counter()
        self.with_ip: Counter[int] = Counter()  # scapy located an IP header under the type
        self.by_ethertype: Counter[int] = Counter()

    def count(self, batch: PacketBatch) -> None:
        other = ~link_in(batch.link_type, self.link_types)
        if other.any():
            links = batch.link_type[other]
            has_ip = batch.fields[K.F_IP_VERSION][other] >= 0
            self.packets.update(dict(zip(*np.unique(links, return_counts=True), strict=True)))
            self.with_ip.update(
                dict(zip(*np.unique(links[has_ip], return_counts=True), strict=True))
            )
        noted = [t for t in NOTED_ETHERTYPES if t not in self.ethertypes]
        if noted:
            ethertype = batch.fields[K.F_ETHERTYPE]
            for t in noted:
                if n := int(np.count_nonzero(ethertype == t)):
                    self.by_ethertype[t] += n

    def notes(self) -> list[str]:
        out = []
        for link, n in sorted(self.packets.items()):
            if self.with_ip[link] and link not in NO_FALLBACK_LINK_TYPES:
                continue  # scapy found IP headers under it: decoded where it matters
            name = LINK_TYPE_NAMES.get(int(link), "")
            label = f"link type {link} ({name})" if name else f"link type {link}"
            out.append(
                f"{label} not decoded: {plural(n, 'packet')} kept with time and lengths only"
            )
        for t, n in sorted(self.by_ethertype.items()):
            out.append(
                f"ethertype 0x{t:04x} ({NOTED_ETHERTYPES[t]}) not decoded:"
                f" {plural(n, 'frame')} kept with time and lengths only"
            )
        return out


def _tally(counter: Counter[int], values: np.ndarray) -> None:
    keys, counts = np.unique(values, return_counts=True)
    counter.update(dict(zip(keys.tolist(), counts.tolist(), strict=True)))


def extract(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    report: Extraction,
    extractors: Sequence[PacketExtractor] = (),
    options: PcapOptions = PcapOptions(),  # noqa: B008 - frozen, so a shared default is safe
) -> Iterator[tuple[str, Data]]:
    """Each batch of ``pcap_packets`` and what the extractors make of it.

    Decoding runs on a thread a few batches ahead of the caller (the compiled loops and
    Arrow release the GIL), so the next batch is read while DuckDB inserts the last one.
    """
    return _read_ahead(_extract(path, report, extractors, options))


def _extract(
    path: Path,
    report: Extraction,
    extractors: Sequence[PacketExtractor],
    options: PcapOptions,
) -> Iterator[tuple[str, Data]]:
    report.empty_ok = True  # a capture with no packets is valid
    undecoded = _Undecoded(extractors)
    finished = False
    try:
        for batch in read_batches(path, options, report):
            undecoded.count(batch)
            for ex in extractors:
                yield from ex.feed(batch)
            yield PACKETS.name, batch.table
        finished = True
        for ex in extractors:
            yield from ex.finish(report)
        report.notes.extend(undecoded.notes())
    finally:
        if not finished:  # the file failed: drop what the extractors hold for it
            for ex in extractors:
                for _ in ex.finish(Extraction()):
                    pass


T = TypeVar("T")
READ_AHEAD = 2  # items decoded ahead of the consumer (each at most one batch)


def _read_ahead(items: Iterator[T], depth: int = READ_AHEAD) -> Iterator[T]:
    """``items`` produced on a thread, at most ``depth`` ahead; its errors re-raised here."""
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        out.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            else:
                out.put((True, end))
        except BaseException as exc:
            out.put((False, exc))
        finally:
            if stop.is_set() and isinstance(items, Generator):
                items.close()  # the consumer gave up: let the source clean up

    worker = threading.Thread(target=produce, name="pcap-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = out.get()
            if not ok:
                raise item
            if item is end:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting to put
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.1)
        worker.join()


def make_source(
    extractors: Sequence[PacketExtractor] = (),
    options: PcapOptions = PcapOptions(),  # noqa: B008
) -> SourceKind:
    """The pcap input kind: packets plus every extractor's tables, one pass per file."""
    extractors = tuple(extractors)

    def extract_file(
        path: Path, con: duckdb.DuckDBPyConnection, report: Extraction
    ) -> Iterator[tuple[str, Data]]:
        return extract(path, con, report, extractors, options)

    tables = (PACKETS, *(t for ex in extractors for t in ex.tables))
    # every row carries its frame number (and messages their first/last frames)
    return SourceKind(
        kind="pcap", tables=tables, extract=extract_file, find=find, any_row_order=True
    )


def find(directory: Path) -> list[Path]:
    """Capture files under ``directory`` (recursively, also ``.gz``), by first-packet time.

    Files whose first packet cannot be read sort last, so they still get a manifest row.
    """
    files = [
        p
        for p in directory.rglob("*")
        if p.is_file() and p.name.lower().removesuffix(".gz").endswith(SUFFIXES)
    ]
    stamped = [(first_packet_ns(p), p) for p in files]
    return [p for ts, p in sorted(stamped, key=lambda t: (t[0] is None, t[0] or 0, str(t[1])))]
