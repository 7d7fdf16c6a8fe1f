"""tshark `-T fields -E header=y` CSVs -> ``raw.tshark_packets``, one row per packet (FORMATS §5).

What is read
    Any subset of fields in any order, matched by the header line; separator ``,`` (tshark's
    ``-E separator=,``), tab (``/t``), ``;`` or ``|``; values bare or double-quoted
    (``-E quote=d``); empty fields are NULL. The fields we know (``FIELDS``) land in typed
    columns named after them (``ip.src`` -> ``ip_src``); every other field is kept, as text,
    in the ``other_fields`` map (only the non-empty ones).

Repeated fields (``-E occurrence=a``, tshark's default)
    A tunnelled packet prints a field once per layer, joined by the aggregator ``,``: quoted,
    ``"10.1.1.1,10.2.2.2"`` is one value; the typed column keeps the first (outer) one and
    ``other_fields`` keeps the whole text under the field name, so nothing is lost (a quoted
    value that is not the number expected lands as NULL, its text kept the same way).
    Unquoted, the extra commas shift the columns: such a line is rejected as a bad line (the
    reason says to export with ``-E quote=d`` or ``-E occurrence=f``). So a bare
    comma-separated export - the common cron layout - is typed by DuckDB's reader itself
    (fast), and a value that is not a number there is a bad line.

Time
    ``frame.time_epoch`` when present. Else ``frame.time_relative`` plus the capture start:
    the file name when it is a Unix time (the hourly cron layout ``1483873200.csv``), else
    ``--start``; neither is a clear error. The start used is kept in ``capture_start_ns``.
    Both are read as DECIMAL(20, 9), so nanoseconds survive.

Bad lines
    DuckDB's reader checks the frame fields (number, lengths, times) and the column count; a
    failing line goes to ``raw.ingest_issues`` with its line number (status ``partial``).
    A header-only file is an idle hour, not an error. Without ``frame.number`` the rows are
    numbered in file order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path

import duckdb

from ingest.kinds.base import Data, Extraction, Issue, RawTable, SourceError, SourceKind
from ingest.kinds.csvfile import REJECTS, collect_rejects, find_csvs, first_lines, plain_csv

# tshark field -> DuckDB type of its raw column. frame.* fields never repeat, so DuckDB's
# reader types (and checks) them; layer fields are read as text and typed from the first value.
FRAME_FIELDS = {
    "frame.number": "BIGINT",
    "frame.time_epoch": "DECIMAL(20, 9)",
    "frame.time_relative": "DECIMAL(20, 9)",
    "frame.len": "BIGINT",
    "frame.cap_len": "BIGINT",
}
LAYER_FIELDS = {
    "eth.src": "VARCHAR",
    "eth.dst": "VARCHAR",
    "ip.src": "VARCHAR",
    "ip.dst": "VARCHAR",
    "ipv6.src": "VARCHAR",
    "ipv6.dst": "VARCHAR",
    "ip.proto": "INTEGER",
    "ipv6.nxt": "INTEGER",
    "ip.len": "INTEGER",
    "ip.ttl": "INTEGER",
    "tcp.srcport": "INTEGER",
    "tcp.dstport": "INTEGER",
    "udp.srcport": "INTEGER",
    "udp.dstport": "INTEGER",
    "tcp.flags": "INTEGER",  # tshark prints 0x0018; DuckDB casts hex text
    "tcp.seq": "BIGINT",
    "tcp.ack": "BIGINT",
    "tcp.len": "BIGINT",
    "tcp.window_size_value": "INTEGER",
}
FIELDS = {**FRAME_FIELDS, **LAYER_FIELDS}


def column_of(field: str) -> str:
    return field.replace(".", "_")


PACKETS = RawTable(
    name="tshark_packets",
    columns={
        **{column_of(f): t for f, t in FIELDS.items()},
        "capture_start_ns": "BIGINT",
        "other_fields": "MAP(VARCHAR, VARCHAR)",
    },
    comment="tshark -T fields CSV rows (one per packet), known fields typed, the rest in a map.",
)

SEPARATORS = (",", "\t", ";", "|")
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# the hourly cron layout: one file per hour, named by the Unix time of its first second
UNIX_TIME_NAME = re.compile(r"(\d{10})\.csv(\.gz|\.bz2)?")
NS = 1_000_000_000


@dataclass(frozen=True)
class TsharkOptions:
    start_ns: int | None = None  # capture start for files with only frame.time_relative


def parse_start(text: str) -> int:
    """--start: Unix seconds (decimals allowed) or an ISO time with a UTC offset -> ns."""
    try:
        return int(Decimal(text) * NS)
    except InvalidOperation:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither Unix seconds nor an ISO time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (e.g. +00:00)")
    return int(Decimal(str(moment.timestamp())) * NS)


def start_from_name(path: Path) -> int | None:
    match = UNIX_TIME_NAME.fullmatch(path.name)
    return int(match.group(1)) * NS if match else None


def parse_header(line: str) -> tuple[str, list[str]]:
    """(separator, field names) of a tshark header line; SourceError if it is not one."""
    delim = next((d for d in SEPARATORS if d in line), ",")
    names = [name.strip().strip('"') for name in line.split(delim)]
    if not all(FIELD_NAME.fullmatch(n) for n in names) or not set(names) & FIELDS.keys():
        raise SourceError(
            f"line 1: not a tshark field header: {line[:120]!r}"
            " (export with -T fields -E header=y and at least one of " + ", ".join(FIELDS) + ")"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SourceError(f"line 1: field {twice[0]} appears twice in the header")
    return delim, names


def _first_value(field: str) -> str:
    """SQL for the first of a field's values (several with -E occurrence=a), typed.

    Only the rare repeated values are split (split_part on every row costs much of a load):
    a number is cast whole first, and split only where that fails (coalesce is lazy).
    """
    text = f'"{field}"'
    first = f"split_part({text}, ',', 1)"
    typ = LAYER_FIELDS[field]
    if typ == "VARCHAR":
        return f"case when contains({text}, ',') then nullif({first}, '') else {text} end"
    return f"coalesce(try_cast({text} as {typ}), try_cast({first} as {typ}))"


def _kept_when(field: str) -> str:
    """SQL condition: a layer field's text goes to other_fields (several values, or not the
    number we expected). Reads the typed column of the inner select."""
    cond = f"""contains("{field}", ',')"""
    if LAYER_FIELDS[field] != "VARCHAR":
        cond += f""" or ("{field}" is not null and {column_of(field)} is null)"""
    return cond


def select_sql(
    path: Path, delim: str, names: list[str], start_ns: int | None, quoted: bool = True
) -> str:
    """One SELECT over read_csv producing the raw table's columns.

    A bare (unquoted) export separated by the aggregator ``,`` cannot hold a repeated value in
    one field (its commas make extra columns), so DuckDB's reader types every known field
    itself - the fast path, and a value that is not a number is a bad line with its line
    number. Quoted or tab-separated exports may carry ``"a,b"``: layer fields are read as text
    and typed from their first value.
    """
    split = quoted or delim != ","
    read_types = FRAME_FIELDS if split else FIELDS
    types = ", ".join(f"'{n}': '{read_types.get(n, 'VARCHAR')}'" for n in names)
    layer = [n for n in names if n in LAYER_FIELDS] if split else []
    typed = ", ".join(f"{_first_value(n)} as {column_of(n)}" for n in layer)
    items = []
    for field, typ in FIELDS.items():
        if field not in names:
            value = "row_number() over ()" if field == "frame.number" else f"null::{typ}"
        else:
            value = column_of(field) if field in layer else f'"{field}"'
        items.append(f"{value} as {column_of(field)}")
    items.append(f"{'null' if start_ns is None else start_ns}::bigint as capture_start_ns")
    unknown = [n for n in names if n not in FIELDS]
    entries = [f"{{'k': '{n}', 'v': \"{n}\"}}" for n in unknown]
    entries += [f"""{{'k': '{n}', 'v': case when {_kept_when(n)} then "{n}" end}}""" for n in layer]
    if entries:
        # the map is built only for the rows that need one (most have none)
        guard = " or ".join(
            [f'"{n}" is not null' for n in unknown] + [_kept_when(n) for n in layer]
        )
        kept = f"list_filter([{', '.join(entries)}], lambda e: e.v is not null)"
        items.append(f"case when {guard} then map_from_entries({kept}) end as other_fields")
    else:
        items.append("null::map(varchar, varchar) as other_fields")
    literal = str(path).replace("'", "''")
    sep = "\\t" if delim == "\t" else delim
    return (
        f"select {', '.join(items)} from (select *{', ' + typed if typed else ''}"
        f" from read_csv('{literal}', header = true, columns = {{{types}}},"
        f" auto_detect = false, delim = '{sep}', quote = '\"', escape = '\"', {REJECTS}))"
    )


def extract(
    path: Path, con: duckdb.DuckDBPyConnection, report: Extraction, options: TsharkOptions
) -> Iterator[tuple[str, Data]]:
    report.empty_ok = True  # a header-only file is an hour without packets
    with plain_csv(path, report.tmp_dir) as readable:
        header, *data = first_lines(readable, 2)
        delim, names = parse_header(header)
        quoted = any('"' in line for line in data)
        start_ns = start_from_name(path) or options.start_ns
        if "frame.time_relative" in names and "frame.time_epoch" not in names and not start_ns:
            raise SourceError(
                "frame.time_relative without frame.time_epoch, and the file name is not a"
                " Unix time (like 1483873200.csv): give the capture start with --start"
            )
        yield PACKETS.name, select_sql(readable, delim, names, start_ns, quoted)
        issues = collect_rejects(con)
    report.issues.extend(_explained(issue, len(names)) for issue in issues)


def _explained(issue: Issue, width: int) -> Issue:
    """A too-long line is nearly always a repeated field without quotes: say so."""
    found = re.search(r"Found: (\d+)", issue.reason)
    if found and int(found.group(1)) > width:
        hint = "a field with several values, unquoted? export with -E quote=d or -E occurrence=f"
        return Issue(issue.position, f"{hint}: {issue.reason}")  # the hint first: texts are capped
    return issue


def find(directory: Path) -> list[Path]:
    return find_csvs(directory, layouts=())


def make_source(options: TsharkOptions) -> SourceKind:
    return SourceKind(
        kind="tshark",
        tables=(PACKETS,),
        extract=partial(extract, options=options),
        find=find,
        name_is_data=True,
    )


SOURCE = make_source(TsharkOptions())
