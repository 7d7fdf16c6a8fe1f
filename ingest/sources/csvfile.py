"""Header-matched CSV landing with DuckDB's own reader, shared by the nix-bitcoin-monitor kinds.

- Columns are matched by header name: a published file may lack some (they land as NULL),
  but a column we do not know means the file is not of this kind, so it fails.
- Bad lines (wrong column count, text in a number, unparseable timestamp) do not sink the
  file: DuckDB skips them into a rejects table and we report each with its line number,
  so a day's data is not lost for one bad line (status ``partial``).
- DuckDB reads .gz itself. It cannot read .bz2, so we stream-decompress to a temporary
  file in 1 MiB chunks (memory stays flat; disk holds one decompressed file at a time).
"""

from __future__ import annotations

import bz2
import gzip
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import duckdb

from ingest.sources.base import Data, Extraction, Issue, RawTable, SourceError, SourceKind

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2")


# (readable file, header names, report) -> the table this file lands in
TablePicker = Callable[[Path, list[str], Extraction], RawTable]


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
        extract=partial(extract_csv, table=tables[0], pick=pick),
        find=partial(find_csvs, layouts=layouts),
        layouts=layouts,
    )


def is_csv(path: Path) -> bool:
    return path.name.endswith(CSV_SUFFIXES)


def find_csvs(directory: Path, layouts: tuple[str, ...]) -> list[Path]:
    """CSV files under `directory` matching one of the glob `layouts`, else all CSV files."""
    for_layout = sorted({p for pattern in layouts for p in directory.glob(pattern) if is_csv(p)})
    if for_layout:
        return for_layout
    return sorted(p for p in directory.rglob("*") if p.is_file() and is_csv(p))


@contextmanager
def plain_csv(path: Path) -> Iterator[Path]:
    """A path DuckDB can read: the file itself, or a temporary decompressed copy of a .bz2."""
    if not path.name.endswith(".bz2"):
        yield path
        return
    fd, tmp_name = tempfile.mkstemp(suffix=".csv", prefix="wirehouse-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, bz2.open(path, "rb") as src:
            try:
                shutil.copyfileobj(src, out, 1 << 20)
            except EOFError:
                raise SourceError(
                    f"truncated bz2 stream (ends after {path.stat().st_size} compressed bytes)"
                ) from None
            except OSError as exc:
                raise SourceError(f"not a valid bz2 file: {exc}") from None
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def first_lines(path: Path, count: int = 1) -> list[str]:
    """Up to `count` first lines as text (a .gz is read through); the header is checked."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            lines = [f.readline(4096) for _ in range(count)]
    except (OSError, EOFError) as exc:
        raise SourceError(f"cannot read header: {exc}") from None
    first = lines[0]
    if not first.strip():
        raise SourceError("empty file" if not first else "line 1: empty header line")
    try:
        header = first.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SourceError("line 1: header is not UTF-8 text") from None
    return [header] + [line.decode("utf-8", "replace").strip() for line in lines[1:] if line]


def first_line(path: Path) -> str:
    return first_lines(path)[0]


def read_header(path: Path, delim: str = ",") -> list[str]:
    return [name.strip().strip('"') for name in first_line(path).split(delim)]


# read_csv options that send bad lines to a rejects table (read back by collect_rejects)
REJECTS = (
    "store_rejects = true, rejects_table = 'wirehouse_rejects',"
    " rejects_scan = 'wirehouse_reject_scans'"
)


def collect_rejects(con: duckdb.DuckDBPyConnection) -> list[Issue]:
    """The lines the last read_csv with REJECTS skipped, one issue per line; drops the tables."""
    rejected = con.execute(
        "select line, string_agg(distinct error_message, '; ')"
        " from wirehouse_rejects group by line order by line"
    ).fetchall()
    con.execute("drop table if exists wirehouse_rejects")
    con.execute("drop table if exists wirehouse_reject_scans")
    return [Issue(f"line {line}", reason) for line, reason in rejected]


def extract_csv(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    report: Extraction,
    table: RawTable,
    pick: TablePicker | None = None,
) -> Iterator[tuple[str, Data]]:
    """Yield one SELECT over read_csv for `table`, then report the lines DuckDB rejected."""
    with plain_csv(path) as readable:
        header = read_header(readable)
        if pick is not None:
            table = pick(readable, header, report)
        unknown = [name for name in header if name not in table.columns]
        if unknown or "timestamp" not in header:
            expected = ",".join(table.columns)
            raise SourceError(f"line 1: unexpected header {','.join(header)!r} (want {expected})")
        types = ", ".join(f"'{name}': '{table.columns[name]}'" for name in header)
        select_list = ", ".join(
            f'"{name}"' if name in header else f'null::{typ} as "{name}"'
            for name, typ in table.columns.items()
        )
        literal = str(readable).replace("'", "''")
        yield (
            table.name,
            f"select {select_list} from read_csv('{literal}', header = true,"
            f" columns = {{{types}}}, auto_detect = false, delim = ',', quote = '\"',"
            f" {REJECTS})",
        )
        report.issues.extend(collect_rejects(con))
