"""TCP streams between the packet reader and protocol extractors (no protocol knowledge)."""

from ingest.capture.tcp.segment import ACK, FIN, PSH, RST, SYN, Segment, iter_tcp_segments, segments

__all__ = ["ACK", "FIN", "PSH", "RST", "SYN", "Segment", "iter_tcp_segments", "segments"]
