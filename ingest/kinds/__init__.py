"""Input kinds, by the word the CLI uses (`wirehouse ingest <kind> PATH...`)."""

from __future__ import annotations

from ingest.kinds.base import SourceKind


def registry() -> dict[str, SourceKind]:
    # Imported here so `wirehouse --help` stays fast and one broken source cannot hide the others.
    from ingest.kinds import pcap, systemd, tracepoints, tshark

    kinds = [tracepoints.SOURCE, systemd.SOURCE, pcap.SOURCE, tshark.SOURCE]
    return {k.kind: k for k in kinds}
