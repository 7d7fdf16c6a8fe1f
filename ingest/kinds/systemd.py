"""systemd IP-accounting samples of bitcoind.service from nix-bitcoin-monitor (FORMATS.md §2).

Daily files `systemd/ip_accounting/YYYY-MM-DD.csv` or one `ip_accounting.csv`. Values are
cumulative counters since the unit's accounting started. A row with only a timestamp means
accounting was off or systemctl failed: it lands with NULL counters (a visible gap).
Published derivatives lack the packet columns; those land as NULL.

Preprocessed files hold the same columns already differenced into bytes per 5-s interval
(pandas `diff()`: floats such as `15828.0`, negative across a restart). They land in their
own table, so a delta is never read as a counter. The form is detected from the first
values (decimal points or negative numbers mean deltas) and can be forced with
`--counters cumulative|deltas`; the manifest note says which form was read.
"""

from __future__ import annotations

from functools import partial

from ingest.kinds.base import Extraction, RawTable, SourceKind
from ingest.kinds.csvfile import Head, csv_source

COUNTERS = ("IPIngressPackets", "IPEgressPackets", "IPIngressBytes", "IPEgressBytes")
FORMS = ("auto", "cumulative", "deltas")

SAMPLES = RawTable(
    name="systemd_ip_accounting_samples",
    columns={"timestamp": "TIMESTAMP", **dict.fromkeys(COUNTERS, "BIGINT")},
    comment="bitcoind.service IP accounting counters (cumulative), sampled every 5 s.",
)
INTERVALS = RawTable(
    name="systemd_ip_accounting_intervals",
    columns={"timestamp": "TIMESTAMP", **dict.fromkeys(COUNTERS, "DOUBLE")},
    comment=(
        "bitcoind.service IP accounting already differenced into bytes and packets per"
        " sampling interval (ending at timestamp), as preprocessed files hold them."
    ),
)

LAYOUTS = ("**/systemd/ip_accounting/*", "**/ip_accounting.csv*")


def pick_table(head: Head, report: Extraction, form: str) -> RawTable:
    """The table for this file: forced by `form`, else detected from its first values."""
    if form == "cumulative":
        return SAMPLES
    if form == "deltas":
        report.notes.append("counters read as per-interval deltas (--counters deltas)")
        return INTERVALS
    columns = [i for i, name in enumerate(head.names) if name in COUNTERS]
    sample = [row[i].strip() for row in head.rows for i in columns if i < len(row) and row[i]]
    deltas = [v for v in sample if "." in v or v.startswith("-") or "e" in v.lower()]
    if sample and len(deltas) * 2 > len(sample):
        report.notes.append(
            f"counters read as per-interval deltas (values like {deltas[0]!r});"
            " force the form with --counters cumulative|deltas"
        )
        return INTERVALS
    return SAMPLES


def make_source(form: str = "auto") -> SourceKind:
    if form not in FORMS:
        raise ValueError(f"counter form must be one of {', '.join(FORMS)}")
    return csv_source("systemd", (SAMPLES, INTERVALS), LAYOUTS, partial(pick_table, form=form))


SOURCE = make_source()
