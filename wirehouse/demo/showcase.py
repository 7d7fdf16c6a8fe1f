"""Print where the warehouse is, what it holds, and one example query (end of `make demo`)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

# Shown when their tables exist and have rows.
EXAMPLES = [
    (
        "Bitcoin nodes: measured (systemd) vs estimated (tracepoints) traffic per day",
        "select node_id, traffic_date, flow, estimated_msgs, estimated_tcpip_bytes,\n"
        "       measured_bytes, round(measured_to_estimated_ratio, 3) as ratio, has_reset\n"
        "from marts.fct_traffic_reconciled_daily order by node_id, traffic_date, flow",
    ),
    (
        "Kafka broker: request latency per API (ms; Fetch waits up to fetch_max_wait_ms)",
        "select api_name, sum(requests)::bigint as requests, max(latency_p50_ms) as p50_ms,\n"
        "       max(latency_p95_ms) as p95_ms, max(fetch_max_wait_ms) as max_wait_ms\n"
        "from marts.fct_kafka_latency_hourly group by all order by requests desc",
    ),
    (
        "tshark hourly export: traffic per hour (missing hours are zero rows)",
        "select hour_at, hours_since_start, packets, round(wire_bytes / 1e6, 2) as megabytes\n"
        "from marts.fct_packet_traffic_hourly where source_kind = 'tshark' order by hour_at",
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
            rows = con.execute(sql).fetchall()
        except duckdb.CatalogException:
            continue
        if rows:
            print(f"\n{title}:\n  {' '.join(sql.split())}\n")
            con.sql(sql).show(max_width=120)
    print('Query it: .venv/bin/wirehouse query "from dim_peers limit 5" (after publish)')
    print("BI tools (DBeaver, Superset, Metabase) read published/published.duckdb, read-only.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "warehouse.duckdb")
