"""scapy layers for the Bluetooth captures scapy cannot dissect itself.

scapy ships BLE (``scapy.layers.bluetooth4LE``: BTLE_RF for DLT 256, BTLE for DLT 251,
BTLE_PPI inside PPI) but nothing for BR/EDR baseband. These two layers fill that gap, so every
Bluetooth capture is decoded in one dissector framework:

- ``BTBREDR_RF``: libbtbb's 22-byte pseudo-header of LINKTYPE_BLUETOOTH_BREDR_BB (255), packet
  header included (FORMATS.md §3; libbtbb ``lib/src/pcap-common.h``). The baseband payload
  follows as Raw.
- ``BTBB``: the older Kismet/libbtbb layout, an Ethernet frame with ethertype 0xfff0 whose
  source MAC is NAP:UAP:LAP. A frame with no bytes after the Ethernet header carries no
  baseband data; otherwise a meta header (CLK1-27 of the master, channel, which address and
  clock bits are known) and the packet header as bytes follow (ubertooth
  ``host/kismet/plugin-ubertooth/packetsource_ubertooth.cc`` ``build_pcap_payload``; the
  libbtbb Wireshark plugin ``packet-btbb.c`` reads it the same way).

- ``BTLE_EXT_ADV``: the Common Extended Advertising Payload of ADV_EXT_IND and AUX_*
  PDUs (Core Vol 6 Part B §2.3.4), up to the two addresses it may carry; scapy's
  bluetooth4LE stops at the legacy advertising PDUs (types 0-6).

Also the header error check (HEC) of a BR/EDR packet header (Bluetooth Core Vol 2 Part B
§7.1.1), which scapy has no field for.
"""

from __future__ import annotations

from scapy.contrib.ethercat import LEBitField
from scapy.fields import (
    BitField,
    ByteField,
    ConditionalField,
    FlagsField,
    LEIntField,
    LESignedShortField,
    SignedByteField,
    XByteField,
    XLE3BytesField,
)
from scapy.layers.bluetooth4LE import BTLE_ADV, BDAddrField
from scapy.layers.l2 import Ether
from scapy.packet import Packet, bind_layers

from ingest.protocols.bluetooth.schema import BTBB_ETHERTYPE

# pcap_bluetooth_bredr_bb_header.flags, bit 0 first (libbtbb pcap-common.h)
BREDR_FLAGS = [
    "dewhitened",
    "signal_power_valid",
    "noise_power_valid",
    "payload_decrypted",
    "ref_lap_valid",
    "payload_present",
    "channel_aliased",
    "ref_uap_valid",
    "hec_checked",
    "hec_valid",
    "crc_checked",
    "crc_valid",
    "mic_checked",
    "mic_valid",
]


class BTBREDR_RF(Packet):
    """LINKTYPE_BLUETOOTH_BREDR_BB: RF info, addresses and the 18-bit packet header."""

    name = "BT BR/EDR RF pseudo-header"
    fields_desc = [  # noqa: RUF012 - scapy's Packet API
        ByteField("rf_channel", 0),
        SignedByteField("signal_power", 0),
        SignedByteField("noise_power", 0),
        ByteField("access_code_offenses", 0),
        BitField("transport", 0, 4),  # (transport << 4) | rate; 0xff = not given
        BitField("rate", 0, 4),
        ByteField("corrected_header_bits", 0),
        LESignedShortField("corrected_payload_bits", 0),
        LEIntField("lap", 0),
        XLE3BytesField("ref_lap", 0),
        XByteField("ref_uap", 0),
        # the packet header as libbtbb packs it: LT_ADDR | TYPE << 3 | FLOW << 7 | ARQN << 8
        # | SEQN << 9 | HEC << 10, in a little-endian 32-bit word
        LEBitField("lt_addr", 0, 3),
        LEBitField("type", 0, 4),
        LEBitField("flow", 0, 1),
        LEBitField("arqn", 0, 1),
        LEBitField("seqn", 0, 1),
        LEBitField("hec", 0, 8),
        LEBitField("header_reserved", 0, 14),
        FlagsField("flags", 0, -16, BREDR_FLAGS),
    ]

    def header_word(self) -> int:
        """The 18 header bits as one integer (what libbtbb wrote, reserved bits dropped)."""
        f = self.fields
        return (
            f["lt_addr"] | f["type"] << 3 | f["flow"] << 7 | f["arqn"] << 8 | f["seqn"] << 9
        ) | f["hec"] << 10


class BTBB(Packet):
    """Kismet/libbtbb baseband meta data and packet header after a 0xfff0 Ethernet header."""

    name = "BTBB meta and packet header"
    fields_desc = [  # noqa: RUF012 - scapy's Packet API
        LEIntField("clock", 0),  # CLK1-27 of the master (CLK1-6 if only 6 bits are known)
        ByteField("channel", 0),
        BitField("meta_reserved", 0, 6),
        BitField("nap_known", 0, 1),
        BitField("clock27_known", 0, 1),
        BitField("header_reserved", 0, 1),
        BitField("type", 0, 4),
        BitField("lt_addr", 0, 3),
        BitField("flags_reserved", 0, 5),
        BitField("seqn", 0, 1),
        BitField("arqn", 0, 1),
        BitField("flow", 0, 1),
        XByteField("hec", 0),
    ]

    header_word = BTBREDR_RF.header_word


bind_layers(Ether, BTBB, type=BTBB_ETHERTYPE)


class BTLE_EXT_ADV(Packet):
    """Extended header of ADV_EXT_IND / AUX_* PDUs; what follows the addresses stays Raw."""

    name = "BTLE extended advertising header"
    fields_desc = [  # noqa: RUF012 - scapy's Packet API
        BitField("adv_mode", 0, 2),
        BitField("ext_header_len", 0, 6),
        ConditionalField(
            FlagsField(
                "ext_flags",
                0,
                8,
                ["AdvA", "TargetA", "CTEInfo", "ADI", "AuxPtr", "SyncInfo", "TxPower"],
            ),
            lambda p: p.ext_header_len > 0,
        ),
        ConditionalField(
            BDAddrField("AdvA", None), lambda p: p.ext_header_len and p.ext_flags.AdvA
        ),
        ConditionalField(
            BDAddrField("TargetA", None), lambda p: p.ext_header_len and p.ext_flags.TargetA
        ),
    ]


bind_layers(BTLE_ADV, BTLE_EXT_ADV, PDU_type=7)  # ADV_EXT_IND (AUX_ADV_IND, ... on secondary)
bind_layers(BTLE_ADV, BTLE_EXT_ADV, PDU_type=8)  # AUX_CONNECT_RSP


REVERSED = bytes(int(f"{v:08b}"[::-1], 2) for v in range(256))  # bit-reversed bytes


def _reverse8(value: int) -> int:
    return REVERSED[value]


def hec_ok(uap: int, header18: int) -> bool:
    """True when the HEC (bits 10-17) matches the 10 header bits for this UAP.

    The HEC is the remainder of the 10 header bits under the generator x^8 + x^7 + x^5 +
    x^2 + x + 1, with the shift register preset to the UAP (Core Vol 2 Part B §7.1.1);
    computed here on the bit-reversed (air order, LSB first) word.
    """
    word = (header18 & 0x3FFFF) ^ _reverse8(uap)
    for _ in range(10):
        if word & 1:
            word ^= 0xE5 << 1
        word >>= 1
    return word == 0


def hec_for(uap: int, header10: int) -> int:
    """The HEC a transmitter appends to the 10 header bits (what ``hec_ok`` checks).

    The check is linear and the HEC bits only shift during it, so the HEC is the remainder
    of the data bits alone.
    """
    word = (header10 & 0x3FF) ^ _reverse8(uap)
    for _ in range(10):
        if word & 1:
            word ^= 0xE5 << 1
        word >>= 1
    return word & 0xFF
