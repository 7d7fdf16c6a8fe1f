"""The network marts against the reference tools, on every shared capture.

- TCP health (retransmissions, zero windows, RSTs, duplicate ACKs, out-of-order) per capture
  against ``tshark -o tcp.analyze_sequence_numbers:TRUE``;
- handshake RTT (``fct_tcp_handshakes.initial_rtt_ms``) against ``tcp.analysis.initial_rtt``;
- Kafka latency (``fct_kafka_requests.latency_to_first_byte_ms``) against the ``rrt`` (µs) of
  DeepFlow's ``.result`` files, and error codes against their ``status_code``;
- the notebook's broker jitter (``fct_server_window_summary.jitter_ms_notebook``) against a
  re-run of the notebook's rule with scapy.

The captures are ingested into a temporary warehouse and the marts built with dbt (own target
and log paths). Every difference from tshark must be one listed in KNOWN_DIFFERENCES, with its
reason; a new difference, or a known one that disappears, fails. tshark missing: skipped
locally, a failure under CI=true (.ci/run installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import built_once, dbt, shared_dir
from oracles.network import (
    GENERAL,
    KAFKA,
    KNOWN_DIFFERENCES,
    METRICS,
    agreement_rows,
    captures,
    deepflow_status_codes,
    kafka_rows,
    notebook_jitter_ms,
    rtts_equal,
    tshark_or_fail,
)

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent

KAFKA_PORTS = ("--kafka-port", "36333", "--kafka-port", "9092")


# @: the packet union downstream also needs its tshark parent
SELECTED = ("-s", "kafka_api_keys", "@staging.pcap", "--exclude", "test_type:data")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    if not GENERAL.is_dir():
        pytest.skip("../shared/data not present")
    with built_once(tmp_path_factory, "network") as tmp:  # one build for every worker
        if tmp is not None:
            subprocess.run(
                [BIN / "wirehouse", "ingest", "pcap", GENERAL, KAFKA, "--db",
                 tmp / "warehouse.duckdb", *KAFKA_PORTS],
                check=True,
                capture_output=True,
            )  # fmt: skip
            build = dbt(tmp / "warehouse.duckdb", tmp, "build", *SELECTED)
            assert build.returncode == 0, build.output[-3000:]
    db = shared_dir(tmp_path_factory, "network") / "warehouse.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_tcp_health_and_rtt_agree_with_tshark(warehouse: duckdb.DuckDBPyConnection) -> None:
    tshark = tshark_or_fail()
    problems = []
    for row in agreement_rows(warehouse, tshark):
        known = KNOWN_DIFFERENCES.get(row["capture"], {})
        for metric in METRICS:
            got = (row["tshark"][metric], row["ours"][metric])
            expected = known.get(metric, (got[0], got[0], ""))[:2]
            if got != expected:
                problems.append(f"{row['capture']} {metric}: tshark={got[0]} ours={got[1]}")
        if not rtts_equal(row["tshark_rtts"], row["our_rtts"]):
            problems.append(
                f"{row['capture']} initial_rtt: tshark={row['tshark_rtts']} ours={row['our_rtts']}"
            )
    assert not problems, "\n".join(problems)


def test_kafka_latency_agrees_with_deepflow(warehouse: duckdb.DuckDBPyConnection) -> None:
    if not KAFKA.is_dir():
        pytest.skip("../shared/data/pcap-kafka not present")
    for row in kafka_rows(warehouse):
        assert row["ours"] == row["deepflow"], row["capture"]


def test_kafka_error_codes_agree_with_deepflow(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Where both give a code, the same; JoinGroup and SyncGroup (DeepFlow: ServerError, -1)
    are errors; DeepFlow's -2 (an API it does not decode) is no Kafka code."""
    if not KAFKA.is_dir():
        pytest.skip("../shared/data/pcap-kafka not present")
    statuses = {}
    for result in sorted(KAFKA.glob("*.result")):
        theirs = deepflow_status_codes(result)
        for corr, api, code, status in warehouse.execute(
            "select correlation_id, api_name, response_error_code, response_status"
            " from marts.fct_kafka_requests where source_file = ? and has_response",
            [str(result.with_suffix(".pcap").resolve())],
        ).fetchall():
            if code is not None and theirs[corr] != -2:
                assert code == theirs[corr], (result.name, corr)
            statuses[api] = status
    assert statuses["JoinGroup"] == statuses["SyncGroup"] == "error"
    assert statuses["ApiVersions"] == statuses["Fetch"] == statuses["Heartbeat"] == "answered"


def test_notebook_jitter_agrees_with_a_rerun_of_the_notebook(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    """Every Kafka broker of the captures: the notebook's rule re-run on the same files."""
    if not KAFKA.is_dir():
        pytest.skip("../shared/data/pcap-kafka not present")
    brokers = set(notebook_jitter_ms(captures(KAFKA)))
    expected = notebook_jitter_ms(captures(GENERAL) + captures(KAFKA))
    ours = {
        (addr, port): jitter
        for addr, port, jitter in warehouse.execute(
            "select server_addr, server_port, jitter_ms_notebook"
            " from marts.fct_server_window_summary where jitter_ms_notebook is not null"
        ).fetchall()
        if (addr, port) in brokers
    }
    assert ours  # 127.0.0.1:9092, 172.18.145.59:9092, 172.30.0.237:9092
    for server, jitter in ours.items():
        assert jitter == pytest.approx(expected[server], abs=1e-3), server


def test_two_connections_reusing_a_correlation_id_never_pair(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    """On the real captures: every answered request's response is on its own connection."""
    crossed = warehouse.execute(
        "select count(*) from intermediate.int_kafka_requests_paired"
        " where response_message_index is not null and response_first_ts_ns < first_ts_ns"
    ).fetchone()[0]
    assert crossed == 0


def test_an_sre_window_in_local_time(tmp_path: Path) -> None:
    """Kafka captures only, the window given in GMT-3: green, and one summary row for it."""
    if not KAFKA.is_dir():
        pytest.skip("../shared/data/pcap-kafka not present")
    db = tmp_path / "warehouse.duckdb"
    subprocess.run(
        [BIN / "wirehouse", "ingest", "pcap", KAFKA, "--db", db, *KAFKA_PORTS],
        check=True,
        capture_output=True,
    )
    window = (
        '{network_window_start: "2025-06-23 07:32:00-03:00",'
        ' network_window_end: "2025-06-23 07:33:00-03:00"}'
    )
    build = dbt(db, tmp_path, "build", *SELECTED, "--vars", window)
    assert build.returncode == 0, build.output[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select server_addr, server_port, window_start_at::varchar, window_start_local,"
            " window_end_local, packets, kafka_requests from marts.fct_server_window_summary"
        ).fetchall()
    assert rows == [
        ("172.18.145.59", 9092, "2025-06-23 10:32:00", "2025-06-23 07:32:00-03:00",
         "2025-06-23 07:33:00-03:00", 9, 3),
    ]  # fmt: skip


def test_the_same_captures_elsewhere_have_the_same_keys(tmp_path: Path) -> None:
    """Keys come from the node and the name below the folder given, not the absolute path:
    the same captures loaded from two places (two machines) give equal marts but for
    source_file."""
    if not KAFKA.is_dir():
        pytest.skip("../shared/data/pcap-kafka not present")
    marts = {  # the columns compared, the order
        "fct_connections": ("* exclude (source_file)", "connection_id"),
        "fct_kafka_requests": ("* exclude (source_file)", "kafka_request_id"),
        "fct_capture_totals": ("*", "capture_id"),
    }
    got = []
    for place in ("one/captures", "two/deeper/elsewhere"):
        folder = tmp_path / place
        for capture in ("deepflow_01-fetch-v12-ok.pcap", "deepflow_00-produce-v9.pcap"):
            (folder / "kafka").mkdir(parents=True, exist_ok=True)
            shutil.copy(KAFKA / capture, folder / "kafka" / capture)
        db = folder / "warehouse.duckdb"
        subprocess.run(
            [
                BIN / "wirehouse",
                "ingest",
                "pcap",
                folder,
                "--node",
                "broker",
                "--db",
                db,
                *KAFKA_PORTS,
            ],
            check=True,
            capture_output=True,
        )
        compared = [f"+{mart}" for mart in marts]
        build = dbt(db, folder, "build", "-s", *compared, "--exclude", "test_type:data")
        assert build.returncode == 0, build.output[-3000:]
        with duckdb.connect(str(db), read_only=True) as con:
            got.append(
                {
                    mart: con.execute(
                        f"select {columns} from marts.{mart} order by {key}"
                    ).fetchall()
                    for mart, (columns, key) in marts.items()
                }
            )
    assert all(got[0][mart] for mart in marts), "every mart has rows"
    assert got[0] == got[1]
    captures = [row[0] for row in got[0]["fct_capture_totals"]]
    assert captures == [
        "broker/kafka/deepflow_00-produce-v9.pcap",
        "broker/kafka/deepflow_01-fetch-v12-ok.pcap",
    ]
