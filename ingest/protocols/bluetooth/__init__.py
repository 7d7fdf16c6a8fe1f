"""Bluetooth captures: BR/EDR baseband and BLE link-layer packets, decoded inside
``wirehouse ingest pcap`` (chosen by link type, same command, same single pass).

Formats (../shared/FORMATS.md §3)
    - DLT 255 LINKTYPE_BLUETOOTH_BREDR_BB: libbtbb's 22-byte pseudo-header, then the payload.
    - DLT 1 Ethernet frames with ethertype 0xfff0: the older Kismet/libbtbb layout (source MAC
      NAP:UAP:LAP; a meta header with the master clock and the packet header when decoded).
    - DLT 256 LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR (10-byte RF header), DLT 251 (bare air
      packet), DLT 192 PPI with a BTLE field (the Ubertooth's older BLE output).

Layers
    ``layers.py`` holds the scapy layers scapy lacks (BR/EDR pseudo-header with its packet
    header; the legacy meta header); BLE uses scapy's own ``bluetooth4LE``. ``bredr.py`` and
    ``le.py`` turn one packet into one row; ``extractor.py`` plugs them into the pcap reader's
    batches (``BluetoothExtractor``). Rows land in ``raw.bluetooth_bredr_packets`` and
    ``raw.bluetooth_le_packets``, keyed like ``raw.pcap_packets`` (source file, frame_number),
    which keeps every packet's time and lengths as for any capture.

What is decoded where
    Python decodes fields as they are on the wire (codes, flags, addresses, HEC and CRC
    checks); names (packet types, PDU types), ID packets, the master/slave direction and all
    counting are dbt models (models/*/bluetooth).
    Malformed packets are data: the row keeps what decoded and ``malformed`` says what did not;
    the file's manifest note counts them.
"""

from ingest.protocols.bluetooth.extractor import BREDR_PACKETS, LE_PACKETS, BluetoothExtractor

__all__ = ["BREDR_PACKETS", "LE_PACKETS", "BluetoothExtractor"]
