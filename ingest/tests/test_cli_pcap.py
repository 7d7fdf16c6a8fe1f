"""`wirehouse ingest pcap` end to end: exit codes, whole files, manifest."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from wirehouse.cli import main


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


@pytest.mark.integration
def test_broken_captures_exit_1_with_one_line_each(tmp_path: Path, shared: Path) -> None:
    code, _, err = run(str(shared / "pcap-broken"), "--db", str(tmp_path / "w.duckdb"))
    assert code == 1
    lines = err.splitlines()
    assert lines and all(
        line.startswith(("wirehouse: error: ", "wirehouse: partial: ", "wirehouse: note: "))
        for line in lines
    )
    assert any("not a multiple of 4" in line for line in lines)
    assert "Traceback" not in err


@pytest.mark.integration
def test_whole_files_load_and_an_empty_capture_is_loaded(tmp_path: Path, shared: Path) -> None:
    """No ingest window: every packet lands, and the analysis window is a dbt var."""
    capture = shared / "pcap-general" / "tcpdump_tcp-handshake-nano.pcap"
    empty = shared / "pcap-broken" / "tcpdump_empty.pcap"
    assert run(str(capture), "--since", "2100-01-01T00:00:00+00:00")[0] == 2  # no such option
    db = str(tmp_path / "w.duckdb")
    code, out, err = run(str(capture), str(empty), "--db", db)
    assert (code, err) == (0, "")
    with duckdb.connect(db, read_only=True) as con:
        packets = con.execute("select count(*) from raw.pcap_packets").fetchone()[0]
        statuses = con.execute("select status, rows from raw.ingest_files order by rows").fetchall()
    assert packets > 0 and statuses == [("loaded", 0), ("loaded", packets)]
    assert "no pcap files" not in out


def test_summary_counts_packets_and_messages(tmp_path: Path, shared: Path) -> None:
    capture = shared / "pcap-kafka" / "deepflow_mixed-with-unsupported.pcap"
    code, out, _ = run(str(capture), "--db", str(tmp_path / "w.duckdb"))
    assert code == 0
    assert out.splitlines() == [
        f"loaded {capture}: 9 packets, 6 Kafka messages",
        f"1 file(s): 9 packets, 6 Kafka messages loaded, 0 unchanged, 0 partial, 0 failed"
        f" -> {tmp_path / 'w.duckdb'}",
    ]
