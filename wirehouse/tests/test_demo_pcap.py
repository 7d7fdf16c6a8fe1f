"""The demo capture holds what the network marts are about, and our reader reads it whole."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingest.kinds.pcap import SOURCE
from ingest.loader.warehouse import Warehouse
from wirehouse.demo.pcap import generate


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


@pytest.mark.integration
def test_demo_bitcoin_capture_matches_the_peer_s_tracepoints(tmp_path: Path) -> None:
    from wirehouse.demo import bitcoin as demo
    from wirehouse.demo.pcap import generate_bitcoin, pick_peer

    demo.generate(tmp_path, days=1, peers=20, scale=0.2, seed=3)
    peer, logged = pick_peer(tmp_path)
    path = tmp_path / "captures" / "bitcoin-node.pcap"
    generate_bitcoin(tmp_path, path, seed=3)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables(SOURCE.tables)
        result = wh.ingest_file(path, SOURCE)
        captured = wh.con.execute(
            "select if(is_from_orig, 'out', 'in'), command, payload_bytes"
            " from raw.pcap_bitcoin_messages order by first_ts_ns, is_from_orig"
        ).fetchall()
        peers = wh.con.execute(
            "select distinct resp_addr || ':' || resp_port from raw.pcap_bitcoin_messages"
        ).fetchall()
    assert result.status == "loaded" and peers == [(peer,)]
    assert sorted(captured) == sorted((flow, msg, size) for _, flow, msg, size in logged)
