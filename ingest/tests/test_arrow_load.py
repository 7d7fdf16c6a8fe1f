"""The loader streams a source's Arrow batches into one INSERT per table (loader/warehouse.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.kinds.base import Data, Extraction, RawTable, SourceError, SourceKind
from ingest.loader import warehouse as db
from ingest.loader.warehouse import Warehouse

PACKETS = RawTable(name="t_packets", columns={"n": "BIGINT", "note": "VARCHAR"})
MESSAGES = RawTable(name="t_messages", columns={"n": "BIGINT"})


def _source(items: list[tuple[str, Data] | Exception]) -> SourceKind:
    def extract(path: Path, con: object, report: Extraction) -> Iterator[tuple[str, Data]]:
        report.empty_ok = True
        for item in items:
            if isinstance(item, Exception):
                raise item
            yield item

    return SourceKind(kind="t", tables=(PACKETS, MESSAGES), extract=extract, find=lambda d: [])


def _packets(start: int, n: int, note: pa.Array | None = None) -> pa.RecordBatch:
    notes = note if note is not None else pa.nulls(n, pa.string())
    return pa.record_batch({"n": pa.array(range(start, start + n), pa.int64()), "note": notes})


def _messages(start: int, n: int) -> pa.Table:
    return pa.table({"n": pa.array(range(start, start + n), pa.int64())})


def _load(tmp_path: Path, items: list) -> tuple[db.FileResult, dict[str, list[int]]]:
    path = tmp_path / "capture.bin"
    path.write_bytes(b"x")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_tables((PACKETS, MESSAGES))
        result = wh.ingest_file(path, _source(items))
        rows = {
            t.name: [
                n for (n,) in wh.con.execute(f"select n from raw.{t.name} order by n").fetchall()
            ]
            for t in (PACKETS, MESSAGES)
        }
    return result, rows


def test_interleaved_tables_land_whole_whatever_the_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "ARROW_INSERT_ROWS", 25)  # messages wait; every 25 they go in
    items: list = [("t_messages", _messages(0, 3))]
    for k in range(20):
        items += [("t_packets", _packets(10 * k, 10)), ("t_messages", _messages(3 + 4 * k, 4))]
    items.append(
        ("t_packets", pa.table({"n": pa.array([], pa.int64()), "note": pa.array([], pa.string())}))
    )
    # a SELECT in between, and a batch whose `note` is typed null (another schema)
    items.append(("t_packets", "select 1000::bigint as n, 'sql' as note"))
    items.append(
        ("t_packets", pa.record_batch({"n": pa.array([2000], pa.int64()), "note": pa.nulls(1)}))
    )
    items.append(("t_packets", _packets(3000, 2, pa.array(["a", "b"]))))
    result, rows = _load(tmp_path, items)
    assert result.status == "loaded", result.message
    assert rows["t_packets"] == [*range(200), 1000, 2000, 3000, 3001]
    assert rows["t_messages"] == list(range(83))
    assert result.rows_by_table == {"t_packets": 204, "t_messages": 83}


def test_a_source_error_mid_stream_leaves_nothing_and_keeps_its_message(tmp_path: Path) -> None:
    items: list = [("t_packets", _packets(0, 10)), ("t_messages", _messages(0, 5))]
    items += [("t_packets", _packets(10, 10)), SourceError("byte 1234: bad block length")]
    result, rows = _load(tmp_path, items)
    assert result.status == "failed"
    assert result.message == "byte 1234: bad block length"
    assert rows == {"t_packets": [], "t_messages": []}
