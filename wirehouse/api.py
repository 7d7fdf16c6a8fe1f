"""The library behind the `wirehouse` command and `wirehouse run`: typed functions that return
typed results and raise typed errors. The CLI (wirehouse/cli.py) only parses options, calls
one of these and renders what comes back, so a test, a timer or another program gets exactly
what the command does: the same option checks, file finding, warehouse opening and reports.

Errors a user can fix (a bad option, a missing file) are ``UsageError``s with one-line
messages; the CLI's exit-code map (README "Exit codes") says what every error becomes.
"""

from __future__ import annotations

import glob
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from ingest.kinds import base, registry
from ingest.kinds.base import SourceKind
from ingest.loader import files as load
from ingest.loader.warehouse import FileResult, Warehouse, default_db_path
from ingest.protocols.ports import BITCOIN_PORTS, KAFKA_PORTS
from wirehouse import run as runner
from wirehouse.serve import REPORT_NAME
from wirehouse.serve.publish import (
    DUCKDB_NAME,
    PublishResult,
    Stale,
    current_copy,
    default_publish_dir,
    stale_since,
)

if TYPE_CHECKING:  # wirehouse.project imports this module (make_kind)
    from wirehouse.project import Project, Source
    from wirehouse.serve.report import ReportResult

OnFile = Callable[[Path, FileResult], None]


def _ignore(*_args: object) -> None:
    pass


class UsageError(ValueError):
    """A request that cannot be carried out as asked (exit 2): one line naming what to fix."""


class OptionError(UsageError):
    """An option that cannot be used (a kind's option, the node); ``option`` is its name as
    wirehouse.toml spells it, so each front door can name it its own way."""

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        self.reason = reason
        super().__init__(f"{option}: {reason}")


class QueryError(Exception):
    """DuckDB refused a read-only statement: its whole message (hints included)."""


# --- kinds -----------------------------------------------------------------------------------

# The options each kind takes, as wirehouse.toml spells them (`wirehouse ingest` has the same
# as flags); a kind not listed takes none.
KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "systemd": ("counters",),
    "pcap": ("kafka_ports", "bitcoin_ports"),
    "tshark": ("start",),
}


def make_kind(
    kind_name: str, progress: Callable[[int], None] | None = None, /, **options: object
) -> SourceKind:
    """The one place a kind is built from its options and they are checked: both
    `wirehouse ingest <kind>` and a wirehouse.toml source come here. An option given as None
    takes its default. ``progress`` (bytes read inside a file, pcap only) is positional, so
    no key of a project file can reach it."""
    kinds = registry()
    if not isinstance(kind_name, str) or kind_name not in kinds:
        raise OptionError("kind", f"{kind_name!r} is not a kind (known: {', '.join(kinds)})")
    known = KIND_OPTIONS.get(kind_name, ())
    for name in options:
        if name not in known:
            allowed = f"known: {', '.join(known)}" if known else f"{kind_name} takes no options"
            raise OptionError(name, f"unknown setting ({allowed})")
    given = {name: value for name, value in options.items() if value is not None}
    if kind_name == "systemd":
        from ingest.kinds import systemd

        counters = given.get("counters", "auto")
        if counters not in systemd.FORMS:
            forms = ", ".join(systemd.FORMS)
            raise OptionError("counters", f"{counters!r} is not a counter form ({forms})")
        return systemd.make_source(counters)
    if kind_name == "pcap":
        from ingest.kinds.pcap import capture_source

        return capture_source(
            _ports("kafka_ports", given.get("kafka_ports", KAFKA_PORTS)),
            _ports("bitcoin_ports", given.get("bitcoin_ports", BITCOIN_PORTS)),
            progress,
        )
    if kind_name == "tshark":
        from ingest.kinds import tshark

        start = given.get("start")
        try:
            # str(): a project file may give Unix seconds as a number, or a TOML datetime
            start_ns = None if start is None else tshark.parse_start(str(start))
        except ValueError as exc:
            raise OptionError("start", str(exc)) from None
        return tshark.make_source(tshark.TsharkOptions(start_ns=start_ns))
    return kinds[kind_name]


def _ports(option: str, value: object) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise OptionError(option, "give a list of TCP ports, e.g. [9092]")
    for port in value:
        # bool is an int to Python, never a port to a user
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise OptionError(option, f"{port!r} is not a TCP port (1 to 65535)")
    return tuple(value)


# --- ingest ----------------------------------------------------------------------------------


def open_warehouse(db_path: Path | None = None) -> Warehouse:
    """The warehouse with every raw table of every kind (so `dbt build` works on one that
    holds only some kinds of data): the one place tables are ensured. Busy or unusable
    files raise WarehouseError (WarehouseBusy); a file named like a schema, UsageError."""
    try:
        warehouse = Warehouse(db_path or default_db_path())
    except ValueError as exc:  # named after a schema
        raise UsageError(str(exc)) from None
    try:
        warehouse.ensure_tables(t for kind in registry().values() for t in kind.tables)
    except BaseException:
        warehouse.close()
        raise
    return warehouse


def init(db_path: Path | None = None) -> Path:
    """Create the warehouse and every raw table, empty; idempotent. Returns its path."""
    with open_warehouse(db_path) as warehouse:
        return warehouse.path


@dataclass
class IngestResult:
    """What became of the paths given for one kind."""

    kind: SourceKind
    paths: tuple[Path, ...]
    files: list[Path]  # the kind's files found under the paths
    missing: list[Path] = field(default_factory=list)  # paths that do not exist (not globs)
    unreadable: list[str] = field(default_factory=list)  # "DIR: reason": files there missed
    names: dict[Path, str] = field(default_factory=dict)  # each file's name below its folder
    results: list[FileResult] = field(default_factory=list)  # one per file, in order
    warehouse: Path | None = None  # None: nothing to load, the warehouse was not opened

    @property
    def ok(self) -> bool:
        """Every path there and readable, every file loaded or unchanged."""
        return not self.missing and not self.unreadable and all(r.ok for r in self.results)

    @property
    def rows_by_table(self) -> Counter[str]:
        return sum((Counter(r.rows_by_table) for r in self.results), Counter())


def find_files(kind: SourceKind, paths: Iterable[Path], node: str | None = None) -> IngestResult:
    """Check the node name and find the kind's files under files, folders and globs, noting
    paths that do not exist and directories that cannot be listed (a glob or folder walk
    skips those without a word). Nothing is loaded yet."""
    if node is not None:
        try:
            load.check_node(node)
        except load.NodeNameError as exc:
            raise OptionError("node", str(exc)) from None
    paths = tuple(paths)
    missing = [p for p in paths if not p.exists() and not glob.has_magic(str(p))]
    matches = [m for p in paths if p not in missing for m in _matches(p)]
    unreadable = [
        problem for m in matches if m.is_dir() for problem in base.unreadable_directories(m)
    ]
    names = load.expand_named([p for p in paths if p not in missing], kind)
    return IngestResult(kind, paths, list(names), missing, unreadable, names)


def _matches(path: Path) -> list[Path]:
    if path.exists() or not glob.has_magic(str(path)):
        return [path]
    return [Path(p) for p in sorted(glob.glob(str(path), recursive=True))]


def ingest_paths(
    warehouse: Warehouse,
    kind: SourceKind,
    paths: Iterable[Path],
    node: str | None = None,
    on_file: OnFile = _ignore,
) -> IngestResult:
    """Load the kind's files under `paths` into an open warehouse, one transaction per file;
    never raises for a file (its FileResult says what happened)."""
    found = find_files(kind, paths, node)
    return _load(warehouse, found, node, on_file)


def _load(
    warehouse: Warehouse,
    found: IngestResult,
    node: str | None,
    on_file: OnFile,
    replace: bool = False,
) -> IngestResult:
    found.results = load.ingest_files(
        warehouse, found.kind, found.files, node, on_file, replace, found.names
    )
    found.warehouse = warehouse.path
    return found


def ingest(
    db_path: Path | None,
    kind: SourceKind,
    paths: Iterable[Path],
    node: str | None = None,
    on_file: OnFile = _ignore,
    on_start: Callable[[IngestResult], None] = _ignore,
    replace: bool = False,
) -> IngestResult:
    """`wirehouse ingest`: like ingest_paths, opening the warehouse only when there are files
    to load. ``on_start`` sees what was found (files, problems) before the first load;
    ``replace``: a loaded file whose content changed replaces its rows even when it did not
    just grow (README "Loading rules": otherwise that is its next generation)."""
    found = find_files(kind, paths, node)
    on_start(found)
    if not found.files:
        return found
    with open_warehouse(db_path) as warehouse:
        return _load(warehouse, found, node, on_file, replace)


def forget(db_path: Path | None, paths: Iterable[Path]) -> list[tuple[str, int]]:
    """Take the rows of files (or every file under a directory) back out: (file, rows) each."""
    tables = [t for kind in registry().values() for t in kind.tables]
    with open_warehouse(db_path) as warehouse:
        return [done for path in paths for done in warehouse.forget(path, tables)]


# --- run -------------------------------------------------------------------------------------


@dataclass
class SourceResult:
    source: Source
    ingest: IngestResult

    @property
    def files(self) -> list[FileResult]:
        return self.ingest.results


@dataclass
class RunSummary:
    sources: list[SourceResult]
    build: runner.BuildResult | None
    seconds: float
    steps: list[str] = field(default_factory=list)  # publish / report lines

    @property
    def files(self) -> list[FileResult]:
        return [f for s in self.sources for f in s.files]

    @property
    def changed(self) -> list[FileResult]:
        return [f for f in self.files if f.status in ("loaded", "partial", "relabelled")]

    @property
    def failed(self) -> bool:
        return not all(s.ingest.ok for s in self.sources) or bool(self.build and not self.build.ok)


def run(project: Project, full_refresh: bool = False, on_file: OnFile = _ignore) -> RunSummary:
    """`wirehouse run` (wirehouse/run.py says what it does): ingest every source through one
    open warehouse, build what changed, publish and report. When nothing follows the ingest
    the run is recorded on that same open warehouse; otherwise it closes for the build and
    publish (dbt-duckdb in this process and publish's read-only copy open the file
    themselves, and DuckDB refuses a second open of it with other settings), and opens once
    more to record the run."""
    started = time.perf_counter()
    started_at = _utc_now()
    parsing = runner.DbtParse(project)

    def loaded(path: Path, result: FileResult) -> None:
        if result.status in ("loaded", "partial", "relabelled"):
            parsing.start()  # a build follows (relabelled files are not read)
        on_file(path, result)

    with runner.run_lock(project.warehouse):
        with open_warehouse(project.warehouse) as warehouse:
            warehouse.on_read = parsing.start  # a file is read: parse while it loads
            sources = [
                SourceResult(
                    source,
                    ingest_paths(
                        warehouse, source.source_kind(), source.paths, source.node, loaded
                    ),
                )
                for source in project.sources
            ]
            summary = RunSummary(sources, None, 0.0)
            fingerprint = runner.build_fingerprint(project.vars)
            plan = runner.plan_build(warehouse, fingerprint, full_refresh, summary.files)
            newest = warehouse.newest_change()
            never_built = warehouse.last_build() is None  # no data yet: nothing to publish
            if plan is None and (never_built or not any(_steps_due(project, fresh=False))):
                _record(warehouse, summary, started, started_at, fingerprint, newest)
                return summary
        summary.build = None if plan is None else runner.dbt_build(project, plan, parsing)
        if summary.build is None or summary.build.ok:
            summary.steps = _publish_and_report(project, fresh=summary.build is not None)
        with Warehouse(project.warehouse) as warehouse:  # tables ensured above
            _record(warehouse, summary, started, started_at, fingerprint, newest)
    return summary


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _record(
    warehouse: Warehouse,
    summary: RunSummary,
    started: float,
    started_at: datetime,
    fingerprint: str,
    newest: datetime | None,
) -> None:
    summary.seconds = time.perf_counter() - started
    build = summary.build
    warehouse.record_run(
        run_id=str(uuid.uuid4()),
        started_at=started_at,
        finished_at=_utc_now(),
        files_loaded=len(summary.changed),
        files_failed=sum(not f.ok for f in summary.files),
        rows_loaded=sum(f.rows for f in summary.files),
        build="none" if build is None else (build.mode if build.ok else "failed"),
        build_fingerprint=fingerprint,
        built_through=newest,
    )


def _steps_due(project: Project, fresh: bool) -> tuple[bool, bool]:
    """Whether to publish and to write the report: after a build, or when they are missing."""
    publish_due = project.publish_dir is not None and (
        fresh or not (project.publish_dir / DUCKDB_NAME).exists()
    )
    report_due = project.report_dir is not None and (
        publish_due or not (project.report_dir / REPORT_NAME).exists()
    )
    return publish_due, report_due


def _publish_and_report(project: Project, fresh: bool) -> list[str]:
    publish_due, report_due = _steps_due(project, fresh)
    lines: list[str] = []
    if publish_due:
        published = publish(project.warehouse, project.publish_dir)
        lines.append(f"publish: {published.duckdb_path} ({published.seconds:.1f} s)")
    if report_due:
        # the report reads the published copy when there is one, so BI readers and it agree
        where = ReadFrom(project.warehouse, project.publish_dir, live=project.publish_dir is None)
        lines.append(f"report: {report(where, project.report_dir).path}")
    return lines


# --- publish and read ------------------------------------------------------------------------


def publish(
    db_path: Path | None,
    directory: Path | None = None,
    *,
    partition_rows: int = 1_000_000,
    wait_seconds: float = 60.0,
) -> PublishResult:
    """The read-only copy of the marts for BI tools (wirehouse/serve/publish.py)."""
    from wirehouse.serve import publish as serve_publish

    try:
        return serve_publish.publish(
            db_path or default_db_path(),
            directory,
            partition_rows=partition_rows,
            wait_seconds=wait_seconds,
        )
    except serve_publish.PublishError as exc:  # no warehouse, no marts yet
        raise UsageError(str(exc)) from exc


@dataclass(frozen=True)
class ReadFrom:
    """Which file readers (query, tables, report) open: the published copy by default, or
    with ``live`` the warehouse itself."""

    db_path: Path | None = None
    published_dir: Path | None = None
    live: bool = False

    def path(self) -> Path:
        """The file to open. For the published copy, the version current now, resolved
        once: a reader stays on it whatever is published meanwhile."""
        warehouse = self.db_path or default_db_path()
        if self.live:
            if not warehouse.exists():
                raise UsageError(f"no warehouse at {warehouse}")
            return warehouse
        directory = self.published_dir or default_publish_dir(warehouse)
        path = current_copy(directory)
        if path is None:
            raise UsageError(
                f"no published copy at {directory / DUCKDB_NAME}:"
                " run `wirehouse publish` (or add --live)"
            )
        return path


OnStale = Callable[[Stale], None]


@contextmanager
def _reader(
    where: ReadFrom, on_stale: OnStale | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked-down connection to the file ``where`` names. ``on_stale`` hears, before
    anything is read, when the published copy is older than the warehouse's marts (never
    for --live; publish.stale_since says how that is told without waiting)."""
    from wirehouse.serve.query import connect_reader

    path = where.path()
    if on_stale is not None and not where.live:
        stale = stale_since(path.parent)  # the version this reader opens
        if stale is not None:
            on_stale(stale)
    with connect_reader(path) as con:
        yield con


QUERY_TIMEOUT_S = 300.0  # `wirehouse query --timeout`: a runaway statement stops, not the user


@contextmanager
def query(
    sql: str,
    where: ReadFrom,
    on_stale: OnStale | None = None,
    timeout_s: float = QUERY_TIMEOUT_S,
) -> Iterator[duckdb.DuckDBPyRelation | None]:
    """One read-only statement's result (None for statements without one), readable inside
    the block. A statement that is not read-only raises UnsafeQuery before anything opens;
    DuckDB's errors, also those found while the caller reads rows, raise QueryError, and so
    does a statement still running after ``timeout_s`` seconds (0: no limit)."""
    from wirehouse.serve.query import UnsafeQuery, check_read_only

    try:
        statement = check_read_only(sql)
    except UnsafeQuery as exc:
        raise UsageError(str(exc)) from exc
    with _reader(where, on_stale) as con:
        timer = threading.Timer(timeout_s, con.interrupt) if timeout_s > 0 else None
        if timer is not None:
            timer.start()
        try:
            yield con.sql(statement)
        except duckdb.InterruptException:
            raise QueryError(
                f"stopped after {timeout_s:g} s (--timeout SECONDS to allow longer, 0 for no limit)"
            ) from None
        except duckdb.Error as exc:
            # DuckDB's whole message: its hints ("Did you mean ...") are the useful part
            raise QueryError(str(exc).strip()) from None
        finally:
            if timer is not None:
                timer.cancel()


@contextmanager
def tables(where: ReadFrom, on_stale: OnStale | None = None) -> Iterator[duckdb.DuckDBPyRelation]:
    """The marts and lookup tables with their grain and row count."""
    from wirehouse.serve.query import tables_sql

    with _reader(where, on_stale) as con:
        yield con.sql(tables_sql(con))


def report(where: ReadFrom, out_dir: Path, on_stale: OnStale | None = None) -> ReportResult:
    """One self-contained HTML page of charts from the marts (wirehouse/serve/report)."""
    from wirehouse.serve.report import write_report

    with _reader(where, on_stale) as con:
        return write_report(con, out_dir)
