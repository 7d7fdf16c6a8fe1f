"""Messy real-world CSVs lose nothing: every line is a row or an issue, every value as written.

Each test names the failure it reproduces; all of them failed on the loader before the careful
read (rows lost, values rounded, files failing whole, or time and memory without bound).
"""

from __future__ import annotations

import bz2
import functools
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from ingest.kinds import tracepoints
from ingest.loader.warehouse import Warehouse
from ingest.tests.helpers import BIN, HEADER, wirehouse, write_csv

ROW = "2025-01-22T14:00:{s:02d}Z,{i},inbound,1.2.3.4:8333,in,ping,8"


def rows(n: int, start: int = 0) -> list[str]:
    return [ROW.format(s=i % 60, i=i) for i in range(start, start + n)]


def count(db: Path, sql: str = "select count(*) from raw.bitcoin_p2p_messages") -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def issues(db: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select position, reason from raw.ingest_issues"
            " order by cast(split_part(position, ' ', 2) as bigint)"
        ).fetchall()


# 1. rows appended while a file is read -------------------------------------------------


def test_rows_appended_during_the_load_are_loaded_next_time(tmp_path: Path) -> None:
    """The hash was taken of a later version than the one loaded: the appended rows were
    never loaded ("unchanged" forever). Now what is recorded is what was read."""
    path = write_csv(tmp_path / "2025-01-22.csv", [HEADER, *rows(500)])
    os.utime(path, ns=(time.time_ns() - 60 * 10**9,) * 2)  # not written just now
    original = tracepoints.SOURCE.extract

    def extract_then_append(file, con, report):
        yield from original(file, con, report)
        if file == path:  # only the first, direct read races with the writer
            with path.open("ab") as f:
                f.write("".join(f"{r}\r\n" for r in rows(1000, 500)).encode())

    racing = replace(tracepoints.SOURCE, extract=extract_then_append)
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        wh.ensure_tables(racing.tables)
        first = wh.ingest_file(path, racing)
    # the file changed under the read: it was loaded again from a frozen copy, and the
    # manifest holds that copy's size and sha256
    assert (first.status, first.rows) == ("loaded", 1500)
    with duckdb.connect(str(db), read_only=True) as con:
        size = con.execute("select size_bytes from raw.ingest_files").fetchone()[0]
    assert size == path.stat().st_size
    write_csv(path, [HEADER, *rows(2000)])
    os.utime(path, ns=(time.time_ns() - 60 * 10**9,) * 2)
    with Warehouse(db) as wh:
        again = wh.ingest_file(path, tracepoints.SOURCE)
    assert (again.status, again.rows) == ("loaded", 2000)
    assert count(db) == 2000


def test_twenty_ingests_beside_a_writer_lose_no_row(tmp_path: Path) -> None:
    """nix-bitcoin-monitor appends every 5 s; here a writer appends every few ms while the
    file is ingested 20 times. After the writer stops, one more ingest has every row."""
    path = write_csv(tmp_path / "2025-01-22.csv", [HEADER, *rows(20_000)])
    written = [20_000]
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            with path.open("ab") as f:
                f.write("".join(f"{r}\r\n" for r in rows(50, written[0])).encode())
            written[0] += 50
            time.sleep(0.002)

    db = tmp_path / "w.duckdb"
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with Warehouse(db) as wh:
            wh.ensure_tables(tracepoints.SOURCE.tables)
            results = [wh.ingest_file(path, tracepoints.SOURCE) for _ in range(20)]
    finally:
        stop.set()
        thread.join()
    assert all(r.status in ("loaded", "skipped") for r in results), results
    os.utime(path, ns=(time.time_ns() - 60 * 10**9,) * 2)
    with Warehouse(db) as wh:
        wh.ingest_file(path, tracepoints.SOURCE)
    assert count(db) == written[0]
    assert count(db, "select count(distinct peer_id) from raw.bitcoin_p2p_messages") == written[0]


# 2. quotes -----------------------------------------------------------------------------


@pytest.mark.integration
def test_an_unterminated_quote_costs_only_its_own_line(tmp_path: Path) -> None:
    """Was: 'partial: 4 rows; 1 bad: line 6' for a 10-line file (5 good lines gone)."""
    lines = [HEADER, *rows(9)]
    lines[5] = lines[5].replace("1.2.3.4", '"1.2.3.4')
    db = tmp_path / "w.duckdb"
    result = wirehouse("ingest", "tracepoints", write_csv(tmp_path / "a.csv", lines), "--db", db)
    assert result.returncode == 1 and "8 rows; 1 bad: line 6: unterminated quote" in result.stderr
    assert count(db) == 8


@pytest.mark.integration
def test_two_open_quotes_in_a_thousand_lines(tmp_path: Path) -> None:
    """Was: 599 rows and 1 issue."""
    lines = [HEADER, *rows(999)]
    for n in (301, 701):
        lines[n - 1] = lines[n - 1].replace("inbound", '"inbound')
    db = tmp_path / "w.duckdb"
    wirehouse("ingest", "tracepoints", write_csv(tmp_path / "a.csv", lines), "--db", db)
    assert count(db) == 997
    assert [p for p, _ in issues(db)] == ["line 301", "line 701"]


@pytest.mark.integration
def test_quoted_values_and_header_names_load(tmp_path: Path) -> None:
    quoted = ",".join(f'"{name}"' for name in HEADER.split(","))
    lines = [quoted, *rows(3), '"2025-01-22T14:00:09Z","9","inbound","1.2.3.4:8333","in","tx","7"']
    db = tmp_path / "w.duckdb"
    result = wirehouse("ingest", "tracepoints", write_csv(tmp_path / "a.csv", lines), "--db", db)
    assert result.returncode == 0, result.stderr
    assert count(db, "select sum(size) from raw.bitcoin_p2p_messages") == 3 * 8 + 7


# 3. line endings, BOM -----------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("lf-in-crlf", "\r\n".join([HEADER, *rows(3)]) + "\n" + "\r\n".join(rows(3, 3)) + "\r\n"),
        ("cr-only", "\r".join([HEADER, *rows(6)]) + "\r"),
        ("lf-only", "\n".join([HEADER, *rows(6)]) + "\n"),
        ("bom", "\ufeff" + "\r\n".join([HEADER, *rows(6)]) + "\r\n"),
        ("no-final-newline", "\r\n".join([HEADER, *rows(6)])),
    ],
)
def test_line_endings_and_bom_load(tmp_path: Path, name: str, body: str) -> None:
    """Was: one LF line sank a CRLF file ('CSV Parser state machine reached an invalid
    state', 0 rows); CR-only and BOM files failed whole."""
    path = tmp_path / f"{name}.csv"
    path.write_bytes(body.encode())
    os.utime(path, ns=(time.time_ns() - 60 * 10**9,) * 2)  # a finished file
    db = tmp_path / "w.duckdb"
    result = wirehouse("ingest", "tracepoints", path, "--db", db)
    assert result.returncode == 0, result.stderr
    assert count(db) == 6


@pytest.mark.integration
def test_an_unfinished_last_line_of_a_fresh_file_waits_for_the_next_ingest(
    tmp_path: Path,
) -> None:
    """A file written a moment ago may be mid-write: its last line without a line end is
    left for the next ingest, with a note; nothing is lost."""
    path = tmp_path / "2025-01-22.csv"
    path.write_bytes(("\r\n".join([HEADER, *rows(6)])).encode())
    db = tmp_path / "w.duckdb"
    first = wirehouse("ingest", "tracepoints", path, "--db", db)
    assert first.returncode == 0 and "still being written" in first.stderr
    assert count(db) == 5
    with path.open("ab") as f:
        f.write(b"\r\n")
    os.utime(path, ns=(time.time_ns() - 60 * 10**9,) * 2)
    wirehouse("ingest", "tracepoints", path, "--db", db)
    assert count(db) == 6


@pytest.mark.integration
def test_blank_lines_are_not_bad_lines(tmp_path: Path) -> None:
    lines = [HEADER, *rows(2), "", *rows(2, 2), ""]
    db = tmp_path / "w.duckdb"
    result = wirehouse("ingest", "tracepoints", write_csv(tmp_path / "a.csv", lines), "--db", db)
    assert result.returncode == 0, result.stderr
    assert count(db) == 4


# 4. values land as written or not at all -----------------------------------------------


@pytest.mark.integration
def test_timestamps_with_an_offset_are_converted_to_utc(tmp_path: Path) -> None:
    """Was: 2025-01-22T00:00:04-03:00 stored as 00:00:04."""
    lines = [
        HEADER,
        "2025-01-22T00:00:04-03:00,1,inbound,1.2.3.4:8333,in,ping,8",
        "2025-01-22 00:00:09+01:00,2,inbound,1.2.3.4:8333,in,ping,8",
        "2025-01-22T00:00:14Z,3,inbound,1.2.3.4:8333,in,ping,8",
        "2025-01-22 00:00:19,4,inbound,1.2.3.4:8333,in,ping,8",
    ]
    db = tmp_path / "w.duckdb"
    wirehouse("ingest", "tracepoints", write_csv(tmp_path / "a.csv", lines), "--db", db)
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute(
            "select strftime(timestamp, '%Y-%m-%d %H:%M:%S') from raw.bitcoin_p2p_messages"
            " order by peer_id"
        ).fetchall()
    assert [g for (g,) in got] == [
        "2025-01-22 03:00:04",
        "2025-01-21 23:00:09",
        "2025-01-22 00:00:14",
        "2025-01-22 00:00:19",
    ]


@pytest.mark.integration
@pytest.mark.parametrize(
    "value", ["12.5", "1e3", " 0x10", "3.7", "1_000", "+5", "9223372036854775808"]
)
def test_an_integer_in_another_notation_is_a_bad_line(tmp_path: Path, value: str) -> None:
    """Was: 12.5 -> 13, 1e3 -> 1000, ' 0x10' -> 16, peer_id 3.7 -> 4, all 'loaded'."""
    lines = [HEADER, *rows(3), f"2025-01-22T14:00:09Z,{value},inbound,1.2.3.4:8333,in,tx,5"]
    db = tmp_path / "w.duckdb"
    result = wirehouse("ingest", "tracepoints", write_csv(tmp_path / "a.csv", lines), "--db", db)
    assert result.returncode == 1
    assert count(db) == 3
    ((position, reason),) = issues(db)
    assert position == "line 5" and "peer_id" in reason and "not an integer" in reason


@pytest.mark.integration
def test_a_fractional_counter_is_a_bad_line(tmp_path: Path) -> None:
    """Was: counter 337324246.6 stored as 337324247."""
    path = write_csv(
        tmp_path / "ip_accounting.csv",
        [
            "timestamp,IPIngressPackets,IPEgressPackets,IPIngressBytes,IPEgressBytes",
            "2025-01-22T00:00:04Z,10,20,337324246,1000",
            "2025-01-22T00:00:09Z,11,21,337324246.6,1100",
            "2025-01-22T00:00:14Z,12,22,337324300,1200",
        ],
    )
    db = tmp_path / "w.duckdb"
    result = wirehouse("ingest", "systemd", path, "--db", db, "--counters", "cumulative")
    assert result.returncode == 1
    assert count(db, "select count(*) from raw.systemd_ip_accounting_samples") == 2
    assert issues(db)[0][0] == "line 3"


# 7. bounded time and memory per line ---------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("size", [50_000, 100_000, 200_000, 400_000])
def test_lines_full_of_commas_cost_bounded_time(tmp_path: Path, size: int) -> None:
    """Was: 50 KB 4.2 s / 1.0 GB ... 400 KB > 120 s, and a 1,088,920-character error."""
    lines = [HEADER, *rows(3), "," * size, *rows(3, 3)]
    db = tmp_path / "w.duckdb"
    started = time.monotonic()
    result = wirehouse("ingest", "tracepoints", write_csv(tmp_path / "a.csv", lines), "--db", db)
    assert time.monotonic() - started < 30
    assert count(db) == 6
    assert max(len(line) for line in result.stderr.splitlines()) < 700
    ((position, reason),) = issues(db)
    assert position == "line 5" and "longer than" in reason


@pytest.mark.integration
def test_a_40_mb_line_without_commas_is_recorded(tmp_path: Path) -> None:
    """Was: the line vanished, status 'loaded', 0 issues."""
    path = tmp_path / "a.csv"
    with path.open("wb") as f:
        f.write(("\r\n".join([HEADER, *rows(2)]) + "\r\n").encode())
        f.write(b"x" * 40_000_000 + b"\r\n")
        f.write(("\r\n".join(rows(2, 2)) + "\r\n").encode())
    db = tmp_path / "w.duckdb"
    result = wirehouse("ingest", "tracepoints", path, "--db", db)
    assert result.returncode == 1
    assert count(db) == 4
    assert issues(db) == [("line 4", "line of 40,000,000 characters, longer than 4,096: not read")]


# 8. smaller holes ----------------------------------------------------------------------


@pytest.mark.integration
def test_a_same_size_edit_with_the_mtime_kept_is_reloaded(tmp_path: Path) -> None:
    """Was: never reloaded (size and mtime trusted without the sha256)."""
    path = write_csv(tmp_path / "a.csv", [HEADER, *rows(3)])
    db = tmp_path / "w.duckdb"
    wirehouse("ingest", "tracepoints", path, "--db", db)
    before = path.stat()
    path.write_bytes(path.read_bytes().replace(b",ping,8", b",pong,8"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    wirehouse("ingest", "tracepoints", path, "--db", db)
    assert count(db, "select count(*) from raw.bitcoin_p2p_messages where msg_type = 'pong'") == 3


@pytest.mark.integration
def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    """Was: the ingest hung forever on a named pipe."""
    fifo = tmp_path / "2025-01-22.csv"
    os.mkfifo(fifo)
    result = subprocess.run(
        [BIN / "wirehouse", "ingest", "tracepoints", fifo, "--db", tmp_path / "w.duckdb"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "not a regular file" in result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("layout", ["tracepoints/net", "export"])
def test_a_fifo_or_symlink_loop_inside_a_folder_is_refused_not_skipped(
    tmp_path: Path, layout: str
) -> None:
    """Was: inside a folder (no layout matched), a FIFO or a symlink loop named like a CSV
    was skipped without a word; in the layout folder a loop stopped the whole ingest."""
    folder = tmp_path / "data" / layout
    write_csv(folder / "2025-01-22.csv", [HEADER, *rows(3)])
    os.mkfifo(folder / "2025-01-23.csv")
    (folder / "a.csv").symlink_to("b.csv")
    (folder / "b.csv").symlink_to("a.csv")
    done = wirehouse("ingest", "tracepoints", tmp_path / "data", "--db", tmp_path / "w.duckdb")
    assert done.returncode == 1, done.stderr
    assert sorted(done.stderr.splitlines()) == [
        f"wirehouse: error: {folder}/2025-01-23.csv: not a regular file",
        f"wirehouse: error: {folder}/a.csv: cannot read: Too many levels of symbolic links",
        f"wirehouse: error: {folder}/b.csv: cannot read: Too many levels of symbolic links",
    ]
    assert "1 rows loaded" not in done.stdout and "3 rows loaded" in done.stdout


@pytest.mark.integration
def test_a_kill_during_decompression_leaves_no_temporary_file(tmp_path: Path) -> None:
    """Was: a 29 MB temporary file stayed in /tmp after kill -9."""
    path = tmp_path / "big.csv.bz2"
    with bz2.open(path, "wb", compresslevel=1) as f:
        f.write(("\r\n".join([HEADER, *rows(400_000)]) + "\r\n").encode())
    db = tmp_path / "w.duckdb"
    proc = subprocess.Popen(
        [BIN / "wirehouse", "ingest", "tracepoints", path, "--db", db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tmp_dir = tmp_path / ".w.duckdb.tmp"
    deadline = time.monotonic() + 60
    while not any(tmp_dir.glob("careful-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wirehouse("init", "--db", db).returncode == 0
    assert not tmp_dir.exists() or not any(tmp_dir.iterdir())


def as_a_user(*args: str | Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command as an ordinary user (nobody when the tests run as root)."""
    prefix = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    # this test process set its own (root's) compiled-code cache: not the user's
    env = env or {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    return subprocess.run(
        [*prefix, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


@functools.cache
def why_a_user_cannot_run_wirehouse() -> str:
    """Empty when an ordinary user can start this checkout's wirehouse; else why not (a clone
    or a Python under a private directory, such as root's home, is out of their reach)."""
    probe = as_a_user(BIN / "python", "-c", "import wirehouse.cli")
    if probe.returncode == 0:
        return ""
    lines = (probe.stderr or probe.stdout).strip().splitlines()
    return f"{BIN / 'python'}: {lines[-1] if lines else f'exit {probe.returncode}'}"


@pytest.fixture
def shared_tmp() -> Path:
    """A directory an ordinary user can write (pytest's tmp_path is private to root); skips
    with the reason when that user cannot run wirehouse from where this checkout lies."""
    if os.geteuid() == 0 and (why := why_a_user_cannot_run_wirehouse()):
        pytest.skip(f"an ordinary user cannot run this checkout's wirehouse: {why}")
    path = Path(tempfile.mkdtemp(prefix="wirehouse-user-"))
    path.chmod(0o777)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.mark.integration
def test_an_unreadable_directory_is_reported(shared_tmp: Path) -> None:
    """Was: skipped without a word, exit 0."""
    write_csv(shared_tmp / "node" / "tracepoints" / "net" / "2025-01-22.csv", [HEADER, *rows(3)])
    hidden = shared_tmp / "node" / "tracepoints" / "old"
    write_csv(hidden / "2025-01-21.csv", [HEADER, *rows(3)])
    for d in shared_tmp.rglob("*"):
        d.chmod(0o777 if d.is_dir() else 0o666)
    hidden.chmod(0o000)
    db = shared_tmp / "w.duckdb"
    result = as_a_user(BIN / "wirehouse", "ingest", "tracepoints", shared_tmp / "node", "--db", db)
    hidden.chmod(0o777)
    assert result.returncode == 1, result.stderr
    assert f"cannot read directory {hidden}: Permission denied" in result.stderr
    assert "3 rows loaded" in result.stdout


@pytest.mark.integration
def test_a_user_without_a_writable_home_can_ingest(shared_tmp: Path) -> None:
    """Was: 'RuntimeError: cannot cache function ...: no locator available' for any ingest."""
    src = write_csv(shared_tmp / "2025-01-22.csv", [HEADER, *rows(3)])
    src.chmod(0o666)
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}
    db = shared_tmp / "w.duckdb"
    result = as_a_user(BIN / "wirehouse", "ingest", "tracepoints", src, "--db", db, env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_csv_ingest_does_not_import_the_capture_compiler(tmp_path: Path) -> None:
    """Was: numba was imported for CSVs, so a user without a writable home could not
    ingest anything ('cannot cache function ...: no locator available')."""
    path = write_csv(tmp_path / "a.csv", [HEADER, *rows(3)])
    script = (
        "import sys; from wirehouse.cli import main\n"
        f"sys.argv = ['wirehouse', 'ingest', 'tracepoints', {str(path)!r},"
        f" '--db', {str(tmp_path / 'w.duckdb')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n"
        "    assert e.code == 0, e.code\n    assert 'numba' not in sys.modules, 'numba imported'\n"
    )
    result = subprocess.run([BIN / "python", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["tracepoints", "systemd", "tshark"])
def test_a_capture_given_to_a_csv_kind_says_which_command_reads_it(
    tmp_path: Path, kind: str
) -> None:
    capture = tmp_path / "broker.pcap"
    capture.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    done = wirehouse("ingest", kind, capture, "--db", tmp_path / "w.duckdb")
    assert done.returncode == 1
    assert done.stderr == (
        f"wirehouse: error: {capture}: a pcap/pcapng capture, not a CSV: load it with"
        " `wirehouse ingest pcap`\n"
    )
