"""Protocols plugged into the capture layers: Kafka and Bitcoin v1 framers on TCP streams,
Bluetooth BR/EDR and LE decoders on their link types; their default ports in ``ports``."""
