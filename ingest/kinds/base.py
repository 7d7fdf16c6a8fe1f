"""What every input kind provides to the loader: raw table schemas and an extractor.

A source module never writes: it describes its raw tables and, for one file, yields
(table, data) pairs where data is a read-only SELECT (e.g. over DuckDB's read_csv) or an
Arrow record batch/table. ``ingest.loader.warehouse`` owns the transaction that lands them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import duckdb

from ingest.lazy import lazy_module

# CSV kinds never touch Arrow: importing it (and numpy) would slow every small ingest
pa = lazy_module("pyarrow")


class SourceError(Exception):
    """A file that cannot be loaded at all. The message is one line: the reason, with position."""


class CarefulRetry(Exception):
    """The fast way of reading this file cannot account for every line of it: the loader
    rolls back and calls the extractor again with ``Extraction.careful`` set."""


@dataclass(frozen=True)
class Digest:
    """What the loader learned reading exactly the bytes that were loaded, beside the load."""

    sha256: str
    size: int  # bytes read (the loaded prefix of a file that was still growing)
    newlines: int  # b"\n" bytes among them (counted for line-based kinds only, else 0)
    ends_with_newline: bool
    # sha256 of the first `checkpoint` bytes when the loader asked for one (the size of the
    # version loaded before): equal to that version's sha256 when the file only grew
    prefix_sha256: str | None = None


@dataclass(frozen=True)
class RawTable:
    """A table in schema ``raw``; bookkeeping columns are added by ingest.loader.warehouse."""

    name: str
    columns: dict[str, str]  # column name -> DuckDB type, in table order
    comment: str = ""
    unit: str = "rows"  # what one row is, for messages to users ("packets", "Kafka messages")


def arrow_type(duckdb_type: str) -> pa.DataType:
    """The Arrow type sources build a raw column of this DuckDB type with."""
    return {
        "VARCHAR": pa.string,
        "BOOLEAN": pa.bool_,
        "TINYINT": pa.int8,
        "SMALLINT": pa.int16,
        "INTEGER": pa.int32,
        "BIGINT": pa.int64,
        "UTINYINT": pa.uint8,
        "USMALLINT": pa.uint16,
        "UINTEGER": pa.uint32,
        "DOUBLE": pa.float64,
        "TIMESTAMP_NS": lambda: pa.timestamp("ns"),
    }[duckdb_type.removesuffix(" NOT NULL")]()


def arrow_schema(table: RawTable) -> pa.Schema:
    """The Arrow schema of a raw table, from its one column spec."""
    return pa.schema((name, arrow_type(typ)) for name, typ in table.columns.items())


def arrow_rows(table: RawTable, rows: list[tuple]) -> pa.Table:
    """Row tuples (in column order; timestamps as epoch ns) as an Arrow table."""
    schema = arrow_schema(table)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    arrays = [
        pa.array(values, pa.int64()).cast(col.type)
        if pa.types.is_timestamp(col.type)
        else pa.array(values, col.type)
        for col, values in zip(schema, columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


@dataclass(frozen=True)
class Issue:
    """A problem inside a file that did not stop the load (a bad line, a malformed packet)."""

    position: str  # "line 12", "byte 1234", "frame 7"
    reason: str


@dataclass
class Extraction:
    """What a source reports about one file while its batches are consumed."""

    issues: list[Issue] = field(default_factory=list)
    # Set when the file ends early but what came before is good (e.g. a killed tcpdump).
    truncated: str | None = None
    # A file with no data rows fails ("no data rows") unless the source says empty is fine
    # (an empty capture is a valid capture; a header-only CSV is not a day of data).
    empty_ok: bool = False
    # Facts about a file that loaded fine but that a user should know (an undecoded link
    # type, a clock field out of range): kept in the manifest's ``note``, status unchanged.
    notes: list[str] = field(default_factory=list)
    # Set by the loader: the second, line-by-line attempt after a CarefulRetry; the digest
    # of the bytes being read (blocks until the loader's reading thread is done); where
    # temporary files go (cleaned up by the loader even after a kill).
    careful: bool = False
    digest: Callable[[], Digest] | None = None
    tmp_dir: Path | None = None
    rows: int = 0  # rows landed so far from this file (kept by the loader after each insert)


Data: TypeAlias = "str | pa.RecordBatch | pa.Table"  # str: a SELECT statement
# extract(path, con, report) yields (raw table name, data); it appends to report as it goes.
Extractor = Callable[[Path, duckdb.DuckDBPyConnection, Extraction], Iterator[tuple[str, Data]]]


@dataclass(frozen=True)
class SourceKind:
    """One input kind as the CLI and the loader see it."""

    kind: str  # CLI word and manifest `kind`: tracepoints, systemd, pcap, ...
    tables: tuple[RawTable, ...]
    extract: Extractor
    find: Callable[[Path], list[Path]]  # files of this kind inside a directory
    # where the files sit below a node's folder, as globs ("**/tracepoints/net/*"): a file at
    # <node>/tracepoints/net/x.csv belongs to <node> unless the user names its node
    layouts: tuple[str, ...] = ()
    # Line-based text (CSV): a file still being appended is frozen at its last complete line.
    # With a careful mode, any failure of the fast read gets one careful attempt.
    line_based: bool = False
    careful_mode: bool = False
    # The file name is data (tshark hourly files: the capture start), so the same bytes
    # under another name are another file, not a copy (idle hours are header-only twins).
    name_is_data: bool = False
    # Rows carry everything that orders them (times, not line positions): DuckDB's parallel
    # reader may land them in any order, a quarter faster than keeping the file's order.
    any_row_order: bool = False


def unreadable_directories(directory: Path) -> list[str]:
    """Directories under `directory` that cannot be listed, each as 'DIR: reason'. Globs
    skip them without a word, so their files would be missed silently."""
    problems: list[str] = []
    for _ in os.walk(directory, onerror=lambda e: problems.append(f"{e.filename}: {e.strerror}")):
        pass
    return problems
