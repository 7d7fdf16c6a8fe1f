"""The pcap source's Bluetooth extractor: picks the Bluetooth packets of each batch and yields
their decoded rows, batch by batch (nothing is held across batches but the per-file BLE
connection table, so memory stays flat whatever the capture size)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from ingest.capture.pcap.reader import PacketBatch
from ingest.kinds.base import Data, Extraction, RawTable
from ingest.lazy import lazy_module
from ingest.protocols.bluetooth.schema import (
    BREDR_COLUMNS,
    BTBB_ETHERTYPE,
    DLT_BLUETOOTH_BREDR_BB,
    ETHER_BYTES,
    LE_COLUMNS,
    LE_LINK_TYPES,
)

# the decoders import scapy (a third of a second): only when a capture has Bluetooth packets
bredr = lazy_module("ingest.protocols.bluetooth.bredr")
le = lazy_module("ingest.protocols.bluetooth.le")

DLT_EN10MB = 1
ROWS_PER_CHUNK = 8192
KEY_COLUMNS = ("frame_number", "captured_at", "ts_ns", "link_type")
KEY_TYPES = {
    "frame_number": "BIGINT",
    "captured_at": "TIMESTAMP_NS",
    "ts_ns": "BIGINT",
    "link_type": "USMALLINT",
}


def _table(
    name: str, columns: dict[str, tuple[str, pa.DataType]], comment: str, unit: str
) -> RawTable:
    return RawTable(
        name=name,
        columns={**KEY_TYPES, **{c: duckdb_type for c, (duckdb_type, _) in columns.items()}},
        comment=comment,
        unit=unit,
    )


BREDR_PACKETS = _table(
    "bluetooth_bredr_packets",
    BREDR_COLUMNS,
    "One row per Bluetooth BR/EDR baseband packet (source file, frame_number): libbtbb"
    " DLT 255 records and legacy Kismet/libbtbb 0xfff0 Ethernet frames.",
    "BR/EDR packets",
)
LE_PACKETS = _table(
    "bluetooth_le_packets",
    LE_COLUMNS,
    "One row per Bluetooth Low Energy link-layer packet (source file, frame_number):"
    " DLT 256, DLT 251 and PPI-wrapped captures.",
    "BLE packets",
)


class BluetoothExtractor:
    """Decodes BR/EDR and BLE packets of one capture; create one per file."""

    tables = (BREDR_PACKETS, LE_PACKETS)
    # link types whose packets this extractor decodes; legacy BR/EDR frames arrive as
    # Ethernet (1) and are picked by their ethertype
    link_types = frozenset({DLT_BLUETOOTH_BREDR_BB, *LE_LINK_TYPES})
    ethertypes = frozenset({BTBB_ETHERTYPE})  # so the pcap source notes no undecoded frames

    def __init__(self) -> None:
        self.le: le.LeDecoder | None = None  # made by the file's first BLE packet
        self.malformed = {BREDR_PACKETS.name: 0, LE_PACKETS.name: 0}

    def feed(self, batch: PacketBatch) -> Iterator[tuple[str, Data]]:
        link = batch.table.column("link_type").to_numpy(zero_copy_only=False)
        bredr_rows = np.flatnonzero((link == DLT_BLUETOOTH_BREDR_BB) | _legacy(batch, link))
        le_rows = np.flatnonzero(np.isin(link, list(LE_LINK_TYPES)))
        for table, rows, columns, decode in (
            (BREDR_PACKETS, bredr_rows, BREDR_COLUMNS, _decode_bredr),
            (LE_PACKETS, le_rows, LE_COLUMNS, self._decode_le),
        ):
            # Python rows are built a chunk at a time: a batch's worth of dicts would dwarf
            # the Arrow columns they become
            for start in range(0, len(rows), ROWS_PER_CHUNK):
                chunk = rows[start : start + ROWS_PER_CHUNK]
                out = self._rows(batch, chunk, columns, decode)
                if out.num_rows:
                    self.malformed[table.name] += out.num_rows - out["malformed"].null_count
                    yield table.name, out

    def _decode_le(self, raw: bytes, link_type: int) -> dict[str, object] | None:
        if self.le is None:
            self.le = le.LeDecoder()
        return self.le.decode(raw, link_type)

    def finish(self, report: Extraction) -> Iterator[tuple[str, Data]]:
        for name, count in self.malformed.items():
            if count:
                report.notes.append(
                    f"{count:,} Bluetooth packets only partly decoded (raw.{name}.malformed)"
                )
        self.__init__()  # a reused instance starts the next file clean
        return iter(())

    def _rows(
        self,
        batch: PacketBatch,
        rows: np.ndarray,
        columns: dict[str, tuple[str, pa.DataType]],
        decode: Callable[[bytes, int], dict[str, object] | None],
    ) -> pa.Table:
        links = batch.table.column("link_type").to_numpy(zero_copy_only=False)
        kept, decoded = [], []
        for i in rows.tolist():
            start = int(batch.data_off[i])
            raw = batch.buf[start : start + int(batch.caplen[i])].tobytes()
            try:
                row = decode(raw, int(links[i]))
            except Exception as exc:  # scapy dissectors can raise anything on bad input
                row = dict.fromkeys(columns) | {"malformed": f"not decodable: {exc!r}"[:200]}
            if row is not None:
                kept.append(i)
                decoded.append(row)
        keys = batch.table.select(list(KEY_COLUMNS)).take(pa.array(kept, pa.int64()))
        arrays = [pa.array([r[c] for r in decoded], typ) for c, (_, typ) in columns.items()]
        return pa.Table.from_arrays([*keys.columns, *arrays], names=[*KEY_COLUMNS, *columns])


def _decode_bredr(raw: bytes, link_type: int) -> dict[str, object]:
    if link_type == DLT_BLUETOOTH_BREDR_BB:
        return bredr.decode_bredr(raw)
    return bredr.decode_btbb(raw)


def _legacy(batch: PacketBatch, link: np.ndarray) -> np.ndarray:
    """Ethernet rows whose ethertype is libbtbb's 0xfff0 (one gather, no loop)."""
    eth = (link == DLT_EN10MB) & (batch.caplen >= ETHER_BYTES)
    if not eth.any():
        return eth
    at = np.where(eth, batch.data_off + 12, 0)
    ethertype = batch.buf[at].astype(np.uint16) << 8 | batch.buf[at + 1]
    return eth & (ethertype == BTBB_ETHERTYPE)
