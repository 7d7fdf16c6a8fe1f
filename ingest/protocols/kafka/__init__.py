"""Kafka request and response headers from captures: API table, header parsing, and the
stream protocol that finds Kafka connections and turns message heads into rows."""

from ingest.protocols.kafka.apis import (
    API_VERSIONS_KEY,
    KAFKA_APIS,
    request_header_version,
    response_header_version,
)
from ingest.protocols.kafka.headers import (
    Header,
    Malformed,
    NeedMore,
    parse_request,
    parse_response,
)
from ingest.protocols.kafka.protocol import KAFKA_MESSAGES, KAFKA_PORTS, KafkaProtocol

__all__ = [
    "API_VERSIONS_KEY",
    "KAFKA_APIS",
    "KAFKA_MESSAGES",
    "KAFKA_PORTS",
    "Header",
    "KafkaProtocol",
    "Malformed",
    "NeedMore",
    "parse_request",
    "parse_response",
    "request_header_version",
    "response_header_version",
]
