"""Header-matched CSV landing with DuckDB's own reader, shared by the nix-bitcoin-monitor kinds.

What a file becomes
- Columns are matched by header name: a published file may lack some (they land as NULL),
  but a column we do not know means the file is not of this kind, so it fails.
- Every line ends up in the raw table or in ``raw.ingest_issues`` with its line number and
  reason; a value lands exactly as written or not at all. Integers are an optional minus
  and digits (``12.5``, ``1e3``, ``0x10`` are bad lines, never rounded); timestamps with a
  UTC offset are converted to UTC; values without one are UTC.

Two ways of reading, one result
- Fast: DuckDB reads the file where it lies. The read is accepted only if it is clean and
  complete: no line rejected, loaded rows = the file's data lines (counted by the loader's
  reading thread). Anything else (a bad line, a quote left open swallowing the lines after
  it, mixed line endings, an over-long line, an integer in another notation) raises
  ``CarefulRetry``; clean daily files, the normal case, are read once at DuckDB's speed.
- Careful (and for .gz/.bz2): one streaming pass in Python writes a normalised temporary
  copy (line endings to LF, BOM dropped) in which each line that cannot be read safely is
  left empty and recorded: a line longer than the limit, an odd number of quotes, an
  integer field that is not one. Line numbers stay those of the file. DuckDB then reads the
  copy; the lines it rejects (wrong column count, a bad timestamp) are bad lines too, and
  rows + bad lines + empty lines must equal the file's lines, or the file fails.
Memory is bounded either way: no line is held whole beyond the limit.
"""

from __future__ import annotations

import bz2
import csv
import errno
import gzip
import io
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TextIO

import duckdb

from ingest.capture.magic import is_capture
from ingest.kinds.base import (
    CarefulRetry,
    Data,
    Extraction,
    Issue,
    RawTable,
    SourceError,
    SourceKind,
)

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2")
MAX_LINE_CHARS = 4096  # nix-bitcoin-monitor lines are < 200 bytes; longer is damage
SNIFF_ROWS = 50
INTEGER = re.compile(r"-?[0-9]{1,19}")
INT64_MAX = 2**63 - 1
TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
DECIMAL = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")
BOOLEANS = {"true", "false", "t", "f", "1", "0"}


@dataclass(frozen=True)
class Head:
    """The header names and the first data rows of a file (for choosing its table)."""

    names: list[str]
    rows: list[list[str]]


# (head, report) -> the table this file lands in
TablePicker = Callable[[Head, Extraction], RawTable]


def csv_source(
    kind: str,
    tables: tuple[RawTable, ...],
    layouts: tuple[str, ...],
    pick: TablePicker | None = None,
) -> SourceKind:
    """An input kind that lands header-matched CSVs; `layouts` find its files.

    With several `tables`, `pick` says which one a file lands in (e.g. cumulative counters
    or per-interval deltas); a file's rows always go to exactly one table.
    """
    return SourceKind(
        kind=kind,
        tables=tables,
        extract=partial(extract_csv, tables=tables, pick=pick),
        find=partial(find_csvs, layouts=layouts),
        layouts=layouts,
        line_based=True,
        careful_mode=True,
        any_row_order=True,
    )


def is_csv(path: Path) -> bool:
    return path.name.endswith(CSV_SUFFIXES)


def find_csvs(directory: Path, layouts: tuple[str, ...]) -> list[Path]:
    """CSV files under `directory` matching one of the glob `layouts`, else all CSV files."""
    for_layout = sorted({p for pattern in layouts for p in directory.glob(pattern) if is_csv(p)})
    if for_layout:
        return for_layout
    # not only regular files: a FIFO or a symlink loop named like a CSV is refused by the
    # load with its reason, not skipped without a word
    return sorted(p for p in directory.rglob("*") if is_csv(p) and not p.is_dir())


def open_text(path: Path) -> TextIO:
    """The file as text, decompressed, universal newlines (LF, CRLF and CR all end a line);
    bytes that are not UTF-8 are kept as they are (DuckDB reports them as bad lines)."""
    # the wrapper returned owns the raw file and closes it
    if path.name.endswith(".bz2"):
        raw = bz2.open(path, "rb")  # noqa: SIM115
    elif path.name.endswith(".gz"):
        raw = gzip.open(path, "rb")  # noqa: SIM115
    else:
        raw = path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline=None)


def first_lines(path: Path, count: int = 1) -> list[str]:
    """Up to `count` first lines as text, decompressed, without their line ends (each at
    most MAX_LINE_CHARS long). An empty file or an empty first line is a SourceError."""
    try:
        with open_text(path) as f:
            lines = [f.readline(MAX_LINE_CHARS) for _ in range(count)]
    except (OSError, EOFError, ValueError) as exc:
        raise _read_failure(path, exc) from None
    if not lines[0]:
        raise SourceError("empty file")
    if not lines[0].strip():
        raise SourceError("line 1: empty header line")
    if any("\udc80" <= ch <= "\udcff" for ch in lines[0]):
        with path.open("rb") as raw:
            if is_capture(raw.read(4)):
                raise SourceError(
                    "a pcap/pcapng capture, not a CSV: load it with `wirehouse ingest pcap`"
                )
        raise SourceError("line 1: header is not UTF-8 text")
    return [line.rstrip("\n") for line in lines if line]


def read_head(path: Path) -> Head:
    """Header names (BOM and quotes dropped) and up to SNIFF_ROWS first data rows."""
    header, *data = first_lines(path, SNIFF_ROWS + 1)
    try:
        names = [n.strip() for n in next(csv.reader([header.lstrip("\ufeff")]))]
        rows = [row for line in data for row in csv.reader([line])]
    except csv.Error as exc:
        raise SourceError(f"cannot read the first lines: {exc}") from None
    return Head(names, rows)


@contextmanager
def plain_csv(path: Path, tmp_dir: Path | None) -> Iterator[Path]:
    """A path DuckDB can read: the file itself, or a decompressed copy of a .bz2 (DuckDB has
    no bzip2 reader) in `tmp_dir`, streamed in 1 MiB chunks."""
    if not path.name.endswith(".bz2"):
        yield path
        return
    copy = Path(tempfile.mkstemp(suffix=".csv", prefix="plain-", dir=tmp_dir)[1])
    try:
        with bz2.open(path, "rb") as src, copy.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (OSError, EOFError, ValueError) as exc:
        copy.unlink(missing_ok=True)
        raise _read_failure(path, exc) from None
    try:
        yield copy
    finally:
        copy.unlink(missing_ok=True)


# read_csv options that send bad lines to a rejects table (read back by collect_rejects)
REJECTS = (
    "store_rejects = true, rejects_table = 'wirehouse_rejects',"
    " rejects_scan = 'wirehouse_reject_scans'"
)


def collect_rejects(con: duckdb.DuckDBPyConnection) -> list[Issue]:
    """The lines the last read_csv with REJECTS skipped, one issue per line; drops the tables."""
    # a line can collect dozens of errors (an unterminated quote re-read with every column
    # count the sniffer tried): its reason is the shortest, with how many others there were
    rejected = con.execute(
        "select line, arg_min(error_message, length(error_message))"
        " || if(count(distinct error_message) > 1,"
        " format(' (and {:d} other errors)', count(distinct error_message) - 1), '')"
        " from wirehouse_rejects group by line order by line"
    ).fetchall()
    con.execute("drop table if exists wirehouse_rejects")
    con.execute("drop table if exists wirehouse_reject_scans")
    return [Issue(f"line {line}", reason) for line, reason in rejected]


def _read_failure(path: Path, exc: Exception) -> SourceError | OSError:
    """One line for a file that cannot be read (bz2/gzip report damage in several ways)."""
    kind = "bz2" if path.name.endswith(".bz2") else "gzip" if path.name.endswith(".gz") else ""
    if kind and isinstance(exc, EOFError):
        size = path.stat().st_size
        return SourceError(f"truncated {kind} stream (ends after {size} compressed bytes)")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return exc  # the machine's (a temporary copy filled the disk), not the file's
    if kind and isinstance(exc, OSError | ValueError):
        return SourceError(f"not a valid {kind} file: {exc}")
    return SourceError(f"cannot read: {exc}")


def extract_csv(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    report: Extraction,
    tables: tuple[RawTable, ...],
    pick: TablePicker | None = None,
) -> Iterator[tuple[str, Data]]:
    """Yield one SELECT over read_csv for the file's table, then account for every line."""
    head = read_head(path)
    table = pick(head, report) if pick is not None else tables[0]
    unknown = [name for name in head.names if name not in table.columns]
    if unknown or "timestamp" not in head.names:
        expected = ",".join(table.columns)
        raise SourceError(f"line 1: unexpected header {','.join(head.names)!r} (want {expected})")
    careful = report.careful or path.name.endswith((".gz", ".bz2"))
    with _careful_copy(path, report, table, head.names) if careful else _as_is(path) as readable:
        before = report.rows
        # the fast read keeps no rejects (they cost a third of the read): its first bad
        # line is an error, and the careful read judges the normalised copy line by line
        yield table.name, _select(readable.path, table, head.names, rejects=careful)
        rejected = collect_rejects(con) if careful else []
        loaded = report.rows - before
        lines = readable.data_lines if careful else _data_lines(report)
        accounted = loaded + len(rejected) + len(readable.issues) + readable.blank_lines
        if accounted != lines:
            if not careful:
                raise CarefulRetry(f"{lines} data lines, {accounted} accounted for")
            raise SourceError(
                f"{lines:,} data lines but {loaded:,} rows, {len(rejected):,} rejected,"
                f" {len(readable.issues) + readable.blank_lines:,} skipped"
            )
        issues = readable.issues + rejected
        report.issues.extend(sorted(issues, key=lambda i: int(i.position.split()[1])))


def _data_lines(report: Extraction) -> int:
    """Lines after the header in the bytes the loader read (a last line without its
    newline counts)."""
    assert report.digest is not None, "the loader digests every file it loads"
    read = report.digest()
    return read.newlines - 1 + (0 if read.ends_with_newline or not read.size else 1)


def _select(readable: Path, table: RawTable, header: list[str], rejects: bool) -> str:
    """SELECT over DuckDB's reader: integers as text checked strictly (a mismatch stops the
    fast read, the careful read finds the line), timestamps parsed with their offset; with
    `rejects`, bad lines go to the rejects table instead of failing the read."""
    read_types = {name: _read_type(table.columns[name]) for name in header}
    types = ", ".join(f"'{name}': '{typ}'" for name, typ in read_types.items())
    columns = ", ".join(
        _value(name, table.columns[name]) if name in header else f'null::{typ} as "{name}"'
        for name, typ in table.columns.items()
    )
    literal = str(readable).replace("'", "''")
    return (
        f"select {columns} from read_csv('{literal}', header = true, columns = {{{types}}},"
        " auto_detect = false, delim = ',', quote = '\"', escape = '\"',"
        f" max_line_size = {MAX_LINE_CHARS}{', ' + REJECTS if rejects else ''})"
    )


def _read_type(typ: str) -> str:
    return {"BIGINT": "VARCHAR", "TIMESTAMP": "TIMESTAMPTZ"}.get(typ, typ)


def _value(name: str, typ: str) -> str:
    quoted = f'"{name}"'
    if typ == "BIGINT":
        return (
            f"case when nullif({quoted}, '') is null then null"
            f" when regexp_full_match({quoted}, '{INTEGER.pattern}') then {quoted}::bigint"
            f" else error('not an integer: ' || {quoted}) end as {quoted}"
        )
    if typ == "TIMESTAMP":
        # the instant in UTC, by arithmetic: timezone('UTC', ...) goes through ICU for every
        # row (bench/ measures the difference)
        return f"make_timestamp(epoch_us({quoted})) as {quoted}"
    return quoted


@dataclass
class _Readable:
    path: Path
    issues: list[Issue] = field(default_factory=list)  # lines left empty, with why
    blank_lines: int = 0  # empty lines of the file itself (no data, nothing lost)
    data_lines: int = 0  # lines after the header


@contextmanager
def _as_is(path: Path) -> Iterator[_Readable]:
    yield _Readable(path)


@contextmanager
def _careful_copy(
    path: Path, report: Extraction, table: RawTable, header: list[str]
) -> Iterator[_Readable]:
    """A normalised copy in which every unsafe line is empty and recorded (module doc)."""
    assert report.tmp_dir is not None, "the loader gives every careful read a temp dir"
    copy = report.tmp_dir / f"careful-{path.name.removesuffix('.bz2').removesuffix('.gz')}"
    checks = [(name, *CHECKS[table.columns[name]]) for name in header]
    result = _Readable(copy)
    try:
        with (
            open_text(path) as src,
            copy.open("w", encoding="utf-8", errors="surrogateescape", newline="\n") as out,
        ):
            number = 0
            for line, length in _lines(src):
                number += 1
                if number == 1:
                    out.write(line.lstrip("\ufeff") + "\n")
                    continue
                result.data_lines += 1
                reason = _bad_line(line, length, checks)
                if reason:
                    result.issues.append(Issue(f"line {number}", reason))
                elif not line:
                    result.blank_lines += 1
                out.write("\n" if reason else line + "\n")
    except (OSError, EOFError, ValueError) as exc:
        raise _read_failure(path, exc) from None
    try:
        yield result
    finally:
        copy.unlink(missing_ok=True)


def _lines(src: TextIO) -> Iterator[tuple[str, int]]:
    """(line without its end, its length); a line beyond MAX_LINE_CHARS comes as ("", n)
    after being read through in bounded pieces."""
    while piece := src.readline(MAX_LINE_CHARS + 1):
        if piece.endswith("\n"):
            yield piece[:-1], len(piece) - 1
            continue
        length = len(piece)
        while len(piece) == MAX_LINE_CHARS + 1 and not piece.endswith("\n"):
            piece = src.readline(MAX_LINE_CHARS + 1)
            length += len(piece)
        ended = piece.endswith("\n")
        if length - ended > MAX_LINE_CHARS:
            yield "", length - ended
        else:  # the last line of a file without a final newline
            yield piece, length


def _bad_line(line: str, length: int, checks: list[Check]) -> str:
    """Why a line cannot be a row; '' when it can. Narrower than DuckDB's own reading, so
    DuckDB rejects nothing of the careful copy (its reject line numbers are not reliable
    once a line has too few columns)."""
    if length > MAX_LINE_CHARS:
        return f"line of {length:,} characters, longer than {MAX_LINE_CHARS:,}: not read"
    if not line:
        return ""
    if line.count('"') % 2:
        return "unterminated quote: the line has an odd number of '\"'"
    if any("\udc80" <= ch <= "\udcff" for ch in line):
        return "not UTF-8 text"
    fields = next(csv.reader([line])) if '"' in line else line.split(",")
    if len(fields) != len(checks):
        return f"{len(fields)} columns, the header has {len(checks)}"
    for value, (name, ok, want) in zip(fields, checks, strict=True):
        if value and not ok(value):
            shown = value if len(value) <= 40 else value[:40] + "..."
            return f"column {name}: {shown!r} is not {want}"
    return ""


def _is_integer(value: str) -> bool:
    return bool(INTEGER.fullmatch(value)) and abs(int(value)) <= INT64_MAX


def _is_timestamp(value: str) -> bool:
    if not TIMESTAMP.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


# per raw column type: (test of a non-empty value, what it should be)
CHECKS: dict[str, tuple[Callable[[str], bool], str]] = {
    "BIGINT": (_is_integer, "an integer"),
    "TIMESTAMP": (_is_timestamp, "a timestamp (YYYY-MM-DD HH:MM:SS, optional UTC offset)"),
    "DOUBLE": (lambda v: bool(DECIMAL.fullmatch(v)), "a number"),
    "BOOLEAN": (lambda v: v.lower() in BOOLEANS, "true or false"),
    "VARCHAR": (lambda v: True, "text"),
}
Check = tuple[str, Callable[[str], bool], str]  # column, test, what it should be
