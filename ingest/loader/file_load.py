"""Loading one file as one transaction (README "Loading rules"), as named steps:

1. unchanged on disk (path, size, mtime, ctime of a loaded version)? skip it, or relabel it
   when asked for under another node;
2. written to within the last seconds? freeze a copy of its prefix and read that;
3. load it in one transaction, hashing the bytes beside the load; after a DuckDB error or a
   CarefulRetry, one careful line-by-line attempt; if it grew while read, load a frozen
   prefix instead;
4. the same bytes as the loaded version after all (only touched)? drop the load;
5. the same bytes as another path of the same kind and node (a twin)? drop the load;
6. replace the rows of the path's earlier version when the file only grew (or when asked to
   replace); content that does not start with the loaded bytes (a copytruncate rotation, a
   re-export) is the path's next generation: the earlier rows stay (a new path just adds);
7. record the version in the manifest, with its issues, and commit.

A file that fails is rolled back whole: no rows from it, a ``failed`` manifest row with the
reason; rows of an earlier good version of the same path stay. Problems that do not stop a
load (bad lines, malformed packets) go to ``raw.ingest_issues`` and make the status
``partial``.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from stat import S_ISREG

import duckdb

from ingest.kinds.base import CarefulRetry, Digest, Extraction, SourceError, SourceKind
from ingest.loader import manifest
from ingest.loader.arrow_stream import ARROW_INSERT_ROWS
from ingest.loader.connection import first_line
from ingest.loader.inserts import insert_items
from ingest.loader.manifest import FileVersion, cap, summary
from ingest.loader.snapshot import changed, digest_of, freeze, recently_written


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


@dataclass(frozen=True)
class IngestRun:
    """What the files of one ingest run share."""

    con: duckdb.DuckDBPyConnection
    run_id: str
    loaded_at: datetime  # every row and manifest row of the run gets this time
    tmp_dir: Path  # frozen copies, decompressed files; removed with the warehouse's lock
    max_pending_rows: int = ARROW_INSERT_ROWS  # Arrow rows of other tables held back
    on_read: Callable[[], None] | None = None  # told before a file's bytes are read


@dataclass
class Attempt:
    """One read of the file into the open transaction (rolled back if it failed)."""

    size: int  # bytes of the file, or of its frozen copy, that were read
    report: Extraction
    file_id: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)
    failure: str | None = None
    retry: bool = False  # the careful line-by-line read may succeed where this one failed
    digest: Digest | None = None  # of the bytes read; None if they could not be read


def _machine_error(exc: Exception, load: FileLoad) -> OSError:
    """The OSError that stops the run (exit 4) when the machine fails while loading, the
    file's transaction rolled back: a full disk says so with the file's name."""
    if isinstance(exc, OSError) and exc.errno != errno.ENOSPC:
        return exc
    return OSError(
        errno.ENOSPC,
        f"no space left on device while loading {load.path}: nothing of it was loaded;"
        " free some space and run again",
        str(load.run.tmp_dir.parent),
    )


def manifest_key(path: Path) -> str:
    """The manifest's path of a file: resolved, or absolute when it cannot be (a symlink
    loop, which then fails to load with its reason, like any unreadable file)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # RuntimeError: Python 3.11's symlink loop
        return os.path.abspath(path)


class FileLoad:
    """One file's load; ``ingest`` reads as the steps above and never raises for a bad file."""

    def __init__(
        self,
        run: IngestRun,
        path: Path,
        source: SourceKind,
        node: str | None,
        replace: bool = False,
        name: str | None = None,
    ) -> None:
        self.run, self.con = run, run.con
        self.path, self.source, self.node = path, source, node
        self.replace = replace  # a changed file replaces its rows even if it did not grow
        self.key = manifest_key(path)
        self.loaded = manifest.loaded_version(self.con, self.key)  # None: a new path
        self.generation = self.loaded.generation if self.loaded else 1
        # a capture's key in the marts: the name of its first load, however it is found later
        self.name = (self.loaded and self.loaded.name) or self._unique(name or path.name)
        self.stat: os.stat_result  # set by _look, renewed when the file grows while read
        self.frozen: Path | None = None  # the private copy read instead of a growing file
        self.unfinished = 0  # bytes of an unfinished last line left for the next ingest

    def ingest(self) -> FileResult:
        """Load the file as one transaction, or say why not (skipped, relabelled, failed)."""
        if problem := self._look():
            return self._fail(problem)
        if self._unchanged_on_disk():
            return self._skip_or_relabel()
        if self.run.on_read is not None:
            self.run.on_read()
        try:
            if recently_written(self.stat):
                self._freeze()
            loaded = self._load()
            if loaded.failure is None and self._grew_while_read():
                loaded = self._load()  # its frozen prefix
        finally:
            self._drop_frozen_copy()
        if loaded.failure is not None:
            return self._fail(loaded.failure, loaded.digest, loaded.size)
        if loaded.digest is None:
            self.con.rollback()
            return self._fail("cannot read while loading", size=loaded.size)
        if self._same_bytes_loaded(loaded.digest):
            return self._touched_only(loaded.digest)
        if twin := self._twin(loaded.digest):
            self.con.rollback()
            return self._result("skipped", message=f"same content as {twin}")
        self._replace_or_keep_rows(loaded)
        return self._record(loaded)

    def _look(self) -> str:
        """Stat the file; why it cannot be loaded at all, or ''."""
        try:
            self.stat = self.path.stat()
        except OSError as exc:
            return f"cannot read: {exc.strerror}"
        return "" if S_ISREG(self.stat.st_mode) else "not a regular file"

    def _unchanged_on_disk(self) -> bool:
        """Same path, size, mtime and ctime as a loaded version: no need to read it.

        ctime cannot be set back by a user, so an edit that keeps size and mtime is still
        seen (and then recognised, or not, by its sha256)."""
        return manifest.has_loaded_version(
            self.con,
            self.key,
            "size_bytes = ? and file_mtime_ns = ? and file_ctime_ns = ?",
            [self.stat.st_size, self.stat.st_mtime_ns, self.stat.st_ctime_ns],
        )

    def _skip_or_relabel(self) -> FileResult:
        """An unchanged file is skipped; asked for under another node, it is relabelled."""
        loaded_as = manifest.newest_node(self.con, self.key)
        if self.node is None or loaded_as == self.node:
            return self._result("skipped", message="already loaded")
        manifest.relabel(self.con, self.key, self.source.tables, self.node, self.run.loaded_at)
        return self._result(
            "relabelled",
            message=f"already loaded; moved from node {loaded_as or '(none)'!r} to {self.node!r}",
        )

    def _freeze(self) -> None:
        """Read a private copy of the file's prefix from now on (a writer may be appending)."""
        self.frozen, self.unfinished = freeze(
            self.path, self.stat.st_size, self.source.line_based, self.run.tmp_dir
        )

    def _load(self) -> Attempt:
        """One transaction; after a DuckDB error or CarefulRetry, one careful line-by-line try."""
        attempt = self._attempt(careful=False)
        if attempt.retry:
            attempt = self._attempt(careful=True)
        return attempt

    def _attempt(self, careful: bool) -> Attempt:
        """Read the file (or its frozen copy) into a new transaction, hashing it beside;
        roll back if that fails."""
        readable = self.frozen or self.path
        size = readable.stat().st_size if self.frozen else self.stat.st_size
        with ThreadPoolExecutor(max_workers=1) as pool:
            checkpoint = self.loaded.size_bytes if self.loaded else None
            hashing = pool.submit(digest_of, readable, size, self.source.line_based, checkpoint)
            report = Extraction(careful=careful, digest=hashing.result, tmp_dir=self.run.tmp_dir)
            attempt = Attempt(size, report)
            self.con.begin()
            attempt.file_id = manifest.next_file_id(self.con)
            try:
                attempt.rows_by_table = self._insert_rows(readable, attempt)
            except SourceError as exc:
                attempt.failure = str(exc)  # the file itself is wrong: no second attempt
            except OSError as exc:  # the machine's, not the file's: no other file would load
                self.con.rollback()
                raise _machine_error(exc, self) from None
            except (CarefulRetry, duckdb.Error) as exc:
                if "No space left on device" in str(exc):
                    self.con.rollback()
                    raise _machine_error(exc, self) from None
                attempt.failure = first_line(exc) if isinstance(exc, duckdb.Error) else str(exc)
                attempt.retry = self.source.careful_mode and not careful
            if attempt.failure is not None:
                self.con.rollback()
            if not attempt.retry:
                attempt.digest = _digest_or_none(hashing)
        return attempt

    def _insert_rows(self, readable: Path, attempt: Attempt) -> dict[str, int]:
        """The source's rows into the raw tables; a file without any fails."""
        report = attempt.report
        by_table = insert_items(
            self.con,
            self.source.extract(readable, self.con, report),
            report,
            attempt.file_id,
            self.run.loaded_at,
            any_order=self.source.any_row_order,
            max_pending_rows=self.run.max_pending_rows,
        )
        if sum(by_table.values()) == 0 and not (report.empty_ok or report.truncated):
            raise SourceError("; ".join(filter(None, ["no data rows", summary(report)])))
        return by_table

    def _grew_while_read(self) -> bool:
        """Written to while it was read: roll back and freeze what it holds now."""
        if self.frozen is not None or not changed(self.path, self.stat):
            return False
        self.con.rollback()
        self.stat = self.path.stat()
        self._freeze()
        return True

    def _drop_frozen_copy(self) -> None:
        if self.frozen is not None:
            shutil.rmtree(self.frozen.parent, ignore_errors=True)

    def _same_bytes_loaded(self, digest: Digest) -> bool:
        """The path's loaded version has these very bytes (the file was only touched)."""
        return manifest.has_loaded_version(self.con, self.key, "sha256 = ?", [digest.sha256])

    def _touched_only(self, digest: Digest) -> FileResult:
        """Drop the load, remember the new times, and skip (or relabel) the file."""
        self.con.rollback()
        manifest.remember_times(
            self.con, self.key, digest.sha256, self.stat.st_mtime_ns, self.stat.st_ctime_ns
        )
        return self._skip_or_relabel()

    def _twin(self, digest: Digest) -> str | None:
        """Another path with these bytes, of the same kind and node (the same content for
        another node is that node's data, not a copy; a kind whose name is data has none)."""
        if self.source.name_is_data:
            return None
        return manifest.twin_of(self.con, digest.sha256, self.source.kind, self.key, self.node)

    def _replace_or_keep_rows(self, loaded: Attempt) -> None:
        """A file that only grew (its loaded bytes are still its first bytes) replaces the
        rows of its loaded version. Other new content of a loaded path keeps the rows loaded
        before, which no file on disk holds any more after a copytruncate rotation, and
        becomes the path's next generation, with a note; ``replace`` replaces them instead."""
        if self.loaded is None:
            return
        grew = loaded.digest.prefix_sha256 == self.loaded.sha256
        if grew or self.replace:
            manifest.delete_rows(
                self.con,
                self.key,
                self.source.tables,
                self.run.loaded_at,
                None if grew else "replace",  # a growth removes nothing
                self.generation,
            )
            return
        kept = manifest.rows_of_generation(self.con, self.key, self.generation)
        self.generation += 1
        unit = self.source.tables[0].unit if len(self.source.tables) == 1 else "rows"
        loaded.report.notes.append(
            f"does not start with the {self.loaded.size_bytes:,} bytes loaded from it before"
            f" (now {loaded.digest.size:,} bytes: rotated or rewritten?): the {kept:,} {unit}"
            f" loaded then stay, these load as generation {self.generation}"
            " (--replace replaces them instead)"
        )

    def _record(self, loaded: Attempt) -> FileResult:
        """Record the new version in the manifest with its issues, and commit."""
        report, digest = loaded.report, loaded.digest
        if self.unfinished:
            report.notes.append(
                f"still being written: the {self.unfinished:,} bytes after its last complete"
                " line are loaded by the next ingest"
            )
        status = "partial" if (report.issues or report.truncated) else "loaded"
        message = summary(report)
        note = cap("; ".join(report.notes)) or None
        rows = sum(loaded.rows_by_table.values())
        version = self._version(
            sha256=digest.sha256,
            size_bytes=digest.size,
            file_mtime_ns=self.stat.st_mtime_ns,
            file_ctime_ns=self.stat.st_ctime_ns,
            rows=rows,
            issues=len(report.issues),
            status=status,
            error=message or None,
            note=note,
            file_id=loaded.file_id,
            generation=self.generation,
        )
        manifest.record(self.con, version, report.issues)
        self.con.commit()
        return self._result(
            status, rows, len(report.issues), message, note or "", loaded.rows_by_table
        )

    def _fail(self, error: str, digest: Digest | None = None, size: int = 0) -> FileResult:
        """Record a failed version (no rows; an earlier good version keeps its rows)."""
        version = self._version(
            sha256=digest.sha256 if digest else "",
            size_bytes=size,
            file_mtime_ns=None,
            file_ctime_ns=None,
            rows=0,
            issues=0,
            status="failed",
            error=cap(error),
            note=None,
            file_id=manifest.next_file_id(self.con),
            generation=self.generation,
        )
        manifest.record_failure(self.con, version)
        return self._result("failed", message=cap(error))

    def _unique(self, name: str) -> str:
        """`name`, or when another file of the node has it (two folders given, each with an
        x.pcap), the shortest longer tail of the path that no other file has."""
        parts = Path(self.key).parts
        tails = ["/".join(parts[-k:]) for k in range(len(Path(name).parts) + 1, len(parts))]
        for candidate in (name, *tails):
            if not manifest.name_taken(self.con, candidate, self.node, self.key):
                return candidate
        return self.key

    def _version(self, **facts: object) -> FileVersion:
        """A manifest row of this file, this run and this node."""
        return FileVersion(
            path=self.key,
            kind=self.source.kind,
            ingest_run_id=self.run.run_id,
            loaded_at=self.run.loaded_at,
            node=self.node,
            name=self.name,
            **facts,
        )

    def _result(self, status: str, *args: object, **kwargs: object) -> FileResult:
        return FileResult(self.key, self.source.kind, status, *args, **kwargs)


def _digest_or_none(hashing: Future[Digest]) -> Digest | None:
    try:
        return hashing.result()
    except OSError:
        return None
