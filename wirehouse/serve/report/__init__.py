"""`wirehouse report`: one self-contained HTML page of charts drawn from the marts.

Each section is one module declaring its charts (wirehouse/serve/report/base.py says how); a new mart
adds a chart in its own section module (and a new module one line in SECTION_MODULES),
without touching the others.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from wirehouse.serve.report import bitcoin, bluetooth, kafka, packets
from wirehouse.serve.report.base import Marts, Section
from wirehouse.serve.report.page import ReportResult, SectionResult, ShownChart, render

SECTION_MODULES = (bitcoin, packets, bluetooth, kafka)  # page order
SECTIONS: tuple[Section, ...] = tuple(module.SECTION for module in SECTION_MODULES)

__all__ = [
    "SECTIONS",
    "SECTION_MODULES",
    "ReportResult",
    "SectionResult",
    "ShownChart",
    "write_report",
]


def write_report(con: duckdb.DuckDBPyConnection, out_dir: Path) -> ReportResult:
    """Write out_dir/report.html from the marts the connection sees."""
    source = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0][0]
    return render(Marts(con), SECTIONS, out_dir, source=str(source))
