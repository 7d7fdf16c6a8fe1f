"""BLE link-layer rows from one captured packet: DLT 256 (libbtbb's 10-byte RF header),
DLT 251 (the bare air packet) and DLT 192 (PPI with a BTLE field, as the Ubertooth wrote it).

All dissection is scapy's (``scapy.layers.bluetooth4LE``). ``LeDecoder`` keeps one piece of
state per file: the CRC init of each connection whose CONNECT_IND it saw, so the CRC of that
connection's data packets can be checked as Wireshark does; advertising packets use the fixed
init 0x555555. Where the capture tool already checked the CRC (DLT 256 flags), its verdict
stands.

Addresses are text, most significant byte first, as Wireshark prints them. For every PDU that
names an advertiser, ``advertiser_addr`` is AdvA; ``target_addr`` is the other device it
names: TargetA of ADV_DIRECT_IND and of extended PDUs, ScanA of SCAN_REQ, InitA of
CONNECT_IND. A data PDU's control opcode follows a CTEInfo byte when the header's CP bit is
set (Core 5.1), which scapy's BTLE_DATA treats as reserved.

Speed: scapy's dissection is the slow part of a load, and sniffs repeat the same advertising
PDUs and RF headers byte for byte, so both are decoded once per distinct bytes (small LRU
caches of pure functions; the per-file connection state stays outside them).
"""

from __future__ import annotations

import functools

from scapy.layers.bluetooth4LE import (
    BTLE,
    BTLE_ADV,
    BTLE_ADV_DIRECT_IND,
    BTLE_CONNECT_REQ,
    BTLE_CTRL,
    BTLE_DATA,
    BTLE_PPI,
    BTLE_RF,
    BTLE_SCAN_REQ,
)
from scapy.layers.ppi import PPI

from ingest.protocols.bluetooth.layers import BTLE_EXT_ADV
from ingest.protocols.bluetooth.schema import (
    DLT_BLUETOOTH_LE_LL,
    DLT_BLUETOOTH_LE_LL_WITH_PHDR,
    DLT_PPI,
    LE_COLUMNS,
)

ADVERTISING_AA = 0x8E89BED6
ADVERTISING_CRC_INIT = 0x555555
AIR_MIN_BYTES = 4 + 2 + 3  # access address, PDU header, CRC
RF_HEADER_BYTES = 10
PPI_BTLE_MIN_MHZ = 2402
CONNECT_IND = 5
LLID_CONTROL = 3
MAX_CONNECTIONS = 65_536  # CRC inits remembered per file (oldest forgotten first)


class LeDecoder:
    """Decodes the BLE packets of one capture, in file order."""

    def __init__(self) -> None:
        self.crc_inits: dict[int, int] = {}  # connection access address -> CRC init

    def decode(self, raw: bytes, link_type: int) -> dict[str, object] | None:
        """A row for the packet, or None when it is not BLE (a PPI frame of another kind)."""
        row: dict[str, object] = dict.fromkeys(LE_COLUMNS)
        if link_type == DLT_BLUETOOTH_LE_LL_WITH_PHDR:
            if len(raw) < RF_HEADER_BYTES:
                row["malformed"] = f"rf header truncated: {len(raw)} of {RF_HEADER_BYTES} bytes"
                return row
            row |= _rf_header(raw[:RF_HEADER_BYTES])
            air = raw[RF_HEADER_BYTES:]
        elif link_type == DLT_PPI:
            air = self._ppi(raw, row)
            if air is None:
                return None
        else:
            air = raw
        return self._air(air, row)

    def _ppi(self, raw: bytes, row: dict[str, object]) -> bytes | None:
        ppi = PPI(raw)
        field = ppi.getlayer(BTLE_PPI)
        if field is None and ppi.dlt != DLT_BLUETOOTH_LE_LL:
            return None
        if field is not None:
            mhz = field.btle_channel
            row |= {
                "rf_channel": (mhz - PPI_BTLE_MIN_MHZ) // 2 if mhz >= PPI_BTLE_MIN_MHZ else None,
                "rssi_min": field.rssi_min,
                "rssi_max": field.rssi_max,
                "rssi_avg": field.rssi_avg,
                "rssi_count": field.rssi_count,
            }
        return raw[ppi.len :]

    def _air(self, air: bytes, row: dict[str, object]) -> dict[str, object]:
        if len(air) < AIR_MIN_BYTES:
            row["malformed"] = f"air packet truncated: {len(air)} of at least {AIR_MIN_BYTES} bytes"
            return row
        aa = int.from_bytes(air[:4], "little")
        init = ADVERTISING_CRC_INIT if aa == ADVERTISING_AA else self.crc_inits.get(aa)
        if row["crc_checked"]:
            init = None  # the sniffer checked: its verdict stands
        fields, connect_crc_init = _decode_air(air, init)
        row |= fields
        if connect_crc_init is not None and row["crc_valid"] is not False:
            self._remember(row["connection_access_address"], connect_crc_init)
        elif connect_crc_init is not None:
            row["connection_access_address"] = None  # a corrupt CONNECT_IND sets up nothing
        return row

    def _remember(self, aa: int, crc_init: int) -> None:
        self.crc_inits.pop(aa, None)
        self.crc_inits[aa] = crc_init
        if len(self.crc_inits) > MAX_CONNECTIONS:
            del self.crc_inits[next(iter(self.crc_inits))]


@functools.lru_cache(maxsize=4096)
def _rf_header(header: bytes) -> dict[str, object]:
    """Columns of libbtbb's 10-byte RF header (cached like ``_decode_air``; do not mutate)."""
    f = BTLE_RF(header).fields
    row: dict[str, object] = {
        "rf_channel": f["rf_channel"],
        "signal_dbm": f["signal"] if f["sig_power_valid"] else None,
        "noise_dbm": f["noise"] if f["noise_power_valid"] else None,
        "flags": int.from_bytes(header[8:10], "little"),
    }
    if f["crc_checked"]:
        row |= {"crc_checked": True, "crc_valid": bool(f["crc_valid"])}
    return row


@functools.lru_cache(maxsize=4096)
def _decode_air(air: bytes, crc_init: int | None) -> tuple[dict[str, object], int | None]:
    """Columns of one air packet (access address onwards) and, for a CONNECT_IND, the new
    connection's CRC init in air order. Cached: sniffs repeat the same advertising PDUs
    byte for byte, and scapy's dissection is the slow part of a load (do not mutate)."""
    pkt = BTLE(air)
    row: dict[str, object] = {"access_address": pkt.access_addr}
    captured = len(air) - AIR_MIN_BYTES
    connect_crc_init = None
    if pkt.access_addr == ADVERTISING_AA:
        adv = pkt.getlayer(BTLE_ADV)
        if adv is None:
            return row | {"malformed": "advertising pdu header did not decode"}, None
        f = adv.fields
        row |= {
            "pdu_type_code": f["PDU_type"],
            "ch_sel": bool(f["ChSel"]),
            "tx_add": bool(f["TxAdd"]),
            "rx_add": bool(f["RxAdd"]),
            "pdu_len": f["Length"],
        }
        if f["Length"] <= captured:
            row |= _addresses(adv)
        connect = pkt.getlayer(BTLE_CONNECT_REQ)
        if connect is not None:
            row["connection_access_address"] = connect.AA
            # scapy reads CRCInit little-endian but compute_crc wants the bytes in air order
            connect_crc_init = int.from_bytes(connect.crc_init.to_bytes(3, "little"), "big")
    else:
        data = pkt.getlayer(BTLE_DATA)
        if data is None:
            return row | {"malformed": "data pdu header did not decode"}, None
        f = data.fields
        row |= {
            "llid": f["LLID"],
            "nesn": bool(f["NESN"]),
            "sn": bool(f["SN"]),
            "md": bool(f["MD"]),
            "pdu_len": f["len"],
        }
        if f["LLID"] == LLID_CONTROL and f["len"] >= 1:
            # a CTEInfo byte precedes the opcode when the header's CP bit (bit 5, RFU to
            # scapy's BTLE_DATA) is set
            cte = bool(air[4] & 0x20)
            row["control_opcode"] = air[7] if cte else pkt[BTLE_CTRL].opcode
    if row["pdu_len"] > captured:
        row["malformed"] = f"pdu length {row['pdu_len']} but {captured} bytes captured"
        return row, None
    if crc_init is not None:
        row |= {"crc_checked": True, "crc_valid": BTLE.compute_crc(air[4:-3], crc_init) == air[-3:]}
    return row, connect_crc_init


def _addresses(adv: BTLE_ADV) -> dict[str, object]:
    """AdvA and the other device the PDU names, each with its random-address bit.

    TxAdd describes the sender's address field, RxAdd the receiver's: AdvA is sent by the
    advertiser in advertising PDUs, but received in SCAN_REQ and CONNECT_IND.
    """
    body = adv.payload
    adv_a = getattr(body, "AdvA", None)  # extended PDUs may leave it out
    if adv_a is None:
        return {}
    out: dict[str, object] = {"advertiser_addr": adv_a}
    if isinstance(body, BTLE_SCAN_REQ | BTLE_CONNECT_REQ):
        other = body.ScanA if isinstance(body, BTLE_SCAN_REQ) else body.InitA
        return out | {
            "advertiser_addr_random": bool(adv.RxAdd),
            "target_addr": other,
            "target_addr_random": bool(adv.TxAdd),
        }
    out["advertiser_addr_random"] = bool(adv.TxAdd)
    if isinstance(body, BTLE_ADV_DIRECT_IND):
        out |= {"target_addr": body.InitA, "target_addr_random": bool(adv.RxAdd)}
    elif isinstance(body, BTLE_EXT_ADV) and body.TargetA is not None:
        out |= {"target_addr": body.TargetA, "target_addr_random": bool(adv.RxAdd)}
    return out
