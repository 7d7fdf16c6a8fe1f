"""The `wirehouse` command: thin click wrappers over ingest.loader.warehouse and ingest.kinds."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import duckdb

from ingest.kinds import registry
from ingest.kinds.base import SourceKind, unreadable_directories
from ingest.loader import files as load
from ingest.loader.warehouse import (
    FileResult,
    Warehouse,
    WarehouseBusy,
    WarehouseError,
    default_db_path,
)
from ingest.protocols.ports import BITCOIN_PORTS, KAFKA_PORTS
from wirehouse import project, run

# Exit codes (README "Exit codes"); click uses 2 for usage errors.
EXIT_OK, EXIT_FILE_FAILED, EXIT_BUSY, EXIT_WAREHOUSE = 0, 1, 3, 4

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="DuckDB file to write (default: $WIREHOUSE_DB or ./warehouse.duckdb).",
)
node_option = click.option(
    "--node",
    default=None,
    help="Node (Bitcoin node, capture point) the files belong to (default: the folder above"
    " tracepoints/net/ or systemd/ip_accounting/, else 'default').",
)
paths_argument = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)


class _Commands(click.Group):
    """Errors of the machine rather than of wirehouse (a full disk, a directory that cannot
    be written, a warehouse another process holds) end in one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WarehouseBusy as exc:
            click.echo(f"wirehouse: busy: {exc}", err=True)
            sys.exit(EXIT_BUSY)
        except WarehouseError as exc:
            click.echo(f"wirehouse: error: {exc}", err=True)
            sys.exit(EXIT_WAREHOUSE)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"wirehouse: error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_WAREHOUSE)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wirehouse")
def main() -> None:
    """Land raw network measurements in DuckDB; dbt turns them into marts."""


@main.group()
def ingest() -> None:
    """Load files into the warehouse's `raw` schema (one transaction per file)."""


@ingest.command("tracepoints")
@paths_argument
@db_option
@node_option
def ingest_tracepoints(paths: tuple[Path, ...], db_path: Path | None, node: str | None) -> None:
    """Bitcoin Core P2P tracepoint CSVs (tracepoints/net/*.csv[.gz|.bz2], net.csv)."""
    sys.exit(run_ingest(registry()["tracepoints"], paths, db_path, node=node))


@ingest.command("systemd")
@paths_argument
@db_option
@node_option
@click.option(
    "--counters",
    type=click.Choice(["auto", "cumulative", "deltas"]),
    default="auto",
    show_default=True,
    help="Cumulative counters (as systemd writes them) or per-interval deltas (preprocessed"
    " files); auto detects deltas by decimal points or negative values.",
)
def ingest_systemd(
    paths: tuple[Path, ...], db_path: Path | None, node: str | None, counters: str
) -> None:
    """systemd IP-accounting CSVs (systemd/ip_accounting/*.csv[.gz|.bz2], ip_accounting.csv)."""
    from ingest.kinds import systemd

    sys.exit(run_ingest(systemd.make_source(counters), paths, db_path, node=node))


@ingest.command("pcap")
@paths_argument
@db_option
@node_option
@click.option(
    "--kafka-port",
    "kafka_ports",
    type=int,
    multiple=True,
    default=KAFKA_PORTS,
    show_default=True,
    help="Kafka broker port (repeatable); other ports by a strict request-header test.",
)
@click.option(
    "--bitcoin-port",
    "bitcoin_ports",
    type=int,
    multiple=True,
    default=BITCOIN_PORTS,
    show_default=True,
    help="Bitcoin P2P port (repeatable); other ports by the v1 network magic.",
)
def ingest_pcap(
    paths: tuple[Path, ...],
    db_path: Path | None,
    node: str | None,
    kafka_ports: tuple[int, ...],
    bitcoin_ports: tuple[int, ...],
) -> None:
    """pcap/pcapng captures (.pcap, .pcapng, .cap, and .gz of those), whole files.

    Pick the analysis window in dbt: --vars '{network_window_start: ..., network_window_end: ...}'.
    """
    from ingest.kinds.pcap import capture_source

    progress = Progress()
    source = capture_source(kafka_ports, bitcoin_ports, progress.update)
    sys.exit(run_ingest(source, paths, db_path, progress, node=node))


@ingest.command("tshark")
@paths_argument
@db_option
@node_option
@click.option(
    "--start",
    default=None,
    help="Capture start (Unix seconds or ISO time with UTC offset) for files with only"
    " frame.time_relative whose name is not a Unix time.",
)
def ingest_tshark(
    paths: tuple[Path, ...], db_path: Path | None, node: str | None, start: str | None
) -> None:
    """tshark -T fields -E header=y CSVs (hourly files named by Unix time, or any *.csv)."""
    from ingest.kinds import tshark

    try:
        start_ns = None if start is None else tshark.parse_start(start)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start") from None
    source = tshark.make_source(tshark.TsharkOptions(start_ns=start_ns))
    sys.exit(run_ingest(source, paths, db_path, node=node))


@main.command("init")
@db_option
def init(db_path: Path | None) -> None:
    """Create the warehouse and every raw table, empty (ingest does this too); idempotent."""
    with open_warehouse(db_path) as wh:
        click.echo(f"warehouse ready: {wh.path}")


@main.command("run")
@click.option(
    "--project",
    "-p",
    "project_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Project file (default: ./wirehouse.toml).",
)
@click.option("--full-refresh", is_flag=True, help="Rebuild every mart from all raw rows.")
def run_command(project_path: Path | None, full_refresh: bool) -> None:
    """Ingest every source of wirehouse.toml, build what changed (dbt, incremental), publish
    and report. Safe in a timer: a second run while one is going exits with code 3."""
    try:
        config = project.load_project(project_path)
        summary = run.run(config, full_refresh, on_file=report_file)
    except project.ProjectError as exc:
        raise click.UsageError(str(exc)) from None
    except ValueError as exc:  # a warehouse named like a schema
        raise click.UsageError(str(exc)) from None
    except (run.RunBusy, WarehouseBusy) as exc:
        click.echo(f"wirehouse: busy: {exc}", err=True)
        sys.exit(EXIT_BUSY)
    except WarehouseError as exc:
        click.echo(f"wirehouse: error: {exc}", err=True)
        sys.exit(EXIT_WAREHOUSE)
    for line in _run_lines(summary):
        click.echo(line, err=line.startswith("wirehouse: "))
    if summary.build is not None and summary.build.busy:
        sys.exit(EXIT_BUSY)
    sys.exit(EXIT_FILE_FAILED if summary.failed else EXIT_OK)


def _run_lines(summary: run.RunSummary) -> list[str]:
    lines = []
    for result in summary.sources:
        for path in result.missing:
            lines.append(f"wirehouse: error: {result.source.where}: {path}: no such file or folder")
    files = summary.files
    changed = summary.changed
    bad = [f for f in files if not f.ok]
    build = summary.build
    if build is None and not changed and not bad and not lines:
        return [
            f"wirehouse run: nothing new in {len(files)} file(s); marts are current"
            f" ({summary.seconds:.2f} s)"
        ]
    lines.append(
        f"ingest: {len(files)} file(s): {len(changed)} loaded"
        f" ({sum(f.rows for f in files):,} rows), {len(files) - len(changed) - len(bad)}"
        f" unchanged, {len(bad)} failed or partial"
    )
    if build is not None:
        done = ", ".join(f"{n} {kind}s" for kind, n in sorted(build.counts.items()))
        lines.append(
            f"build: {build.mode} ({build.reason}): {done or 'nothing to build'}"
            f" {'passed' if build.ok else 'FAILED'} in {build.seconds:.1f} s"
        )
        lines += [f"wirehouse: error: dbt: {failure}" for failure in build.failures[:20]]
    lines += summary.steps
    lines.append(f"wirehouse run: done in {summary.seconds:.1f} s")
    return lines


@main.command("forget")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_option
def forget(paths: tuple[Path, ...], db_path: Path | None) -> None:
    """Take the rows of files (or of every file under a directory) back out of the
    warehouse: raw rows, manifest and issues, in one transaction. Rebuild with dbt."""
    tables = [t for kind in registry().values() for t in kind.tables]
    found = False
    with open_warehouse(db_path) as wh:
        for path in paths:
            for file, rows in wh.forget(path, tables):
                click.echo(f"forgot {file}: {rows:,} rows")
                found = True
    if not found:
        click.echo(f"wirehouse: nothing loaded from {', '.join(map(str, paths))}", err=True)
        sys.exit(EXIT_FILE_FAILED)


@main.command("demo-data")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--days", type=int, default=3, show_default=True)
@click.option(
    "--peers",
    type=int,
    default=60,
    show_default=True,
    help="Concurrent peer slots (connections churn through them).",
)
@click.option(
    "--scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply message rates (1.0 is about 1.8 M messages a day).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--start", default="2025-01-22", show_default=True, help="First UTC day.")
@click.option(
    "--capture/--no-capture",
    default=True,
    show_default=True,
    help="Also write the demo captures: a Kafka broker, one Bitcoin peer (takes ~15 s).",
)
@click.option(
    "--bluetooth/--no-bluetooth",
    default=True,
    show_default=True,
    help="Also write the Bluetooth demo sniff, BR/EDR and BLE (bluetooth/*.pcap, ~10 s).",
)
def demo_data(
    directory: Path,
    days: int,
    peers: int,
    scale: float,
    seed: int,
    start: str,
    capture: bool,
    bluetooth: bool,
) -> None:
    """Write realistic nix-bitcoin-monitor CSVs (tracepoints + systemd), a Kafka broker
    capture (captures/kafka-broker.pcap), an hourly tshark export of its packets
    (tshark/<unix time>.csv), one Bitcoin peer's port 8333 (captures/bitcoin-node.pcap) and a
    Bluetooth sniff (bluetooth/) into DIRECTORY."""
    from wirehouse.demo import bitcoin as demo  # numpy and pyarrow: only for this command

    summary = demo.generate(directory, days=days, peers=peers, scale=scale, seed=seed, start=start)
    click.echo(summary)
    if capture:
        from wirehouse.demo import pcap as demo_pcap

        path = directory / "captures" / "kafka-broker.pcap"
        packets = demo_pcap.generate(path, seed=seed)
        click.echo(f"wrote {packets:,} packets -> {path}")
        from wirehouse.demo import tshark as demo_tshark

        hourly = demo_tshark.generate(
            directory / "tshark", path, first_hour=int(demo_pcap.T0) - 6 * 3600
        )
        click.echo(f"wrote {len(hourly)} hourly tshark files -> {directory / 'tshark'}")
        path = directory / "captures" / "bitcoin-node.pcap"
        packets = demo_pcap.generate_bitcoin(directory, path, seed=seed)
        click.echo(f"wrote {packets:,} packets -> {path}")
    if bluetooth:
        from wirehouse.demo import bluetooth as demo_bluetooth

        written = demo_bluetooth.generate(directory / "bluetooth", seed=seed)
        click.echo(f"wrote {sum(written.values()):,} packets -> {directory / 'bluetooth'}")


published_option = click.option(
    "--published",
    "published_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Publish directory (default: published/ beside the warehouse).",
)
live_option = click.option(
    "--live",
    is_flag=True,
    help="Read the warehouse itself instead of its published copy (busy while ingest or"
    " dbt build writes it).",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)


@main.command("query")
@click.argument("sql")
@db_option
@published_option
@live_option
@format_option
def query(sql: str, db_path: Path | None, published_dir: Path | None, live: bool, fmt: str) -> None:
    """Run one read-only statement (SELECT, FROM, SHOW, DESCRIBE, SUMMARIZE, ...) against the
    published copy of the marts, or the warehouse with --live."""
    from wirehouse.serve.query import UnsafeQuery, check_read_only  # sqlglot: only for queries

    try:
        check_read_only(sql)
    except UnsafeQuery as exc:
        raise click.UsageError(str(exc)) from None
    with _reader(db_path, published_dir, live) as con:
        try:
            result = con.sql(sql)
        except duckdb.Error as exc:
            # DuckDB's whole message: its hints ("Did you mean ...") are the useful part
            click.echo(f"wirehouse: error: {str(exc).strip()}", err=True)
            sys.exit(EXIT_FILE_FAILED)
        _render(result, fmt)


@main.command("tables")
@db_option
@published_option
@live_option
@format_option
def tables(db_path: Path | None, published_dir: Path | None, live: bool, fmt: str) -> None:
    """List the marts and lookup tables with their grain and row count."""
    from wirehouse.serve.query import tables_sql

    with _reader(db_path, published_dir, live) as con:
        _render(con.sql(tables_sql(con)), fmt, max_rows=1000)


@main.command("publish")
@db_option
@click.option(
    "--to",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Publish directory (default: published/ beside the warehouse).",
)
@click.option(
    "--partition-rows",
    type=int,
    default=1_000_000,
    show_default=True,
    help="Tables with at least this many rows are written as Parquet partitions by day.",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds to wait while ingest or dbt build holds the warehouse.",
)
def publish_command(
    db_path: Path | None, directory: Path | None, partition_rows: int, wait_seconds: float
) -> None:
    """Write a consistent read-only copy of the marts for BI tools (DuckDB file, Parquet
    files and a DuckDB file of views over them), swapped in atomically."""
    from wirehouse.serve.publish import PublishError, publish

    try:
        result = publish(
            db_path or default_db_path(),
            directory,
            partition_rows=partition_rows,
            wait_seconds=wait_seconds,
        )
    except PublishError as exc:
        raise click.UsageError(str(exc)) from None
    rows = sum(t.rows for t in result.tables)
    click.echo(
        f"published {len(result.tables)} tables ({rows:,} rows) in {result.seconds:.1f} s"
        f" (warehouse held {result.lock_seconds:.1f} s)\n"
        f"  DuckDB copy:    {result.duckdb_path} ({_mib(result.duckdb_bytes)})\n"
        f"  Parquet:        {result.parquet_dir} ({_mib(result.parquet_bytes)})\n"
        f"  Parquet views:  {result.views_path}"
    )


@main.command("report")
@db_option
@published_option
@live_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("target/report"),
    show_default=True,
    help="Directory for report.html.",
)
def report_command(
    db_path: Path | None, published_dir: Path | None, live: bool, out_dir: Path
) -> None:
    """Write one self-contained HTML page of charts from the marts (works offline)."""
    from wirehouse.serve.report import write_report

    with _reader(db_path, published_dir, live) as con:
        result = write_report(con, out_dir)
    for section in result.sections:
        shown = ", ".join(c.chart_id for c in section.charts) or "nothing yet"
        click.echo(f"{section.title}: {shown}")
        for line in section.missing:
            click.echo(f"  missing: {line}")
    click.echo(f"report: {result.path.resolve()}")


@contextmanager
def _reader(
    db_path: Path | None, published_dir: Path | None, live: bool
) -> Iterator[duckdb.DuckDBPyConnection]:
    from wirehouse.serve.publish import DUCKDB_NAME, default_publish_dir

    warehouse = db_path or default_db_path()
    if live:
        path = warehouse
        if not path.exists():
            raise click.UsageError(f"no warehouse at {path}")
    else:
        path = (published_dir or default_publish_dir(warehouse)) / DUCKDB_NAME
        if not path.exists():
            raise click.UsageError(
                f"no published copy at {path}: run `wirehouse publish` (or add --live)"
            )
    from wirehouse.serve.query import connect_reader

    # a busy or unusable file ends in one line (_Commands)
    with connect_reader(path) as con:
        yield con


def _render(result: duckdb.DuckDBPyRelation | None, fmt: str, max_rows: int = 100) -> None:
    if result is None:
        return
    if fmt == "table":
        result.show(max_rows=max_rows, max_width=200)
    elif fmt == "csv":
        click.echo(_csv(result), nl=False)
    else:
        cols = result.columns
        for row in result.fetchall():
            click.echo(json.dumps(dict(zip(cols, row, strict=True)), default=str))


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _csv(result: duckdb.DuckDBPyRelation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(result.fetchall())
    return out.getvalue()


def run_ingest(
    source: SourceKind,
    paths: tuple[Path, ...],
    db_path: Path | None,
    progress: Progress | None = None,
    node: str | None = None,
) -> int:
    try:
        node = None if node is None else load.check_node(node)
    except load.NodeNameError as exc:
        raise click.BadParameter(str(exc), param_hint="--node") from None
    unreadable = [p for path in paths if path.is_dir() for p in unreadable_directories(path)]
    for problem in unreadable:
        click.echo(f"wirehouse: error: cannot read directory {problem}", err=True)
    files = load.expand(paths, source)
    if not files:
        click.echo(
            f"wirehouse: no {source.kind} files under {', '.join(map(str, paths))}", err=True
        )
        return EXIT_FILE_FAILED
    with open_warehouse(db_path) as wh:
        with progress or Progress() as bar:
            bar.start(sum(f.stat().st_size for f in files))

            def done(path: Path, result: FileResult) -> None:
                report_file(path, result, source)
                bar.file_done(path.stat().st_size)

            results = load.ingest_files(wh, source, files, node, on_file=done)
        db_shown = wh.path
    loaded = sum((Counter(r.rows_by_table) for r in results), Counter())
    bad = [r for r in results if not r.ok]
    click.echo(
        f"{len(files)} file(s): {_amounts(loaded, source)} loaded, "
        f"{sum(r.status in ('skipped', 'relabelled') for r in results)} unchanged, "
        f"{sum(r.status == 'partial' for r in results)} partial, "
        f"{sum(r.status == 'failed' for r in results)} failed -> {db_shown}"
    )
    return EXIT_FILE_FAILED if bad or unreadable else EXIT_OK


def open_warehouse(db_path: Path | None) -> Warehouse:
    """The warehouse with every raw table of every kind (so `dbt build` works on one that
    holds only some kinds of data). Busy or unusable warehouses raise WarehouseError."""
    try:
        warehouse = Warehouse(db_path or default_db_path())
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    warehouse.ensure_tables(t for kind in registry().values() for t in kind.tables)
    return warehouse


def _amounts(rows_by_table: dict[str, int], source: SourceKind) -> str:
    """ "9 packets, 6 Kafka messages": the first table always, the others when not empty."""
    first, *rest = source.tables
    parts = [f"{rows_by_table.get(first.name, 0):,} {first.unit}"]
    parts += [f"{rows_by_table[t.name]:,} {t.unit}" for t in rest if rows_by_table.get(t.name)]
    return ", ".join(parts)


def report_file(path: Path, result: FileResult, source: SourceKind | None = None) -> None:
    amounts = _amounts(result.rows_by_table, source or registry()[result.kind])
    if result.status == "failed":
        click.echo(f"wirehouse: error: {path}: {result.message}", err=True)
    elif result.status == "partial":
        click.echo(f"wirehouse: partial: {path}: {amounts}; {result.message}", err=True)
    elif result.status == "loaded":
        click.echo(f"loaded {path}: {amounts}")
    elif result.status == "relabelled":
        click.echo(f"wirehouse: note: {path}: {result.message}", err=True)
    if result.note:
        click.echo(f"wirehouse: note: {path}: {result.note}", err=True)


class Progress:
    """A byte progress bar over all files on a terminal; silent when stderr is piped.

    Sources that can report progress inside a file (pcap) call ``update``; the rest of a
    file's bytes are counted when it is done.
    """

    def __init__(self) -> None:
        self.bar = None
        self.task = None
        self.in_file = 0

    def start(self, total_bytes: int) -> None:
        if sys.stderr.isatty():
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task("ingest", total=total_bytes)

    def update(self, nbytes: int) -> None:
        self.in_file += nbytes
        if self.bar is not None:
            self.bar.advance(self.task, nbytes)

    def file_done(self, size: int) -> None:
        self.update(max(size - self.in_file, 0))
        self.in_file = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
