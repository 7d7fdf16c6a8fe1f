"""Default well-known ports of the protocols found in captures (light: the CLI imports it)."""

KAFKA_PORTS = (9092,)
BITCOIN_PORTS = (8333,)
