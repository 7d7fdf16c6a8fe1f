"""Deterministic benchmark inputs, generated once into bench/.data/ (git-ignored).

- Bitcoin node folders: `wirehouse demo-data` (tracepoints + systemd), by days/scale/seed.
- A mixed capture: bench_pcap's template mix (TCP with/without options, UDP, IPv6, VLAN).
- A Kafka-heavy capture: the demo broker capture (wirehouse.demo.pcap, written with scapy)
  repeated, each copy 90 s later and on new client ports, so every copy is new connections
  with whole request/response streams.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np

from bench.harness import BIN, ROOT

DATA = ROOT / "bench" / ".data"
ROWS_PER_DAY_AT_SCALE_1 = 1_833_000  # wirehouse demo-data, 60 peers


def node_folder(name: str, days: int, scale: float, seed: int) -> Path:
    """A nix-bitcoin-monitor result folder (tracepoints/net, systemd/ip_accounting)."""
    path = DATA / name
    done = path / ".done"
    wanted = f"{days} {scale} {seed}"
    if done.exists() and done.read_text() == wanted:
        return path
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(
        [BIN / "wirehouse", "demo-data", path, "--days", str(days), "--scale", str(scale),
         "--seed", str(seed), "--no-capture"],
        check=True, capture_output=True,
    )  # fmt: skip
    done.write_text(wanted)
    return path


def scale_for(rows_per_day: float) -> float:
    return round(rows_per_day / ROWS_PER_DAY_AT_SCALE_1, 4)


def day_files(folder: Path, day: int) -> list[Path]:
    """The tracepoint and systemd files of the day-th day (0-based) of a folder."""
    files = []
    for sub in ("tracepoints/net", "systemd/ip_accounting"):
        files.append(sorted((folder / sub).glob("*.csv"))[day])
    return files


def link_days(folder: Path, inbox: Path, days: range, node: str = "tau") -> None:
    """Make days of `folder` appear in `inbox/<node>/...` (symlinks: no copy of GBs)."""
    for day in days:
        for src in day_files(folder, day):
            dst = inbox / node / src.parent.relative_to(folder) / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                dst.symlink_to(src)


def mixed_capture(packets: int) -> Path:
    from bench import bench_pcap

    path = DATA / f"mixed-{packets}.pcap"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        bench_pcap.generate(path, packets, pcapng=False)
    return path


def kafka_capture(packets: int) -> Path:
    path = DATA / f"kafka-{packets}.pcap"
    if path.exists():
        return path
    base = DATA / "kafka-broker-demo.pcap"
    if not base.exists():
        from wirehouse.demo import pcap as demo_pcap

        DATA.mkdir(parents=True, exist_ok=True)
        demo_pcap.generate(base, seed=1)
    raw = base.read_bytes()
    header, body = raw[:24], raw[24:]
    ts_offsets, port_offsets, ports, pos = [], [], [], 0
    while pos < len(body):
        _, _, caplen, _ = struct.unpack_from("<IIII", body, pos)
        frame = pos + 16
        ts_offsets.append(pos)
        # Ethernet + IPv4 + TCP (the demo writes no options, no VLANs): the client port is
        # the one that is not the broker's
        if body[frame + 12 : frame + 14] == b"\x08\x00" and body[frame + 23] == 6:
            l4 = frame + 14 + (body[frame + 14] & 0x0F) * 4
            src, dst = struct.unpack_from(">HH", body, l4)
            offset = l4 if dst == 9092 else l4 + 2
            port_offsets.append(offset)
            ports.append(src if dst == 9092 else dst)
        pos = frame + caplen
    cycle = np.frombuffer(body, np.uint8)
    per_cycle = len(ts_offsets)
    tiles = -(-packets // per_cycle)
    out = np.tile(cycle, (tiles, 1))
    shift = np.arange(tiles, dtype=np.int64) * 90
    for off in ts_offsets:
        secs = struct.unpack_from("<I", body, off)[0] + shift
        out[:, off : off + 4] = secs.astype("<u4").view(np.uint8).reshape(tiles, 4)
    for off, port in zip(port_offsets, ports, strict=True):
        new = 20000 + (port - 20000 + 37 * np.arange(tiles)) % 40000
        out[:, off : off + 2] = new.astype(">u2").view(np.uint8).reshape(tiles, 2)
    path.write_bytes(header + out.tobytes())
    return path
