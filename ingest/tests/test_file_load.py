"""Each named step of loading one file (ingest/loader/file_load.py), in-process with a tiny
source: one integer per line into raw.t_rows; a line that is not an integer is an issue."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from ingest.kinds.base import CarefulRetry, Extraction, Issue, RawTable, SourceError, SourceKind
from ingest.loader import file_load
from ingest.loader.manifest import MAX_ISSUES_STORED, MAX_TEXT_CHARS
from ingest.loader.warehouse import Warehouse

ROWS = RawTable(name="t_rows", columns={"n": "BIGINT"})
AN_HOUR_AGO_NS = time.time_ns() - 3600 * 10**9


class Source:
    """A line-based kind whose reads are recorded; `fail` may raise on some reads."""

    def __init__(self, fail: Callable[[Extraction], None] = lambda report: None) -> None:
        self.reads: list[tuple[Path, bool]] = []  # (path read, careful)
        self.fail = fail
        self.kind = SourceKind(
            kind="t",
            tables=(ROWS,),
            extract=self.extract,
            find=lambda d: [],
            line_based=True,
            careful_mode=True,
        )

    def extract(self, path: Path, con: object, report: Extraction) -> Iterator[tuple[str, str]]:
        self.reads.append((path, report.careful))
        self.fail(report)
        numbers = []
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip().isdigit():
                numbers.append(line.strip())
            else:
                report.issues.append(Issue(f"line {i}", f"not an integer: {line!r}"))
        if numbers:
            yield "t_rows", f"select unnest([{', '.join(numbers)}])::bigint as n"


def write(path: Path, text: str, mtime_ns: int = AN_HOUR_AGO_NS) -> Path:
    """A file that is not being written any more (unless `mtime_ns` says otherwise)."""
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse(tmp_path / "w.duckdb") as warehouse:
        warehouse.ensure_tables((ROWS,))
        yield warehouse


def rows(wh: Warehouse) -> list[tuple[str, int]]:
    return wh.con.execute(
        "select f.path, t.n from raw.t_rows as t join raw.ingest_files as f"
        " on f.file_id = t._file_id order by all"
    ).fetchall()


def removed(wh: Warehouse) -> list[tuple]:
    """raw.removed_rows without its time: (kind, table, node, first_timestamp, rows, reason)."""
    return wh.con.execute(
        "select kind, table_name, node, first_timestamp, rows, reason from raw.removed_rows"
        " order by all"
    ).fetchall()


def manifest(wh: Warehouse, *columns: str) -> list[tuple]:
    return wh.con.execute(
        f"select {', '.join(columns)} from raw.ingest_files order by path, status"
    ).fetchall()


# --- look: a file that cannot be read at all


def test_a_missing_file_fails_without_a_read(wh: Warehouse, tmp_path: Path) -> None:
    source = Source()
    result = wh.ingest_file(tmp_path / "gone.txt", source.kind)
    assert (result.status, result.message) == ("failed", "cannot read: No such file or directory")
    assert source.reads == []
    assert manifest(wh, "sha256", "size_bytes", "status") == [("", 0, "failed")]


def test_a_directory_is_not_a_regular_file(wh: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    result = wh.ingest_file(tmp_path / "d", Source().kind)
    assert (result.status, result.message) == ("failed", "not a regular file")


# --- unchanged on disk: skip, or relabel under another node


def test_an_unchanged_file_is_skipped_without_reading_it(wh: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "1\n2\n")
    source = Source()
    assert wh.ingest_file(path, source.kind, "n1").status == "loaded"
    again = wh.ingest_file(path, source.kind, "n1")
    assert (again.status, again.message) == ("skipped", "already loaded")
    assert len(source.reads) == 1
    assert wh.ingest_file(path, source.kind).status == "skipped"  # no node asked: as it was


def test_an_unchanged_file_under_another_node_is_relabelled(wh: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "1\n2\n")
    source = Source()
    wh.ingest_file(path, source.kind, "n1")
    wh.con.execute("update raw.t_rows set _loaded_at = '2000-01-01'")
    result = wh.ingest_file(path, source.kind, "n2")
    assert (result.status, result.message) == (
        "relabelled",
        "already loaded; moved from node 'n1' to 'n2'",
    )
    assert manifest(wh, "node", "loaded_at") == [("n2", wh.loaded_at)]
    # the rows count as new for incremental models
    assert wh.con.execute("select distinct _loaded_at from raw.t_rows").fetchall() == [
        (wh.loaded_at,)
    ]
    assert len(source.reads) == 1
    # and they are gone from n1: logged as removed from it (t_rows has no timestamp column)
    assert removed(wh) == [("t", "t_rows", "n1", None, 2, "relabel")]


# --- freeze a growing file


def test_a_file_written_just_now_is_read_from_a_frozen_prefix(
    wh: Warehouse, tmp_path: Path
) -> None:
    path = write(tmp_path / "a.txt", "1\n2\n3", mtime_ns=time.time_ns())
    source = Source()
    result = wh.ingest_file(path, source.kind)
    [(read, _careful)] = source.reads
    assert read != path and read.name == path.name and read.is_relative_to(wh.tmp_dir)
    assert not read.exists()  # the copy goes once the load is done
    assert result.status == "loaded"
    assert result.note == (
        "still being written: the 1 bytes after its last complete line are loaded by the"
        " next ingest"
    )
    assert rows(wh) == [(str(path.resolve()), 1), (str(path.resolve()), 2)]
    assert manifest(wh, "size_bytes", "note") == [(4, result.note)]


def test_a_file_that_grows_while_read_is_loaded_from_a_frozen_prefix(
    wh: Warehouse, tmp_path: Path
) -> None:
    path = write(tmp_path / "a.txt", "1\n2\n")

    def append_once(report: Extraction) -> None:
        if len(source.reads) == 1:
            with path.open("a") as f:
                f.write("3\n4")

    source = Source(append_once)
    result = wh.ingest_file(path, source.kind)
    assert [(p == path, careful) for p, careful in source.reads] == [(True, False), (False, False)]
    assert result.status == "loaded" and "the 1 bytes after" in result.note
    assert [n for _, n in rows(wh)] == [1, 2, 3]


# --- load: one transaction, one careful retry


def test_a_duckdb_error_gets_one_careful_retry(wh: Warehouse, tmp_path: Path) -> None:
    def fast_read_fails(report: Extraction) -> None:
        if not report.careful:
            raise duckdb.ConversionException("Could not convert string\nmore context")

    source = Source(fast_read_fails)
    result = wh.ingest_file(write(tmp_path / "a.txt", "1\n"), source.kind)
    assert result.status == "loaded"
    assert [careful for _, careful in source.reads] == [False, True]


def test_a_careful_retry_that_fails_records_its_reason(wh: Warehouse, tmp_path: Path) -> None:
    def always(report: Extraction) -> None:
        raise CarefulRetry("careful" if report.careful else "fast")

    source = Source(always)
    result = wh.ingest_file(write(tmp_path / "a.txt", "1\n"), source.kind)
    assert (result.status, result.message) == ("failed", "careful")
    assert len(source.reads) == 2


def test_a_duckdb_error_is_one_line_and_not_retried_without_a_careful_mode(
    wh: Warehouse, tmp_path: Path
) -> None:
    def fails(report: Extraction) -> None:
        raise duckdb.ConversionException("Could not convert string\nmore context")

    source = Source(fails)
    kind = replace(source.kind, careful_mode=False)
    path = write(tmp_path / "a.txt", "1\n")
    result = wh.ingest_file(path, kind)
    assert result.status == "failed"
    assert result.message == "Could not convert string"
    assert len(source.reads) == 1
    # the failed version records the bytes that were read
    assert manifest(wh, "size_bytes", "length(sha256)", "file_mtime_ns") == [(2, 64, None)]


def test_a_source_error_is_not_retried_and_keeps_the_old_rows(
    wh: Warehouse, tmp_path: Path
) -> None:
    path = write(tmp_path / "a.txt", "1\n")
    wh.ingest_file(path, Source().kind)

    def broken(report: Extraction) -> None:
        raise SourceError("line 1: broken")

    source = Source(broken)
    write(path, "2\n", mtime_ns=AN_HOUR_AGO_NS + 10**9)
    result = wh.ingest_file(path, source.kind)
    assert (result.status, result.message) == ("failed", "line 1: broken")
    assert len(source.reads) == 1
    assert [n for _, n in rows(wh)] == [1]
    assert manifest(wh, "status") == [("failed",), ("loaded",)]


def test_a_file_without_rows_fails(wh: Warehouse, tmp_path: Path) -> None:
    result = wh.ingest_file(write(tmp_path / "a.txt", "x\n"), Source().kind)
    assert result.status == "failed"
    assert result.message == "no data rows; 1 bad: line 1: not an integer: 'x'"


def test_bytes_that_cannot_be_hashed_fail_the_load(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(*args: object) -> None:
        raise PermissionError("no")

    monkeypatch.setattr(file_load, "digest_of", unreadable)
    result = wh.ingest_file(write(tmp_path / "a.txt", "1\n"), Source().kind)
    assert (result.status, result.message) == ("failed", "cannot read while loading")
    assert rows(wh) == []


# --- the same bytes after all, or a twin


def test_a_touched_file_is_read_but_not_loaded_again(wh: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "1\n2\n")
    source = Source()
    wh.ingest_file(path, source.kind)
    [(file_id,)] = manifest(wh, "file_id")
    write(path, "1\n2\n", mtime_ns=AN_HOUR_AGO_NS + 10**9)
    result = wh.ingest_file(path, source.kind)
    assert (result.status, result.message) == ("skipped", "already loaded")
    assert len(source.reads) == 2
    stat = path.stat()
    assert manifest(wh, "file_id", "file_mtime_ns", "file_ctime_ns") == [
        (file_id, stat.st_mtime_ns, stat.st_ctime_ns)
    ]
    assert len(rows(wh)) == 2
    assert wh.ingest_file(path, source.kind).status == "skipped"
    assert len(source.reads) == 2  # the new times are known: no read


def test_a_twin_of_the_same_node_is_skipped_another_nodes_loads(
    wh: Warehouse, tmp_path: Path
) -> None:
    source = Source()
    first = write(tmp_path / "a.txt", "1\n")
    wh.ingest_file(first, source.kind, "n1")
    twin = write(tmp_path / "b.txt", "1\n")
    result = wh.ingest_file(twin, source.kind, "n1")
    assert (result.status, result.message) == ("skipped", f"same content as {first.resolve()}")
    assert wh.ingest_file(twin, source.kind, "n2").status == "loaded"
    # where the file name is data, the same bytes under another name are another file
    named = replace(source.kind, name_is_data=True)
    assert wh.ingest_file(write(tmp_path / "c.txt", "1\n"), named, "n1").status == "loaded"
    assert len(rows(wh)) == 3


# --- replace or add rows, record in the manifest


def test_a_grown_file_replaces_exactly_the_rows_of_its_path(wh: Warehouse, tmp_path: Path) -> None:
    source = Source()
    a = write(tmp_path / "a.txt", "1\n2\n")
    b = write(tmp_path / "b.txt", "7\n")
    wh.ingest_file(a, source.kind)
    wh.ingest_file(b, source.kind)
    write(a, "1\n2\n3\n", mtime_ns=AN_HOUR_AGO_NS + 10**9)
    result = wh.ingest_file(a, source.kind)
    assert (result.status, result.rows, result.rows_by_table) == ("loaded", 3, {"t_rows": 3})
    assert (result.note, result.message) == ("", "")
    a_, b_ = str(a.resolve()), str(b.resolve())
    assert rows(wh) == [(a_, 1), (a_, 2), (a_, 3), (b_, 7)]
    assert manifest(wh, "path", "generation") == [(a_, 1), (b_, 1)]
    assert removed(wh) == []  # a growth removes nothing: its rows come back with it


def test_a_full_disk_stops_the_run_and_changes_nothing(wh: Warehouse, tmp_path: Path) -> None:
    """ENOSPC is the machine's, not the file's: no other file would load either, so it is
    raised (the CLI's exit 4, one line) with the file's transaction rolled back."""
    good = write(tmp_path / "a.txt", "1\n2\n")
    wh.ingest_file(good, Source().kind)

    def full(report: Extraction) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as raised:
        wh.ingest_file(write(tmp_path / "b.txt", "3\n"), Source(full).kind)
    assert raised.value.errno == errno.ENOSPC
    assert "nothing of it was loaded" in raised.value.strerror
    assert rows(wh) == [(str(good.resolve()), 1), (str(good.resolve()), 2)]
    assert manifest(wh, "path") == [(str(good.resolve()),)]


def test_asked_to_replace_new_content_replaces_the_rows(wh: Warehouse, tmp_path: Path) -> None:
    source = Source()
    a = write(tmp_path / "a.txt", "1\n2\n")
    b = write(tmp_path / "b.txt", "7\n")
    wh.ingest_file(a, source.kind)
    wh.ingest_file(b, source.kind)
    write(a, "3\n", mtime_ns=AN_HOUR_AGO_NS + 10**9)
    result = wh.ingest_file(a, source.kind, replace=True)
    assert (result.status, result.rows, result.rows_by_table) == ("loaded", 1, {"t_rows": 1})
    assert rows(wh) == [(str(a.resolve()), 3), (str(b.resolve()), 7)]
    assert manifest(wh, "path", "generation") == [(str(a.resolve()), 1), (str(b.resolve()), 1)]
    assert removed(wh) == [("t", "t_rows", None, None, 2, "replace")]
    assert wh.con.execute("select removed_at from raw.removed_rows").fetchall() == [(wh.loaded_at,)]


def test_a_rotated_file_keeps_its_earlier_rows_as_a_generation(
    wh: Warehouse, tmp_path: Path
) -> None:
    """copytruncate: the file is copied away and emptied, then refills; the rows loaded
    from it before are in no file on disk any more, so they stay."""
    source = Source()
    a = write(tmp_path / "net.csv", "".join(f"{n}\n" for n in range(1, 2001)))
    wh.ingest_file(a, source.kind)
    write(a, "", mtime_ns=AN_HOUR_AGO_NS + 10**9)  # truncated: nothing to load yet
    assert wh.ingest_file(a, source.kind).status == "failed"
    write(a, "".join(f"{n}\n" for n in range(5001, 5501)), mtime_ns=AN_HOUR_AGO_NS + 2 * 10**9)
    result = wh.ingest_file(a, source.kind)
    assert (result.status, result.rows) == ("loaded", 500)
    assert "the 2,000 rows loaded then stay, these load as generation 2" in result.note
    assert len(rows(wh)) == 2500
    key = str(a.resolve())
    assert manifest(wh, "path", "generation", "rows") == [(key, 1, 2000), (key, 2, 500)]
    # generation 2 grows: it replaces its own rows, generation 1 stays
    with a.open("a") as f:
        f.write("5501\n")
    os.utime(a, ns=(AN_HOUR_AGO_NS + 3 * 10**9,) * 2)
    grown = wh.ingest_file(a, source.kind)
    assert (grown.status, grown.rows, grown.note) == ("loaded", 501, "")
    assert len(rows(wh)) == 2501
    # a third content: generation 3; forget takes every generation out
    write(a, "9\n", mtime_ns=AN_HOUR_AGO_NS + 4 * 10**9)
    assert "generation 3" in wh.ingest_file(a, source.kind).note
    assert len(rows(wh)) == 2502
    assert wh.forget(a, [ROWS]) == [(key, 2502)]
    assert rows(wh) == [] and manifest(wh, "path") == []
    assert removed(wh) == [("t", "t_rows", None, None, 2502, "forget")]


def test_an_earlier_generations_bytes_again_are_already_loaded(
    wh: Warehouse, tmp_path: Path
) -> None:
    source = Source()
    a = write(tmp_path / "a.txt", "1\n2\n")
    wh.ingest_file(a, source.kind)
    write(a, "3\n", mtime_ns=AN_HOUR_AGO_NS + 10**9)
    wh.ingest_file(a, source.kind)
    write(a, "1\n2\n", mtime_ns=AN_HOUR_AGO_NS + 2 * 10**9)  # restored from a backup
    assert wh.ingest_file(a, source.kind).status == "skipped"
    assert len(rows(wh)) == 3


def test_issues_make_a_partial_load_and_are_stored_capped(wh: Warehouse, tmp_path: Path) -> None:
    long = "y" * 1000
    lines = ["1", long, *(["x"] * (MAX_ISSUES_STORED + 5))]
    path = write(tmp_path / "a.txt", "\n".join(lines) + "\n")
    result = wh.ingest_file(path, Source().kind, "n1")
    issues = len(lines) - 1
    assert (result.status, result.rows, result.issues) == ("partial", 1, issues)
    assert result.message.startswith(f"{issues} bad: line 2: not an integer: 'yyy")
    [(status, count, error, node, run_id)] = manifest(
        wh, "status", "issues", "error", "node", "ingest_run_id"
    )
    assert (status, count, node, run_id) == ("partial", issues, "n1", wh.run_id)
    assert error == result.message  # the summary as the source worded its first issue
    [(stored, longest)] = wh.con.execute(
        "select count(*), max(length(reason)) from raw.ingest_issues"
    ).fetchall()
    assert stored == MAX_ISSUES_STORED and longest <= MAX_TEXT_CHARS
