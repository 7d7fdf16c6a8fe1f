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
    null/loop are located by scapy (the reference dissector) when it knows them; Bluetooth and
    USB captures are kept as rows with link type and lengths only.

Options and hooks: see ``PcapOptions`` (time window, Kafka ports, progress callback, per-batch
TCP segment hook for the Kafka extractor).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import duckdb

from ingest.sources.base import Data, Extraction, RawTable, SourceError, SourceKind
from ingest.sources.bluetooth import BluetoothExtractor
from ingest.sources.kafka import KAFKA_MESSAGES, KafkaExtractor
from ingest.sources.pcap.reader import (
    COLUMNS,
    PacketBatch,
    PcapOptions,
    Segment,
    first_packet_ns,
    last_packet_ns,
    read_batches,
)

__all__ = [
    "SOURCE",
    "PacketBatch",
    "PcapOptions",
    "Segment",
    "extract",
    "find",
    "first_packet_ns",
    "iter_tcp_segments",
    "last_packet_ns",
    "make_source",
    "read_batches",
]

SUFFIXES = (".pcap", ".pcapng", ".cap")

PACKETS = RawTable(
    name="pcap_packets",
    columns={name: duckdb_type for name, (duckdb_type, _, _) in COLUMNS.items()},
    comment="One row per captured packet (source file, frame_number): decoded L2-L4 headers.",
)


# Per-batch extractors over the raw packet bytes; each is created fresh for every file.
EXTRACTORS = (BluetoothExtractor,)


def extract(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    report: Extraction,
    options: PcapOptions = PcapOptions(),  # noqa: B008 - frozen, so a shared default is safe
) -> Iterator[tuple[str, Data]]:
    """Yield ``("pcap_packets", batch)`` and the Kafka messages finished so far, per batch.

    Also feeds ``options.segment_hook`` after each batch.
    """

    def cut(reason: str) -> None:
        report.truncated = reason

    report.empty_ok = True  # a capture with no packets (or none in the window) is valid
    kafka = KafkaExtractor(options.kafka_ports)
    # any hook makes read_batches collect the batch's TCP segments
    reading = replace(options, segment_hook=kafka.feed, segment_filter=kafka.wanted)
    extractors = [make() for make in EXTRACTORS]
    for batch in read_batches(path, reading, cut):
        kafka.feed(batch.segments)
        if options.segment_hook is not None:
            options.segment_hook(batch.segments)
        yield PACKETS.name, batch.table
        for extractor in extractors:
            yield from extractor.feed(batch)
        if kafka.rows:
            yield KAFKA_MESSAGES.name, kafka.take()
    yield KAFKA_MESSAGES.name, kafka.finish()
    for extractor in extractors:
        yield from extractor.finish(report)


def make_source(options: PcapOptions) -> SourceKind:
    return SourceKind(
        kind="pcap",
        tables=(PACKETS, KAFKA_MESSAGES, *(t for make in EXTRACTORS for t in make.tables)),
        extract=partial(extract, options=options),
        find=find,
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


def file_may_overlap(path: Path, options: PcapOptions) -> bool:
    """False when a capture is wholly outside [since, until]: a cheap whole-file skip.

    The first packet is read from the start; the last only for uncompressed pcapng (found by
    stepping back over blocks), so ``since`` skips pcapng files but never classic pcap.
    """
    if options.since_ns is None and options.until_ns is None:
        return True
    first = first_packet_ns(path)
    if first is None:
        return True  # let the load say what is wrong with it
    if options.until_ns is not None and first > options.until_ns:
        return False
    if options.since_ns is not None:
        last = last_packet_ns(path)
        # a last packet before the first means it was not decoded right: do not skip
        return last is None or last < first or last >= options.since_ns
    return True


def iter_tcp_segments(path: Path, options: PcapOptions = PcapOptions()) -> Iterator[Segment]:  # noqa: B008
    """Every TCP packet with payload or SYN/FIN/RST in one capture, in file order.

    Standalone second pass; to share the ingest pass use ``PcapOptions.segment_hook`` or
    ``read_batches`` with a hook set. Raises SourceError on a damaged container.
    """
    opts = PcapOptions(
        since_ns=options.since_ns,
        until_ns=options.until_ns,
        kafka_ports=options.kafka_ports,
        segment_hook=lambda _segments: None,  # ask read_batches to collect segments
        batch_size=options.batch_size,
    )
    for batch in read_batches(path, opts):
        yield from batch.segments


SOURCE = make_source(PcapOptions())

__all__ += ["PACKETS", "SourceError", "file_may_overlap"]
