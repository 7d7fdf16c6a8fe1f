"""Well-formed but impossible values never reach a sum, never block a build, and are listed.

One generated node day is built twice: as generated, and with the faults real files carry
injected (each reproduced on the loader and models before the plausibility checks, where
every test still passed):
- one IPEgressBytes sample +1e15: a day's measured out-bytes was 1,000,000,827,235,261;
- one IPIngressPackets sample of -5: 610,787,175 packets booked instead of ~500 k;
- tracepoint rows dated 1970-01-01 and 9999-12-31: they became days of the estimate marts;
- sizes -5,000,000 and 2^31: `loaded`, then a staging test failed and skipped 78 nodes.
The faulty build must be green and its marts equal the clean build's; fct_implausible_values
lists exactly the injected values. Then `wirehouse forget` takes a file back out.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import built_once, dbt, shared_dir, wirehouse

pytestmark = pytest.mark.integration

# one node day of tracepoints and systemd samples (no captures: nothing here reads them)
GENERATED = ("--days", "1", "--scale", "0.02", "--seed", "4", "--no-capture", "--no-bluetooth")
MARTS = [
    "fct_traffic_measured_daily",
    "fct_traffic_measured_hourly",
    "fct_traffic_estimated_daily",
    "fct_traffic_reconciled_daily",
]


def rewrite(path: Path, change) -> None:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    change(rows)
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows(rows)


def inject_faults(demo: Path) -> None:
    (systemd,) = (demo / "systemd" / "ip_accounting").glob("*.csv")
    (tracepoints,) = (demo / "tracepoints" / "net").glob("*.csv")

    def counters(rows: list[list[str]]) -> None:
        header = rows[0]
        egress, packets = header.index("IPEgressBytes"), header.index("IPIngressPackets")
        spike, dip = rows[5000], rows[9000]  # mid-hour samples with values
        spike[egress] = str(int(spike[egress]) + 10**15)
        dip[packets] = "-5"

    def messages(rows: list[list[str]]) -> None:
        for i, stamp in ((100, "1970-01-01T00:00:04Z"), (200, "9999-12-31T23:59:59Z")):
            rows.append([stamp, *rows[i][1:]])
        rows.append([*rows[300][:6], "-5000000"])
        rows.append([*rows[400][:6], str(2**31)])

    rewrite(systemd, counters)
    rewrite(tracepoints, messages)


def build(tmp: Path, name: str, faulty: bool) -> Path:
    demo = tmp / name
    shutil.copytree(tmp / "generated", demo)
    if faulty:
        inject_faults(demo)
    db = tmp / name / "warehouse.duckdb"  # dbt() starts from the session's parse
    for kind in ("tracepoints", "systemd"):
        loaded = wirehouse("ingest", kind, demo, "--db", db, "--node", "tau")  # one node name
        assert loaded.returncode == 0, loaded.stderr  # well-formed: loaded, judged in SQL
    # what these marts and the quality mart read, with every data test on the way
    selected = ["+fct_implausible_values", *(f"+{mart}" for mart in MARTS)]
    run = dbt(
        db,
        tmp / name,
        *("build", "-s", *selected, "--indirect-selection", "cautious"),
        *("--exclude-resource-type", "unit_test"),
    )
    assert run.returncode == 0 and not run.not_passing(), run.not_passing() or run.output
    return db


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    with built_once(tmp_path_factory, "implausible") as tmp:  # one build for every worker
        if tmp is not None:
            made = wirehouse("demo-data", tmp / "generated", *GENERATED)
            assert made.returncode == 0, made.stderr
            build(tmp, "clean", faulty=False)
            build(tmp, "faulty", faulty=True)
    tmp = shared_dir(tmp_path_factory, "implausible")
    return tmp / "clean" / "warehouse.duckdb", tmp / "faulty" / "warehouse.duckdb"


def table(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.parametrize("mart", MARTS)
def test_faulty_values_change_no_mart(builds: tuple[Path, Path], mart: str) -> None:
    clean, faulty = builds
    # every column but the build time of incremental marts
    sql = f"select columns(lambda c: c <> 'loaded_at') from marts.{mart} order by all"
    assert table(faulty, sql) == table(clean, sql)


def test_every_injected_value_is_listed(builds: tuple[Path, Path]) -> None:
    clean, faulty = builds
    assert table(clean, "select count(*) from marts.fct_implausible_values") == [(0,)]
    listed = table(
        faulty,
        "select column_name, check_name, observed_value, row_count"
        " from marts.fct_implausible_values order by all",
    )
    assert listed == [
        ("egress_bytes", "counter glitch", listed[0][2], 1),
        ("ingress_packets", "negative counter", "-5", 1),
        ("size", "negative size", "-5000000", 1),
        ("size", "size above max_message_bytes", str(2**31), 1),
        ("timestamp", "time outside the plausible range", "1970-01-01 00:00:04", 1),
        ("timestamp", "time outside the plausible range", "9999-12-31 23:59:59", 1),
    ]
    assert int(listed[0][2]) > 10**15


def test_forget_takes_one_file_back_out(builds: tuple[Path, Path], tmp_path: Path) -> None:
    _, faulty = builds
    db = tmp_path / "copy.duckdb"
    db.write_bytes(faulty.read_bytes())
    (file,) = table(db, "select distinct path from raw.ingest_files where kind = 'tracepoints'")
    forgot = wirehouse("forget", file[0], "--db", db)
    assert forgot.returncode == 0, forgot.stderr
    assert f"forgot {file[0]}: " in forgot.stdout
    assert table(db, "select count(*) from raw.bitcoin_p2p_messages") == [(0,)]
    assert table(db, "select count(*) from raw.ingest_files where kind = 'tracepoints'") == [(0,)]
    assert table(db, "select count(*) from raw.systemd_ip_accounting_samples")[0][0] > 0
    again = wirehouse("forget", file[0], "--db", db)
    assert again.returncode == 1 and "nothing loaded from" in again.stderr
