"""A realistic demo Bluetooth sniff, written with scapy (deterministic for a seed).

Three captures of the same minutes at a desk, one per format users have:

- ``bredr.pcap``: an Ubertooth with libbtbb, DLT 255 (nanosecond pcap, 22-byte pseudo-header).
- ``btbb-legacy.pcap``: the same kind of traffic (other devices) in the old Kismet/libbtbb
  layout (DLT 1 Ethernet, ethertype 0xfff0, source MAC NAP:UAP:LAP, meta header with the
  master clock).
- ``ble.pcap``: a BLE sniffer on the three advertising channels, DLT 256.

The BR/EDR world: a phone (master) streaming to a headset (HV3 voice, POLL/NULL keep-alive,
DM1/DH1 control); a laptop (master) with a mouse (DM1 reports, POLL/NULL); another phone
inquiring now and then (ID packets on the GIAC, answered with FHS by discoverable devices);
and false detections: LAPs seen once. Masters transmit in even slots and slaves in odd ones,
so the legacy file's CLK1 tells the direction. The sniffer learns a piconet's UAP only after a
while (before that its headers stay unreadable), and a few headers are corrupted (bad HEC).

The BLE world: phones and a laptop advertising with random addresses (ADV_IND), a beacon
(ADV_NONCONN_IND, public address), a laptop scanning (SCAN_REQ, SCAN_RSP), and a watch that
the phone connects to (CONNECT_IND), after which their data channel traffic (empty PDUs,
LL control, L2CAP) is captured on the data channels; about 3% of packets arrive corrupted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scapy.layers.bluetooth4LE import (
    BTLE,
    BTLE_ADV,
    BTLE_ADV_IND,
    BTLE_ADV_NONCONN_IND,
    BTLE_CONNECT_REQ,
    BTLE_CTRL,
    BTLE_DATA,
    BTLE_RF,
    BTLE_SCAN_REQ,
    BTLE_SCAN_RSP,
    LL_FEATURE_REQ,
    LL_VERSION_IND,
)
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapWriter

from ingest.protocols.bluetooth.layers import BTBB, BTBREDR_RF, hec_for

T0_NS = 1_737_554_400 * 10**9  # 2025-01-22T14:00:00Z
SLOT_NS = 625_000
GIAC = 0x9E8B33
# type code -> (slots, payload bytes, transport) on the links below
POLL, NULL, FHS, DM1, DH1, HV3, DH3, DH5 = 1, 0, 2, 3, 4, 7, 11, 15
SLOTS = {POLL: 1, NULL: 1, FHS: 1, DM1: 1, DH1: 1, HV3: 1, DH3: 3, DH5: 5}
PAYLOAD = {POLL: 0, NULL: 0, FHS: 20, DM1: 17, DH1: 27, HV3: 30, DH3: 183, DH5: 339}
ACL, SCO = 3, 1


@dataclass(frozen=True)
class Piconet:
    nap: int
    uap: int
    lap: int
    # (master type, slave reply type, transport, weight) exchanges
    exchanges: tuple[tuple[int, int, int, float], ...]
    per_second: float
    uap_learned_after_s: float


PICONETS = (
    Piconet(  # phone -> headset, voice and control
        0x001A, 0x7D, 0xDA7113,
        ((HV3, HV3, SCO, 6), (POLL, NULL, ACL, 3), (DM1, NULL, ACL, 1), (DH1, NULL, ACL, 0.5)),
        per_second=6, uap_learned_after_s=4,
    ),
    Piconet(  # laptop -> mouse
        0x0025, 0x3E, 0x5F0A8C,
        ((POLL, DM1, ACL, 4), (POLL, NULL, ACL, 3), (DH3, NULL, ACL, 0.3), (DH5, NULL, ACL, 0.2)),
        per_second=3, uap_learned_after_s=20,
    ),
)  # fmt: skip
DISCOVERABLE = ((0x0022, 0x58, 0x1D9C07), (0x0017, 0xE2, 0x3B0F55))  # answer inquiries (FHS)


@dataclass
class BredrPacket:
    t_ns: int
    clock: int  # CLK1-27 of the master, in slots
    channel: int
    lap: int
    uap: int | None  # known to the sniffer
    nap: int
    type_code: int | None  # None: ID packet
    transport: int
    lt_addr: int
    payload: bytes
    signal: int
    bad_hec: bool


def bredr_packets(seed: int, seconds: float) -> list[BredrPacket]:
    """What the sniffer caught, in time order."""
    rng = np.random.default_rng(seed)
    out: list[BredrPacket] = []
    for pi, net in enumerate(PICONETS):
        n = rng.poisson(net.per_second * seconds)
        times = np.sort(rng.uniform(0, seconds, n))
        weights = np.array([e[3] for e in net.exchanges])
        picks = rng.choice(len(net.exchanges), n, p=weights / weights.sum())
        offset_slots = int(rng.integers(0, 1 << 26))
        for t, k in zip(times, picks, strict=True):
            master_type, reply_type, transport, _ = net.exchanges[k]
            slot = (offset_slots + int(t * 1e9 // SLOT_NS)) & ~1  # masters: even slots
            known = net.uap if t >= net.uap_learned_after_s else None
            signal = int(rng.normal(-45 - 10 * pi, 4))
            reply_at = slot + SLOTS[master_type]  # the slave answers in the next free slot
            for sender, type_code, at in ((0, master_type, slot), (1, reply_type, reply_at)):
                if rng.random() < 0.6:  # missed: on another channel
                    continue
                out.append(
                    BredrPacket(
                        t_ns=T0_NS + int(t * 1e9) + (at - slot) * SLOT_NS,
                        clock=at & 0x7FFFFFF, channel=int(rng.integers(0, 79)),
                        lap=net.lap, uap=known, nap=net.nap, type_code=type_code,
                        transport=transport, lt_addr=1,
                        payload=rng.bytes(PAYLOAD[type_code]),
                        signal=signal - 3 * sender, bad_hec=rng.random() < 0.02,
                    )
                )  # fmt: skip
    # inquiries: bursts of ID packets on the GIAC, answered by FHS
    for start in rng.uniform(0, seconds, max(1, int(seconds / 30))):
        for i in range(int(rng.integers(5, 15))):
            t = start + i * 0.0125
            out.append(_id(T0_NS + int(t * 1e9), GIAC, rng))
        for nap, uap, lap in DISCOVERABLE:
            t = start + float(rng.uniform(0.02, 0.2))
            out.append(
                BredrPacket(
                    t_ns=T0_NS + int(t * 1e9), clock=int(rng.integers(0, 1 << 27)) | 1,
                    channel=int(rng.integers(0, 79)), lap=GIAC, uap=0, nap=0, type_code=FHS,
                    transport=ACL, lt_addr=0,
                    payload=_fhs(nap, uap, lap), signal=int(rng.normal(-60, 5)), bad_hec=False,
                )
            )  # fmt: skip
    # false detections: a random LAP seen once
    for t in rng.uniform(0, seconds, max(1, int(seconds / 10))):
        out.append(_id(T0_NS + int(t * 1e9), int(rng.integers(0, 1 << 24)), rng))
    out.sort(key=lambda p: p.t_ns)
    return out


def _id(t_ns: int, lap: int, rng: np.random.Generator) -> BredrPacket:
    return BredrPacket(
        t_ns=t_ns, clock=0, channel=int(rng.integers(0, 79)), lap=lap, uap=None, nap=0,
        type_code=None, transport=0, lt_addr=0, payload=b"", signal=int(rng.normal(-70, 5)),
        bad_hec=False,
    )  # fmt: skip


def _fhs(nap: int, uap: int, lap: int) -> bytes:
    """An FHS payload (parity, LAP, UAP, NAP, class of device ...), 18 bytes + CRC."""
    body = struct.pack("<Q", lap << 34)[:8] + bytes([uap]) + struct.pack("<H", nap)
    return body + bytes(9)


def _header(p: BredrPacket, uap: int) -> tuple[int, int]:
    """(10 header bits, HEC) as the transmitter sent them."""
    data = p.lt_addr | (p.type_code or 0) << 3 | 1 << 7
    hec = hec_for(uap, data)
    return data, hec ^ 0x5A if p.bad_hec else hec


def write_bredr(path: Path, packets: list[BredrPacket]) -> int:
    """DLT 255, as libbtbb writes it (nanosecond pcap, snaplen 400)."""
    with PcapWriter(str(path), linktype=255, nano=True, sync=False, snaplen=400) as w:
        w.write_header(None)
        for p in packets:
            flags = 0x0001 | 0x0002 | 0x0004 | 0x0010  # dewhitened, signal, noise, LAP
            lt = ty = fl = hec = 0
            if p.uap is not None and p.type_code is not None:
                flags |= 0x0080  # reference UAP valid
                data, hec = _header(p, p.uap)
                lt, ty, fl = data & 7, data >> 3 & 15, data >> 7 & 1
            payload = p.payload if p.uap is not None else p.payload[:0]
            if payload:
                flags |= 0x0020
            pkt = BTBREDR_RF(
                rf_channel=p.channel, signal_power=p.signal, noise_power=-90,
                transport=p.transport if p.type_code is not None else 0, rate=0,
                lap=p.lap, ref_lap=p.lap, ref_uap=p.uap if p.uap is not None else 0xFF,
                lt_addr=lt, type=ty, flow=fl, hec=hec, flags=flags,
            ) / Raw(payload)  # fmt: skip
            w.write_packet(bytes(pkt), sec=p.t_ns // 10**9, usec=p.t_ns % 10**9)
    return len(packets)


def write_legacy(path: Path, packets: list[BredrPacket]) -> int:
    """DLT 1, ethertype 0xfff0: a packet the sniffer could not decode yet (no UAP, or an ID
    packet) is the 14-byte Ethernet header alone."""
    with PcapWriter(str(path), linktype=1, sync=False) as w:
        w.write_header(None)
        for p in packets:
            decoded = p.uap is not None and p.type_code is not None
            upper = (p.nap << 8 | (p.uap or 0)) if decoded else 0  # zero until known
            src = ":".join(f"{b:02x}" for b in (upper << 24 | p.lap).to_bytes(6, "big"))
            frame = Ether(dst="00:00:00:00:00:00", src=src, type=0xFFF0)
            if decoded:
                data, hec = _header(p, p.uap)
                frame = frame / BTBB(
                    clock=p.clock, channel=p.channel, nap_known=1, clock27_known=1,
                    lt_addr=data & 7, type=data >> 3 & 15, flow=data >> 7 & 1, hec=hec,
                ) / Raw(p.payload)  # fmt: skip
            w.write_packet(bytes(frame), sec=p.t_ns // 10**9, usec=p.t_ns % 10**9 // 1000)
    return len(packets)


ADV_CHANNELS = ((37, 0), (38, 12), (39, 39))  # (channel index, RF channel)
ADV_AA = 0x8E89BED6


def _rf_channel(index: int) -> int:
    return index + 1 if index <= 10 else index + 2


def write_ble(path: Path, seed: int, seconds: float) -> int:
    """DLT 256 with libbtbb's RF header; returns the number of packets written."""
    rng = np.random.default_rng(seed + 1)
    advertisers = [
        (":".join(f"{b:02x}" for b in rng.integers(0, 256, 6)), True, float(rng.uniform(0.2, 1.2)))
        for _ in range(8)
    ]  # fmt: skip
    beacon = ("00:1b:dc:44:10:7e", False, 0.5)
    scanner, watch = advertisers[0][0], advertisers[1][0]
    events: list[tuple[int, int, int, bytes]] = []  # (t_ns, rf channel, signal, air bytes)

    def add(t: float, rf: int, pkt: BTLE, signal: float, intact: bool = False) -> None:
        air = bytes(pkt)
        if not intact and rng.random() < 0.03:  # corrupted on the air: CRC no longer matches
            air = air[:-1] + bytes([air[-1] ^ 0x5A])
        events.append((T0_NS + int(t * 1e9), rf, int(signal), air))

    for addr, random_addr, interval in [*advertisers[1:], beacon]:
        kind = BTLE_ADV_IND if random_addr else BTLE_ADV_NONCONN_IND
        signal = rng.uniform(-85, -40)
        t = float(rng.uniform(0, interval))
        while t < seconds:
            for i, (_, rf) in enumerate(ADV_CHANNELS):
                adv = BTLE_ADV(TxAdd=int(random_addr), PDU_type=0 if random_addr else 2)
                add(t + i * 0.0004, rf, BTLE() / adv / kind(AdvA=addr), signal + rng.normal(0, 2))
            if random_addr and rng.random() < 0.2:  # the scanner asks, the advertiser answers
                add(
                    t + 0.00015,
                    0,
                    BTLE()
                    / BTLE_ADV(TxAdd=1, RxAdd=1, PDU_type=3)
                    / BTLE_SCAN_REQ(ScanA=scanner, AdvA=addr),
                    -50 + rng.normal(0, 2),
                )
                add(t + 0.0003, 0, BTLE() / BTLE_ADV(TxAdd=1, PDU_type=4)
                    / BTLE_SCAN_RSP(AdvA=addr), signal)  # fmt: skip
            t += interval + float(rng.uniform(0, 0.01))
    # the phone connects to the watch a third of the way in, then they talk every 100 ms
    t_connect, aa, crc_init = seconds / 3, 0x50654A27, 0x2ED45D
    add(t_connect, 0, BTLE() / BTLE_ADV(TxAdd=1, RxAdd=1, PDU_type=5) / BTLE_CONNECT_REQ(
        InitA=advertisers[2][0], AdvA=watch, AA=aa, crc_init=crc_init, win_size=2,
        interval=40, timeout=500, chM=0x1FFFFFFFFF, hop=7), -55, intact=True)  # fmt: skip
    air_init = int.from_bytes(crc_init.to_bytes(3, "little"), "big")
    t, event = t_connect + 0.00125, 0
    while t < seconds:
        index = (event * 7) % 37
        if event == 1:
            llid, body = 3, BTLE_CTRL() / LL_VERSION_IND(version=9)
        elif event == 2:
            llid, body = 3, BTLE_CTRL() / LL_FEATURE_REQ()
        elif rng.random() < 0.15:
            llid, body = 2, Raw(rng.bytes(int(rng.integers(5, 27))))
        else:
            llid, body = 1, Raw(b"")
        for sender in range(2):
            pdu = bytes(BTLE_DATA(LLID=llid, SN=event & 1, NESN=sender) / body)
            crc = BTLE.compute_crc(pdu, air_init)
            add(t + sender * 0.00015, _rf_channel(index),
                BTLE(access_addr=aa, crc=int.from_bytes(crc, "big")) / Raw(pdu),
                -60 + rng.normal(0, 2))  # fmt: skip
        t += 0.1
        event += 1
    events.sort()
    with PcapWriter(str(path), linktype=256, sync=False) as w:
        w.write_header(None)
        for t_ns, rf, signal, air in events:
            header = BTLE_RF(rf_channel=rf, signal=signal, noise=-95, dewhitened=1,
                             sig_power_valid=1, noise_power_valid=1)  # fmt: skip
            w.write_packet(bytes(header) + air, sec=t_ns // 10**9, usec=t_ns % 10**9 // 1000)
    return len(events)


def generate(directory: Path, seed: int = 1, seconds: float = 120) -> dict[str, int]:
    """Write the three captures into ``directory``; returns packets per file name."""
    directory.mkdir(parents=True, exist_ok=True)
    bredr = bredr_packets(seed, seconds)
    # the legacy sniff is another desk: same kind of traffic, other devices
    legacy = [p if p.lap == GIAC else replace(p, lap=p.lap ^ 0x00A5A5) for p in bredr]
    return {
        "bredr.pcap": write_bredr(directory / "bredr.pcap", bredr),
        "btbb-legacy.pcap": write_legacy(directory / "btbb-legacy.pcap", legacy),
        "ble.pcap": write_ble(directory / "ble.pcap", seed, seconds),
    }
