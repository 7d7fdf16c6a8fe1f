"""The only module that writes to the warehouse: raw DDL, the manifest and per-file transactions.

Rules (README "Loading rules"):
- the manifest ``raw.ingest_files`` has one row per (path, sha256) version of a file;
- a version already loaded (or partially loaded) is skipped: recognised by path, size and
  mtime without reading it, else by sha256 (computed while the load runs, rolled back if
  the content turns out unchanged);
- a new version of a path replaces exactly the rows of that path, in one transaction;
- a file that fails is rolled back whole: no rows from it, a ``failed`` manifest row with the
  reason; rows of an earlier good version of the same path stay;
- problems that do not stop a load (bad lines, malformed packets) go to ``raw.ingest_issues``
  and make the status ``partial``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

import duckdb

from ingest.kinds.base import (
    CarefulRetry,
    Digest,
    Extraction,
    RawTable,
    SourceError,
    SourceKind,
)
from ingest.lazy import lazy_module

pa = lazy_module("pyarrow")  # only sources that yield Arrow data need it

DEFAULT_DB = "warehouse.duckdb"
MAX_ISSUES_STORED = 1000  # per file; the count is always exact
MAX_TEXT_CHARS = 300  # reasons, notes and positions stored and printed
READ_CHUNK = 4 << 20
RECENT_WRITE_NS = 5_000_000_000  # written this recently (the 5-s poll): may still grow
ARROW_INSERT_ROWS = 262_144  # rows per insert from Arrow batches (bounded memory)

# Per row: which file version it came from (raw.ingest_files.file_id: path, node, run) and
# when it was loaded (what incremental models and source freshness read). Per-file facts
# live in the manifest, not in every row: a constant text column costs about 0.2 s per
# 3 M rows to store, an integer almost nothing.
BOOKKEEPING = {
    "_file_id": "BIGINT NOT NULL",
    "_loaded_at": "TIMESTAMP NOT NULL",
}
# What rows carried before file ids (moved to the manifest when such a warehouse is opened)
PER_ROW_BEFORE_FILE_IDS = ("_source_file", "_ingest_run_id", "_node")

MANIFEST_DDL = """
create table if not exists raw.ingest_files (
    path varchar not null,
    sha256 varchar not null,
    size_bytes bigint not null,
    file_mtime_ns bigint,
    kind varchar not null,
    rows bigint not null,
    issues bigint not null,
    status varchar not null check (status in ('loaded', 'failed', 'partial')),
    error varchar,
    ingest_run_id varchar not null,
    loaded_at timestamp not null,
    note varchar,
    file_ctime_ns bigint,
    node varchar,
    file_id bigint,
    primary key (path, sha256)
);
-- columns added after the first release; older warehouses gain them on the next ingest
alter table raw.ingest_files add column if not exists note varchar;
alter table raw.ingest_files add column if not exists node varchar;
alter table raw.ingest_files add column if not exists file_ctime_ns bigint;
alter table raw.ingest_files add column if not exists file_id bigint;
-- versions recorded before file ids get theirs (unique, after any id already given)
update raw.ingest_files
set file_id = rowid + 1 + (select coalesce(max(file_id), 0) from raw.ingest_files)
where file_id is null;
create table if not exists raw.ingest_issues (
    path varchar not null,
    sha256 varchar not null,
    position varchar not null,
    reason varchar not null
);
comment on table raw.ingest_files is
    'One row per version (path, sha256) of every file wirehouse was asked to ingest.';
comment on table raw.ingest_issues is
    'Problems inside files that did not stop their load (bad lines, malformed packets).';
"""


# One row per `wirehouse run`: the next run builds when data arrived after built_through or
# the dbt project (models, vars) changed since the last good build.
RUNS_DDL = """
create table if not exists raw.wirehouse_runs (
    run_id varchar primary key,
    started_at timestamp not null,
    finished_at timestamp not null,
    files_loaded bigint not null,
    files_failed bigint not null,
    rows_loaded bigint not null,
    build varchar not null check (build in ('none', 'incremental', 'full', 'failed')),
    build_fingerprint varchar,
    built_through timestamp
);
comment on table raw.wirehouse_runs is
    'One row per wirehouse run: files loaded, the dbt build and the newest load it reflects.';
"""


MANIFEST_COLUMNS = (
    "path, sha256, size_bytes, file_mtime_ns, kind, rows, issues, status, error,"
    " ingest_run_id, loaded_at, note, node, file_ctime_ns, file_id"
)


def _marks(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


# DuckDB names a database after its file; one named like a schema makes `raw.x` ambiguous.
RESERVED_DB_NAMES = frozenset({"raw", "staging", "intermediate", "marts", "reference", "main"})


class WarehouseError(Exception):
    """The warehouse file cannot be used (not a DuckDB file, unwritable...): one line."""


class WarehouseBusy(WarehouseError):
    """Another process holds DuckDB's lock on the warehouse file."""

    def __init__(self, path: Path, pid: int | None, holder: str) -> None:
        self.pid = pid
        who = f"process {pid} ({holder})" if pid else "another process"
        super().__init__(
            f"{path} is in use by {who}; wait for it to finish (or stop it) and run this"
            " again. BI tools should read the published copy (wirehouse publish), not this file"
        )


LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; lock conflicts and unusable files become WarehouseError."""
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        held = LOCK_HOLDER.search(text)
        if held:
            pid = int(held["pid"])
            raise WarehouseBusy(path, pid, _command_line(pid) or held["program"]) from None
        if "Could not set lock" in text:
            raise WarehouseBusy(path, None, "") from None
        raise WarehouseError(f"{path}: {_first_line(exc).removeprefix('IO Error: ')}") from None
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: {_first_line(exc)}") from None


def _command_line(pid: int) -> str:
    """What the lock holder runs (e.g. `dbt build`), where /proc tells; else ''."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    words = [Path(w).name if i == 0 else w for i, w in enumerate(raw.decode().split("\0")) if w]
    if len(words) > 1 and words[0].startswith("python"):
        words = words[1:]  # `python -m x` / `python script` -> what it runs
    return " ".join(words)[:80]


def default_db_path() -> Path:
    return Path(os.environ.get("WIREHOUSE_DB") or DEFAULT_DB)


def digest_of(path: Path, size: int, count_lines: bool = True) -> Digest:
    """sha256 and newline count (0 unless `count_lines`: half the cost of the sha256 for a
    capture that has no lines) of exactly the first `size` bytes of `path`."""
    sha = hashlib.sha256()
    newlines, last, left = 0, b"", size
    with path.open("rb") as f:
        while left and (chunk := f.read(min(READ_CHUNK, left))):
            sha.update(chunk)
            if count_lines:
                newlines += chunk.count(b"\n")
            last, left = chunk[-1:], left - len(chunk)
    return Digest(sha.hexdigest(), size - left, newlines, last == b"\n")


def _changed(path: Path, before: os.stat_result) -> bool:
    try:
        now = path.stat()
    except OSError:
        return True
    return (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns)


def _after_last_newline(path: Path, size: int) -> int:
    """Offset just after the last line end in the first `size` bytes (`size` if none)."""
    with path.open("rb") as f:
        end = size
        while end > 0:
            start = max(0, end - READ_CHUNK)
            f.seek(start)
            chunk = f.read(end - start)
            at = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))  # CR-only files end lines in CR
            if at >= 0:
                return start + at + 1
            end = start
    return size


def _copy_prefix(src: BinaryIO, dst: BinaryIO, size: int) -> None:
    while size and (chunk := src.read(min(READ_CHUNK, size))):
        dst.write(chunk)
        size -= len(chunk)


def _cap(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Reasons and positions are one short line, whatever a file holds."""
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text):,} chars)"


@dataclass(frozen=True)
class FileResult:
    path: str
    kind: str
    status: str  # loaded | partial | failed | skipped | relabelled
    rows: int = 0
    issues: int = 0
    message: str = ""  # the one-line reason for failed/partial/skipped
    note: str = ""  # facts worth knowing about a file that loaded (Extraction.notes)
    rows_by_table: dict[str, int] = field(default_factory=dict)  # of ``rows``, per raw table

    @property
    def ok(self) -> bool:
        return self.status in ("loaded", "skipped", "relabelled")


class Warehouse:
    """A DuckDB file with the raw schema, opened for one ingest run."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        if self.path.stem.lower() in RESERVED_DB_NAMES:
            raise ValueError(
                f"{self.path}: a warehouse file may not be named after a schema"
                f" ({', '.join(sorted(RESERVED_DB_NAMES))}); pick another name"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"{self.path.parent}: {exc.strerror}") from None
        # our own progress bar is per file; DuckDB's would print into piped stdout
        self.con = connect(self.path)
        self.con.execute("set enable_progress_bar = false")
        # raw rows have no meaningful order; letting DuckDB write them as they come is faster
        self.con.execute("set preserve_insertion_order = false")
        # a timestamp without a UTC offset in a file is UTC, whatever this machine's zone
        self.con.execute("set TimeZone = 'UTC'")
        self.run_id = str(uuid.uuid4())
        self.loaded_at = datetime.now(UTC).replace(tzinfo=None)
        self.con.execute("create schema if not exists raw")
        self.con.execute(MANIFEST_DDL)
        self.con.execute(RUNS_DDL)
        # Temporary files (decompressed .bz2, frozen copies) live beside the warehouse; we
        # hold its write lock, so anything left there is from a killed run: remove it.
        self.tmp_dir = self.path.parent / f".{self.path.name}.tmp"
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self.tmp_dir.mkdir(exist_ok=True)

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_tables(self, tables: Iterable[RawTable]) -> None:
        """Create missing raw tables and add columns a newer wirehouse knows (schema evolution).

        Columns are added, never retyped: rows loaded by an older version keep their values
        and read NULL in the new columns. The one exception is the per-row file facts of
        warehouses made before file ids (PER_ROW_BEFORE_FILE_IDS): they move to the
        manifest, and each row gets its file's id instead.
        """
        for table in tables:
            cols = {**table.columns, **BOOKKEEPING}
            body = ",\n    ".join(f'"{name}" {typ}' for name, typ in cols.items())
            self.con.execute(f"create table if not exists raw.{table.name} (\n    {body}\n)")
            have = {
                row[0]
                for row in self.con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'raw' and table_name = ?",
                    [table.name],
                ).fetchall()
            }
            for name, typ in cols.items():
                if name not in have:
                    nullable = typ.replace(" NOT NULL", "")  # old rows have no value for it
                    self.con.execute(f'alter table raw.{table.name} add column "{name}" {nullable}')
            if "_source_file" in have:
                self._move_file_facts_to_manifest(table.name, have)
            if table.comment:
                comment = table.comment.replace("'", "''")
                self.con.execute(f"comment on table raw.{table.name} is '{comment}'")

    def _move_file_facts_to_manifest(self, table: str, have: set[str]) -> None:
        """Rows of a warehouse made before file ids: each gets the id of the manifest row of
        its file (node and run are already there); then the per-row copies go."""
        self.con.begin()
        self.con.execute(
            f"update raw.{table} as t set _file_id = f.file_id from raw.ingest_files as f"
            " where f.path = t._source_file and f.status in ('loaded', 'partial')"
        )
        [(lost,)] = self.con.execute(
            f"select count(*) from raw.{table} where _file_id is null"
        ).fetchall()
        if lost:
            self.con.rollback()
            raise WarehouseError(
                f"raw.{table}: {lost:,} rows belong to no loaded file of raw.ingest_files"
                " (added by hand?): cannot give them file ids; delete them or load their files"
            )
        for name in PER_ROW_BEFORE_FILE_IDS:
            if name in have:
                self.con.execute(f'alter table raw.{table} drop column "{name}"')
        self.con.commit()

    def ingest_file(self, path: Path, source: SourceKind, node: str | None = None) -> FileResult:
        """Load one file as one transaction; never raises for a bad file.

        What is recorded is exactly what was read: the sha256 and size in the manifest are
        those of the bytes loaded, read once by a thread beside the load. A file written
        to within the last seconds, or one that changes while it is read, is loaded from a
        frozen copy of its prefix (cut after its last complete line for CSV), so rows
        appended meanwhile are loaded next time, never lost.

        ``node`` labels the manifest row, and so every row of the file (``_file_id``).
        """
        key = str(path.resolve())
        try:
            stat = path.stat()
        except OSError as exc:
            return self._record_failure(
                key, "", 0, source.kind, f"cannot read: {exc.strerror}", node
            )
        if not S_ISREG(stat.st_mode):
            return self._record_failure(key, "", 0, source.kind, "not a regular file", node)
        # Same path, size, mtime and ctime as a loaded version: unchanged, no need to read
        # it. ctime cannot be set back by a user, so an edit that keeps size and mtime is
        # still seen (and then recognised, or not, by its sha256).
        if self._loaded_version(
            key,
            "size_bytes = ? and file_mtime_ns = ? and file_ctime_ns = ?",
            [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns],
        ):
            return self._unchanged(key, source, node)

        frozen, unfinished = None, 0
        if time.time_ns() - stat.st_mtime_ns < RECENT_WRITE_NS:
            frozen, unfinished = self._freeze(path, stat.st_size, source)
        careful = False
        while True:
            readable = frozen or path
            size = readable.stat().st_size if frozen else stat.st_size
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = pool.submit(digest_of, readable, size, source.line_based)
                report = Extraction(careful=careful, digest=pending.result, tmp_dir=self.tmp_dir)
                self.con.begin()
                file_id = self._next_file_id()
                failure, retry = None, False
                try:
                    by_table = self._load(readable, key, source, report, file_id)
                    rows = sum(by_table.values())
                except SourceError as exc:
                    failure = str(exc)  # the file itself is wrong: no second attempt
                except (CarefulRetry, duckdb.Error) as exc:
                    failure = _first_line(exc) if isinstance(exc, duckdb.Error) else str(exc)
                    retry = source.careful_mode and not careful
                if failure is not None:
                    self.con.rollback()
                    if retry:
                        careful = True  # one careful, line-by-line attempt before failing
                        continue
                read = _digest_or_none(pending)
            if failure is not None:
                return self._record_failure(
                    key, read.sha256 if read else "", size, source.kind, failure, node
                )
            if frozen is None and _changed(path, stat):
                self.con.rollback()  # it grew while we read it: load a frozen prefix
                stat = path.stat()
                (frozen, unfinished), careful = self._freeze(path, stat.st_size, source), False
                continue
            break
        if frozen is not None:
            shutil.rmtree(frozen.parent, ignore_errors=True)
        if read is None:
            self.con.rollback()
            return self._record_failure(
                key, "", size, source.kind, "cannot read while loading", node
            )

        if self._loaded_version(key, "sha256 = ?", [read.sha256]):
            self.con.rollback()  # touched but not changed: remember the new times
            self.con.execute(
                "update raw.ingest_files set file_mtime_ns = ?, file_ctime_ns = ?"
                " where path = ? and sha256 = ?",
                [stat.st_mtime_ns, stat.st_ctime_ns, key, read.sha256],
            )
            return self._unchanged(key, source, node)
        # the same content for another node is that node's data, not a copy
        twin = (
            None
            if source.name_is_data
            else self.con.execute(
                "select path from raw.ingest_files where sha256 = ? and kind = ? and path <> ?"
                " and node is not distinct from ? and status in ('loaded', 'partial') limit 1",
                [read.sha256, source.kind, key, node],
            ).fetchone()
        )
        if twin:
            self.con.rollback()
            return FileResult(key, source.kind, "skipped", message=f"same content as {twin[0]}")

        if unfinished:
            report.notes.append(
                f"still being written: the {unfinished:,} bytes after its last complete line"
                " are loaded by the next ingest"
            )
        status = "partial" if (report.issues or report.truncated) else "loaded"
        message = _summary(report)
        note = _cap("; ".join(report.notes)) or None
        self.con.execute("delete from raw.ingest_files where path = ?", [key])
        self.con.execute("delete from raw.ingest_issues where path = ?", [key])
        self.con.execute(
            f"insert into raw.ingest_files ({MANIFEST_COLUMNS})"
            f" values ({_marks(MANIFEST_COLUMNS)})",
            [
                key,
                read.sha256,
                read.size,
                stat.st_mtime_ns,
                source.kind,
                rows,
                len(report.issues),
                status,
                message or None,
                self.run_id,
                self.loaded_at,
                note,
                node,
                stat.st_ctime_ns,
                file_id,
            ],
        )
        if report.issues:
            self.con.executemany(
                "insert into raw.ingest_issues values (?, ?, ?, ?)",
                [
                    (key, read.sha256, _cap(i.position), _cap(i.reason))
                    for i in report.issues[:MAX_ISSUES_STORED]
                ],
            )
        self.con.commit()
        return FileResult(
            key, source.kind, status, rows, len(report.issues), message, note or "", by_table
        )

    def newest_load(self) -> datetime | None:
        """When the newest file version that has rows was loaded."""
        return self.con.execute(
            "select max(loaded_at) from raw.ingest_files where status in ('loaded', 'partial')"
        ).fetchone()[0]

    def kinds_loaded_since(self, since: datetime | None) -> set[str]:
        rows = self.con.execute(
            "select distinct kind from raw.ingest_files where status in ('loaded', 'partial')"
            " and loaded_at > coalesce(?, '-infinity'::timestamp)",
            [since],
        ).fetchall()
        return {kind for (kind,) in rows}

    def kinds_loaded_until(self, until: datetime | None) -> set[str]:
        rows = self.con.execute(
            "select distinct kind from raw.ingest_files where status in ('loaded', 'partial')"
            " and loaded_at <= ?",
            [until],
        ).fetchall()
        return {kind for (kind,) in rows}

    def last_build(self) -> tuple[str, datetime | None] | None:
        """(fingerprint, built_through) of the last successful build of a `wirehouse run`."""
        return self.con.execute(
            "select build_fingerprint, built_through from raw.wirehouse_runs"
            " where build in ('incremental', 'full') order by finished_at desc limit 1"
        ).fetchone()

    def record_run(self, **values: object) -> None:
        names = ", ".join(values)
        self.con.execute(
            f"insert into raw.wirehouse_runs ({names}) values ({_marks(names)})",
            list(values.values()),
        )

    def _unchanged(self, key: str, source: SourceKind, node: str | None) -> FileResult:
        """An unchanged file; asked for under another node, it is relabelled (its rows get a
        new _loaded_at, so incremental models see them again)."""
        loaded_as, file_id = self.con.execute(
            "select node, file_id from raw.ingest_files where path = ?"
            " and status in ('loaded', 'partial') order by loaded_at desc limit 1",
            [key],
        ).fetchone()
        if node is None or loaded_as == node:
            return FileResult(key, source.kind, "skipped", message="already loaded")
        self.con.begin()
        for table in source.tables:
            self.con.execute(
                f"update raw.{table.name} set _loaded_at = ? where _file_id = ?",
                [self.loaded_at, file_id],
            )
        self.con.execute(
            "update raw.ingest_files set node = ?, loaded_at = ? where path = ?",
            [node, self.loaded_at, key],
        )
        self.con.commit()
        return FileResult(
            key,
            source.kind,
            "relabelled",
            message=f"already loaded; moved from node {loaded_as or '(none)'!r} to {node!r}",
        )

    def forget(self, path: Path, tables: Iterable[RawTable]) -> list[tuple[str, int]]:
        """Remove every row of the file `path` (or of every file under the directory
        `path`) from the raw tables, the manifest and the issues, in one transaction.

        Returns (file, rows removed) for each file that was in the manifest. The file
        itself may be gone: forgetting is by the path the manifest holds.
        """
        key = str(path.resolve())
        under = key.rstrip("/") + "/%"
        self.con.begin()
        files = self.con.execute(
            "select path from raw.ingest_files where path = ? or path like ? group by path"
            " order by path",
            [key, under],
        ).fetchall()
        removed = []
        for (file,) in files:
            rows = self._delete_rows(file, tables)
            self.con.execute("delete from raw.ingest_issues where path = ?", [file])
            self.con.execute("delete from raw.ingest_files where path = ?", [file])
            removed.append((file, rows))
        self.con.commit()
        return removed

    def _freeze(self, path: Path, size: int, source: SourceKind) -> tuple[Path, int]:
        """A private copy of the first `size` bytes (CSV: up to the last complete line),
        and how many bytes of an unfinished last line it leaves for the next ingest."""
        cut = size
        if source.line_based and not path.name.endswith((".gz", ".bz2")):
            cut = _after_last_newline(path, size)
        # same file name in a folder of its own: sources may read meaning from the name
        copy = self.tmp_dir / f"frozen-{uuid.uuid4().hex}" / path.name
        copy.parent.mkdir()
        with path.open("rb") as src, copy.open("wb") as dst:
            _copy_prefix(src, dst, cut)
        return copy, size - cut

    def _load(
        self, path: Path, key: str, source: SourceKind, report: Extraction, file_id: int
    ) -> dict[str, int]:
        """Inside the open transaction: replace the rows of `key` with the file's rows."""
        if self._loaded_version(key, "true", []):  # a new file has no rows to replace
            self._delete_rows(key, source.tables)
        rows: Counter[str] = Counter()
        # Arrow data streams into one INSERT per table while the source produces it (few
        # large statements: DuckDB writes full row groups as they fill, keeps nothing of the
        # file in memory, and its checkpoint has no small row groups to merge); the other
        # tables' batches wait in `pending`, at most ARROW_INSERT_ROWS rows each.
        pending: dict[str, list[pa.RecordBatch]] = {}
        items = iter(source.extract(path, self.con, report))
        try:
            item = next(items, None)
            while item is not None or pending:
                if item is None:  # the file ended: what waits goes in, a table at a time
                    name = next(iter(pending))
                    item = name, _as_table(pending.pop(name))
                table_name, data = item
                if isinstance(data, str):
                    rows[table_name] += self._insert(
                        table_name, data, file_id, any_order=source.any_row_order
                    )
                    report.rows = rows.total()  # the source may check it when it resumes
                    item = next(items, None)
                elif head := _batches(_as_table([*pending.pop(table_name, []), data])):
                    stream = _ArrowStream(table_name, head, items, pending)
                    rows[table_name] += self._insert(
                        table_name, stream.reader, file_id, any_order=source.any_row_order
                    )
                    stream.raise_held()
                    item = stream.rest
                else:
                    item = next(items, None)
                report.rows = rows.total()
        finally:
            if hasattr(items, "close"):
                items.close()  # stop a source thread at once when the load failed
        if rows.total() == 0 and not (report.empty_ok or report.truncated):
            raise SourceError("; ".join(filter(None, ["no data rows", _summary(report)])))
        return dict(rows)

    def _loaded_version(self, key: str, condition: str, params: list) -> bool:
        # fetchall: a result left unfinished blocks register() on this connection
        [(count,)] = self.con.execute(
            f"select count(*) from raw.ingest_files where path = ? and {condition}"
            " and status in ('loaded', 'partial')",
            [key, *params],
        ).fetchall()
        return bool(count)

    def _delete_rows(self, key: str, tables: Iterable[RawTable]) -> int:
        """Delete the raw rows of every version of the file `key`; how many there were."""
        deleted = 0
        for table in tables:
            [(count,)] = self.con.execute(
                f"delete from raw.{table.name} where _file_id in"
                " (select file_id from raw.ingest_files where path = ?)",
                [key],
            ).fetchall()
            deleted += count
        return deleted

    def _next_file_id(self) -> int:
        """An id no manifest row has (the write lock makes max + 1 safe)."""
        [(last,)] = self.con.execute("select max(file_id) from raw.ingest_files").fetchall()
        return (last or 0) + 1

    def _insert(self, table: str, data: object, file_id: int, any_order: bool = False) -> int:
        if isinstance(data, str):  # a SELECT (tested first: CSV kinds never load pyarrow)
            relation = f"({data})"
        else:  # Arrow data
            if not isinstance(data, pa.RecordBatchReader) and data.num_rows == 0:
                return 0
            self.con.register("_wirehouse_batch", data)
            relation = "_wirehouse_batch"
        order = "false" if any_order else "true"
        self.con.execute(f"set preserve_insertion_order = {order}")
        [(count,)] = self.con.execute(
            f"insert into raw.{table} by name"
            f" select *, $file_id as _file_id, $at as _loaded_at from {relation}",
            {"file_id": file_id, "at": self.loaded_at},
        ).fetchall()
        if relation == "_wirehouse_batch":
            self.con.unregister("_wirehouse_batch")
        return count

    def _record_failure(
        self, key: str, sha: str, size: int, kind: str, error: str, node: str | None = None
    ) -> FileResult:
        self.con.execute(
            f"insert or replace into raw.ingest_files ({MANIFEST_COLUMNS})"
            f" values ({_marks(MANIFEST_COLUMNS)})",
            [
                *(key, sha, size, None, kind, 0, 0, "failed", _cap(error)),
                *(self.run_id, self.loaded_at, None, node, None, self._next_file_id()),
            ],
        )
        return FileResult(key, kind, "failed", message=_cap(error))


class _ArrowStream:
    """The Arrow batches of one table as a reader that pulls them from the source on demand.

    It ends where one INSERT cannot go on: at the end of the file, a SELECT, a batch of
    another schema, or another table's pending batches reaching ARROW_INSERT_ROWS (that
    item is ``rest``: it starts the next statement). Other tables' batches go to
    ``pending``. An error of the source is held (DuckDB would turn it into its own) and
    raised by ``raise_held`` once the INSERT is done.
    """

    def __init__(
        self,
        table: str,
        head: list[pa.RecordBatch],
        items: Iterator[tuple[str, object]],
        pending: dict[str, list[pa.RecordBatch]],
    ) -> None:
        self.table, self.items, self.pending = table, items, pending
        self.rest: tuple[str, object] | None = None
        self.error: BaseException | None = None
        schema = head[0].schema
        self.reader = pa.RecordBatchReader.from_batches(schema, self._batches(head, schema))

    def _batches(self, head: list[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        yield from head
        try:
            for item in self.items:
                table_name, data = item
                if isinstance(data, str):
                    self.rest = item
                    return
                batches = _batches(data)
                if table_name == self.table:
                    if any(b.schema != schema for b in batches):
                        self.rest = item
                        return
                    yield from batches
                    continue
                waiting = self.pending.setdefault(table_name, [])
                waiting.extend(batches)
                if sum(b.num_rows for b in waiting) >= ARROW_INSERT_ROWS:
                    self.rest = table_name, _as_table(self.pending.pop(table_name))
                    return
        except GeneratorExit:
            raise  # the INSERT failed and let go of the reader
        except BaseException as exc:  # re-raised by raise_held
            self.error = exc

    def raise_held(self) -> None:
        if self.error is not None:
            raise self.error


def _batches(data: object) -> list[pa.RecordBatch]:
    """The non-empty record batches of an Arrow table or batch."""
    batches = data.to_batches() if isinstance(data, pa.Table) else [data]
    return [b for b in batches if b.num_rows]


def _as_table(batches: list[pa.RecordBatch | pa.Table]) -> pa.Table:
    tables = [pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b for b in batches]
    return pa.concat_tables(tables, promote_options="permissive")


def _digest_or_none(pending: Future[Digest]) -> Digest | None:
    try:
        return pending.result()
    except OSError:
        return None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _summary(report: Extraction) -> str:
    parts = []
    if report.truncated:
        parts.append(report.truncated)
    if report.issues:
        first = report.issues[0]
        more = f" (+{len(report.issues) - 1} more)" if len(report.issues) > 1 else ""
        parts.append(f"{len(report.issues)} bad: {first.position}: {first.reason}{more}")
    return "; ".join(parts)
