"""Input kinds, by the word the CLI uses (`wirehouse ingest <kind> PATH...`)."""

from __future__ import annotations

from ingest.sources.base import SourceKind


def registry() -> dict[str, SourceKind]:
    # Imported here so `wirehouse --help` stays fast and one broken source cannot hide the others.
    from ingest.sources import captures, systemd, tracepoints, tshark

    kinds = [tracepoints.SOURCE, systemd.SOURCE, captures.SOURCE, tshark.SOURCE]
    return {k.kind: k for k in kinds}
