"""A source's items into raw tables, inside the caller's transaction: a SELECT is one INSERT;
Arrow batches stream into one INSERT per table (``ArrowStream``) while the source produces them.

Every row gets the bookkeeping columns here: the id of its file version (``_file_id``) and the
time of the run that loaded it (``_loaded_at``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import duckdb

from ingest.kinds.base import Data, Extraction
from ingest.loader.arrow_stream import ARROW_INSERT_ROWS, ArrowStream, as_table, batches_of, pa


def insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    data: object,
    file_id: int,
    loaded_at: datetime,
    any_order: bool = False,
) -> int:
    """One INSERT of a SELECT or of Arrow data (a table, batch or reader) into raw.`table`."""
    if isinstance(data, str):  # a SELECT (tested first: CSV kinds never load pyarrow)
        relation = f"({data})"
    else:  # Arrow data
        if not isinstance(data, pa.RecordBatchReader) and data.num_rows == 0:
            return 0
        con.register("_wirehouse_batch", data)
        relation = "_wirehouse_batch"
    order = "false" if any_order else "true"
    con.execute(f"set preserve_insertion_order = {order}")
    [(count,)] = con.execute(
        f"insert into raw.{table} by name"
        f" select *, $file_id as _file_id, $at as _loaded_at from {relation}",
        {"file_id": file_id, "at": loaded_at},
    ).fetchall()
    if relation == "_wirehouse_batch":
        con.unregister("_wirehouse_batch")
    return count


def insert_items(
    con: duckdb.DuckDBPyConnection,
    items: Iterable[tuple[str, Data]],
    report: Extraction,
    file_id: int,
    loaded_at: datetime,
    any_order: bool = False,
    max_pending_rows: int = ARROW_INSERT_ROWS,
) -> dict[str, int]:
    """Insert every item a source yields; rows inserted per table.

    Arrow data of a table streams into one INSERT; the other tables' batches wait in
    `pending`, at most `max_pending_rows` rows each, and go in when the stream ends.
    ``report.rows`` follows each insert (a source may check it when it resumes).
    """
    rows: Counter[str] = Counter()
    pending: dict[str, list[pa.RecordBatch]] = {}
    items = iter(items)
    try:
        item = next(items, None)
        while item is not None or pending:
            if item is None:  # the file ended: what waits goes in, a table at a time
                name = next(iter(pending))
                item = name, as_table(pending.pop(name))
            table_name, data = item
            if isinstance(data, str):
                rows[table_name] += insert(con, table_name, data, file_id, loaded_at, any_order)
                report.rows = rows.total()
                item = next(items, None)
            elif head := batches_of(as_table([*pending.pop(table_name, []), data])):
                stream = ArrowStream(table_name, head, items, pending, max_pending_rows)
                rows[table_name] += insert(
                    con, table_name, stream.reader, file_id, loaded_at, any_order
                )
                stream.raise_held()
                item = stream.rest
            else:
                item = next(items, None)
            report.rows = rows.total()
    finally:
        if hasattr(items, "close"):
            items.close()  # stop a source thread at once when the load failed
    return dict(rows)
