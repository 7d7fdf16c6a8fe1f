"""A demo tshark export in the hourly cron layout, made from the demo capture's packets.

What a user's cron job leaves behind: one CSV per hour named by the Unix time of the hour's
first second, written by ``tshark -T fields -E header=y -E separator=,`` with the fields
``frame.time_relative,ip.src,tcp.srcport,udp.srcport,ip.dst,tcp.dstport,udp.dstport,frame.len``
(values bare, empty fields empty). Each hour replays the demo capture one to three times, so
the volume varies, at other minutes each hour (so no two files have the same bytes, which the
loader would take for one file); two hours have no file (the machine was offline).
Deterministic.
"""

from __future__ import annotations

from pathlib import Path

from ingest.capture.pcap import PcapOptions, read_batches

FIELDS = (
    "frame.time_relative",
    "ip.src",
    "tcp.srcport",
    "udp.srcport",
    "ip.dst",
    "tcp.dstport",
    "udp.dstport",
    "frame.len",
)
HOUR = 3600
REPLAY_EVERY = 600  # seconds between replays of the capture within one hour (+1 min per hour)
NS = 1_000_000_000


def _rows(capture: Path) -> list[tuple[int, str]]:
    """(ns since the capture's first packet, the other fields as CSV text) per packet."""
    rows: list[tuple[int, str]] = []
    for batch in read_batches(capture, PcapOptions()):
        cols = batch.table.select(
            ["ts_ns", "src_addr", "dst_addr", "ip_proto", "src_port", "dst_port", "origlen"]
        ).to_pylist()
        for c in cols:
            tcp, udp = c["ip_proto"] == 6, c["ip_proto"] == 17
            ports = [str(c["src_port"]) if x else "" for x in (tcp, udp)]
            ports += [str(c["dst_port"]) if x else "" for x in (tcp, udp)]
            values = [c["src_addr"] or "", ports[0], ports[1]]
            values += [c["dst_addr"] or "", ports[2], ports[3], str(c["origlen"])]
            rows.append((c["ts_ns"], ",".join(values)))
    first = rows[0][0] if rows else 0
    return [(ts - first, text) for ts, text in rows]


def generate(
    directory: Path,
    capture: Path,
    first_hour: int,
    hours: int = 8,
    missing: tuple[int, ...] = (3, 4),
) -> list[Path]:
    """Write `hours` hourly files from `first_hour` (Unix time) but the `missing` ones."""
    rows = _rows(capture)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for k in range(hours):
        if k in missing:
            continue
        start = first_hour + k * HOUR
        path = directory / f"{start}.csv"
        with path.open("w", newline="\n") as out:
            out.write(",".join(FIELDS) + "\n")
            for replay in range(1 + k % 3):
                for rel_ns, text in rows:
                    # frame.time_relative counts from the file's first packet, at the hour start
                    rel = replay * (REPLAY_EVERY + 60 * k) * NS + rel_ns
                    out.write(f"{rel // NS}.{rel % NS:09d},{text}\n")
        written.append(path)
    return written
