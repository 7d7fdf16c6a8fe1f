"""`wirehouse run` as a timer calls it: a project file, two nodes, twice, and while busy."""

from __future__ import annotations

import fcntl
import re
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import HEADER, wirehouse, write_csv
from wirehouse.project import ProjectError, load_project

pytestmark = pytest.mark.integration

SAMPLE_HEADER = "timestamp,IPIngressPackets,IPEgressPackets,IPIngressBytes,IPEgressBytes"


def two_nodes(root: Path) -> None:
    for node, base in (("alpha", 1000), ("beta", 9_000_000)):
        write_csv(
            root / node / "tracepoints/net/2025-01-22.csv",
            [HEADER]
            + [f"2025-01-22T14:00:{s:02}Z,{base},inbound,1.2.3.4:8333,in,inv,37" for s in (4, 9)],
        )
        write_csv(
            root / node / "systemd/ip_accounting/2025-01-22.csv",
            [SAMPLE_HEADER]
            + [f"2025-01-22T14:00:{s:02}Z,1,1,{base + 10 * s},{base + s}" for s in (4, 9, 14)],
        )


def write_project(path: Path, body: str) -> Path:
    path.write_text('[warehouse]\npath = "w.duckdb"\n[build]\ntarget_path = "target"\n' + body)
    return path


SOURCES = """
[[source]]
kind = "tracepoints"
paths = ["inbox"]
[[source]]
kind = "systemd"
paths = ["inbox/*"]
"""


def test_two_nodes_run_twice(tmp_path: Path) -> None:
    two_nodes(tmp_path / "inbox")
    config = write_project(tmp_path / "wirehouse.toml", SOURCES)
    first = wirehouse("run", "--project", config)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "4 loaded" in first.stdout and "build: full (first build)" in first.stdout
    second = wirehouse("run", "--project", config)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("wirehouse run: nothing new in 4 file(s)")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        measured = con.execute(
            "select node_id, sum(measured_bytes) from marts.fct_traffic_measured_daily"
            " where flow = 'in' group by all order by 1"
        ).fetchall()
        runs = con.execute("select build from raw.wirehouse_runs order by started_at").fetchall()
    # each node's counters are their own series: 2 x 50 bytes each, nothing across nodes
    assert measured == [("alpha", 100), ("beta", 100)]
    assert runs == [("full",), ("none",)]


def test_a_second_run_while_one_is_going_exits_3(tmp_path: Path) -> None:
    config = write_project(tmp_path / "wirehouse.toml", SOURCES)
    with (tmp_path / "w.duckdb.run.lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("process 1, started 2025-01-22 14:00:00 UTC")
        held.flush()
        busy = wirehouse("run", "--project", config)
    assert busy.returncode == 3
    assert busy.stderr.count("\n") == 1, busy.stderr
    assert "another `wirehouse run` is working on it (process 1" in busy.stderr


def test_a_missing_folder_fails_the_run_in_one_line(tmp_path: Path) -> None:
    config = write_project(
        tmp_path / "wirehouse.toml", '[[source]]\nkind = "tracepoints"\npaths = ["nowhere"]\n'
    )
    result = wirehouse("run", "--project", config)
    assert result.returncode == 1
    assert "source 1: " in result.stderr and "nowhere: no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[[source]]\nkind = 'zeek'\npaths = ['x']\n", "source 1.kind: 'zeek' is not a kind"),
        ("[[source]]\nkind = 'pcap'\npaths = ['x']\nport = 1\n", "source 1.port: unknown"),
        ("[[source]]\nkind = 'tracepoints'\npaths = ['x']\ncounters = 'x'\n", "no options"),
        ("[[source]]\nkind = 'systemd'\npaths = ['x']\ncounters = 'x'\n", "counter form"),
        ("[[source]]\nkind = 'systemd'\npaths = []\n", "source 1.paths"),
        ("[wharehouse]\npath = 'x'\n", "wharehouse: unknown section"),
        ("[build]\ndata_tests = 'yes'\n", "build.data_tests"),
        ("[warehouse]\nengine = 'sparkle'\n", "warehouse.engine: 'sparkle' is not an engine"),
        ("[warehouse]\nspark_master = 2\n", "warehouse.spark_master: must be a master URL"),
        (
            "[build]\nvars = { network_windows_start = 'x' }\n",
            "build.vars.network_windows_start: not a var of the dbt project"
            " (did you mean network_window_start?)",
        ),
        ("[[source]\n", "line 1"),
    ],
)
def test_project_file_errors_name_the_setting(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "wirehouse.toml"
    path.write_text(body)
    with pytest.raises(ProjectError, match=re.escape(message)):
        load_project(path)
    result = wirehouse("run", "--project", path)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_project_paths_are_relative_to_the_file_with_dots_collapsed(tmp_path: Path) -> None:
    """Was: files printed as /x/btc/../btc-demo/... ."""
    (tmp_path / "btc").mkdir()
    path = tmp_path / "btc" / "wirehouse.toml"
    path.write_text(
        '[warehouse]\npath = "../w.duckdb"\n[[source]]\nkind = "tracepoints"\n'
        'paths = ["../btc-demo"]\n'
    )
    project = load_project(path)
    assert project.warehouse == tmp_path / "w.duckdb"
    assert project.sources[0].paths == (tmp_path / "btc-demo",)
    assert (project.engine, project.spark_dir) == ("duckdb", tmp_path / "btc" / "spark")


def test_the_repo_project_file_is_the_demo() -> None:
    project = load_project(Path(__file__).resolve().parents[2] / "wirehouse.toml")
    assert [(s.kind, s.node) for s in project.sources] == [
        ("tracepoints", None),  # alpha and beta, by their folders
        ("systemd", None),
        ("pcap", "kafka-broker"),
        ("pcap", "alpha"),  # the Bitcoin peer's capture beside node alpha
        ("tshark", "kafka-broker"),
        ("pcap", "sniffer"),
    ]
    assert project.publish_dir is not None and project.report_dir is not None


def test_a_build_selects_what_the_loaded_kinds_need(tmp_path: Path) -> None:
    from dbt.cli.main import dbtRunner

    from wirehouse.run import DBT_PROJECT, BuildPlan, selection

    parsed = dbtRunner().invoke(
        [
            *("parse", "--quiet", "--project-dir", str(DBT_PROJECT)),
            *("--profiles-dir", str(DBT_PROJECT), "--target-path", str(tmp_path / "target")),
            *("--log-path", str(tmp_path / "logs")),
        ]
    )
    assert parsed.success, parsed.exception
    first = selection(parsed.result, BuildPlan("full", "first build", ["bitcoin_p2p_messages"]))
    first_new = selection(
        parsed.result,
        BuildPlan("full", "first build", ["bitcoin_p2p_messages"], new=["bitcoin_p2p_messages"]),
    )
    # downstream of the tracepoints, and (new kind) the views and seed those models read:
    # the wire overhead mart reads the capture staging views, empty here
    assert {"stg_bitcoin_p2p__messages", "fct_peer_connections", "fct_wire_overhead_hourly"} <= (
        set(first)
    )
    assert {"stg_pcap__packets", "bitcoin_message_types"} <= set(first_new) - set(first)
    # no mart of a kind without data (the exposures list every mart: dbt's @ took them all)
    assert not {"fct_tcp_health", "fct_connections", "dim_bluetooth_devices"} & set(first_new)


def test_amounts_name_only_what_was_loaded_in_its_unit() -> None:
    """Was: "loaded ...: 0 rows, 431,987 rows" for a differenced systemd file."""
    from ingest.kinds import registry
    from wirehouse.cli import _amounts

    systemd, pcap = registry()["systemd"], registry()["pcap"]
    assert _amounts({"systemd_ip_accounting_intervals": 431_987}, systemd) == "431,987 rows"
    assert _amounts({}, systemd) == "0 rows"
    assert _amounts({"systemd_ip_accounting_samples": 199_601}, systemd) == "199,601 rows"
    assert _amounts({"pcap_packets": 20, "pcap_kafka_messages": 4}, pcap) == (
        "20 packets, 4 Kafka messages"
    )
