"""``Segment``: one TCP packet as a Python object, for tests, hooks and hand-built streams.

The compiled stream layer never builds these on the hot path; they exist so a stream can be
written by hand (``Segment(...)`` lists in tests) or inspected (``segments(batch)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from ingest.capture.pcap.reader import PacketBatch, PcapOptions, read_batches
from ingest.lazy import lazy_module

K = lazy_module("ingest.capture.pcap._kernels")  # numba loads when a capture is read

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Segment(NamedTuple):
    """One TCP packet with payload or with SYN, FIN or RST set; ``payload`` holds only the
    captured bytes (empty for control packets)."""

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


def segment_rows(batch: PacketBatch) -> np.ndarray:
    """Rows of the batch that are TCP with payload or with SYN, FIN or RST."""
    f = batch.fields
    control = (f[K.F_TCP_FLAGS] >= 0) & (f[K.F_TCP_FLAGS] & (FIN | SYN | RST) != 0)
    return np.flatnonzero((f[K.F_IP_PROTO] == 6) & ((f[K.F_PAYLOAD_LEN] > 0) | control))


def segments(batch: PacketBatch, rows: np.ndarray | None = None) -> list[Segment]:
    """The batch's TCP segments (``rows``: a subset of ``segment_rows``) as objects."""
    rows = segment_rows(batch) if rows is None else rows
    if not len(rows):
        return []
    f, pick = batch.fields, pa.array(rows)
    columns = [
        batch.table.column(name).take(pick).to_pylist()
        for name in ("frame_number", "ts_ns", "src_addr", "src_port", "dst_addr", "dst_port")
    ]
    columns += [f[k, rows].tolist() for k in (K.F_TCP_SEQ, K.F_TCP_ACK, K.F_TCP_FLAGS)]
    starts = f[K.F_PAYLOAD_OFF, rows].tolist()
    ends = (f[K.F_PAYLOAD_OFF, rows] + f[K.F_PAYLOAD_CAPLEN, rows]).tolist()
    return [
        Segment(*values, batch.buf[start:end].tobytes() if start >= 0 else b"")
        for values, start, end in zip(zip(*columns, strict=True), starts, ends, strict=True)
    ]


def iter_tcp_segments(path: Path, options: PcapOptions = PcapOptions()) -> Iterator[Segment]:  # noqa: B008
    """Every TCP packet with payload or SYN/FIN/RST in one capture, in file order.

    Raises SourceError on a damaged container.
    """
    for batch in read_batches(path, options):
        yield from segments(batch)
