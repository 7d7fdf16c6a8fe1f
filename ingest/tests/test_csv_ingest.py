"""Tracepoint and systemd CSV landing: formats, idempotence, replacement, bad input."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from ingest.kinds import systemd, tracepoints
from ingest.loader.warehouse import Warehouse
from ingest.tests.helpers import HEADER, write_csv
from wirehouse.cli import main

ROWS = [
    "2025-01-22T14:00:04Z,0,block-relay-only,123.100.246.24:8333,out,version,102",
    "2025-01-22T14:00:04Z,1,inbound,[2a02:c206:2222:6547::1]:8333,in,verack,0",
    "2025-01-22T14:00:09Z,1,inbound,[2a02:c206:2222:6547::1]:8333,in,ping,8",
]


def ingest(kind: str, db: Path, *paths: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["ingest", kind, *map(str, paths), "--db", str(db)])
    return result.exit_code, result.stdout, result.stderr


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_tracepoints_land_typed_with_bookkeeping(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tracepoints/net/2025-01-22.csv", [HEADER, *ROWS])
    code, out, err = ingest("tracepoints", tmp_path / "w.duckdb", tmp_path)
    assert (code, err) == (0, "")
    assert "3 rows" in out
    rows = query(
        tmp_path / "w.duckdb",
        "select timestamp, peer_id, peer_addr, size, path, ingest_run_id"
        " from raw.bitcoin_p2p_messages join raw.ingest_files on file_id = _file_id"
        " order by size",
    )
    assert [r[3] for r in rows] == [0, 8, 102]
    assert str(rows[0][0]) == "2025-01-22 14:00:04"
    assert rows[0][2] == "[2a02:c206:2222:6547::1]:8333"
    assert {r[4] for r in rows} == {str(path.resolve())}
    assert len({r[5] for r in rows}) == 1


def test_pandas_timestamps_gzip_and_bz2(tmp_path: Path) -> None:
    pandas_rows = [r.replace("T14:00:04Z", " 14:00:04+00:00") for r in ROWS]
    body = "".join(f"{line}\r\n" for line in [HEADER, *pandas_rows]).encode()
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(body))
    (tmp_path / "b.csv.bz2").write_bytes(bz2.compress(body.replace(b"ping", b"pong")))
    code, _, err = ingest("tracepoints", tmp_path / "w.duckdb", tmp_path)
    assert (code, err) == (0, "")
    times = query(
        tmp_path / "w.duckdb",
        "select distinct timestamp::varchar from raw.bitcoin_p2p_messages order by 1",
    )
    assert times == [("2025-01-22 14:00:04",), ("2025-01-22 14:00:09",)]
    assert query(tmp_path / "w.duckdb", "select count(*) from raw.bitcoin_p2p_messages") == [(6,)]


def test_same_file_twice_adds_nothing(tmp_path: Path) -> None:
    write_csv(tmp_path / "net.csv", [HEADER, *ROWS])
    db = tmp_path / "w.duckdb"
    assert ingest("tracepoints", db, tmp_path)[0] == 0
    code, out, _ = ingest("tracepoints", db, tmp_path)
    assert code == 0 and "1 unchanged" in out
    assert query(db, "select count(*) from raw.bitcoin_p2p_messages") == [(3,)]
    assert query(db, "select count(*) from raw.ingest_files") == [(1,)]


def test_changed_file_replaces_exactly_its_rows(tmp_path: Path) -> None:
    today = write_csv(tmp_path / "tracepoints/net/2025-01-22.csv", [HEADER, *ROWS[:2]])
    other = write_csv(tmp_path / "tracepoints/net/2025-01-21.csv", [HEADER, ROWS[2]])
    db = tmp_path / "w.duckdb"
    assert ingest("tracepoints", db, tmp_path)[0] == 0
    write_csv(today, [HEADER, *ROWS, ROWS[2]])  # the day's file grew
    code, out, _ = ingest("tracepoints", db, tmp_path)
    assert code == 0 and "1 unchanged" in out
    per_file = dict(
        query(
            db,
            "select path, count(*) from raw.bitcoin_p2p_messages"
            " join raw.ingest_files on file_id = _file_id group by 1",
        )
    )
    assert per_file == {str(today.resolve()): 4, str(other.resolve()): 1}
    manifest = query(db, "select path, rows, status from raw.ingest_files order by path")
    assert manifest == [(str(other.resolve()), 1, "loaded"), (str(today.resolve()), 4, "loaded")]


def _messages(start: int, count: int) -> list[str]:
    return [
        f"2025-01-22T{(start + i) // 3600 % 24:02d}:{(start + i) // 60 % 60:02d}:"
        f"{(start + i) % 60:02d}Z,{i % 7},inbound,1.2.3.4:8333,in,ping,8"
        for i in range(count)
    ]


def test_a_copytruncate_rotation_keeps_every_loaded_row(tmp_path: Path) -> None:
    """The older nix-bitcoin-monitor layout: one net.csv, rotated by logrotate's
    copytruncate (copied away, emptied in place), then refilled."""
    net = write_csv(tmp_path / "net.csv", [HEADER, *_messages(0, 2000)])
    db = tmp_path / "w.duckdb"
    assert ingest("tracepoints", db, net)[0] == 0
    net.write_text("")  # copytruncate
    code, _, err = ingest("tracepoints", db, net)
    assert code == 1 and "empty file" in err  # a failure: the rows loaded stay
    assert query(db, "select count(*) from raw.bitcoin_p2p_messages") == [(2000,)]
    write_csv(net, [HEADER, *_messages(40_000, 500)])  # refilled
    code, out, err = ingest("tracepoints", db, net)
    assert code == 0 and "500 rows loaded" in out
    note = err.strip()
    assert note.startswith(f"wirehouse: note: {net.resolve()}: does not start with the")
    assert "the 2,000 rows loaded then stay, these load as generation 2" in note
    assert query(db, "select count(*) from raw.bitcoin_p2p_messages") == [(2500,)]
    # asked to, a changed file replaces instead
    write_csv(net, [HEADER, *_messages(50_000, 10)])
    replaced = CliRunner().invoke(
        main, ["ingest", "tracepoints", str(net), "--db", str(db), "--replace"]
    )
    assert (replaced.exit_code, replaced.stderr) == (0, "")
    assert query(db, "select count(*) from raw.bitcoin_p2p_messages") == [(2010,)]


def test_failed_new_version_keeps_old_rows_and_records_reason(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "net.csv", [HEADER, *ROWS])
    db = tmp_path / "w.duckdb"
    assert ingest("tracepoints", db, path)[0] == 0
    write_csv(path, ["time,peer,size", "x,1,2"])
    code, _, err = ingest("tracepoints", db, path)
    assert code == 1
    assert err.count("\n") == 1 and "unexpected header" in err and str(path) in err
    assert query(db, "select count(*) from raw.bitcoin_p2p_messages") == [(3,)]
    statuses = query(db, "select status, rows from raw.ingest_files order by loaded_at")
    assert statuses == [("loaded", 3), ("failed", 0)]


@pytest.mark.integration
def test_bad_lines_load_the_good_ones_as_partial(tmp_path: Path) -> None:
    lines = [
        HEADER,
        ROWS[0],
        "2025-01-22T14:00:09Z,1,inbound,1.2.3.4:8333,in,tx,abc",  # text in size
        "not-a-time,1,inbound,1.2.3.4:8333,in,tx,10",  # unparseable timestamp
        "2025-01-22T14:00:09Z,1,inbound",  # too few columns
        ROWS[1],
    ]
    path = write_csv(tmp_path / "net.csv", lines)
    db = tmp_path / "w.duckdb"
    code, _, err = ingest("tracepoints", db, path)
    assert code == 1
    assert err.startswith(f"wirehouse: partial: {path}: 2 rows; 3 bad: line 3: ")
    assert query(db, "select count(*) from raw.bitcoin_p2p_messages") == [(2,)]
    issues = query(db, "select position, reason from raw.ingest_issues order by position")
    assert [p for p, _ in issues] == ["line 3", "line 4", "line 5"]
    assert (
        "'abc' is not an integer" in issues[0][1]
        and "'not-a-time' is not a timestamp" in issues[1][1]
    )
    assert query(db, "select status, issues from raw.ingest_files") == [("partial", 3)]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", "empty file"),
        ("header-only.csv", (HEADER + "\r\n").encode(), "no data rows"),
        ("wrong-header.csv", b"a,b,c\r\n1,2,3\r\n", "unexpected header 'a,b,c'"),
        (
            "cut.csv.bz2",
            bz2.compress((HEADER + "\r\n" + ROWS[0] + "\r\n").encode() * 50)[:60],
            "truncated bz2 stream",
        ),
        ("garbage.csv.bz2", b"this is not bzip2", "not a valid bz2 file"),
    ],
)
def test_bad_files_fail_with_one_line(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    db = tmp_path / "w.duckdb"
    code, _, err = ingest("tracepoints", db, path)
    assert code == 1
    assert err.startswith(f"wirehouse: error: {path}: ") and reason in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert query(db, "select status, rows from raw.ingest_files") == [("failed", 0)]
    assert query(db, "select count(*) from raw.bitcoin_p2p_messages") == [(0,)]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert ingest("tracepoints", tmp_path / "w.duckdb", tmp_path / "missing.csv")[0] == 2
    write_csv(tmp_path / "net.csv", [HEADER, *ROWS])
    code, _, err = ingest("tracepoints", tmp_path / "raw.duckdb", tmp_path / "net.csv")
    assert code == 2 and "named after a schema" in err
    assert CliRunner().invoke(main, ["ingest", "nonsense", str(tmp_path)]).exit_code == 2


def test_systemd_gaps_kept_and_missing_columns_null(tmp_path: Path) -> None:
    full = "timestamp,IPIngressPackets,IPEgressPackets,IPIngressBytes,IPEgressBytes"
    write_csv(
        tmp_path / "systemd/ip_accounting/2025-01-01.csv",
        [full, "2025-01-01T00:00:04Z,1,2,300,400", "2025-01-01T00:00:09Z,,,,"],
    )
    write_csv(
        tmp_path / "old/ip_accounting.csv",
        ["timestamp,IPIngressBytes,IPEgressBytes", "2024-12-28 00:00:04+00:00,188730325,184575784"],
    )
    db = tmp_path / "w.duckdb"
    code, _, err = ingest("systemd", db, tmp_path)
    assert (code, err) == (0, "")
    rows = query(
        db,
        "select timestamp::varchar, IPIngressPackets, IPIngressBytes"
        " from raw.systemd_ip_accounting_samples order by 1",
    )
    assert rows == [
        ("2024-12-28 00:00:04", None, 188730325),
        ("2025-01-01 00:00:04", 1, 300),
        ("2025-01-01 00:00:09", None, None),
    ]


def test_directory_layout_picks_each_kind(tmp_path: Path) -> None:
    write_csv(tmp_path / "tracepoints/net/2025-01-22.csv", [HEADER, *ROWS])
    write_csv(
        tmp_path / "systemd/ip_accounting/2025-01-22.csv",
        ["timestamp,IPIngressBytes,IPEgressBytes", "2025-01-22T00:00:04Z,1,2"],
    )
    assert tracepoints.SOURCE.find(tmp_path) == [tmp_path / "tracepoints/net/2025-01-22.csv"]
    assert systemd.SOURCE.find(tmp_path) == [tmp_path / "systemd/ip_accounting/2025-01-22.csv"]


def test_warehouse_api_reports_results(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "net.csv", [HEADER, *ROWS])
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables(tracepoints.SOURCE.tables)
        first = wh.ingest_file(path, tracepoints.SOURCE)
        again = wh.ingest_file(path, tracepoints.SOURCE)
    assert (first.status, first.rows) == ("loaded", 3)
    assert (again.status, again.message) == ("skipped", "already loaded")


def test_real_systemd_sample_loads_every_row_once(tmp_path: Path, shared: Path) -> None:
    real = shared / "systemd" / "systemd_preprocessed_cumulative_ddb6ad5.csv.bz2"
    db = tmp_path / "w.duckdb"
    for _ in range(2):
        code, _, err = ingest("systemd", db, real)
        assert (code, err) == (0, "")
    assert query(
        db, "select count(*), count(IPIngressBytes) from raw.systemd_ip_accounting_samples"
    ) == [(199_601, 199_601)]
