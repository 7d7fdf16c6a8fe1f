"""The demo capture holds what the network marts are about, and our reader reads it whole."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.db import Warehouse
from ingest.demo_pcap import generate
from ingest.sources.captures import SOURCE


def test_demo_capture_has_kafka_and_tcp_events(tmp_path: Path) -> None:
    path = tmp_path / "kafka-broker.pcap"
    packets = generate(path, seconds=8, seed=2)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables(SOURCE.tables)
        result = wh.ingest_file(path, SOURCE)
    assert result.status == "loaded"
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("select count(*) from raw.pcap_packets").fetchone() == (packets,)
    assert con.execute(
        "select count(*) from raw.pcap_packets where malformed is not null"
    ).fetchone() == (0,)
    kafka = dict(
        con.execute(
            "select api_key, count(*) from raw.pcap_kafka_messages where is_request group by 1"
        ).fetchall()
    )
    assert kafka[18] == 2 and kafka[3] == 2 and kafka[0] > 10 and kafka[1] > 3
    unanswered = con.execute(
        "select count(*) from raw.pcap_kafka_messages where is_request and correlation_id"
        " not in (select correlation_id from raw.pcap_kafka_messages where not is_request)"
    ).fetchone()
    assert unanswered == (0,)
    # one RST (consumer), a zero-window advertisement, a retransmitted Produce segment
    assert con.execute(
        "select count(*) from raw.pcap_packets where tcp_flags & 4 > 0"
    ).fetchone() == (1,)
    assert con.execute(
        "select count(*) from raw.pcap_packets where tcp_window = 0 and tcp_flags & 7 = 0"
    ).fetchone() == (1,)
    assert con.execute(
        "select count(*) from (select src_port, tcp_seq, payload_len from raw.pcap_packets"
        " where ip_proto = 6 and payload_len > 0 group by all having count(*) > 1)"
    ).fetchone() == (1,)
