# ruff: noqa: E501 - the template packets and the table header read best on one line each
"""Packets/s and peak memory of the pcap reader against scapy, dpkt, tshark and a bare read.

    .venv/bin/python bench/bench_pcap.py [--packets 1000000] [--out bench/results/pcap.md]

Generates classic pcap and pcapng captures (a realistic mix: TCP with and without options,
UDP, IPv4, IPv6, 802.1Q) by writing a few scapy template packets and replicating records with
numpy, then runs every contender in its own subprocess so ``ru_maxrss`` is its own peak.
Slow contenders (scapy, dpkt, tshark) read a smaller capture and their rate is extrapolated.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "bench" / "out"
T0 = 1_700_000_000


def templates() -> list[bytes]:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Dot1Q, Ether

    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    ts = [("NOP", None), ("NOP", None), ("Timestamp", (1, 2))]
    pkts = [
        eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=443, flags="PA", options=ts) / (b"a" * 1200),
        eth / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=443, dport=40000, flags="A", options=ts),
        eth / IP(src="10.0.0.1", dst="8.8.8.8") / UDP(sport=5353, dport=53) / (b"q" * 40),
        eth / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=40001, dport=9092, flags="PA") / (b"k" * 300),
        eth / IPv6(src="2001:db8::2", dst="2001:db8::1") / UDP(sport=443, dport=40002) / (b"u" * 100),
        eth / Dot1Q(vlan=42) / IP(src="192.168.1.1", dst="192.168.1.2") / TCP(sport=22, dport=50000, flags="A"),
        eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=443, flags="S", options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]),
        eth / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=443, dport=40000, flags="A"),
    ]  # fmt: skip
    return [bytes(p) for p in pkts]


def _cycle(frames: list[bytes], pcapng: bool) -> tuple[bytes, list[int]]:
    """One record per template; returns the bytes and the offsets of each timestamp field."""
    data, ts_offsets = b"", []
    for k, frame in enumerate(frames):
        if pcapng:
            pad = b"\0" * (-len(frame) % 4)
            blen = 32 + len(frame) + len(pad)
            ts_offsets.append(len(data) + 12)
            units = k  # µs; the high word stays 0 within a cycle, tiles add seconds below
            data += struct.pack("<IIIIIII", 6, blen, 0, 0, units, len(frame), len(frame))
            data += frame + pad + struct.pack("<I", blen)
        else:
            ts_offsets.append(len(data))
            data += struct.pack("<IIII", 0, k, len(frame), len(frame)) + frame
    return data, ts_offsets


def generate(path: Path, packets: int, pcapng: bool) -> Path:
    frames = templates() * 16  # cycle of 128 packets
    cycle, ts_offsets = _cycle(frames, pcapng)
    tiles = -(-packets // len(frames))
    body = np.tile(np.frombuffer(cycle, np.uint8), (tiles, 1))
    for off in ts_offsets:
        if pcapng:  # EPB timestamp high/low in µs units: tile index -> seconds
            units = (np.arange(tiles, dtype=np.uint64) + T0) * 1_000_000 + (off % 1000)
            hi = (units >> np.uint64(32)).astype("<u4").view(np.uint8).reshape(tiles, 4)
            lo = (units & np.uint64(0xFFFFFFFF)).astype("<u4").view(np.uint8).reshape(tiles, 4)
            body[:, off : off + 4] = hi
            body[:, off + 4 : off + 8] = lo
        else:
            secs = (np.arange(tiles, dtype=np.uint32) + T0).astype("<u4")
            body[:, off : off + 4] = secs.view(np.uint8).reshape(tiles, 4)
    if pcapng:
        shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
        idb = struct.pack("<IIHHII", 1, 20, 1, 0, 0, 20)
        head = shb + idb
    else:
        head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    with path.open("wb") as f:
        f.write(head)
        f.write(body.tobytes())
    return path


# --- contenders: each runs in a fresh interpreter and prints {"packets": n, "seconds": s} ---


def run_ours(path: Path) -> int:
    from ingest.sources.pcap import PcapOptions, read_batches

    return sum(b.table.num_rows for b in read_batches(path, PcapOptions()))


def run_ours_duckdb(path: Path) -> int:
    import tempfile

    from ingest.db import Warehouse
    from ingest.sources.captures import SOURCE

    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "w.duckdb") as wh:
        wh.ensure_tables(SOURCE.tables)
        return wh.ingest_file(path, SOURCE).rows


def run_bare(path: Path) -> int:
    buf = bytearray(16 << 20)
    with path.open("rb") as f:
        while f.readinto(buf):
            pass
    return 0


def run_scapy(path: Path, limit: int) -> int:
    from scapy.layers.inet import IP, TCP
    from scapy.utils import PcapReader

    n = 0
    for pkt in PcapReader(str(path)):
        ip = pkt.getlayer(IP)
        if ip is not None and pkt.haslayer(TCP):
            _ = (ip.src, ip.dst, pkt[TCP].sport, pkt[TCP].seq)
        n += 1
        if n >= limit:
            break
    return n


def run_dpkt(path: Path, limit: int) -> int:
    import dpkt

    n = 0
    with path.open("rb") as f:
        reader = dpkt.pcapng.Reader(f) if path.suffix == ".pcapng" else dpkt.pcap.Reader(f)
        for _ts, buf in reader:
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) and isinstance(ip.data, dpkt.tcp.TCP):
                _ = (ip.src, ip.dst, ip.data.sport, ip.data.seq)
            n += 1
            if n >= limit:
                break
    return n


def run_tshark(path: Path) -> int:
    fields = ["frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
              "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.flags", "udp.srcport", "udp.dstport"]  # fmt: skip
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields"]
    for field in fields:
        cmd += ["-e", field]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    return out.count(b"\n")


def child(name: str, path: Path, limit: int) -> None:
    start = time.perf_counter()
    runners = {
        "ours": lambda: run_ours(path),
        "ours+duckdb": lambda: run_ours_duckdb(path),
        "bare read": lambda: run_bare(path),
        "scapy": lambda: run_scapy(path, limit),
        "dpkt": lambda: run_dpkt(path, limit),
        "tshark": lambda: run_tshark(path),
    }
    if name.startswith("ours"):  # load the compiled kernels first: JIT start-up is not throughput
        run_ours(OUT_DIR / "warmup.pcap")
        start = time.perf_counter()
    n = runners[name]()
    seconds = time.perf_counter() - start
    # VmHWM is this process's own peak (ru_maxrss would include what fork inherited);
    # for tshark, RUSAGE_CHILDREN is the peak of the tshark process
    status = Path("/proc/self/status").read_text().splitlines()
    own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if name == "tshark" else 0
    print(json.dumps({"packets": n, "seconds": seconds, "maxrss_kb": max(own, kids)}))


def measure(name: str, path: Path, limit: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--child", name, str(path), str(limit)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000, help="packets for slow contenders")
    parser.add_argument("--scapy", type=int, default=20_000, help="packets scapy reads")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pcap.md")
    parser.add_argument("--child", nargs=3, metavar=("NAME", "PATH", "LIMIT"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), int(args.child[2]))
        return

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    generate(OUT_DIR / "warmup.pcap", 1000, pcapng=False)
    lines = [
        "# pcap reader benchmark",
        "",
        f"`bench/bench_pcap.py --packets {args.packets}` on {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}, 2 cores; "
        "one process per contender, single-threaded; peak RSS = the contender's VmHWM (tshark: its ru_maxrss). "
        f"scapy reads the first {args.scapy:,} packets and dpkt/tshark a {args.small:,}-packet "
        "capture of the same mix; their packets/s are extrapolated. 'ours' = Arrow batches "
        "(all columns) from the file; 'ours+duckdb' = the whole ingest into a DuckDB table.",
        "",
        "| format | contender | packets | seconds | packets/s | MB/s | peak RSS MB | ours is x faster |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for fmt in ("pcap", "pcapng"):
        big = generate(OUT_DIR / f"bench.{fmt}", args.packets, pcapng=fmt == "pcapng")
        small = generate(OUT_DIR / f"small.{fmt}", args.small, pcapng=fmt == "pcapng")
        size_per_packet = big.stat().st_size / args.packets
        contenders = [("ours", big, 0), ("ours+duckdb", big, 0), ("bare read", big, 0),
                      ("scapy", big, args.scapy), ("dpkt", small, args.small)]  # fmt: skip
        if shutil.which("tshark"):
            contenders.append(("tshark", small, 0))
        results = {}
        for name, path, limit in contenders:
            r = measure(name, path, limit)
            n = r["packets"] or args.packets  # the bare read counts bytes, not packets
            r["rate"] = n / r["seconds"]
            r["n"] = n
            results[name] = r
            print(fmt, name, f"{r['rate']:,.0f} packets/s", file=sys.stderr)
        ours = results["ours"]["rate"]
        for name, r in results.items():
            mb_s = r["rate"] * size_per_packet / 1e6
            ratio = "-" if name == "ours" else f"{ours / r['rate']:.2f}"
            lines.append(
                f"| {fmt} | {name} | {r['n']:,} | {r['seconds']:.2f} | {r['rate']:,.0f} | "
                f"{mb_s:,.0f} | {r['maxrss_kb'] / 1024:,.0f} | {ratio} |"
            )
    lines += ["", f"Mean packet size {size_per_packet:.0f} bytes on disk (record header included)."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
