"""Agreement tables of the network marts: tshark (TCP health, initial RTT) and DeepFlow (Kafka).

Usage: ``python bench/network_agreement.py WAREHOUSE.duckdb > bench/results/network_agreement.md``
with the shared general and Kafka captures ingested and ``dbt build -s staging.pcap+`` run.
The comparison code is shared with the pytest (oracles/network.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import duckdb

from oracles.network import (
    KNOWN_DIFFERENCES,
    METRICS,
    agreement_rows,
    kafka_rows,
    rtts_equal,
)


def main(db: str) -> None:
    con = duckdb.connect(db, read_only=True)
    tshark = shutil.which("tshark") or sys.exit("tshark not installed")
    version = subprocess.run([tshark, "--version"], capture_output=True, text=True).stdout
    print("# Network marts vs tshark and DeepFlow\n")
    print(f"tshark: {version.splitlines()[0]}; `-o tcp.analyze_sequence_numbers:TRUE`.")
    print("Cells: tshark / ours; initial RTT: tshark streams with a value / ours, in ms.\n")
    print("## TCP health and initial RTT, every capture in pcap-general\n")
    print("| capture | " + " | ".join(METRICS) + " | initial_rtt (ms) | agree |")
    print("|---|" + "---|" * (len(METRICS) + 2))
    notes = []
    for row in agreement_rows(con, tshark):
        cells = [f"{row['tshark'][m]} / {row['ours'][m]}" for m in METRICS]
        t, o = row["tshark_rtts"], row["our_rtts"]
        rtt = (
            "-"
            if not t and not o
            else f"{len(t)} / {len(o)}"
            + (f": {t[0]:.3f} / {o[0]:.3f}" if len(t) == 1 and len(o) == 1 else "")
        )
        same = all(row["tshark"][m] == row["ours"][m] for m in METRICS) and rtts_equal(t, o)
        known = KNOWN_DIFFERENCES.get(row["capture"], {})
        for metric, (_, _, why) in known.items():
            notes.append(f"- `{row['capture']}` {metric}: {why}")
        verdict = "yes" if same else ("explained" if known else "NO")
        print(f"| {row['capture']} | " + " | ".join(cells) + f" | {rtt} | {verdict} |")
    print("\nRTT values agree per stream to the microsecond (pytest tolerance 1.5 µs).\n")
    print("Differences:\n")
    print("\n".join(notes))
    print("\n## Kafka latency vs DeepFlow `.result` (rrt, µs)\n")
    print("| capture | correlation id | API | DeepFlow rrt | ours | agree |")
    print("|---|---|---|---|---|---|")
    for row in kafka_rows(con):
        ours = {cid: us for cid, _, us in row["ours"]}
        for cid, api, rrt in row["deepflow"]:
            got = ours.get(cid)
            print(
                f"| {row['capture']} | {cid} | {api} | {rrt} | {got} | "
                f"{'yes' if got == rrt else 'NO'} |"
            )
    print(
        "\nOurs = `fct_kafka_requests.latency_to_first_byte_ms` (last request byte to first"
        " response byte). The Fetch rows (~500 ms) are long polls: fetch_max_wait_ms = 500."
        " `ndpi_kafka.pcapng` has no .result file: 14 requests, 11 answered, 3 unanswered"
        " at capture end (see fct_kafka_requests)."
    )


if __name__ == "__main__":
    main(sys.argv[1])
