"""The report as a person sees it: opened in headless Chromium, every chart drawn.

Opens report.html from file:// with every network request refused (it must work offline),
waits until vega-embed has rendered all charts, counts the marks each chart drew (SVG
elements under Vega's mark groups; rows for tables), fails on any console error or warning,
and saves a screenshot under target/. WIREHOUSE_REPORT_DB=path reports on another
warehouse or published copy instead of the small demo one (e.g. `make demo`'s).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ingest.query import connect_reader
from ingest.report import write_report
from ingest.tests.conftest import REPO

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


def chromium() -> str:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def test_report_renders_every_chart_in_chromium(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    given = os.environ.get("WIREHOUSE_REPORT_DB")
    db = Path(given) if given else request.getfixturevalue("demo_warehouse").db
    with connect_reader(db) as con:
        report = write_report(con, tmp_path)
    expected = report.charts
    assert expected, "nothing to draw"

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
        counts = {
            chart.chart_id: page.eval_on_selector(
                f'figure[data-chart="{chart.chart_id}"]',
                "(e, marks) => e.querySelectorAll(marks).length",
                MARKS if chart.kind == "vega" else "tbody tr",
            )
            for chart in expected
        }
        screenshot = REPO / "target" / "report-screenshot.png"
        screenshot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()

    (REPO / "target" / "report-browser.json").write_text(
        json.dumps({"report": str(report.path), "db": str(db), "marks": counts}, indent=2)
    )
    assert state == "true", problems
    assert not problems, problems
    assert not requested, f"the page tried to fetch {requested}"
    for chart in expected:
        if chart.kind == "table":
            assert counts[chart.chart_id] == chart.rows, chart
        else:
            assert counts[chart.chart_id] > 0, f"{chart.chart_id} drew no marks"
    # one circle per peer connection: the marks are the data, not decoration
    bandwidth = next((c for c in expected if c.chart_id == "peer_bandwidth"), None)
    if bandwidth:
        assert counts["peer_bandwidth"] == bandwidth.rows
