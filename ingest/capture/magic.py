"""The first bytes of a capture file: what the pcap reader dispatches on, and what tells a
CSV kind that it was handed a capture (kept apart from the reader, which pulls in numpy)."""

PCAP_MAGICS = {  # first 4 bytes -> (big endian, ns per fraction unit, record header length)
    b"\xd4\xc3\xb2\xa1": (False, 1000, 16),
    b"\xa1\xb2\xc3\xd4": (True, 1000, 16),
    b"\x4d\x3c\xb2\xa1": (False, 1, 16),
    b"\xa1\xb2\x3c\x4d": (True, 1, 16),
    b"\x34\xcd\xb2\xa1": (False, 1000, 24),  # Kuznetzov "modified pcap"
    b"\xa1\xb2\xcd\x34": (True, 1000, 24),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


def is_capture(head: bytes) -> bool:
    """Whether these first bytes start a pcap or pcapng file."""
    return head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_MAGIC
