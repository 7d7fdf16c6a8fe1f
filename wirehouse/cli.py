"""The `wirehouse` command: each command parses its options, calls one function of
wirehouse.api and renders the result. Every error ends through one map (EXIT_CODES, the
README's "Exit codes") in one line, never a traceback."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import NoReturn

import click
import duckdb

from ingest.kinds import registry
from ingest.kinds.base import SourceKind
from ingest.loader.warehouse import FileResult, WarehouseBusy, WarehouseError
from ingest.protocols.ports import BITCOIN_PORTS, KAFKA_PORTS
from wirehouse import api, project
from wirehouse.run import RunBusy

# Exit codes (README "Exit codes"); click itself exits 2 for options it cannot parse.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY, EXIT_UNUSABLE = 0, 1, 2, 3, 4

# What each error a command may end in becomes: exit code and the word after "wirehouse: ".
# First match wins (WarehouseBusy is a WarehouseError). Anything else is a bug: a traceback.
EXIT_CODES: tuple[tuple[type[BaseException], int, str], ...] = (
    (WarehouseBusy, EXIT_BUSY, "busy"),  # another process holds DuckDB's lock
    (RunBusy, EXIT_BUSY, "busy"),  # another `wirehouse run` holds the run lock
    (WarehouseError, EXIT_UNUSABLE, "error"),  # not a DuckDB file, not writable
    (OSError, EXIT_UNUSABLE, "error"),  # the machine's: a full disk, an unwritable folder
    (api.UsageError, EXIT_USAGE, "error"),  # a bad option, project file, path or statement
    (api.QueryError, EXIT_FAILED, "error"),  # DuckDB refused a query
)


def failure(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and the one line an error ends in; None if it is not ours to map."""
    for error, code, word in EXIT_CODES:
        if isinstance(exc, error):
            text = str(exc)
            if isinstance(exc, OSError):
                where = f"{exc.filename}: " if exc.filename else ""
                text = f"{where}{exc.strerror or exc}"
            return code, f"wirehouse: {word}: {text}"
    return None


db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The warehouse, a DuckDB file (default: $WIREHOUSE_DB or ./warehouse.duckdb).",
)
node_option = click.option(
    "--node",
    default=None,
    help="Node (Bitcoin node, capture point) the files belong to (default: the folder above"
    " tracepoints/net/ or systemd/ip_accounting/, else 'default').",
)
replace_option = click.option(
    "--replace",
    is_flag=True,
    help="A loaded file whose content changed replaces its rows even if it did not just grow"
    " (default: rows loaded before stay and the new content is its next generation).",
)
paths_argument = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)


class _Commands(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            mapped = failure(exc)
            if mapped is None:
                raise
            code, line = mapped
            click.echo(line, err=True)
            sys.exit(code)


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
@replace_option
def ingest_tracepoints(
    paths: tuple[Path, ...], db_path: Path | None, node: str | None, replace: bool
) -> None:
    """Bitcoin Core P2P tracepoint CSVs (tracepoints/net/*.csv[.gz|.bz2], net.csv)."""
    _ingest("tracepoints", paths, db_path, node, replace)


@ingest.command("systemd")
@paths_argument
@db_option
@node_option
@replace_option
@click.option(
    "--counters",
    metavar="[auto|cumulative|deltas]",  # checked by api.make_kind, as in wirehouse.toml
    default="auto",
    show_default=True,
    help="Cumulative counters (as systemd writes them) or per-interval deltas (preprocessed"
    " files); auto detects deltas by decimal points or negative values.",
)
def ingest_systemd(
    paths: tuple[Path, ...],
    db_path: Path | None,
    node: str | None,
    replace: bool,
    counters: str,
) -> None:
    """systemd IP-accounting CSVs (systemd/ip_accounting/*.csv[.gz|.bz2], ip_accounting.csv)."""
    _ingest("systemd", paths, db_path, node, replace, counters=counters)


@ingest.command("pcap")
@paths_argument
@db_option
@node_option
@replace_option
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
    replace: bool,
    kafka_ports: tuple[int, ...],
    bitcoin_ports: tuple[int, ...],
) -> None:
    """pcap/pcapng captures (.pcap, .pcapng, .cap, and .gz of those), whole files.

    Pick the analysis window in dbt: --vars '{network_window_start: ..., network_window_end: ...}'.
    """
    _ingest(
        "pcap", paths, db_path, node, replace, kafka_ports=kafka_ports, bitcoin_ports=bitcoin_ports
    )


@ingest.command("tshark")
@paths_argument
@db_option
@node_option
@replace_option
@click.option(
    "--start",
    default=None,
    help="Capture start (Unix seconds or ISO time with UTC offset) for files with only"
    " frame.time_relative whose name is not a Unix time.",
)
def ingest_tshark(
    paths: tuple[Path, ...],
    db_path: Path | None,
    node: str | None,
    replace: bool,
    start: str | None,
) -> None:
    """tshark -T fields -E header=y CSVs (hourly files named by Unix time, or any *.csv)."""
    _ingest("tshark", paths, db_path, node, replace, start=start)


@main.command("init")
@db_option
def init(db_path: Path | None) -> None:
    """Create the warehouse and every raw table, empty (ingest does this too); idempotent."""
    click.echo(f"warehouse ready: {api.init(db_path)}")


project_option = click.option(
    "--project",
    "-p",
    "project_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Project file (default: ./wirehouse.toml; forget: only with this option).",
)


@main.command("run")
@project_option
@click.option("--full-refresh", is_flag=True, help="Rebuild every mart from all raw rows.")
def run_command(project_path: Path | None, full_refresh: bool) -> None:
    """Ingest every source of wirehouse.toml, build what changed (dbt, incremental), publish
    and report. Safe in a timer: a second run while one is going exits with code 3."""
    loaded = project.load_project(project_path)
    if loaded.engine == "spark":
        _run_on_spark(loaded, full_refresh)
    summary = api.run(loaded, full_refresh, on_file=report_file)
    for line in _run_lines(summary):
        click.echo(line, err=line.startswith("wirehouse: "))
    if summary.build is not None and summary.build.busy:
        sys.exit(EXIT_BUSY)
    sys.exit(EXIT_FAILED if summary.failed else EXIT_OK)


def _run_on_spark(loaded: project.Project, full_refresh: bool) -> None:
    """`wirehouse run` on Spark (needs the `spark` dependency group and Java 17)."""
    from wirehouse.spark import run as spark_run

    def on_file(result) -> None:
        click.echo(f"{result.status} {result.path}: {result.rows:,} rows {result.message}".rstrip())

    summary = spark_run.run(loaded, full_refresh, on_file)
    build = summary.build
    if build is not None:
        done = ", ".join(f"{n} {kind}s" for kind, n in sorted(build.counts.items()))
        click.echo(
            f"build: {build.mode} ({build.reason}) on spark: {done or 'nothing to build'}"
            f" {'passed' if build.ok else 'FAILED'} in {build.seconds:.1f} s"
        )
        for failure in build.failures[:20]:
            click.echo(f"wirehouse: error: dbt: {failure}", err=True)
    click.echo(f"wirehouse run: done on spark in {summary.seconds:.1f} s")
    sys.exit(EXIT_FAILED if summary.failed else EXIT_OK)


def _run_lines(summary: api.RunSummary) -> list[str]:
    lines = []
    for result in summary.sources:
        lines += _problems(result.ingest, f"{result.source.where}: ")
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
        f" ({_loaded_amounts(files)}), {len(files) - len(changed) - len(bad)}"
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
@project_option
def forget(paths: tuple[Path, ...], db_path: Path | None, project_path: Path | None) -> None:
    """Take the rows of files (or of every file under a directory) back out of the
    warehouse: raw rows, manifest and issues, in one transaction. Rebuild with dbt (the
    next `wirehouse run` does)."""
    if project_path is not None:
        loaded = project.load_project(project_path)
        if loaded.engine == "spark":
            from wirehouse.spark import run as spark_run

            forgotten = spark_run.forget(loaded, list(paths))
        else:
            forgotten = api.forget(loaded.warehouse, paths)
    else:
        forgotten = api.forget(db_path, paths)
    for file, rows in forgotten:
        click.echo(f"forgot {file}: {rows:,} rows")
    if not forgotten:
        click.echo(f"wirehouse: nothing loaded from {', '.join(map(str, paths))}", err=True)
        sys.exit(EXIT_FAILED)


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
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0),
    default=api.QUERY_TIMEOUT_S,
    show_default=True,
    help="Stop a statement still running after this many seconds (0: no limit).",
)
def query(
    sql: str,
    db_path: Path | None,
    published_dir: Path | None,
    live: bool,
    fmt: str,
    timeout_s: float,
) -> None:
    """Run one read-only statement (SELECT, FROM, SHOW, DESCRIBE, SUMMARIZE, ...) against the
    published copy of the marts, or the warehouse with --live."""
    where = api.ReadFrom(db_path, published_dir, live)
    with api.query(sql, where, _stale_note, timeout_s) as result:
        _render(result, fmt)


@main.command("tables")
@db_option
@published_option
@live_option
@format_option
def tables(db_path: Path | None, published_dir: Path | None, live: bool, fmt: str) -> None:
    """List the marts and lookup tables with their grain and row count."""
    with api.tables(api.ReadFrom(db_path, published_dir, live), _stale_note) as result:
        _render(result, fmt, max_rows=1000)


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
    result = api.publish(
        db_path, directory, partition_rows=partition_rows, wait_seconds=wait_seconds
    )
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
    result = api.report(api.ReadFrom(db_path, published_dir, live), out_dir, _stale_note)
    for section in (s for s in result.sections if s.held):
        shown = ", ".join(c.chart_id for c in section.charts) or "nothing yet"
        click.echo(f"{section.title}: {shown}")
        for line in section.missing:
            click.echo(f"  missing: {line}")
    unheld = [s.title for s in result.sections if not s.held]
    if unheld:
        click.echo(f"no data yet: {', '.join(unheld)}")
    click.echo(f"report: {result.path.resolve()}")


def _stale_note(stale: api.Stale) -> None:
    """One line on stderr; the command goes on and its exit code is its own."""
    click.echo(
        f"wirehouse: note: the published copy ({stale.published_at:%Y-%m-%d %H:%M} UTC) is"
        f" older than the marts in {stale.warehouse} (written {stale.written_at:%Y-%m-%d %H:%M}"
        " UTC); run `wirehouse publish` (or add --live)",
        err=True,
    )


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


def _ingest(
    kind_name: str,
    paths: tuple[Path, ...],
    db_path: Path | None,
    node: str | None,
    replace: bool,
    **options: object,
) -> NoReturn:
    """`wirehouse ingest <kind>`: the files' lines as they load, then one summary line."""
    progress = Progress()

    def started(found: api.IngestResult) -> None:
        for line in _problems(found):
            click.echo(line, err=True)
        if found.files:
            progress.start(sum(_size(f) for f in found.files))

    def done(path: Path, result: FileResult) -> None:
        report_file(path, result, kind)
        progress.file_done(_size(path))

    try:
        kind = api.make_kind(kind_name, progress.update, **options)
        with progress:
            result = api.ingest(
                db_path, kind, paths, node, on_file=done, on_start=started, replace=replace
            )
    except api.OptionError as exc:  # named as this command spells it: --kafka-port
        raise api.OptionError(_flag(exc.option), exc.reason) from None
    if not result.files:
        click.echo(f"wirehouse: no {kind.kind} files under {', '.join(map(str, paths))}", err=True)
        sys.exit(EXIT_FAILED)
    statuses = [r.status for r in result.results]
    click.echo(
        f"{len(result.files)} file(s): {_amounts(result.rows_by_table, kind)} loaded, "
        f"{statuses.count('skipped') + statuses.count('relabelled')} unchanged, "
        f"{statuses.count('partial')} partial, "
        f"{statuses.count('failed')} failed -> {result.warehouse}"
    )
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


def _flag(option: str) -> str:
    """The current command's flag for a library option name (kafka_ports -> --kafka-port)."""
    params = click.get_current_context().command.params
    return next((p.opts[0] for p in params if p.name == option), option)


def _problems(result: api.IngestResult, where: str = "") -> list[str]:
    """Paths given that are not there, and directories whose files were missed."""
    return [
        *(f"wirehouse: error: {where}{path}: no such file or folder" for path in result.missing),
        *(f"wirehouse: error: {where}cannot read directory {d}" for d in result.unreadable),
    ]


def _amounts(rows_by_table: dict[str, int], source: SourceKind) -> str:
    """ "9 packets, 6 Kafka messages": the tables that got rows, each in its unit ("0 rows"
    in the first table's unit when none did; not "0 rows, 431,987 rows")."""
    return _in_units([(source, rows_by_table)])


def _loaded_amounts(files: list[FileResult]) -> str:
    """What a run's files added, by unit across kinds: "20 packets, 4 Kafka messages"."""
    return _in_units([(registry()[f.kind], f.rows_by_table) for f in files])


def _in_units(loads: list[tuple[SourceKind, dict[str, int]]]) -> str:
    """Rows per unit, summed over tables of one unit (systemd's two tables are both rows)."""
    counts: dict[str, int] = {}
    for source, rows_by_table in loads:
        for table in source.tables:
            counts[table.unit] = counts.get(table.unit, 0) + rows_by_table.get(table.name, 0)
    parts = [f"{n:,} {unit}" for unit, n in counts.items() if n]
    return ", ".join(parts) or f"0 {next(iter(counts), 'rows')}"


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


def _size(path: Path) -> int:
    """Bytes for the progress bar; 0 for what cannot be stat'ed (its load fails with why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


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
