"""Load time and peak memory of Bluetooth sniffs through `wirehouse ingest pcap`, beside tshark.

    .venv/bin/python bench/bench_bluetooth.py [--packets 1000000] [--out bench/results/bluetooth.md]

Builds two captures of ``--packets`` packets each from the demo sniff (wirehouse/demo/bluetooth.py,
written with scapy): its BLE (DLT 256) and BR/EDR (DLT 255) files are replicated record by
record, each copy shifted by the demo's length, so the result is one long realistic sniff.
Then, one process per contender so each peak RSS is its own (GNU time's maximum RSS):

- ``wirehouse ingest``: the whole load (container walk, scapy decoding, DuckDB insert);
- ``extract only``: the same decoding with the rows thrown away (no DuckDB), which shows what
  the decoding itself holds in memory;
- ``tshark``: tshark 4.0 printing the fields we decode (btle / btbredr_rf), on the first
  ``--tshark-packets`` packets; its rate is extrapolated.
"""

from __future__ import annotations

import argparse
import platform
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent
DEMO_SECONDS = 120
TSHARK_FIELDS = {
    "ble": ["btle.access_address", "btle.advertising_header.pdu_type", "btle.data_header.llid",
            "btle.advertising_address", "btle.crc.incorrect", "btle_rf.channel"],
    "bredr": ["btbredr_rf.lower_address_part", "btbredr_rf.packet_header.type",
              "btbredr_rf.rf_channel", "btbredr_rf.signal_power"],
}  # fmt: skip


EXTRACT_ONLY = """
import sys
from pathlib import Path
from ingest.capture import pcap
from ingest.kinds.base import Extraction
for _table, _data in pcap.extract(Path(sys.argv[1]), None, Extraction()):
    pass
"""


def records(path: Path) -> tuple[bytes, list[tuple[int, int, bytes]]]:
    """The 24-byte file header and (sec, frac, record body) of every record of a pcap."""
    data = path.read_bytes()
    header, pos, out = data[:24], 24, []
    while pos < len(data):
        sec, frac, incl, _orig = struct.unpack_from("<IIII", data, pos)
        out.append((sec, frac, data[pos + 8 : pos + 16 + incl]))
        pos += 16 + incl
    return header, out


def replicate(source: Path, target: Path, packets: int) -> int:
    """Copies of ``source``'s records, each copy DEMO_SECONDS later, up to ``packets``."""
    header, recs = records(source)
    written, copy = 0, 0
    with target.open("wb") as f:
        f.write(header)
        while written < packets:
            take = recs[: packets - written]
            for sec, frac, body in take:
                f.write(struct.pack("<II", sec + copy * DEMO_SECONDS, frac) + body)
            written += len(take)
            copy += 1
    return written


def timed(cmd: list[str | Path]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one command, from GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", "-o", out.name, *map(str, cmd)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seconds, kb = out.read().split()[-2:]
    return float(seconds), int(kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--kinds", default="ble,bredr", help="which sniffs: ble, bredr")
    parser.add_argument("--tshark-packets", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bluetooth.md")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from wirehouse.demo import bluetooth as demo_bluetooth

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    demo = OUT_DIR / "bt-demo"
    demo_bluetooth.generate(demo, seed=1, seconds=DEMO_SECONDS)
    rows = []
    for kind, name in (("ble", "ble.pcap"), ("bredr", "bredr.pcap")):
        if kind not in args.kinds.split(","):
            continue
        big = OUT_DIR / f"bt-{kind}-{args.packets}.pcap"
        n = replicate(demo / name, big, args.packets)
        small = OUT_DIR / f"bt-{kind}-{args.tshark_packets}.pcap"
        n_small = replicate(demo / name, small, args.tshark_packets)
        db = OUT_DIR / f"bt-{kind}.duckdb"
        db.unlink(missing_ok=True)
        seconds, rss = timed([BIN / "wirehouse", "ingest", "pcap", big, "--db", db])
        rows.append((kind, "wirehouse ingest pcap", n, seconds, rss, big.stat().st_size))
        seconds, rss = timed([sys.executable, "-c", EXTRACT_ONLY, big])
        rows.append((kind, "extract only (no DuckDB)", n, seconds, rss, big.stat().st_size))
        fields = [a for f in TSHARK_FIELDS[kind] for a in ("-e", f)]
        seconds, rss = timed(["tshark", "-n", "-r", small, "-T", "fields", *fields])
        rows.append((kind, "tshark -T fields", n_small, seconds, rss, small.stat().st_size))
        db.unlink()
    lines = [
        "# Bluetooth sniff benchmark",
        "",
        f"`bench/bench_bluetooth.py --packets {args.packets}` on {platform.machine()},"
        f" CPython {platform.python_version()}; one process per contender, peak RSS from GNU"
        " time. Captures: the demo sniff's BLE (DLT 256) and BR/EDR (DLT 255) files replicated"
        f" to {args.packets:,} packets each. tshark reads the first"
        f" {args.tshark_packets:,} packets; its rate is extrapolated.",
        "",
        "| capture | contender | packets | seconds | packets/s | MB/s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for kind, who, n, seconds, rss, size in rows:
        lines.append(
            f"| {kind} | {who} | {n:,} | {seconds:.1f} | {n / seconds:,.0f}"
            f" | {size / seconds / 1e6:.2f} | {rss:.0f} |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
