"""Bitcoin Core P2P `net` tracepoint CSVs as written by nix-bitcoin-monitor (FORMATS.md §1).

Daily files `tracepoints/net/YYYY-MM-DD.csv` (>= 1.7.0) or one `net.csv` (older layout).
`timestamp` is the poll time (UTC, second resolution); `size` is the payload size without
the 24-byte P2P header.

Preprocessed files (`timestamp,ipv6,flow,msg_type,size`, what the published analysis keeps
of the log: no peer, only whether the message went over IPv6) land in the same table with
NULL peer columns: estimates and rollups work on them, peer marts have nothing to show.
"""

from __future__ import annotations

from ingest.kinds.base import RawTable
from ingest.kinds.csvfile import csv_source

MESSAGES = RawTable(
    name="bitcoin_p2p_messages",
    columns={
        "timestamp": "TIMESTAMP",
        "peer_id": "BIGINT",
        "peer_conn_type": "VARCHAR",
        "peer_addr": "VARCHAR",
        "flow": "VARCHAR",
        "msg_type": "VARCHAR",
        "size": "BIGINT",
        "ipv6": "BOOLEAN",  # only in preprocessed files, which drop peer_addr
    },
    comment="Bitcoin Core net:inbound_message/outbound_message tracepoint rows, as logged.",
)

LAYOUTS = ("**/tracepoints/net/*", "**/net.csv*")

SOURCE = csv_source("tracepoints", (MESSAGES,), LAYOUTS)
