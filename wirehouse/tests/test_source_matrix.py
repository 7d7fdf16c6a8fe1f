"""`dbt build` as each kind of user runs it: with only their kind of data, and all together.

Every case starts from a fresh warehouse, ingests with the CLI and builds models and data tests
(unit tests do not depend on data: they run once, on the empty warehouse, with a user's vars).
Green means exit 0 and every node passing: no warning from a test about a kind of data the
user never loaded.

The empty warehouse and `all` build the whole project. A case of some kinds builds the models
that read their sources, or no source of data at all (the manifest's, ingest issues), with
everything upstream of those: a model that reads none of its sources reads empty tables, as
in the empty warehouse.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import (
    SHARED,
    built_once,
    dbt,
    parsed_project,
    shared_dir,
    wirehouse,
    write_differenced_systemd,
    write_preprocessed_tracepoints,
)

pytestmark = pytest.mark.integration

CAPTURES = ["tcpdump_dns_udp.pcap", "deepflow_handshake-retrans.pcap", "ndpi_http_ipv6.pcap"]
KAFKA = ["deepflow_00-produce-v9.pcap", "deepflow_01-fetch-v12-ok.pcap", "ndpi_kafka.pcapng"]
# the SRE's local-time window (GMT-3) around the shared Kafka captures
KAFKA_WINDOW = (
    '{network_window_start: "2020-01-01 00:00:00-03:00",'
    ' network_window_end: "2030-01-01 00:00:00-03:00", network_server_port: 36333}'
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    with built_once(tmp_path_factory, "matrix-data") as root:  # once for every worker
        if root is not None:
            day = ("--days", "1", "--scale", "0.02", "--peers", "10")
            made = wirehouse("demo-data", root / "demo", *day)
            assert made.returncode == 0, made.stderr
            # a second node, by its folder (rho/tracepoints/net/...), with its own files
            only_csv = ("--seed", "3", "--no-capture", "--no-bluetooth")
            made = wirehouse("demo-data", root / "rho", *day, *only_csv)
            assert made.returncode == 0, made.stderr
            (tracepoints,) = (root / "demo" / "tracepoints" / "net").glob("*.csv")
            (systemd,) = (root / "demo" / "systemd" / "ip_accounting").glob("*.csv")
            write_preprocessed_tracepoints(tracepoints, root / "tp.csv")
            write_differenced_systemd(systemd, root / "sys.csv")
    root = shared_dir(tmp_path_factory, "matrix-data")
    demo, other = root / "demo", root / "rho"
    return {
        "nodes": [demo, other],
        "tracepoints": sorted((demo / "tracepoints" / "net").glob("*.csv")),
        "preprocessed": [root / "tp.csv"],
        "systemd": sorted((demo / "systemd" / "ip_accounting").glob("*.csv")),
        "deltas": [root / "sys.csv"],
        "captures": [SHARED / "pcap-general" / name for name in CAPTURES],
        "kafka": [demo / "captures"] + [SHARED / "pcap-kafka" / name for name in KAFKA],
        "tshark": [demo / "tshark"],
        "bluetooth": [demo / "bluetooth", SHARED / "pcap-bluetooth"],
    }


INGESTS: dict[str, Callable[[dict[str, list[Path]]], list[tuple[str | Path, ...]]]] = {
    "tracepoints": lambda d: [("tracepoints", *d["tracepoints"])],
    "tracepoints-preprocessed": lambda d: [("tracepoints", *d["preprocessed"])],
    "systemd": lambda d: [("systemd", *d["systemd"])],
    "systemd-deltas": lambda d: [("systemd", *d["deltas"])],
    "captures": lambda d: [("pcap", *d["captures"])],
    "kafka": lambda d: [("pcap", *d["kafka"], "--kafka-port", "36333")],
    "tshark": lambda d: [("tshark", *d["tshark"])],
    "bluetooth": lambda d: [("pcap", *d["bluetooth"])],
    "two-nodes": lambda d: [("tracepoints", *d["nodes"]), ("systemd", *d["nodes"])],
}
# the dbt sources each ingest fills (a Bluetooth sniff is a capture: pcap's tables too)
SOURCES = {
    "tracepoints": {"bitcoin_p2p"},
    "tracepoints-preprocessed": {"bitcoin_p2p"},
    "systemd": {"systemd_ip_accounting"},
    "systemd-deltas": {"systemd_ip_accounting"},
    "captures": {"pcap"},
    "kafka": {"pcap"},
    "tshark": {"tshark"},
    "bluetooth": {"bluetooth", "pcap"},
    "two-nodes": {"bitcoin_p2p", "systemd_ip_accounting"},
}
CASES = {
    **{name: [name] for name in INGESTS},
    "all": list(INGESTS),
}
VARS = {"kafka": KAFKA_WINDOW}
WHOLE = ("all",)


@cache
def sources_read(vars_arg: str) -> dict[str, set[str]]:
    """Each model's name and the data sources it reads, directly or upstream (the manifest
    of the session's parse; the wirehouse source, the manifest, is read by every model)."""
    manifest = json.loads((parsed_project(vars_arg).parent / "manifest.json").read_text())
    nodes = {**manifest["nodes"], **manifest["sources"]}

    @cache
    def read(uid: str) -> frozenset[str]:
        node = nodes.get(uid, {})
        if uid.startswith("source."):
            return frozenset({node["source_name"]} - {"wirehouse"})
        return frozenset().union(*map(read, node.get("depends_on", {}).get("nodes", [])))

    return {
        node["name"]: set(read(uid))
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }


def selection(case: str, vars_arg: str) -> list[str]:
    """dbt arguments that build what a case's kinds of data reach (see the module doc)."""
    if case in WHOLE:
        return []
    kinds = set().union(*(SOURCES[kind] for kind in CASES[case]))
    models = [name for name, read in sources_read(vars_arg).items() if not read or read & kinds]
    return ["-s", *(f"+{name}" for name in sorted(models)), "--indirect-selection", "cautious"]


@pytest.mark.parametrize("case", CASES)
def test_dbt_build_is_green(case: str, data: dict, tmp_path: Path) -> None:
    if not SHARED.is_dir() and {"captures", "kafka", "bluetooth"} & set(CASES[case]):
        pytest.skip("../shared/data not present")
    db = tmp_path / "warehouse.duckdb"
    assert wirehouse("init", "--db", db).returncode == 0
    for kind in CASES[case]:
        for command in INGESTS[kind](data):
            loaded = wirehouse("ingest", *command, "--db", db)
            assert loaded.returncode == 0, loaded.stderr
    extra = ["--vars", VARS[case]] if case in VARS else []
    extra += selection(case, VARS.get(case, ""))
    run = dbt(db, tmp_path, "build", "--exclude-resource-type", "unit_test", *extra)
    assert run.returncode == 0 and not run.not_passing(), run.not_passing() or run.output[-3000:]


@pytest.fixture(scope="module")
def empty_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A warehouse with no data, `dbt build` of the whole project (models, seeds, data
    tests; no unit tests), once per session: its warehouse and what the build said."""
    with built_once(tmp_path_factory, "matrix-empty") as work:
        if work is not None:
            db = work / "warehouse.duckdb"
            assert wirehouse("init", "--db", db).returncode == 0
            run = dbt(db, work, "build", "--exclude-resource-type", "unit_test")
            said = {"returncode": run.returncode, "not_passing": run.not_passing()}
            said["output"] = run.output[-3000:]
            (work / "build.json").write_text(json.dumps(said))
            with duckdb.connect(str(db)) as con:  # dbt leaves its last writes in the WAL
                con.execute("checkpoint")
    work = shared_dir(tmp_path_factory, "matrix-empty")
    return work / "warehouse.duckdb", json.loads((work / "build.json").read_text())


def test_an_empty_warehouse_builds_green(empty_build: tuple[Path, dict]) -> None:
    """A user who has loaded nothing yet: every model builds (empty) and every data test
    passes, without a warning about the kinds of data not loaded."""
    _, said = empty_build
    assert said["returncode"] == 0 and not said["not_passing"], (
        said["not_passing"] or said["output"]
    )


# every var away from its default: a user's --vars must never change a unit test's outcome
USER_VARS = (
    "{mtu_bytes: 9000, ipv4_header_bytes: 24, ipv6_header_bytes: 48, tcp_header_bytes: 20,"
    " ack_ratio: 3, p2p_transport: v2, counter_mode: seed, max_sample_gap_seconds: 5,"
    " min_connection_seconds: 1, node_run_peer_id_drop: 1000,"
    ' network_window_start: "2025-06-23 07:32:00-03:00",'
    ' network_window_end: "2025-06-23 07:33:00-03:00",'
    " network_server_addr: 10.9.8.7, network_server_port: 1, network_bucket_minutes: 5,"
    " udp_idle_timeout_seconds: 1, community_id_seed: 7, jitter_idle_gap_ms: 1,"
    " bluetooth_series_max_seconds: 1, max_packet_bytes: 1}"
)


def test_unit_tests_ignore_user_vars(empty_build: tuple[Path, dict], tmp_path: Path) -> None:
    """dbt's unit tests against the empty warehouse's relations (a copy), with a user's vars
    far from every default: each unit test sets the vars it depends on."""
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(empty_build[0], db)
    run = dbt(db, tmp_path, "test", "--resource-type", "unit_test", "--vars", USER_VARS)
    failed = [r for r in run.not_passing() if r.startswith(("fail", "error"))]
    assert not failed, failed
    assert run.returncode == 0, run.output[-3000:]
    assert len(run.results) > 50  # the unit tests ran
