"""The manifest: reads and writes of ``raw.ingest_files`` (one row per version (path, sha256) of
every file wirehouse was asked to ingest) and ``raw.ingest_issues`` (problems inside files that
did not stop their load), and deleting the raw rows of a file's versions (logged in
``raw.removed_rows``).

Facts about a file (path, node, run, sha256, size, status, error, note) live here once; each raw
row carries only the ``file_id`` of its version. Texts stored are capped to one short line,
whatever a file holds. The tables themselves are made by migrations.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from datetime import datetime

import duckdb

from ingest.kinds.base import Extraction, Issue, RawTable

MAX_ISSUES_STORED = 1000  # per file; the count is always exact
MAX_TEXT_CHARS = 300  # reasons, notes and positions stored and printed

# a version with rows; the other status is 'failed'
HAS_ROWS = "status in ('loaded', 'partial')"


@dataclass(frozen=True)
class FileVersion:
    """One row of raw.ingest_files, its fields in the order migration 1 makes the columns
    (warehouses upgraded from older layouts have them in another order: inserts name them)."""

    path: str
    sha256: str
    size_bytes: int
    file_mtime_ns: int | None
    kind: str
    rows: int
    issues: int
    status: str  # loaded | partial | failed
    error: str | None
    ingest_run_id: str
    loaded_at: datetime
    note: str | None
    file_ctime_ns: int | None
    node: str | None
    file_id: int
    generation: int = 1  # 2, 3, ... after content that does not continue the loaded one
    name: str | None = None  # below the folder it was found in: keys captures in the marts


@dataclass(frozen=True)
class LoadedVersion:
    """What the newest version of a path with rows was: its generation, size and sha256."""

    generation: int
    size_bytes: int
    sha256: str
    name: str | None


MANIFEST_COLUMNS = ", ".join(f.name for f in fields(FileVersion))


def marks(columns: str) -> str:
    """One `?` per name of a comma-separated column list."""
    return ", ".join("?" for _ in columns.split(","))


def has_loaded_version(
    con: duckdb.DuckDBPyConnection, key: str, condition: str = "true", params: Iterable = ()
) -> bool:
    """A version of the file `key` with rows, and `condition` true of it."""
    # fetchall: a result left unfinished blocks register() on this connection
    [(count,)] = con.execute(
        f"select count(*) from raw.ingest_files where path = ? and {condition} and {HAS_ROWS}",
        [key, *params],
    ).fetchall()
    return bool(count)


def newest_node(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """The node the newest version of `key` with rows was loaded for."""
    [(node,)] = con.execute(
        f"select node from raw.ingest_files where path = ? and {HAS_ROWS}"
        " order by generation desc, loaded_at desc limit 1",
        [key],
    ).fetchall()
    return node


def loaded_version(con: duckdb.DuckDBPyConnection, key: str) -> LoadedVersion | None:
    """The newest version of `key` with rows (of its newest generation), or None."""
    row = con.execute(
        "select generation, size_bytes, sha256, name from raw.ingest_files"
        f" where path = ? and {HAS_ROWS} order by generation desc, loaded_at desc limit 1",
        [key],
    ).fetchone()
    return None if row is None else LoadedVersion(*row)


def name_taken(con: duckdb.DuckDBPyConnection, name: str, node: str | None, key: str) -> bool:
    """Another path of the node has a version with rows named `name`."""
    [(count,)] = con.execute(
        "select count(*) from raw.ingest_files where name = ? and node is not distinct from ?"
        f" and path <> ? and {HAS_ROWS}",
        [name, node, key],
    ).fetchall()
    return bool(count)


def twin_of(
    con: duckdb.DuckDBPyConnection, sha256: str, kind: str, key: str, node: str | None
) -> str | None:
    """Another path of the same kind and node whose loaded version has these bytes."""
    twin = con.execute(
        "select path from raw.ingest_files where sha256 = ? and kind = ? and path <> ?"
        f" and node is not distinct from ? and {HAS_ROWS} limit 1",
        [sha256, kind, key, node],
    ).fetchone()
    return twin[0] if twin else None


def next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    """An id no manifest row has (the write lock makes max + 1 safe)."""
    [(last,)] = con.execute("select max(file_id) from raw.ingest_files").fetchall()
    return (last or 0) + 1


def record(con: duckdb.DuckDBPyConnection, version: FileVersion, issues: list[Issue]) -> None:
    """The file's new version replaces the earlier versions of its generation and the
    failed ones, with its issues (the first MAX_ISSUES_STORED of them, capped). Earlier
    generations keep their rows, manifest rows and issues."""
    kept = f"select sha256 from raw.ingest_files where path = ? and generation < ? and {HAS_ROWS}"
    con.execute(
        f"delete from raw.ingest_issues where path = ? and sha256 not in ({kept})",
        [version.path, version.path, version.generation],
    )
    con.execute(
        f"delete from raw.ingest_files where path = ? and (generation >= ? or not ({HAS_ROWS}))",
        [version.path, version.generation],
    )
    con.execute(
        f"insert into raw.ingest_files ({MANIFEST_COLUMNS}) values ({marks(MANIFEST_COLUMNS)})",
        list(astuple(version)),
    )
    if issues:
        con.executemany(
            "insert into raw.ingest_issues values (?, ?, ?, ?)",
            [
                (version.path, version.sha256, cap(i.position), cap(i.reason))
                for i in issues[:MAX_ISSUES_STORED]
            ],
        )


def record_failure(con: duckdb.DuckDBPyConnection, version: FileVersion) -> None:
    """A failed version, beside any earlier good one of the same path (whose rows stay)."""
    con.execute(
        f"insert or replace into raw.ingest_files ({MANIFEST_COLUMNS})"
        f" values ({marks(MANIFEST_COLUMNS)})",
        list(astuple(version)),
    )


def remember_times(
    con: duckdb.DuckDBPyConnection, key: str, sha256: str, mtime_ns: int, ctime_ns: int
) -> None:
    """A version touched but not changed: its new times, so the next look needs no read."""
    con.execute(
        "update raw.ingest_files set file_mtime_ns = ?, file_ctime_ns = ?"
        " where path = ? and sha256 = ?",
        [mtime_ns, ctime_ns, key, sha256],
    )


def relabel(
    con: duckdb.DuckDBPyConnection,
    key: str,
    tables: Iterable[RawTable],
    node: str,
    loaded_at: datetime,
) -> None:
    """Move the file `key` (every generation of it) to `node`, in one transaction; its rows
    get a new _loaded_at, so incremental models see them again, and are logged as removed
    from the node they had, so its models drop them."""
    tables = list(tables)
    con.begin()
    log_removal(con, key, tables, loaded_at, "relabel")
    for table in tables:
        con.execute(
            f"update raw.{table.name} set _loaded_at = ? where _file_id in"
            " (select file_id from raw.ingest_files where path = ?)",
            [loaded_at, key],
        )
    con.execute(
        "update raw.ingest_files set node = ?, loaded_at = ? where path = ?",
        [node, loaded_at, key],
    )
    con.commit()


def rows_of_generation(con: duckdb.DuckDBPyConnection, key: str, generation: int) -> int:
    """The raw rows the loaded version of one generation of `key` holds."""
    [(rows,)] = con.execute(
        f"select coalesce(sum(rows), 0) from raw.ingest_files where path = ? and generation = ?"
        f" and {HAS_ROWS}",
        [key, generation],
    ).fetchall()
    return rows


def log_removal(
    con: duckdb.DuckDBPyConnection,
    key: str,
    tables: Iterable[RawTable],
    removed_at: datetime,
    reason: str,
    generation: int | None = None,
) -> None:
    """Record in raw.removed_rows the rows of `key` (of one generation when given) about to
    be removed or moved to another node, per table and node: incremental models rebuild
    those nodes from the earliest of their timestamps (macros/nodes_changed.sql)."""
    for table in tables:
        first = "min(raw_row.timestamp)" if "timestamp" in table.columns else "null"
        con.execute(
            "insert into raw.removed_rows"
            " (kind, table_name, node, first_timestamp, rows, removed_at, reason)"
            f" select loaded_file.kind, ?, loaded_file.node, {first}, count(*), ?, ?"
            f" from raw.{table.name} as raw_row join raw.ingest_files as loaded_file"
            " on raw_row._file_id = loaded_file.file_id"
            " where loaded_file.path = ?"
            " and loaded_file.generation = coalesce(?, loaded_file.generation)"
            " group by loaded_file.kind, loaded_file.node",
            [table.name, removed_at, reason, key, generation],
        )


def delete_rows(
    con: duckdb.DuckDBPyConnection,
    key: str,
    tables: Iterable[RawTable],
    removed_at: datetime,
    reason: str | None,
    generation: int | None = None,
) -> int:
    """Delete the raw rows of every version of the file `key` (of one generation of it when
    given), logging them in raw.removed_rows unless `reason` is None (a grown file's earlier
    version: its rows come back with the new one); how many there were."""
    tables = list(tables)
    if reason is not None:
        log_removal(con, key, tables, removed_at, reason, generation)
    deleted = 0
    for table in tables:
        [(count,)] = con.execute(
            f"delete from raw.{table.name} where _file_id in (select file_id"
            " from raw.ingest_files where path = ? and generation = coalesce(?, generation))",
            [key, generation],
        ).fetchall()
        deleted += count
    return deleted


def forget(
    con: duckdb.DuckDBPyConnection, key: str, tables: Iterable[RawTable], removed_at: datetime
) -> list[tuple[str, int]]:
    """Remove the file `key` (or every file under the directory `key`) from the raw tables,
    the manifest and the issues, in one transaction; (file, rows removed) for each."""
    tables = list(tables)
    under = key.rstrip("/") + "/%"
    con.begin()
    files = con.execute(
        "select path from raw.ingest_files where path = ? or path like ? group by path"
        " order by path",
        [key, under],
    ).fetchall()
    removed = []
    for (file,) in files:
        rows = delete_rows(con, file, tables, removed_at, "forget")
        con.execute("delete from raw.ingest_issues where path = ?", [file])
        con.execute("delete from raw.ingest_files where path = ?", [file])
        removed.append((file, rows))
    con.commit()
    return removed


# control characters a file's bytes may put into a reason (NUL, newlines): shown escaped
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def cap(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Reasons and positions are one short printable line, whatever a file holds."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text):,} chars)"


def summary(report: Extraction) -> str:
    """Why a load is partial, in one line: truncation, then the first issue and the count."""
    parts = []
    if report.truncated:
        parts.append(report.truncated)
    if report.issues:
        first = report.issues[0]
        more = f" (+{len(report.issues) - 1} more)" if len(report.issues) > 1 else ""
        parts.append(f"{len(report.issues)} bad: {first.position}: {first.reason}{more}")
    return cap("; ".join(parts))
