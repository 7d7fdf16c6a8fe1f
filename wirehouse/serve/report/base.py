"""What a report section is made of, and the one way sections read the marts.

A section module declares its charts: which marts each needs (a chart shows only when all of
them have rows), and a function that selects from those marts and returns a Vega-Lite chart
(altair) or a small table. Python only selects; every shape a chart needs comes from a mart
or a report model (models/marts/report/rpt_*).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import altair as alt
import duckdb


@dataclass(frozen=True)
class Table:
    """A small HTML table (lists and summary tiles), rows as selected."""

    columns: Sequence[str]
    rows: Sequence[Sequence[object]]
    empty: str = "No rows."


@dataclass(frozen=True)
class Nothing:
    """The marts have rows, but none for this chart (e.g. no zero-inv peers): say why."""

    message: str


Drawing = alt.TopLevelMixin | Table | Nothing


@dataclass(frozen=True)
class Chart:
    chart_id: str  # unique in the report; the page's data-chart attribute
    title: str
    needs: tuple[str, ...]  # schema.table that must have rows
    draw: Callable[[Marts], Drawing]
    caption: str = ""


@dataclass(frozen=True)
class Section:
    section_id: str
    title: str
    load_hint: str  # how a user gets the data these charts need
    charts: tuple[Chart, ...]
    intro: str = ""


@dataclass
class Marts:
    """The report's read access: which marts have rows, and rows as JSON-ready dicts.

    Chart data goes into the spec's top-level `datasets` by name (page.py puts it there),
    not through altair: altair validates inline values one by one, which took longer than
    everything else for a chart of 14 k rows.
    """

    con: duckdb.DuckDBPyConnection
    datasets: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    params: list[dict[str, object]] = field(default_factory=list)  # the chart's top level
    _has_rows: dict[str, bool] = field(default_factory=dict)

    def has_rows(self, table: str) -> bool:
        if table not in self._has_rows:
            try:
                found = self.con.execute(f"select exists (from {table})").fetchall()[0][0]
            except duckdb.CatalogException:
                found = False  # a mart another version of wirehouse builds
            self._has_rows[table] = bool(found)
        return self._has_rows[table]

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def records(self, sql: str) -> list[dict[str, object]]:
        relation = self.con.sql(sql)
        columns = relation.columns
        return [
            dict(zip(columns, map(_json_value, row), strict=True)) for row in relation.fetchall()
        ]

    def dataset(self, records: list[dict[str, object]]) -> alt.Data:
        """A named Vega dataset of these rows, for the chart being drawn."""
        name = f"mart_rows_{len(self.datasets)}"  # Vega-Lite names its own sources data_N
        self.datasets[name] = records
        return alt.Data(name=name)

    def data(self, sql: str) -> alt.Data:
        return self.dataset(self.records(sql))

    def picker(self, name: str, values: list[object], every: str) -> None:
        """A dropdown above the chart being drawn that shows every value or one (marks filter
        with NODE_SHOWN or CAPTURE_SHOWN). A top-level parameter of the spec: altair cannot
        add one to a faceted or concatenated chart."""
        labels = [str(v).rsplit("/", 1)[-1] if name == "capture" else str(v) for v in values]
        self.params.append(
            {
                "name": name,
                "value": None,
                "bind": {
                    "input": "select",
                    "options": [None, *values],
                    "labels": [every, *labels],
                    "name": f"{name} ",
                },
            }
        )

    def values(self, sql: str) -> list[object]:
        """The first column of a query's rows, in order (a chart's legend domain)."""
        return [row[0] for row in self.rows(sql)]


def _json_value(value: object) -> object:
    """Values as Vega parses them: timestamps are UTC in the warehouse, so say so ('Z'),
    or the browser would read them as local time."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()  # a date alone is read as UTC midnight
    if isinstance(value, Decimal):
        return float(value)
    return value


# Colours with one meaning per report: a category (message type, packet type, API, node) gets
# its colour from its place in a domain every chart of the report shares, from a palette long
# enough that no two categories of one chart share a colour (tableau20, then dark2 and more).
PALETTE = (
    "#4c78a8 #f58518 #54a24b #e45756 #b279a2 #9e765f #439894 #b79a20 #d67195 #79706e "
    "#9ecae9 #ffbf79 #88d27a #ff9d98 #d6a5c9 #d8b5a5 #83bcb6 #f2cf5b #fcbfd2 #bab0ac "
    "#1b9e77 #d95f02 #7570b3 #e7298a #66a61e #e6ab02 #a6761d #17becf #8c564b #000000"
).split()


def category_scale(domain: list[object]) -> alt.Scale:
    """The same colour for the same category in every chart that passes the same domain."""
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(domain))]
    return alt.Scale(domain=domain, range=colours)


NODE_SHOWN = "node == null || datum.node_id == node"
CAPTURE_SHOWN = "capture == null || datum.capture_id == capture"

def count_axis(first: int, last: int, **kwargs: object) -> alt.Axis:
    """An axis of whole numbers (ranks, hours since start) that never repeats a label: Vega
    puts ticks at 0.5 steps on a short domain, which format "d" prints as "0, 1, 1"."""
    if last - first <= 20:
        return alt.Axis(values=list(range(first, last + 1)), format="d", **kwargs)
    # panels with their own scales ignore tickMinStep: leave fractional ticks unlabelled
    return alt.Axis(
        tickMinStep=1, format="d", labelExpr="datum.value % 1 ? '' : datum.label", **kwargs
    )


# Vega expression for a legend or axis label that is a file or folder path: its last part
# (tooltips keep the whole path).
PATH_TAIL = "peek(split(datum.label, '/'))"


def utc_time(
    field_name: str, title: str, fmt: str = "%b %d %H:%M", unit: str = "", padding: int = 0
) -> alt.X:
    """An x axis of UTC timestamps, labelled in UTC whatever the viewer's time zone (a utc
    scale formats its labels in UTC). With unit ("day", "hour"), each value is that period:
    bars fill it and ticks fall on its boundaries. `padding` (pixels) keeps a lone point off
    the edges."""
    if not unit:
        return alt.X(
            f"{field_name}:T",
            title=title,
            scale=alt.Scale(type="utc", padding=padding),
            # no format: Vega's own, by the span shown (years, days, hours or seconds)
            axis=alt.Axis(format=fmt or alt.Undefined, labelAngle=0),
        )
    time_unit = {"day": "utcyearmonthdate", "hour": "utcyearmonthdatehours"}[unit]
    return alt.X(
        f"{field_name}:T",
        title=title,
        timeUnit=time_unit,
        axis=alt.Axis(
            format=fmt, labelAngle=0, tickCount="day" if unit == "day" else alt.Undefined
        ),
    )


def utc_tooltip(field_name: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(
        f"{field_name}:T", title=title, timeUnit="utcyearmonthdatehoursminutesseconds"
    )
