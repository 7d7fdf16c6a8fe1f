"""Capture layers, with no protocol knowledge: the pcap/pcapng container reader and packet
dissection (``pcap``), and TCP stream reassembly (``tcp``) that protocols plug into."""
