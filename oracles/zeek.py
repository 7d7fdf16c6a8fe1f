"""Zeek's conn.log as an oracle for marts.fct_connections.

Zeek's btest suite (github.com/zeek/zeek, ``testing/btest``) keeps TCP traces under
``Traces/tcp/`` and the conn.log Zeek wrote for each under ``Baseline/<test>/``. This module
reads such a conn.log (Zeek's TSV: a ``#fields`` line, then one line per connection) and
compares it with ``marts.fct_connections`` of a warehouse that loaded the same trace, cell by
cell, per field. The traces are not in ../shared, so CI tests build the same situations with
scapy (wirehouse/tests/test_zeek_conn_state.py); ``python -m oracles.zeek`` prints the
agreement on the real traces where a Zeek checkout is at hand.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb

# conn.log field -> fct_connections column (duration: Zeek prints microseconds)
FIELDS = {
    "duration": "round(duration_seconds, 6)",
    "orig_bytes": "orig_bytes",
    "resp_bytes": "resp_bytes",
    "conn_state": "conn_state",
    "history": "history",
    "orig_pkts": "orig_packets",
    "orig_ip_bytes": "orig_ip_bytes",
    "resp_pkts": "resp_packets",
    "resp_ip_bytes": "resp_ip_bytes",
}
KEY = ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")


def read_conn_log(path: Path) -> list[dict[str, str]]:
    """The connections of a Zeek TSV conn.log, each a dict of field -> text."""
    fields: list[str] = []
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


def _zeek_value(field: str, text: str) -> object:
    if text == "-":
        return None
    if field == "duration":
        return round(float(text), 6)
    if field in ("conn_state", "history"):
        return text
    return int(text)


def compare(
    con: duckdb.DuckDBPyConnection, conn_log: list[dict[str, str]]
) -> tuple[Counter, list[tuple]]:
    """Cells equal and compared per field ('<field> equal', '<field> compared'), matching
    connections by their 4-tuple (a connection Zeek logged that we lack counts as unequal),
    and the cells that differ: (orig_h, orig_p, field, Zeek's, ours)."""
    counts: Counter = Counter()
    differ = []
    columns = ", ".join(FIELDS.values())
    for row in conn_log:
        if row.get("proto") != "tcp":
            continue
        ours = con.execute(
            f"select {columns} from marts.fct_connections where orig_addr = ? and"
            " orig_port = ? and resp_addr = ? and resp_port = ?",
            [row[KEY[0]], int(row[KEY[1]]), row[KEY[2]], int(row[KEY[3]])],
        ).fetchall()
        for i, field in enumerate(FIELDS):
            theirs = _zeek_value(field, row[field])
            if field == "duration" and theirs is None:
                continue  # Zeek leaves out the duration (and bytes) of a 0 s connection
            counts[f"{field} compared"] += 1
            if len(ours) == 1 and ours[0][i] == theirs:
                counts[f"{field} equal"] += 1
            else:
                differ.append(
                    (row[KEY[0]], row[KEY[1]], field, theirs, ours[0][i] if ours else None)
                )
    return counts, differ


def main(pairs_file: str) -> None:
    """``python -m oracles.zeek PAIRS``: PAIRS lists `trace.pcap conn.log` per line; each
    trace is loaded into its own warehouse, built, and compared."""
    bin_dir = Path(sys.executable).parent
    total: Counter = Counter()
    examples = []
    for line in Path(pairs_file).read_text().split("\n"):
        if not line.strip():
            continue
        trace, log = (Path(p) for p in line.split())
        db = Path("/tmp") / f"zeek-{trace.stem}.duckdb"
        db.unlink(missing_ok=True)
        subprocess.run(
            [bin_dir / "wirehouse", "ingest", "pcap", trace, "--db", db],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [bin_dir / "dbt", "run", "-s", "+fct_connections", "--quiet"],
            check=True,
            env={"WIREHOUSE_DB": str(db), "PATH": str(bin_dir)},
            cwd=Path(__file__).resolve().parents[1],
        )
        with duckdb.connect(str(db), read_only=True) as con:
            counts, differ = compare(con, read_conn_log(log))
        examples += [(trace.name, *cell) for cell in differ]
        total.update(counts)
    print("| field | equal | compared |\n|---|---:|---:|")
    for field in FIELDS:
        print(f"| {field} | {total[field + ' equal']} | {total[field + ' compared']} |")
    for example in examples:
        print("differs:", *example)


if __name__ == "__main__":
    main(sys.argv[1])
