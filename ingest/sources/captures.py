"""The pcap input kind as `wirehouse ingest pcap` runs it: the packet reader and the
protocol extractors that share its pass over each file (the one place that names them)."""

from __future__ import annotations

from collections.abc import Callable

from ingest.sources.base import SourceKind
from ingest.sources.kafka import KAFKA_PORTS, KafkaExtractor
from ingest.sources.pcap import PacketExtractor, PcapOptions, make_source


def extractors(kafka_ports: tuple[int, ...] = KAFKA_PORTS) -> list[PacketExtractor]:
    """A fresh set of extractors (they hold per-file state)."""
    return [KafkaExtractor(kafka_ports)]


def capture_source(
    kafka_ports: tuple[int, ...] = KAFKA_PORTS, progress: Callable[[int], None] | None = None
) -> SourceKind:
    return make_source(extractors(kafka_ports), PcapOptions(progress=progress))


SOURCE = capture_source()
