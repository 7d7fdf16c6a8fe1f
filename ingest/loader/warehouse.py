"""The warehouse: one DuckDB file with the ``raw`` schema, opened for one ingest run.

``Warehouse`` ties the loader's modules together and is the API the CLI, ``wirehouse run``,
the tests and the benchmarks use:

- connection.py   opening the file; WarehouseError / WarehouseBusy as one line
- migrations.py   numbered bookkeeping migrations, run on open (raw.schema_migrations)
- raw_tables.py   the kinds' raw tables, created or given new columns (schema evolution)
- file_load.py    one file as one transaction, in named steps (``ingest_file``)
- snapshot.py     the bytes read: sha256, frozen prefix of a growing file, change detection
- inserts.py      a source's items into raw tables; arrow_stream.py streams Arrow batches
- manifest.py     reads and writes of raw.ingest_files and raw.ingest_issues

Names other code imported from here before the split are re-exported.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from ingest.kinds.base import RawTable, SourceKind
from ingest.loader import manifest
from ingest.loader.arrow_stream import ARROW_INSERT_ROWS, as_table
from ingest.loader.connection import (
    DEFAULT_DB,
    OFFLINE,
    RESERVED_DB_NAMES,
    WarehouseBusy,
    WarehouseError,
    check_name,
    connect,
    default_db_path,
)
from ingest.loader.file_load import FileLoad, FileResult, IngestRun
from ingest.loader.inserts import insert
from ingest.loader.manifest import (
    HAS_ROWS,
    MANIFEST_COLUMNS,
    MAX_ISSUES_STORED,
    MAX_TEXT_CHARS,
    marks,
)
from ingest.loader.migrations import migrate
from ingest.loader.raw_tables import BOOKKEEPING, ensure_tables
from ingest.loader.snapshot import READ_CHUNK, RECENT_WRITE_NS, digest_of

__all__ = [
    "ARROW_INSERT_ROWS",
    "BOOKKEEPING",
    "DEFAULT_DB",
    "MANIFEST_COLUMNS",
    "MAX_ISSUES_STORED",
    "MAX_TEXT_CHARS",
    "OFFLINE",
    "READ_CHUNK",
    "RECENT_WRITE_NS",
    "RESERVED_DB_NAMES",
    "FileResult",
    "Warehouse",
    "WarehouseBusy",
    "WarehouseError",
    "as_table",
    "connect",
    "default_db_path",
    "digest_of",
]


AFTER = "coalesce(?, '-infinity'::timestamp)"  # after a time; after nothing: ever


class Warehouse:
    """A DuckDB file with the raw schema, opened for one ingest run."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        check_name(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"{self.path.parent}: {exc.strerror}") from None
        self.con = connect(self.path)
        # our own progress bar is per file; DuckDB's would print into piped stdout
        self.con.execute("set enable_progress_bar = false")
        # raw rows have no meaningful order; letting DuckDB write them as they come is faster
        self.con.execute("set preserve_insertion_order = false")
        # a timestamp without a UTC offset in a file is UTC, whatever this machine's zone
        self.con.execute("set TimeZone = 'UTC'")
        self.run_id = str(uuid.uuid4())
        self.on_read: Callable[[], None] | None = None  # told before a file's bytes are read
        self.loaded_at = datetime.now(UTC).replace(tzinfo=None)
        try:
            migrate(self.con, self.path)
        except WarehouseError:
            self.con.close()  # let go of the lock: the caller prints one line and exits
            raise
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
        and read NULL in the new columns.
        """
        ensure_tables(self.con, tables)

    def ingest_file(
        self,
        path: Path,
        source: SourceKind,
        node: str | None = None,
        replace: bool = False,
        name: str | None = None,
    ) -> FileResult:
        """Load one file as one transaction; never raises for a bad file (file_load.py).

        ``node`` labels the manifest row, and so every row of the file (``_file_id``);
        ``replace``: changed content replaces the path's rows even if it is not a growth;
        ``name``: the file's name below the folder it was found in (its own name if None),
        kept from the path's first load.
        """
        # ARROW_INSERT_ROWS is read at each call: a test lowers it on this module
        run = IngestRun(
            self.con, self.run_id, self.loaded_at, self.tmp_dir, ARROW_INSERT_ROWS, self.on_read
        )
        return FileLoad(run, path, source, node, replace, name).ingest()

    def forget(self, path: Path, tables: Iterable[RawTable]) -> list[tuple[str, int]]:
        """Remove every row of the file `path` (or of every file under the directory
        `path`) from the raw tables, the manifest and the issues, in one transaction.

        Returns (file, rows removed) for each file that was in the manifest. The file
        itself may be gone: forgetting is by the path the manifest holds.
        """
        return manifest.forget(self.con, str(path.resolve()), tables, self.loaded_at)

    def newest_change(self) -> datetime | None:
        """When rows with data were last loaded or removed (a build then reflects both)."""
        return self.con.execute(
            "select max(changed_at) from (select loaded_at as changed_at from raw.ingest_files"
            f" where {HAS_ROWS}"
            " union all select removed_at from raw.removed_rows)"
        ).fetchone()[0]

    def kinds_loaded_since(self, since: datetime | None) -> set[str]:
        return self._kinds(f"raw.ingest_files where {HAS_ROWS} and loaded_at > {AFTER}", since)

    def kinds_removed_since(self, since: datetime | None) -> set[str]:
        """Kinds with raw rows removed (forget, --replace, relabel) after `since`."""
        return self._kinds(f"raw.removed_rows where removed_at > {AFTER}", since)

    def kinds_loaded_until(self, until: datetime | None) -> set[str]:
        return self._kinds(f"raw.ingest_files where {HAS_ROWS} and loaded_at <= ?", until)

    def _kinds(self, rows_where: str, at: datetime | None) -> set[str]:
        """The kinds of the rows of `table where condition` (one ? for `at`)."""
        rows = self.con.execute(f"select distinct kind from {rows_where}", [at]).fetchall()
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
            f"insert into raw.wirehouse_runs ({names}) values ({marks(names)})",
            list(values.values()),
        )

    def _insert(self, table: str, data: object, file_id: int, any_order: bool = False) -> int:
        """One INSERT into raw.`table` (bench/bench_pcap.py times the store's share alone)."""
        return insert(self.con, table, data, file_id, self.loaded_at, any_order)
