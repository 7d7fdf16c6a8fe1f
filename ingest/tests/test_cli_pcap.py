"""`wirehouse ingest pcap` end to end: exit codes, window options, manifest."""

from __future__ import annotations

from pathlib import Path

import duckdb
from click.testing import CliRunner

from ingest.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["ingest", "pcap", *args])
    return result.exit_code, result.stdout, result.stderr


def test_general_captures_load_and_rerun_adds_nothing(tmp_path: Path, shared: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    code, out, err = run(str(shared / "pcap-general"), "--db", db)
    assert (code, err) == (0, "")
    with duckdb.connect(db, read_only=True) as con:
        packets = con.execute("select count(*) from raw.pcap_packets").fetchone()[0]
        files = con.execute(
            "select count(*) from raw.ingest_files where status = 'loaded'"
        ).fetchone()[0]
    assert files == len([p for p in (shared / "pcap-general").iterdir() if p.suffix != ".md"])
    assert packets > 1000
    code, out, _ = run(str(shared / "pcap-general"), "--db", db)
    assert code == 0 and f"{files} unchanged" in out


def test_broken_captures_exit_1_with_one_line_each(tmp_path: Path, shared: Path) -> None:
    code, _, err = run(str(shared / "pcap-broken"), "--db", str(tmp_path / "w.duckdb"))
    assert code == 1
    lines = err.splitlines()
    assert lines and all(
        line.startswith(("wirehouse: error: ", "wirehouse: partial: ")) for line in lines
    )
    assert any("not a multiple of 4" in line for line in lines)
    assert "Traceback" not in err


def test_window_needs_an_offset_and_filters_packets(tmp_path: Path, shared: Path) -> None:
    capture = shared / "pcap-general" / "tcpdump_tcp-handshake-nano.pcap"
    assert run(str(capture), "--since", "2020-01-01T00:00:00")[0] == 2
    db = str(tmp_path / "w.duckdb")
    code, _, _ = run(str(capture), "--db", db, "--since", "2100-01-01T00:00:00+00:00")
    assert code == 0
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("select count(*) from raw.pcap_packets").fetchone() == (0,)
        assert con.execute("select status from raw.ingest_files").fetchall() == [("loaded",)]


def test_last_packet_of_pcapng_found_from_the_end(shared: Path) -> None:
    from ingest.sources.pcap import PcapOptions, last_packet_ns, read_batches

    found = 0
    for path in sorted(shared.glob("*/*.pcapng")):
        last = last_packet_ns(path)
        if last is None:
            continue
        stamps = [b.table.column("ts_ns")[-1].as_py() for b in read_batches(path, PcapOptions())]
        assert last == stamps[-1], path.name
        found += 1
    assert found >= 4


def test_since_skips_a_pcapng_that_ended_before_it(tmp_path: Path, shared: Path) -> None:
    sites = shared / "pcap-general" / "ndpi_sites.pcapng"  # last packet 2024-08-01
    nano = shared / "pcap-general" / "tcpdump_tcp-handshake-nano.pcap"
    db = str(tmp_path / "w.duckdb")
    code, out, _ = run(str(sites), str(nano), "--db", db, "--since", "2025-01-01T00:00:00+00:00")
    assert code == 0 and out.splitlines()[-1].startswith("1 file(s)")
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("select count(*) from raw.ingest_files").fetchone() == (1,)
