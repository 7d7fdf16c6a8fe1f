"""The pcap input kind as `wirehouse ingest pcap` runs it: the packet reader and the
protocol extractors that share its pass over each file (the one place that names them)."""

from __future__ import annotations

from collections.abc import Callable

from ingest.capture.pcap import PacketExtractor, PcapOptions, make_source
from ingest.capture.tcp.streams import TcpStreams
from ingest.kinds.base import SourceKind
from ingest.protocols.bitcoin import BITCOIN_PORTS, BitcoinProtocol
from ingest.protocols.bluetooth import BluetoothExtractor
from ingest.protocols.kafka import KAFKA_PORTS, KafkaProtocol


def extractors(
    kafka_ports: tuple[int, ...] = KAFKA_PORTS, bitcoin_ports: tuple[int, ...] = BITCOIN_PORTS
) -> list[PacketExtractor]:
    """The extractors of one source (each keeps per-file state between feed and finish)."""
    return [
        TcpStreams([KafkaProtocol(kafka_ports), BitcoinProtocol(bitcoin_ports)]),
        BluetoothExtractor(),
    ]


def capture_source(
    kafka_ports: tuple[int, ...] = KAFKA_PORTS,
    bitcoin_ports: tuple[int, ...] = BITCOIN_PORTS,
    progress: Callable[[int], None] | None = None,
) -> SourceKind:
    return make_source(extractors(kafka_ports, bitcoin_ports), PcapOptions(progress=progress))


SOURCE = capture_source()
