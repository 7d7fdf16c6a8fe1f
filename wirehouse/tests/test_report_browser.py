"""The report as a person sees it: opened in headless Chromium, every chart drawn.

Opens report.html from file:// with every network request refused (it must work offline),
waits until vega-embed has rendered all charts, counts the marks each chart drew (SVG
elements under Vega's mark groups; rows for tables), fails on any console error or warning,
and saves a screenshot under target/. The warehouse holds every kind of data (Bitcoin, a
Kafka capture, an hourly tshark export, a Bluetooth sniff); WIREHOUSE_REPORT_DB=path reports
on another warehouse or published copy instead (e.g. `make demo`'s).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.tests.helpers import REPO, DemoWarehouse, bitcoin_only_db, build_every_kind
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
        screenshot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return Seen(state, problems, requested, marks, text)


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
