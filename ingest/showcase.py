"""Print where the warehouse is, what it holds, and one example query (end of `make demo`)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

# The first query whose tables exist is shown: marts once they are built, else staging.
EXAMPLES = [
    (
        "Daily traffic: measured by systemd vs estimated from tracepoints",
        "select * from marts.fct_traffic_reconciliation_daily order by 1 limit 5",
    ),
    (
        "Messages per day and direction",
        "select date_trunc('day', logged_at) as day, flow, count(*) as msgs,\n"
        "       sum(payload_bytes) as payload_bytes\n"
        "from staging.stg_bitcoin_p2p__messages group by all order by all",
    ),
]


def main(db_path: str) -> None:
    path = Path(db_path).resolve()
    con = duckdb.connect(str(path), read_only=True)
    tables = con.execute(
        "select schema_name || '.' || table_name, estimated_size from duckdb_tables()"
        " where schema_name <> 'raw' or table_name = 'ingest_files' order by 1"
    ).fetchall()
    print(f"\nwarehouse: {path}")
    print(f"tables ({len(tables)}): " + ", ".join(name for name, _ in tables))
    for title, sql in EXAMPLES:
        try:
            result = con.sql(sql)
        except duckdb.CatalogException:
            continue
        print(f"\n{title}:\n  {' '.join(sql.split())}\n")
        result.show(max_width=120)
        break
    print("Connect a BI tool (DBeaver, Superset, Metabase) to this DuckDB file, read-only.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "warehouse.duckdb")
