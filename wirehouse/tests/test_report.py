"""`wirehouse report`: which charts each user gets, what the page says is missing, offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import sqlglot
import yaml
from click.testing import CliRunner
from sqlglot import exp

from ingest.tests.helpers import REPO, DemoWarehouse, bitcoin_only_db, copy_marts
from wirehouse.cli import main
from wirehouse.serve.query import connect_reader
from wirehouse.serve.report import SECTIONS, write_report
from wirehouse.serve.report.base import Marts

ALL_CHARTS = [c.chart_id for s in SECTIONS for c in s.charts]
BITCOIN_CHARTS = [c.chart_id for s in SECTIONS if s.section_id == "bitcoin" for c in s.charts]


@pytest.mark.integration
def test_every_kind_of_data_shows_every_chart(every_kind_db: Path, tmp_path: Path) -> None:
    with connect_reader(every_kind_db) as con:
        result = write_report(con, tmp_path)
    assert [c.chart_id for c in result.charts] == ALL_CHARTS
    assert all(c.rows > 0 for c in result.charts), result.charts
    assert not [line for s in result.sections for line in s.missing]
    html = result.path.read_text()
    # self-contained: the libraries are inline, nothing is fetched
    assert "window.vegaEmbed=" in html
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']?https?:""", html)
    specs = json.loads(re.search(r'id="wirehouse-specs">(.*?)</script>', html, re.S).group(1))
    vega = [c.chart_id for c in result.charts if c.kind == "vega"]
    assert sorted(specs) == sorted(vega)


@pytest.mark.integration
def test_bitcoin_user_sees_what_is_missing_for_captures_and_bluetooth(
    demo_warehouse: DemoWarehouse, tmp_path: Path
) -> None:
    db = bitcoin_only_db(demo_warehouse, tmp_path / "bitcoin.duckdb")
    with connect_reader(db) as con:
        result = write_report(con, tmp_path / "out")
    assert [c.chart_id for c in result.charts] == BITCOIN_CHARTS
    html = result.path.read_text()
    # the kinds never loaded: no section of blanks, one line naming them and how to load them
    others = [s for s in SECTIONS if s.section_id != "bitcoin"]
    assert [s.section_id for s in result.sections if not s.held] == [s.section_id for s in others]
    assert all(not s.missing for s in result.sections)
    no_data = re.search(r'<p class="meta" id="no-data">(.*?)</p>', html, re.S).group(1)
    for section in others:
        assert section.title in no_data and section.load_hint in no_data
        assert f'<section id="{section.section_id}">' not in html


def test_empty_warehouse_still_writes_a_page(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    result = CliRunner().invoke(
        main, ["report", "--db", str(db), "--live", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    titles = ", ".join(s.title for s in SECTIONS)
    assert result.output.splitlines()[0] == f"no data yet: {titles}"
    assert "missing:" not in result.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert "No data yet for" in html and "<section" not in html
    assert "window.vegaEmbed" not in html  # no chart, no 0.9 MB of JavaScript


@pytest.mark.integration
def test_zero_inv_chart_says_when_there_are_no_such_peers(
    demo_warehouse: DemoWarehouse, tmp_path: Path
) -> None:
    db = tmp_path / "no-zero-inv.duckdb"
    copy_marts(demo_warehouse.db, db, ["rpt_peer_message_share_areas"])
    with duckdb.connect(str(db)) as con:
        con.execute("delete from marts.rpt_peer_message_share_areas where peer_set = 'zero_inv'")
    with connect_reader(db) as con:
        result = write_report(con, tmp_path / "out")
    assert [c.chart_id for c in result.charts] == ["message_shares_all"]
    assert "No zero-inv peers" in result.path.read_text()


@pytest.mark.integration
def test_bluetooth_charts_say_when_only_one_offs_and_id_packets_were_seen(
    every_kind_db: Path, tmp_path: Path
) -> None:
    """A sniff that caught only ID packets, each device once (no piconet heard)."""
    db = tmp_path / "id-only.duckdb"
    copy_marts(
        every_kind_db,
        db,
        [
            "dim_bluetooth_devices",
            "fct_bluetooth_device_packet_types",
            "fct_bluetooth_packet_types_per_second",
        ],
    )
    with duckdb.connect(str(db)) as con:
        con.execute("delete from marts.dim_bluetooth_devices where is_seen_more_than_once")
        con.execute(
            "delete from marts.fct_bluetooth_device_packet_types where not is_id_packet_type"
        )
    with connect_reader(db) as con:
        result = write_report(con, tmp_path / "out")
    # the device table, and the ID packets per second
    shown = [c.chart_id for c in result.charts]
    assert shown == ["bluetooth_devices", "bluetooth_packet_types_per_second"]
    bluetooth = next(s for s in result.sections if s.section_id == "bluetooth")
    said = [line.split(": ", 1)[1] for line in bluetooth.missing[:4]]
    assert said[0].startswith("Every device was seen only once")
    assert said[1] == "No device sent anything but ID packets."
    assert said[2] == said[3] == "Only ID packets were seen (access codes, nothing after them)."
    assert "Every device was seen only once" in result.path.read_text()


class RecordingMarts(Marts):
    """Marts that remember which tables each chart's SQL reads."""

    read: set[str]

    def rows(self, sql: str) -> list[tuple]:
        self._note(sql)
        return super().rows(sql)

    def records(self, sql: str) -> list[dict[str, object]]:
        self._note(sql)
        return super().records(sql)

    def _note(self, sql: str) -> None:
        tree = sqlglot.parse_one(sql, read="duckdb")
        self.read |= {f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db}


@pytest.mark.integration
def test_charts_read_only_the_marts_they_declare_and_the_exposure_lists(
    every_kind_db: Path,
) -> None:
    """Each chart's SQL reads only the marts in its `needs` (so the page says the right
    thing is missing), and the report exposure in models/exposures.yml lists them all."""
    with connect_reader(every_kind_db) as con:
        for section in SECTIONS:
            for chart in section.charts:
                marts = RecordingMarts(con)
                marts.read = set()
                chart.draw(marts)
                assert marts.read == set(chart.needs), chart.chart_id
    needs = {t.split(".")[1] for s in SECTIONS for c in s.charts for t in c.needs}
    exposures = yaml.safe_load((REPO / "models" / "exposures.yml").read_text())["exposures"]
    report = next(e for e in exposures if e["name"] == "chart_report")
    assert {re.fullmatch(r"ref\('(\w+)'\)", d).group(1) for d in report["depends_on"]} == needs


@pytest.mark.integration
def test_chart_ids_are_unique_and_sections_say_how_to_load() -> None:
    assert len(ALL_CHARTS) == len(set(ALL_CHARTS))
    assert all(s.load_hint.startswith("wirehouse ingest") for s in SECTIONS)
