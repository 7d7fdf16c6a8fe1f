"""A source's Arrow batches of one table as one RecordBatchReader, so they go into DuckDB as one
INSERT while the source produces them.

Few large statements: DuckDB writes full row groups as they fill, keeps nothing of the file in
memory, and its checkpoint has no small row groups to merge. pyarrow is imported on first use:
CSV kinds never need it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ingest.lazy import lazy_module

pa = lazy_module("pyarrow")  # only sources that yield Arrow data need it

ARROW_INSERT_ROWS = 262_144  # rows of other tables held back at most (bounded memory)


class ArrowStream:
    """The Arrow batches of one table as a reader that pulls them from the source on demand.

    It ends where one INSERT cannot go on: at the end of the file, a SELECT, a batch of
    another schema, or another table's pending batches reaching `max_pending_rows` (that
    item is ``rest``: it starts the next statement). Other tables' batches go to
    ``pending``. An error of the source is held (DuckDB would turn it into its own) and
    raised by ``raise_held`` once the INSERT is done.
    """

    def __init__(
        self,
        table: str,
        head: list[pa.RecordBatch],
        items: Iterator[tuple[str, object]],
        pending: dict[str, list[pa.RecordBatch]],
        max_pending_rows: int = ARROW_INSERT_ROWS,
    ) -> None:
        self.table, self.items, self.pending = table, items, pending
        self.max_pending_rows = max_pending_rows
        self.rest: tuple[str, object] | None = None
        self.error: BaseException | None = None
        schema = head[0].schema
        self.reader = pa.RecordBatchReader.from_batches(schema, self._batches(head, schema))

    def _batches(self, head: list[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        yield from head
        try:
            for item in self.items:
                table_name, data = item
                if isinstance(data, str):
                    self.rest = item
                    return
                batches = batches_of(data)
                if table_name == self.table:
                    if any(b.schema != schema for b in batches):
                        self.rest = item
                        return
                    yield from batches
                    continue
                waiting = self.pending.setdefault(table_name, [])
                waiting.extend(batches)
                if sum(b.num_rows for b in waiting) >= self.max_pending_rows:
                    self.rest = table_name, as_table(self.pending.pop(table_name))
                    return
        except GeneratorExit:
            raise  # the INSERT failed and let go of the reader
        except BaseException as exc:  # re-raised by raise_held
            self.error = exc

    def raise_held(self) -> None:
        if self.error is not None:
            raise self.error


def batches_of(data: object) -> list[pa.RecordBatch]:
    """The non-empty record batches of an Arrow table or batch."""
    batches = data.to_batches() if isinstance(data, pa.Table) else [data]
    return [b for b in batches if b.num_rows]


def as_table(batches: list[pa.RecordBatch | pa.Table]) -> pa.Table:
    """Arrow batches and tables as one table (columns typed null in some become typed)."""
    tables = [pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b for b in batches]
    return pa.concat_tables(tables, promote_options="permissive")
