"""The only module that writes to the warehouse: raw DDL, the manifest and per-file transactions.

Rules (README "Loading rules"):
- the manifest ``raw.ingest_files`` has one row per (path, sha256) version of a file;
- a version already loaded (or partially loaded) is skipped;
- a new version of a path replaces exactly the rows of that path, in one transaction;
- a file that fails is rolled back whole: no rows from it, a ``failed`` manifest row with the
  reason; rows of an earlier good version of the same path stay;
- problems that do not stop a load (bad lines, malformed packets) go to ``raw.ingest_issues``
  and make the status ``partial``.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from ingest.sources.base import Extraction, RawTable, SourceError, SourceKind

DEFAULT_DB = "warehouse.duckdb"
MAX_ISSUES_STORED = 1000  # per file; the count is always exact

BOOKKEEPING = {
    "_source_file": "VARCHAR NOT NULL",
    "_ingest_run_id": "VARCHAR NOT NULL",
    "_loaded_at": "TIMESTAMP NOT NULL",
}

MANIFEST_DDL = """
create table if not exists raw.ingest_files (
    path varchar not null,
    sha256 varchar not null,
    size_bytes bigint not null,
    kind varchar not null,
    rows bigint not null,
    issues bigint not null,
    status varchar not null check (status in ('loaded', 'failed', 'partial')),
    error varchar,
    ingest_run_id varchar not null,
    loaded_at timestamp not null,
    primary key (path, sha256)
);
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


def default_db_path() -> Path:
    return Path(os.environ.get("WIREHOUSE_DB") or DEFAULT_DB)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileResult:
    path: str
    kind: str
    status: str  # loaded | partial | failed | skipped
    rows: int = 0
    issues: int = 0
    message: str = ""  # the one-line reason for failed/partial/skipped

    @property
    def ok(self) -> bool:
        return self.status in ("loaded", "skipped")


class Warehouse:
    """A DuckDB file with the raw schema, opened for one ingest run."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.run_id = str(uuid.uuid4())
        self.con.execute("create schema if not exists raw")
        self.con.execute(MANIFEST_DDL)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_tables(self, tables: Iterable[RawTable]) -> None:
        for table in tables:
            cols = {**table.columns, **BOOKKEEPING}
            body = ",\n    ".join(f'"{name}" {typ}' for name, typ in cols.items())
            self.con.execute(f"create table if not exists raw.{table.name} (\n    {body}\n)")
            if table.comment:
                comment = table.comment.replace("'", "''")
                self.con.execute(f"comment on table raw.{table.name} is '{comment}'")

    def ingest_file(self, path: Path, source: SourceKind) -> FileResult:
        """Load one file as one transaction; never raises for a bad file."""
        key = str(path.resolve())
        try:
            size = path.stat().st_size
            sha = sha256_of(path)
        except OSError as exc:
            return self._record_failure(key, "", 0, source.kind, f"cannot read: {exc.strerror}")

        done = self.con.execute(
            "select status from raw.ingest_files where path = ? and sha256 = ?"
            " and status in ('loaded', 'partial')",
            [key, sha],
        ).fetchone()
        if done:
            return FileResult(key, source.kind, "skipped", message="already loaded")
        twin = self.con.execute(
            "select path from raw.ingest_files where sha256 = ? and kind = ? and path <> ?"
            " and status in ('loaded', 'partial') limit 1",
            [sha, source.kind, key],
        ).fetchone()
        if twin:
            return FileResult(key, source.kind, "skipped", message=f"same content as {twin[0]}")

        report = Extraction()
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        self.con.begin()
        try:
            for table in source.tables:
                self.con.execute(f"delete from raw.{table.name} where _source_file = ?", [key])
            rows = 0
            for table_name, data in source.extract(path, self.con, report):
                rows += self._insert(table_name, data, key, loaded_at)
            message = _summary(report)
            if rows == 0 and not (report.empty_ok or report.truncated):
                raise SourceError("; ".join(filter(None, ["no data rows", message])))
            status = "partial" if (report.issues or report.truncated) else "loaded"
            self.con.execute("delete from raw.ingest_files where path = ?", [key])
            self.con.execute("delete from raw.ingest_issues where path = ?", [key])
            self.con.execute(
                "insert into raw.ingest_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    key,
                    sha,
                    size,
                    source.kind,
                    rows,
                    len(report.issues),
                    status,
                    message or None,
                    self.run_id,
                    loaded_at,
                ],
            )
            if report.issues:
                self.con.executemany(
                    "insert into raw.ingest_issues values (?, ?, ?, ?)",
                    [(key, sha, i.position, i.reason) for i in report.issues[:MAX_ISSUES_STORED]],
                )
            self.con.commit()
        except SourceError as exc:
            self.con.rollback()
            return self._record_failure(key, sha, size, source.kind, str(exc))
        except duckdb.Error as exc:
            self.con.rollback()
            return self._record_failure(key, sha, size, source.kind, _first_line(exc))
        return FileResult(key, source.kind, status, rows, len(report.issues), message)

    def _insert(self, table: str, data: object, key: str, loaded_at: datetime) -> int:
        if isinstance(data, pa.RecordBatch | pa.Table):
            if data.num_rows == 0:
                return 0
            self.con.register("_wirehouse_batch", data)
            relation = "_wirehouse_batch"
        else:
            relation = f"({data})"
        count = self.con.execute(
            f"insert into raw.{table} by name"
            f" select *, $file as _source_file, $run as _ingest_run_id,"
            f" $at as _loaded_at from {relation}",
            {"file": key, "run": self.run_id, "at": loaded_at},
        ).fetchone()[0]
        if relation == "_wirehouse_batch":
            self.con.unregister("_wirehouse_batch")
        return count

    def _record_failure(self, key: str, sha: str, size: int, kind: str, error: str) -> FileResult:
        self.con.execute(
            "insert or replace into raw.ingest_files values (?, ?, ?, ?, 0, 0, 'failed', ?, ?, ?)",
            [key, sha, size, kind, error, self.run_id, datetime.now(UTC).replace(tzinfo=None)],
        )
        return FileResult(key, kind, "failed", message=error)


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
