"""BR/EDR baseband rows from one captured packet: DLT 255 records and legacy 0xfff0 frames.

``decode_bredr`` / ``decode_btbb`` take the captured bytes and return one row (column -> value,
None for unknown); they never raise for bad bytes, they say what is wrong in ``malformed``.

Which header fields are filled (``type_code`` and friends), as Wireshark's ``btbredr_rf``
decides for DLT 255: the header must be dewhitened and its UAP known (the reference UAP of the
pseudo-header), except FHS packets on an inquiry LAP (0x9e8b00-0x9e8b3f), whose HEC uses UAP 0;
other packets on an inquiry LAP have no header of their own (they are ID packets). One rule
is ours: libbtbb writes an all-zero header word when it decoded no header (ID packets, or
before it learned the clock), so a zero word that fails its HEC counts as no header; Wireshark
shows those as a NULL packet with an incorrect HEC.
"""

from __future__ import annotations

import functools
import struct

from scapy.layers.l2 import Ether

from ingest.protocols.bluetooth.layers import BTBB, BTBREDR_RF, hec_ok
from ingest.protocols.bluetooth.schema import BREDR_COLUMNS, ETHER_BYTES

# pseudo-header flag bits (layers.BREDR_FLAGS)
DEWHITENED, SIGNAL_POWER_VALID, NOISE_POWER_VALID = 0x0001, 0x0002, 0x0004
REF_UAP_VALID, HEC_CHECKED, HEC_VALID = 0x0080, 0x0100, 0x0200

PSEUDO_HEADER_BYTES = 22
RF_BYTES = 4  # rf_channel, signal_power, noise_power, access_code_offenses
BTBB_META_BYTES = 9  # clock (4), channel, known bits, packet header (3)
INQUIRY_LAPS = range(0x9E8B00, 0x9E8B40)
FHS = 2


def _empty() -> dict[str, object]:
    return dict.fromkeys(BREDR_COLUMNS)


def decode_bredr(raw: bytes) -> dict[str, object]:
    """One LINKTYPE_BLUETOOTH_BREDR_BB record (pseudo-header, then the baseband payload).

    The first four bytes (RF channel, signal, noise, access code offenses) change with every
    packet; the rest repeats (ID packets, POLL/NULL of a piconet), so it is dissected once per
    distinct bytes and the four are read beside it.
    """
    if len(raw) < PSEUDO_HEADER_BYTES:
        row = _empty()
        row["malformed"] = f"pseudo-header truncated: {len(raw)} of {PSEUDO_HEADER_BYTES} bytes"
        return row
    row = _empty() | _decode_record(raw[RF_BYTES:])
    channel, signal, noise, offenses = struct.unpack_from("<BbbB", raw)
    flags = row["flags"]
    return row | {
        "rf_channel": channel,
        "signal_dbm": signal if flags & SIGNAL_POWER_VALID else None,
        "noise_dbm": noise if flags & NOISE_POWER_VALID else None,
        "access_code_offenses": offenses,
    }


@functools.lru_cache(maxsize=4096)
def _decode_record(rest: bytes) -> dict[str, object]:
    """Columns of a DLT 255 record from byte 4 on (cached: do not mutate the result)."""
    pkt = BTBREDR_RF(bytes(RF_BYTES) + rest)
    f = pkt.fields  # plain values: much cheaper than scapy's attribute lookup per field
    flags = int(f["flags"])
    uap = f["ref_uap"] if flags & REF_UAP_VALID else None
    lap = f["lap"] & 0xFFFFFF
    given = not (f["transport"] == 0xF and f["rate"] == 0xF)  # 0xff: not given
    row: dict[str, object] = {
        "transport": f["transport"] if given else None,
        "rate": f["rate"] if given else None,
        "corrected_header_bits": f["corrected_header_bits"],
        "corrected_payload_bits": f["corrected_payload_bits"],
        "lap": lap,
        "uap": uap,
        "payload_len": len(rest) + RF_BYTES - PSEUDO_HEADER_BYTES,
        "flags": flags,
    }
    word = pkt.header_word()
    inquiry = lap in INQUIRY_LAPS
    if inquiry and f["type"] != FHS:
        return row  # an inquiry ID packet: nothing after the access code
    if not flags & DEWHITENED or (uap is None and not inquiry):
        return row  # header still whitened, or its HEC cannot be checked
    ours = hec_ok(0 if inquiry else uap, word)
    valid = bool(flags & HEC_VALID) if flags & HEC_CHECKED else ours  # the sniffer's if it checked
    if word == 0 and not valid:
        return row  # libbtbb decoded no header
    return row | _header(f) | {"hec_valid": valid}


def decode_btbb(raw: bytes) -> dict[str, object]:
    """One legacy Kismet/libbtbb frame (Ethernet, ethertype 0xfff0, source MAC NAP:UAP:LAP)."""
    row = _empty()
    eth = Ether(raw)
    nap, uap, lap = raw[6] << 8 | raw[7], raw[8], int.from_bytes(raw[9:12], "big")
    row |= {"lap": lap, "payload_len": 0}
    if len(raw) == ETHER_BYTES:
        # the writer leaves NAP and UAP zero until it knows them
        return row | {"uap": uap or None, "nap": nap or None}
    meta = eth.getlayer(BTBB)
    if len(raw) < ETHER_BYTES + BTBB_META_BYTES or meta is None:
        have = len(raw) - ETHER_BYTES
        row["malformed"] = f"btbb meta header truncated: {have} of {BTBB_META_BYTES} bytes"
        return row
    # a frame with meta data was decoded with the UAP and clock known
    return (
        row
        | _header(meta.fields)
        | {
            "rf_channel": meta.channel,
            "uap": uap,
            "nap": nap if meta.nap_known else None,
            "hec_valid": hec_ok(uap, meta.header_word()),
            "payload_len": len(raw) - ETHER_BYTES - BTBB_META_BYTES,
            "clock": meta.clock,
            "clock_bits": 27 if meta.clock27_known else 6,
        }
    )


def _header(f: dict[str, int]) -> dict[str, object]:
    return {
        "lt_addr": f["lt_addr"],
        "type_code": f["type"],
        "flow": bool(f["flow"]),
        "arqn": bool(f["arqn"]),
        "seqn": bool(f["seqn"]),
        "hec": f["hec"],
    }
