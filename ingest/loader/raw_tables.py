"""The kinds' raw tables: created when missing, given the columns a newer wirehouse knows.

That is schema evolution, not a migration: it follows the kinds' schemas (``RawTable``) at
every open, as sqlite-utils' ``add_missing_columns`` does. Columns are added, never retyped:
rows loaded by an older version keep their values and read NULL in the new columns.
Changes to the bookkeeping itself are numbered migrations (migrations.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from ingest.kinds.base import RawTable

# Per row: which file version it came from (raw.ingest_files.file_id: path, node, run) and
# when it was loaded (what incremental models and source freshness read). Per-file facts
# live in the manifest, not in every row: a constant text column costs about 0.2 s per
# 3 M rows to store, an integer almost nothing.
BOOKKEEPING = {
    "_file_id": "BIGINT NOT NULL",
    "_loaded_at": "TIMESTAMP NOT NULL",
}


def ensure_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[RawTable]) -> None:
    """Create missing raw tables and add the columns they lack; set their comments."""
    for table in tables:
        cols = {**table.columns, **BOOKKEEPING}
        body = ",\n    ".join(f'"{name}" {typ}' for name, typ in cols.items())
        con.execute(f"create table if not exists raw.{table.name} (\n    {body}\n)")
        have = columns_of(con, table.name)
        for name, typ in cols.items():
            if name not in have:
                nullable = typ.replace(" NOT NULL", "")  # old rows have no value for it
                con.execute(f'alter table raw.{table.name} add column "{name}" {nullable}')
        if table.comment:
            comment = table.comment.replace("'", "''")
            con.execute(f"comment on table raw.{table.name} is '{comment}'")


def columns_of(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The columns of raw.`table` (none if there is no such table)."""
    return {
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'raw' and table_name = ?",
            [table],
        ).fetchall()
    }
