"""The report as a person sees it: opened in headless Chromium, every chart drawn and
readable.

Opens report.html from file:// with every network request refused (it must work offline),
waits until vega-embed has rendered all charts, counts the marks each chart drew (SVG
elements under Vega's mark groups; rows for tables), fails on any console error or warning,
and saves a screenshot under target/. Then looks at each chart as a person would (LOOK): is
it wider than the window, is a legend cut off or does it drop entries ("...138 entries"),
does an axis repeat a label ("0, 1, 1"); and two nodes must be two lines, not one. The
warehouse holds every kind of data (Bitcoin, a Kafka capture, an hourly tshark export, a
Bluetooth sniff); WIREHOUSE_REPORT_DB=path reports on another warehouse or published copy
instead (e.g. `make demo`'s). Reports of one kind each (captures only, a tshark export only,
a Bluetooth sniff only, two Bitcoin nodes) are looked at the same way.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import (
    REPO,
    DemoWarehouse,
    bitcoin_only_db,
    build_every_kind,
    copy_marts,
)
from wirehouse.serve.query import connect_reader
from wirehouse.serve.report import SECTIONS, ReportResult, write_report

pytestmark = pytest.mark.integration

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MARKS = "svg g.role-mark > *"
# charts that draw one mark per row of their data (bars, circles), per row of chart data
MARKS_PER_ROW = {
    "peer_bandwidth": 1,
    "packet_size_box": 5,  # whisker rule, box, median tick, min and max circles
    "packet_size_pdf": 1,
    "top_talkers": 1,
    "bluetooth_devices_seen": 1,
    "bluetooth_non_id_per_device": 1,
    "bluetooth_device_packet_types": 1,
}


# What a person would call unreadable in one chart (a figure element), as one line each.
LOOK = """
(figure) => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  if (figure.getBoundingClientRect().right > width + 1) {
    problems.push("the figure runs off the page");
  }
  const svg = figure.querySelector("svg");
  if (!svg) return problems;
  const box = svg.getBoundingClientRect();
  if (box.right > width + 1) {
    problems.push(`wider than the window (${Math.round(box.right)} > ${width} px)`);
  }
  for (const legend of svg.querySelectorAll("g.role-legend")) {
    const b = legend.getBoundingClientRect();
    if (b.right > Math.min(width, box.right) + 1 || b.bottom > box.bottom + 1) {
      problems.push("a legend is cut off");
    }
    if (/entries/.test(legend.textContent)) problems.push("a legend drops entries");
  }
  for (const axis of svg.querySelectorAll("g.role-axis")) {
    const labels = [...axis.querySelectorAll("g.role-axis-label text")]
      .map((t) => t.textContent).filter((t) => t);
    for (let i = 1; i < labels.length; i++) {
      if (labels[i] === labels[i - 1]) {
        problems.push(`an axis repeats the label "${labels[i]}"`);
        break;
      }
    }
  }
  return problems;
}
"""
LINES = "svg g.mark-line.role-mark > path"


def chromium() -> str:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@dataclass
class Seen:
    state: str  # document.body.dataset.rendered: true | failed
    problems: list[str]  # console errors and warnings, page errors
    requested: list[str]  # network requests the page tried (all refused)
    marks: dict[str, int]  # per shown chart: SVG marks, or table rows
    text: str  # the page's visible text
    looks: dict[str, list[str]]  # per shown chart: what LOOK found wrong
    lines: dict[str, int]  # per shown chart: lines drawn (SVG paths of line marks)

    @property
    def unreadable(self) -> list[str]:
        return [f"{chart}: {problem}" for chart, found in self.looks.items() for problem in found]


def open_in_chromium(report: ReportResult, screenshot: Path) -> Seen:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1150, "height": 900})
        page.on(
            "console",
            lambda m: (
                m.type in ("error", "warning") and problems.append(f"console {m.type}: {m.text}")
            ),
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

        def refuse_network(route) -> None:
            if not route.request.url.startswith("file://"):
                requested.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        page.route("**/*", refuse_network)
        page.goto(report.path.resolve().as_uri())
        page.wait_for_function("document.body.dataset.rendered !== undefined", timeout=60_000)
        state = page.evaluate("document.body.dataset.rendered")
        marks = {
            chart.chart_id: page.eval_on_selector(
                f'figure[data-chart="{chart.chart_id}"]',
                "(e, marks) => e.querySelectorAll(marks).length",
                MARKS if chart.kind == "vega" else "tbody tr",
            )
            for chart in report.charts
        }
        text = page.inner_text("body")
        figures = {
            c.chart_id: page.query_selector(f'figure[data-chart="{c.chart_id}"]')
            for c in report.charts
        }
        looks = {chart: figure.evaluate(LOOK) for chart, figure in figures.items()}
        lines = {
            chart: figure.evaluate("(e, q) => e.querySelectorAll(q).length", LINES)
            for chart, figure in figures.items()
        }
        screenshot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return Seen(state, problems, requested, marks, text, looks, lines)


def test_report_renders_every_chart_in_chromium(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    given = os.environ.get("WIREHOUSE_REPORT_DB")
    if given:
        db = Path(given)
    else:
        db = build_every_kind(request.getfixturevalue("demo_warehouse"), tmp_path_factory)
    with connect_reader(db) as con:
        report = write_report(con, tmp_path)
    expected = report.charts
    assert expected, "nothing to draw"
    seen = open_in_chromium(report, REPO / "target" / "report-screenshot.png")
    (REPO / "target" / "report-browser.json").write_text(
        json.dumps({"report": str(report.path), "db": str(db), "marks": seen.marks}, indent=2)
    )
    assert seen.state == "true", seen.problems
    assert not seen.problems, seen.problems
    assert not seen.requested, f"the page tried to fetch {seen.requested}"
    assert not seen.unreadable, seen.unreadable
    for chart in expected:
        if chart.kind == "table":
            assert seen.marks[chart.chart_id] == chart.rows, chart
        else:
            assert seen.marks[chart.chart_id] > 0, f"{chart.chart_id} drew no marks"
        # the marks are the data, not decoration
        if chart.chart_id in MARKS_PER_ROW:
            assert seen.marks[chart.chart_id] == MARKS_PER_ROW[chart.chart_id] * chart.rows, chart
    if not given:
        assert [c.chart_id for c in expected] == [c.chart_id for s in SECTIONS for c in s.charts]


def test_bitcoin_only_report_says_what_is_missing_in_chromium(
    demo_warehouse: DemoWarehouse, tmp_path: Path
) -> None:
    db = bitcoin_only_db(demo_warehouse, tmp_path / "bitcoin.duckdb")
    with connect_reader(db) as con:
        report = write_report(con, tmp_path / "out")
    seen = open_in_chromium(report, REPO / "target" / "report-bitcoin-only-screenshot.png")
    assert seen.state == "true", seen.problems
    assert not seen.problems and not seen.requested
    assert report.charts and all(seen.marks[c.chart_id] > 0 for c in report.charts)
    # one line names the kinds without data and how to load them
    no_data = next(line for line in seen.text.splitlines() if line.startswith("No data yet"))
    for section in (s for s in SECTIONS if s.section_id != "bitcoin"):
        assert section.title in no_data and section.load_hint in no_data


def _marts_of(*section_ids: str) -> list[str]:
    return sorted(
        {
            table.split(".")[1]
            for section in SECTIONS
            if section.section_id in section_ids
            for chart in section.charts
            for table in chart.needs
        }
    )


def _keep_captures(db: Path, source: Path, kind: str) -> None:
    """Only the captures of one kind (pcap or tshark) in every copied mart."""
    with duckdb.connect(str(db)) as con:
        con.execute(f"attach '{source}' as src (read_only)")
        other = f"select capture_id from src.marts.fct_capture_totals where source_kind <> '{kind}'"
        for (table,) in con.execute(
            "select table_name from duckdb_columns() where database_name = current_database()"
            " and schema_name = 'marts' and column_name = 'capture_id'"
        ).fetchall():
            con.execute(f"delete from marts.{table} where capture_id in ({other})")


def _add_second_node(db: Path) -> None:
    """Node beta beside the demo's node: its rows at half the bytes, its own connections."""
    with duckdb.connect(str(db)) as con:
        for (table,) in con.execute(
            "select table_name from duckdb_columns() where database_name = current_database()"
            " and schema_name = 'marts' and column_name = 'node_id'"
        ).fetchall():
            columns = {
                name
                for (name,) in con.execute(
                    "select column_name from duckdb_columns() where table_name = ?", [table]
                ).fetchall()
            }
            replaced = ["'beta' as node_id"]
            if "connection_id" in columns:
                replaced.append("connection_id || '-beta' as connection_id")
            for half in ("estimated_tcpip_bytes", "measured_bytes", "residual_bytes"):
                if half in columns:
                    replaced.append(f"{half} / 2 as {half}")
            con.execute(
                f"insert into marts.{table} select * replace ({', '.join(replaced)})"
                f" from marts.{table}"
            )


@pytest.mark.parametrize("case", ["two_bitcoin_nodes", "captures", "tshark", "bluetooth"])
def test_a_report_of_one_kind_is_readable_in_chromium(
    case: str, demo_warehouse: DemoWarehouse, every_kind_db: Path, tmp_path: Path
) -> None:
    """Each user with only their kind of data: every chart drawn and readable, sections of
    other kinds left out, two nodes drawn as two lines each."""
    db = tmp_path / f"{case}.duckdb"
    if case == "two_bitcoin_nodes":
        bitcoin_only_db(demo_warehouse, db)
        _add_second_node(db)
    elif case == "bluetooth":
        copy_marts(every_kind_db, db, _marts_of("bluetooth"))
    elif case == "captures":
        copy_marts(every_kind_db, db, _marts_of("packets", "kafka_tcp"))
        _keep_captures(db, every_kind_db, "pcap")
    else:  # a tshark export has no TCP or Kafka marts
        copy_marts(every_kind_db, db, _marts_of("packets"))
        _keep_captures(db, every_kind_db, "tshark")
    with connect_reader(db) as con:
        report = write_report(con, tmp_path / "out")
    seen = open_in_chromium(report, REPO / "target" / f"report-{case}-screenshot.png")
    assert seen.state == "true", seen.problems
    assert not seen.problems and not seen.requested
    assert report.charts, "nothing drawn"
    assert not [c.chart_id for c in report.charts if seen.marks[c.chart_id] == 0]
    assert not seen.unreadable, seen.unreadable
    held = {s.section_id for s in report.sections if s.held}
    expected = {
        "two_bitcoin_nodes": {"bitcoin"},
        "captures": {"packets", "kafka_tcp"},
        "tshark": {"packets"},
        "bluetooth": {"bluetooth"},
    }[case]
    assert held == expected
    if case == "two_bitcoin_nodes":
        # per flow: each node's measured and estimated line, then each node's residuals
        for chart in ("traffic_hourly", "traffic_daily"):
            assert seen.lines[chart] == 2 * (2 * 2) + 2 * 2, chart
