"""What the Bluetooth decoders write and which frames they take: column types and link types.

Without scapy: every command builds the source registry, and only a capture with Bluetooth
packets needs the decoders (``bredr``, ``le``), which the extractor imports on first use.
"""

from __future__ import annotations

import pyarrow as pa

DLT_BLUETOOTH_BREDR_BB = 255
DLT_BLUETOOTH_LE_LL = 251
DLT_BLUETOOTH_LE_LL_WITH_PHDR = 256
DLT_PPI = 192
LE_LINK_TYPES = frozenset({DLT_BLUETOOTH_LE_LL, DLT_BLUETOOTH_LE_LL_WITH_PHDR, DLT_PPI})
BTBB_ETHERTYPE = 0xFFF0  # legacy Kismet/libbtbb BR/EDR frames inside Ethernet
ETHER_BYTES = 14

# raw.bluetooth_bredr_packets, after frame_number / captured_at / ts_ns / link_type
BREDR_COLUMNS: dict[str, tuple[str, pa.DataType]] = {
    "rf_channel": ("UTINYINT", pa.uint8()),
    "signal_dbm": ("TINYINT", pa.int8()),
    "noise_dbm": ("TINYINT", pa.int8()),
    "access_code_offenses": ("UTINYINT", pa.uint8()),
    "transport": ("UTINYINT", pa.uint8()),
    "rate": ("UTINYINT", pa.uint8()),
    "corrected_header_bits": ("UTINYINT", pa.uint8()),
    "corrected_payload_bits": ("SMALLINT", pa.int16()),
    "lap": ("UINTEGER", pa.uint32()),
    "uap": ("UTINYINT", pa.uint8()),
    "nap": ("USMALLINT", pa.uint16()),
    "lt_addr": ("UTINYINT", pa.uint8()),
    "type_code": ("UTINYINT", pa.uint8()),
    "flow": ("BOOLEAN", pa.bool_()),
    "arqn": ("BOOLEAN", pa.bool_()),
    "seqn": ("BOOLEAN", pa.bool_()),
    "hec": ("UTINYINT", pa.uint8()),
    "hec_valid": ("BOOLEAN", pa.bool_()),
    "payload_len": ("UINTEGER", pa.uint32()),
    "clock": ("UINTEGER", pa.uint32()),
    "clock_bits": ("UTINYINT", pa.uint8()),
    "flags": ("USMALLINT", pa.uint16()),
    "malformed": ("VARCHAR", pa.string()),
}

# raw.bluetooth_le_packets, after frame_number / captured_at / ts_ns / link_type
LE_COLUMNS: dict[str, tuple[str, pa.DataType]] = {
    "rf_channel": ("UTINYINT", pa.uint8()),
    "signal_dbm": ("TINYINT", pa.int8()),
    "noise_dbm": ("TINYINT", pa.int8()),
    "rssi_min": ("TINYINT", pa.int8()),
    "rssi_max": ("TINYINT", pa.int8()),
    "rssi_avg": ("TINYINT", pa.int8()),
    "rssi_count": ("UTINYINT", pa.uint8()),
    "access_address": ("UINTEGER", pa.uint32()),
    "pdu_type_code": ("UTINYINT", pa.uint8()),
    "ch_sel": ("BOOLEAN", pa.bool_()),
    "tx_add": ("BOOLEAN", pa.bool_()),
    "rx_add": ("BOOLEAN", pa.bool_()),
    "llid": ("UTINYINT", pa.uint8()),
    "nesn": ("BOOLEAN", pa.bool_()),
    "sn": ("BOOLEAN", pa.bool_()),
    "md": ("BOOLEAN", pa.bool_()),
    "pdu_len": ("UTINYINT", pa.uint8()),
    "control_opcode": ("UTINYINT", pa.uint8()),
    "advertiser_addr": ("VARCHAR", pa.string()),
    "advertiser_addr_random": ("BOOLEAN", pa.bool_()),
    "target_addr": ("VARCHAR", pa.string()),
    "target_addr_random": ("BOOLEAN", pa.bool_()),
    "connection_access_address": ("UINTEGER", pa.uint32()),
    "crc_checked": ("BOOLEAN", pa.bool_()),
    "crc_valid": ("BOOLEAN", pa.bool_()),
    "flags": ("USMALLINT", pa.uint16()),
    "malformed": ("VARCHAR", pa.string()),
}
