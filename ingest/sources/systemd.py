"""systemd IP-accounting samples of bitcoind.service from nix-bitcoin-monitor (FORMATS.md §2).

Daily files `systemd/ip_accounting/YYYY-MM-DD.csv` or one `ip_accounting.csv`. Values are
cumulative counters since the unit's accounting started. A row with only a timestamp means
accounting was off or systemctl failed: it lands with NULL counters (a visible gap).
Published derivatives lack the packet columns; those land as NULL.
"""

from __future__ import annotations

from ingest.sources.base import RawTable
from ingest.sources.csvfile import csv_source

SAMPLES = RawTable(
    name="systemd_ip_accounting_samples",
    columns={
        "timestamp": "TIMESTAMP",
        "IPIngressPackets": "BIGINT",
        "IPEgressPackets": "BIGINT",
        "IPIngressBytes": "BIGINT",
        "IPEgressBytes": "BIGINT",
    },
    comment="bitcoind.service IP accounting counters (cumulative), sampled every 5 s.",
)

LAYOUTS = ("**/systemd/ip_accounting/*", "**/ip_accounting.csv*")

SOURCE = csv_source("systemd", SAMPLES, LAYOUTS)
