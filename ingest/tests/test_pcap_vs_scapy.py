"""Every field of raw.pcap_packets against scapy, packet by packet, on all shared captures.

scapy decides the values (its own record reader and dissectors); the reference row is built
from scapy's layers the way the column is documented in ingest/capture/pcap/__init__.py.
Known, explained differences are listed in EXPLAINED, keyed by (file, frame, column).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from scapy.config import conf
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import Dot1AD, Dot1Q
from scapy.packet import Padding
from scapy.utils import RawPcapReader

from ingest.capture.pcap import PcapOptions, read_batches

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CAPTURES = sorted(
    p
    for d in ("pcap-general", "pcap-kafka")
    for p in (DATA / d).glob("*")
    if p.suffix not in (".md", ".result")
)
COMPARED = [
    "ts_ns", "caplen", "origlen", "link_type", "vlan_ids", "ip_version", "src_addr",
    "dst_addr", "ip_proto", "ttl", "ip_total_len", "ip_id", "frag_offset", "more_fragments",
    "dont_fragment", "src_port", "dst_port", "tcp_flags", "tcp_seq", "tcp_ack", "tcp_window",
    "tcp_wscale", "tcp_mss", "tcp_sack_permitted", "tcp_tsval", "tcp_tsecr", "tcp_header_len",
    "payload_len", "icmp_type", "icmp_code",
]  # fmt: skip
EXT_HEADERS = (IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment)

# (file name, frame_number, column) -> why ours differs from scapy and is right
EXPLAINED: dict[tuple[str, int, str], str] = {}


def _l4_payload_len(layer: Any, ip_payload: int, header: int) -> int | None:
    """Payload bytes as scapy split them off (minus padding); where the capture holds fewer
    bytes than the IP header announces (snaplen cut, or a writer that stored a short origlen),
    the IP-derived count, which is how the column is defined."""
    if ip_payload < header:
        return None
    body = layer.payload
    pad = body.getlayer(Padding)
    seen = len(bytes(body)) - (len(bytes(pad)) if pad is not None else 0)
    return max(seen, ip_payload - header) if seen < ip_payload - header else seen


def scapy_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    reader = RawPcapReader(str(path))
    for raw, meta in reader:
        if hasattr(meta, "tsresol"):
            link = meta.linktype
            ts = ((meta.tshigh << 32) | meta.tslow) * 10**9 // meta.tsresol
        else:
            link = reader.linktype
            ts = meta.sec * 10**9 + meta.usec * (1 if reader.nano else 1000)
        row: dict[str, Any] = dict.fromkeys(COMPARED)
        row.update(ts_ns=ts, caplen=len(raw), origlen=meta.wirelen, link_type=link & 0xFFFF)
        pkt = conf.l2types[link & 0xFFFF](raw)
        row["vlan_ids"] = [
            layer.vlan for layer in pkt.iterpayloads() if isinstance(layer, Dot1Q | Dot1AD)
        ]
        ip = pkt.getlayer(IP)
        ip6 = pkt.getlayer(IPv6)
        l4 = None
        if ip is not None and (ip6 is None or pkt.layers().index(IP) < pkt.layers().index(IPv6)):
            row.update(
                ip_version=4, src_addr=ip.src, dst_addr=ip.dst, ip_proto=ip.proto, ttl=ip.ttl,
                ip_total_len=ip.len, ip_id=ip.id, frag_offset=ip.frag,
                more_fragments=bool(ip.flags.MF), dont_fragment=bool(ip.flags.DF),
            )  # fmt: skip
            ip_payload = ip.len - ip.ihl * 4
            l4 = ip.payload if ip.frag == 0 else None
        elif ip6 is not None:
            row.update(
                ip_version=6, ttl=ip6.hlim, ip_total_len=ip6.plen + 40,
                src_addr=str(ipaddress.ip_address(ip6.src)),
                dst_addr=str(ipaddress.ip_address(ip6.dst)),
            )  # fmt: skip
            nh, layer, ip_payload = ip6.nh, ip6.payload, ip6.plen
            while isinstance(layer, EXT_HEADERS):
                ip_payload -= len(bytes(layer)) - len(bytes(layer.payload))
                if isinstance(layer, IPv6ExtHdrFragment):
                    row.update(ip_id=layer.id, frag_offset=layer.offset)
                    row["more_fragments"] = bool(layer.m)
                nh, layer = layer.nh, layer.payload
            row["ip_proto"] = nh
            l4 = layer if not row["frag_offset"] else None
        if isinstance(l4, TCP):
            row.update(
                src_port=l4.sport, dst_port=l4.dport, tcp_flags=int(l4.flags), tcp_seq=l4.seq,
                tcp_ack=l4.ack, tcp_window=l4.window, tcp_header_len=l4.dataofs * 4,
                tcp_sack_permitted=False,
            )  # fmt: skip
            for name, value in l4.options:
                if name == "MSS":
                    row["tcp_mss"] = value
                elif name == "WScale":
                    row["tcp_wscale"] = value
                elif name == "SAckOK":
                    row["tcp_sack_permitted"] = True
                elif name == "Timestamp":
                    row["tcp_tsval"], row["tcp_tsecr"] = value
            row["payload_len"] = _l4_payload_len(l4, ip_payload, l4.dataofs * 4)
        elif isinstance(l4, UDP):
            row.update(src_port=l4.sport, dst_port=l4.dport)
            row["payload_len"] = _l4_payload_len(l4, ip_payload, 8)
        elif isinstance(l4, ICMP) or (l4 is not None and row["ip_proto"] == 58):
            row.update(icmp_type=l4.type, icmp_code=l4.code)
        rows.append(row)
    reader.close()
    return rows


def our_rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for batch in read_batches(path, PcapOptions()):
        rows.extend(batch.table.to_pylist())
    return rows


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_field_matches_scapy(path: Path) -> None:
    ours, theirs = our_rows(path), scapy_rows(path)
    assert len(ours) == len(theirs)
    mismatches = []
    for mine, ref in zip(ours, theirs, strict=True):
        frame = mine["frame_number"]
        for column in COMPARED:
            if mine[column] != ref[column] and (path.name, frame, column) not in EXPLAINED:
                mismatches.append((frame, column, mine[column], ref[column]))
    assert mismatches == []


def test_captures_are_all_there() -> None:
    assert len(CAPTURES) >= 37
