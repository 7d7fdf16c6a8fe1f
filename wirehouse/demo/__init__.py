"""Realistic demo data made by our own code: Bitcoin nodes' CSVs, a Kafka broker's capture and
its tshark export, a Bitcoin peer's capture, a Bluetooth sniff; and `make demo`'s closing words."""
