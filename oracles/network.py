"""The reference tools the network marts are checked against, shared by the tests and
``bench/network_agreement.py``: tshark's ``tcp.analysis`` counts and initial RTT per capture,
DeepFlow's Kafka response times and status codes (its ``.result`` files beside the shared Kafka
captures), and a re-run of the Kafka notebook's broker jitter rule.

KNOWN_DIFFERENCES lists every place ours and tshark's differ, with the reason.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import duckdb

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GENERAL = SHARED / "pcap-general"
KAFKA = SHARED / "pcap-kafka"

METRICS = ("retransmission", "zero_window", "rst", "duplicate_ack", "out_of_order")
TSHARK_FIELDS = {
    "retransmission": "tcp.analysis.retransmission",
    "zero_window": "tcp.analysis.zero_window",
    "duplicate_ack": "tcp.analysis.duplicate_ack",
    "out_of_order": "tcp.analysis.out_of_order",
}

# capture -> metric -> (tshark, ours, why)
KNOWN_DIFFERENCES: dict[str, dict[str, tuple[int, int, str]]] = {
    "deepflow_xiangdao-retrans.pcap": {
        "retransmission": (
            0,
            3,
            "payloads were cut off and origlen rewritten (IP total length 652 > 52 bytes on the"
            " wire): tshark takes tcp.len = 0 for every segment, our reader takes the payload"
            " length from the IP header (the sender's real segment sizes)",
        ),
        "duplicate_ack": (2, 0, "same cause: with tcp.len = 0 tshark sees the repeats as ACKs"),
        "out_of_order": (0, 3, "same cause"),
    },
    "ndpi_ajp.pcap": {
        "retransmission": (
            2,
            0,
            "12 frames are Cisco FabricPath (eth:cfp:eth:vlan:ip:tcp) copies of the session;"
            " the packet reader does not decode FabricPath, tshark does and flags the copies",
        ),
        "out_of_order": (2, 0, "same cause (one copy, and frame 13 judged against a copy)"),
    },
}


def tshark_or_fail() -> str:
    path = shutil.which("tshark")
    if path is None:
        import pytest  # only tests ask for it this way

        if os.environ.get("CI") == "true":
            pytest.fail("tshark is required under CI (the oracle of the network marts)")
        pytest.skip("tshark not installed")
    return path


def captures(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.iterdir() if re.search(r"\.(pcap|pcapng|cap)(\.gz)?$", p.name)
    )


def tshark_tcp(tshark: str, path: Path) -> tuple[Counter[str], list[float]]:
    """Per-capture tcp.analysis counts and the initial RTT (ms) of each TCP stream."""
    fields = ["tcp.stream", "tcp.flags.reset", "tcp.analysis.initial_rtt"]
    fields += list(TSHARK_FIELDS.values())
    out = subprocess.run(
        [tshark, "-n", "-r", str(path), "-o", "tcp.analyze_sequence_numbers:TRUE"]
        + ["-o", "tcp.relative_sequence_numbers:FALSE", "-Y", "tcp", "-T", "fields"]
        + [arg for f in fields for arg in ("-e", f)]
        + ["-E", "separator=/t"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    counts: Counter[str] = Counter()
    rtts: dict[str, float] = {}
    for row in csv.reader(io.StringIO(out), delimiter="\t"):
        stream, reset, rtt, *flags = row
        counts["rst"] += reset in ("1", "True")
        for metric, value in zip(TSHARK_FIELDS, flags, strict=True):
            counts[metric] += bool(value)
        if rtt:
            rtts[stream] = float(rtt) * 1000
    return counts, sorted(rtts.values())


def our_tcp(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[Counter[str], list[float]]:
    row = con.execute(
        "select coalesce(sum(retransmission_packets), 0), coalesce(sum(zero_window_packets), 0),"
        " coalesce(sum(rst_packets), 0), coalesce(sum(duplicate_ack_packets), 0),"
        " coalesce(sum(out_of_order_packets), 0)"
        " from marts.fct_tcp_health where source_file = ?",
        [str(path.resolve())],
    ).fetchone()
    rtts = [
        r[0]
        for r in con.execute(
            "select initial_rtt_ms from marts.fct_tcp_handshakes"
            " where source_file = ? and initial_rtt_ms is not null order by 1",
            [str(path.resolve())],
        ).fetchall()
    ]
    return Counter(dict(zip(METRICS, map(int, row), strict=True))), rtts


def agreement_rows(con: duckdb.DuckDBPyConnection, tshark: str) -> list[dict]:
    """One row per general capture: tshark and our counts and RTTs side by side."""
    rows = []
    for path in captures(GENERAL):
        theirs, their_rtts = tshark_tcp(tshark, path)
        ours, our_rtts = our_tcp(con, path)
        rows.append(
            {"capture": path.name, "tshark": theirs, "ours": ours}
            | {"tshark_rtts": their_rtts, "our_rtts": our_rtts}
        )
    return rows


def rtts_equal(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 0.0015 for x, y in zip(a, b, strict=True))


RESULT_LINE = re.compile(
    r"msg_type: Response, correlation_id: Some\((\d+)\).*?api_key: (\w+),.*?rrt: (\d+)"
)


def deepflow_latencies(result: Path) -> list[tuple[int, str, int]]:
    """(correlation_id, API, rrt in µs) of every response in a DeepFlow .result file."""
    return sorted(
        (int(m[1]), m[2], int(m[3]))
        for m in map(RESULT_LINE.search, result.read_text().splitlines())
        if m
    )


def kafka_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rows = []
    for result in sorted(KAFKA.glob("*.result")):
        capture = result.with_suffix(".pcap")
        ours = sorted(
            (cid, api, round(ms * 1000))
            for cid, api, ms in con.execute(
                "select correlation_id, api_name, latency_to_first_byte_ms"
                " from marts.fct_kafka_requests where source_file = ? and has_response",
                [str(capture.resolve())],
            ).fetchall()
        )
        rows.append({"capture": capture.name, "deepflow": deepflow_latencies(result), "ours": ours})
    return rows


def deepflow_status_codes(result: Path) -> dict[int, int]:
    """correlation id -> DeepFlow's status_code of each response (-2: DeepFlow did not decode
    the API; not a Kafka error code)."""
    pattern = re.compile(
        r"msg_type: Response, correlation_id: Some\((\d+)\).*status_code: Some\((-?\d+)\)"
    )
    return {
        int(m.group(1)): int(m.group(2))
        for line in result.read_text().splitlines()
        if (m := pattern.search(line))
    }


def notebook_jitter_ms(paths: list[Path]) -> dict[tuple[str, int], float]:
    """The Kafka notebook's "Refined Network Jitter" per (addr, port) that sends TCP packets,
    re-run as it is written: the send times of every TCP packet from that address and port,
    files in name order and packets in capture order, gaps (ms) under 1000 kept, then the
    mean |change| between successive kept gaps. Senders with fewer than two kept gaps are
    absent (the notebook prints 0 or NaN for them)."""
    from scapy.all import IP, TCP, IPv6, PcapReader

    sent: dict[tuple[str, int], list[float]] = {}
    for path in sorted(paths, key=lambda p: p.name):
        with PcapReader(str(path)) as reader:
            for pkt in reader:
                layer = IP if IP in pkt else IPv6
                if layer in pkt and TCP in pkt:
                    sent.setdefault((pkt[layer].src, pkt[TCP].sport), []).append(float(pkt.time))
    out = {}
    for sender, times in sent.items():
        gaps = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
        kept = [g for g in gaps if g < 1000]
        changes = [abs(b - a) for a, b in itertools.pairwise(kept)]
        if changes:
            out[sender] = sum(changes) / len(changes)
    return out
