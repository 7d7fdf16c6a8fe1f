"""tshark field CSVs: what lands in raw.tshark_packets, and the loading rules."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from ingest.kinds.tshark import parse_start
from wirehouse.cli import main

NOTEBOOK = (
    "frame.time_relative,ip.src,tcp.srcport,udp.srcport,ip.dst,tcp.dstport,udp.dstport,frame.len"
)
NEFIAS = (
    "ip.proto,ipv6.nxt,frame.number,frame.time_relative,frame.len,frame.cap_len,eth.src,eth.dst,"
    "ip.src,ip.dst,ipv6.src,ipv6.dst,tcp.srcport,tcp.dstport,udp.srcport,udp.dstport,tcp.seq,"
    "mqtt.topic"
)


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def ingest(db: Path, *args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["ingest", "tshark", *map(str, args), "--db", str(db)])
    return result.exit_code, result.stdout, result.stderr


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_notebook_layout_takes_the_start_from_the_file_name(tmp_path: Path) -> None:
    # IPv4 TCP, IPv4 UDP, an IPv6 packet (ip.src empty), a non-IP frame
    write(
        tmp_path / "cap/1483873200.csv",
        [
            NOTEBOOK,
            "0.000000000,192.168.1.5,52114,,93.184.216.34,443,,66",
            "0.500000001,192.168.1.5,,5353,224.0.0.251,,5353,120",
            "1.250000000,,40526,,,443,,86",
            "2.000000000,,,,,,,64",
        ],
    )
    code, out, err = ingest(tmp_path / "w.duckdb", tmp_path / "cap")
    assert (code, err) == (0, ""), out
    got = rows(
        tmp_path / "w.duckdb",
        "select frame_number, capture_start_ns + (frame_time_relative * 1000000000)::bigint,"
        " ip_src, tcp_srcport, udp_dstport, frame_len, other_fields"
        " from raw.tshark_packets order by 1",
    )
    assert got == [
        (1, 1483873200000000000, "192.168.1.5", 52114, None, 66, None),
        (2, 1483873200500000001, "192.168.1.5", None, 5353, 120, None),
        (3, 1483873201250000000, None, 40526, None, 86, None),
        (4, 1483873202000000000, None, None, None, 64, None),
    ]


def test_quoted_any_order_repeated_fields_and_unknown_fields(tmp_path: Path) -> None:
    write(
        tmp_path / "nefias.csv",
        [
            NEFIAS,
            '"6",,"1","0.000000000","74","74","00:22:5f:d6:0e:2d","f8:8b:37:b6:8c:a7",'
            '"192.168.0.206","80.228.115.12",,,"58752","443",,,"0",',
            # IP-in-IP with -E occurrence=a -E quote=d: outer first, all values kept
            '"4,6",,"2","0.1","102","102",,,"10.162.42.93,27.36.55.113",'
            '"10.162.33.164,210.21.210.241",,,"49249","60030",,,"1","sensors/1"',
            '"6",,"3","0.2","86","86",,,,,"2a00::1","2a00::2","443","40526",,,"x",',
        ],
    )
    code, out, err = ingest(tmp_path / "w.duckdb", tmp_path / "nefias.csv", "--start", "1600000000")
    assert (code, err) == (0, ""), out
    got = rows(
        tmp_path / "w.duckdb",
        "select frame_number, ip_proto, ip_src, ip_dst, ipv6_src, tcp_srcport, tcp_seq,"
        " other_fields from raw.tshark_packets order by 1",
    )
    assert got[0] == (1, 6, "192.168.0.206", "80.228.115.12", None, 58752, 0, None)
    assert got[1][:7] == (2, 4, "10.162.42.93", "10.162.33.164", None, 49249, 1)
    assert got[1][7] == {
        "ip.proto": "4,6",
        "ip.src": "10.162.42.93,27.36.55.113",
        "ip.dst": "10.162.33.164,210.21.210.241",
        "mqtt.topic": "sensors/1",
    }
    # a value that is not the number we expect: NULL, its text kept
    assert got[2][4:] == ("2a00::1", 443, None, {"tcp.seq": "x"})


def test_unquoted_repeated_field_is_a_bad_line_with_a_hint(tmp_path: Path) -> None:
    path = write(
        tmp_path / "1483873200.csv",
        [
            NOTEBOOK,
            "0.000000000,10.162.42.93,27.36.55.113,49249,,10.162.33.164,210.21.210.241,60030,,102",
            "0.100000000,10.0.0.1,1234,,10.0.0.2,80,,60",
        ],
    )
    code, _, err = ingest(tmp_path / "w.duckdb", path)
    assert code == 1
    assert "partial" in err and "line 2" in err and "-E quote=d" in err
    assert rows(tmp_path / "w.duckdb", "select count(*) from raw.tshark_packets") == [(1,)]
    issues = rows(tmp_path / "w.duckdb", "select position, reason from raw.ingest_issues")
    assert issues[0][0] == "line 2" and "occurrence=f" in issues[0][1]


def test_bare_export_reports_text_in_a_number_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "1483873200.csv",
        [NOTEBOOK, "0.0,10.0.0.1,http,,10.0.0.2,80,,60", "0.1,10.0.0.1,1234,,10.0.0.2,80,,60"],
    )
    code, _, err = ingest(tmp_path / "w.duckdb", path)
    assert code == 1 and "partial" in err and "line 2" in err
    assert rows(tmp_path / "w.duckdb", "select tcp_srcport from raw.tshark_packets") == [(1234,)]


def test_a_bad_lines_reason_is_one_short_printable_line(tmp_path: Path) -> None:
    # an unterminated quote makes DuckDB's reader collect dozens of errors for the line, and a
    # NUL byte would be stored and printed as it is
    path = tmp_path / "1483873200.csv"
    lines = [NOTEBOOK, "0.0,10.0.0.1,a\x00b,,10.0.0.2,80,,60", '0.1,"unterminated,1,,2,80,,60']
    lines += [",".join(["0.2", *["x"] * n]) for n in range(9, 40)]
    path.write_bytes("".join(f"{line}\n" for line in lines).encode())
    code, _, err = ingest(tmp_path / "w.duckdb", path)
    assert code == 1 and "partial" in err
    assert len(err.strip().splitlines()) == 1 and len(err) < 400 and "\x00" not in err
    reasons = rows(tmp_path / "w.duckdb", "select reason from raw.ingest_issues order by position")
    assert reasons, "the bad lines are issues"
    for (reason,) in reasons:
        assert "\x00" not in reason and "\n" not in reason and len(reason) < 200, reason
    assert any("\\x00" in reason for (reason,) in reasons)  # the NUL shown, escaped


def test_epoch_time_tab_separator_and_gzip(tmp_path: Path) -> None:
    body = "frame.number\tframe.time_epoch\tframe.len\tip.src\tip.dst\ttcp.flags\n"
    body += "1\t1448269123.954061000\t86\t10.0.0.1\t10.0.0.2\t0x0012\n"
    (tmp_path / "trace.csv.gz").write_bytes(gzip.compress(body.encode()))
    code, out, err = ingest(tmp_path / "w.duckdb", tmp_path / "trace.csv.gz")
    assert (code, err) == (0, ""), out
    assert rows(
        tmp_path / "w.duckdb",
        "select (frame_time_epoch * 1000000000)::bigint, tcp_flags, capture_start_ns"
        " from raw.tshark_packets",
    ) == [(1448269123954061000, 18, None)]


def test_relative_time_needs_a_start(tmp_path: Path) -> None:
    path = write(tmp_path / "trace.csv", [NOTEBOOK, "0.0,10.0.0.1,1,,10.0.0.2,2,,60"])
    code, _, err = ingest(tmp_path / "w.duckdb", path)
    assert code == 1
    assert err.count("\n") == 1 and "--start" in err and "trace.csv" in err
    code, _, err = ingest(tmp_path / "w.duckdb", path, "--start", "2017-01-08T13:00:00+02:00")
    assert code == 0
    assert rows(tmp_path / "w.duckdb", "select capture_start_ns from raw.tshark_packets") == [
        (1483873200 * 10**9,)
    ]


def test_parse_start_accepts_unix_seconds_and_iso() -> None:
    assert parse_start("1483873200.5") == 1483873200500000000
    assert parse_start("2017-01-08T11:00:00+00:00") == 1483873200000000000
    with pytest.raises(ValueError, match="UTC offset"):
        parse_start("2017-01-08T11:00:00")
    with pytest.raises(ValueError):
        parse_start("yesterday")


def test_header_only_file_is_an_idle_hour(tmp_path: Path) -> None:
    path = write(tmp_path / "1483873200.csv", [NOTEBOOK])
    code, out, err = ingest(tmp_path / "w.duckdb", path)
    assert (code, err) == (0, ""), out
    assert rows(tmp_path / "w.duckdb", "select status, rows from raw.ingest_files") == [
        ("loaded", 0)
    ]


def test_identical_hourly_files_are_two_hours(tmp_path: Path) -> None:
    """Was: the second of two byte-identical hours (idle hours, a repeated pattern) was
    skipped as 'same content', losing an hour: in hourly files the name is the time."""
    lines = [NOTEBOOK, "0.5,10.0.0.1,1000,,10.0.0.2,80,,60"]
    write(tmp_path / "cap/1483873200.csv", lines)
    write(tmp_path / "cap/1483876800.csv", lines)
    code, out, err = ingest(tmp_path / "w.duckdb", tmp_path / "cap")
    assert (code, err) == (0, ""), out
    got = rows(
        tmp_path / "w.duckdb",
        "select capture_start_ns // 1000000000, count(*) from raw.tshark_packets"
        " group by 1 order by 1",
    )
    assert got == [(1483873200, 1), (1483876800, 1)]


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["timestamp,peer_id,peer_conn_type,peer_addr,flow,msg_type,size"], "not a tshark"),
        (["0.0,10.0.0.1,1,,10.0.0.2,2,,60"], "not a tshark"),
        (["frame.len,ip.src,frame.len", "60,10.0.0.1,60"], "appears twice"),
        ([""], "empty"),
    ],
)
def test_wrong_files_fail_with_one_line(tmp_path: Path, lines: list[str], reason: str) -> None:
    path = write(tmp_path / "1483873200.csv", lines)
    code, _, err = ingest(tmp_path / "w.duckdb", path)
    assert code == 1
    assert err.count("\n") == 1 and reason in err
    assert rows(tmp_path / "w.duckdb", "select count(*) from raw.tshark_packets") == [(0,)]


def test_reingest_is_idempotent_and_a_grown_file_replaces_its_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "1483873200.csv", [NOTEBOOK, "0.0,10.0.0.1,1,,10.0.0.2,2,,60"])
    db = tmp_path / "w.duckdb"
    assert ingest(db, path)[0] == 0
    code, out, _ = ingest(db, path)
    assert code == 0 and "1 unchanged" in out
    write(path, [NOTEBOOK, "0.0,10.0.0.1,1,,10.0.0.2,2,,60", "0.5,10.0.0.2,2,,10.0.0.1,1,,60"])
    assert ingest(db, path)[0] == 0
    assert rows(db, "select count(*) from raw.tshark_packets") == [(2,)]


def test_shared_exports_load_every_row(tmp_path: Path, shared: Path) -> None:
    for csv in sorted((shared / "tshark-csv").glob("*.csv")):
        code, out, err = ingest(tmp_path / "w.duckdb", csv, "--start", "1600000000")
        assert (code, err) == (0, ""), out
        lines = sum(1 for _ in csv.open()) - 1
        assert f"{lines:,} rows" in out
