"""Assemble the sections into one HTML file with Vega, Vega-Lite and vega-embed inline."""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import altair as alt
import duckdb
import jinja2
import vl_convert

from wirehouse.serve import REPORT_NAME
from wirehouse.serve.report.base import Marts, Nothing, Section, Table



@dataclass(frozen=True)
class ShownChart:
    chart_id: str
    title: str
    kind: str  # vega | table
    rows: int  # data rows behind it (table rows, or Vega-Lite values)


@dataclass
class SectionResult:
    section_id: str
    title: str
    charts: list[ShownChart] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # one line per chart not shown
    held: bool = True  # the warehouse holds rows for some chart (else the page omits it)


@dataclass(frozen=True)
class ReportResult:
    path: Path
    sections: list[SectionResult]

    @property
    def charts(self) -> list[ShownChart]:
        return [c for s in self.sections for c in s.charts]


@functools.cache
def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script. vl-convert bundles them offline, which
    takes seconds, so the result is kept in the user's cache directory per version."""
    vl_version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    cache_root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cached = cache_root / "wirehouse" / f"vega-embed-vl{vl_version}-vlc{_vlc_version()}.js"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle(vl_version=vl_version)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(bundle, encoding="utf-8")
        tmp.replace(cached)
    except OSError:
        pass  # a read-only home only costs the next report the same seconds
    return bundle


def _vlc_version() -> str:
    return importlib.metadata.version("vl-convert-python")


def render(marts: Marts, sections: Sequence[Section], out_dir: Path, source: str) -> ReportResult:
    blocks, results, specs, unheld = [], [], {}, []
    for section in sections:
        result = SectionResult(section.section_id, section.title)
        # a kind the warehouse never loaded: one line at the top, not a section of blanks
        if not any(marts.has_rows(t) for chart in section.charts for t in chart.needs):
            result.held = False
            results.append(result)
            unheld.append(section)
            continue
        items, empty_marts = [], []
        for chart in section.charts:
            empty = [t for t in chart.needs if not marts.has_rows(t)]
            if empty:
                result.missing.append(f"{chart.title}: no rows in {', '.join(empty)}")
                empty_marts.extend(t for t in empty if t not in empty_marts)
                continue
            marts.datasets, marts.params = {}, []
            try:
                drawing = chart.draw(marts)
            except duckdb.Error as exc:  # a mart an older wirehouse built, not rebuilt since
                reason = str(exc).strip().splitlines()[0]
                result.missing.append(f"{chart.title}: {reason} (rebuild with dbt build)")
                continue
            if isinstance(drawing, Nothing):
                items.append({"chart": chart, "kind": "nothing", "message": drawing.message})
                result.missing.append(f"{chart.title}: {drawing.message}")
            elif isinstance(drawing, Table):
                items.append({"chart": chart, "kind": "table", "table": drawing})
                result.charts.append(
                    ShownChart(chart.chart_id, chart.title, "table", len(drawing.rows))
                )
            else:
                spec = drawing.to_dict()
                spec["datasets"] = {**spec.get("datasets", {}), **marts.datasets}
                if marts.params:
                    spec["params"] = [*spec.get("params", []), *marts.params]
                specs[chart.chart_id] = spec
                items.append({"chart": chart, "kind": "vega"})
                result.charts.append(
                    ShownChart(
                        chart.chart_id, chart.title, "vega", _value_count(specs[chart.chart_id])
                    )
                )
        blocks.append(
            {"section": section, "items": items, "result": result, "empty_marts": empty_marts}
        )
        results.append(result)
    html = TEMPLATE.render(
        blocks=blocks,
        unheld=unheld,
        source=source,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        # "</" would end the script element early
        specs_json=json.dumps(specs, separators=(",", ":")).replace("</", "<\\/"),
        bundle=javascript_bundle() if specs else "",
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_NAME
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return ReportResult(path, results)


def _value_count(spec: dict) -> int:
    """Rows of inline data in a Vega-Lite spec (altair puts them in datasets or data)."""
    found = [len(v) for v in spec.get("datasets", {}).values()]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            values = (
                node.get("data", {}).get("values") if isinstance(node.get("data"), dict) else None
            )
            if isinstance(values, list):
                found.append(len(values))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk({k: v for k, v in spec.items() if k != "datasets"})
    return sum(found)


TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wirehouse report</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px;
         padding: 0 24px 48px; color: #222; }
  header { border-bottom: 1px solid #ddd; margin-bottom: 8px; }
  nav a { margin-right: 14px; }
  section { margin-top: 28px; }
  figure { margin: 18px 0 26px; }
  figcaption { color: #555; font-size: 12.5px; max-width: 860px; }
  h3 { font-size: 15px; margin: 0 0 6px; }
  .missing { color: #8a5a00; background: #fff7e6; padding: 6px 10px; border-radius: 4px; }
  table { border-collapse: collapse; font-size: 13px; }
  .table-wrap { overflow-x: auto; max-width: 100%; }  /* a wide table scrolls, the page not */
  th, td { border-bottom: 1px solid #e5e5e5; padding: 4px 10px; text-align: left; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .meta { color: #666; font-size: 12.5px; }
</style>
{% if bundle %}<script>{{ bundle | safe }}</script>{% endif %}
</head>
<body>
<header>
  <h1>wirehouse report</h1>
  <p class="meta">From {{ source }}, {{ generated_at }}. Times are UTC.</p>
  <nav>{% for block in blocks %}
    <a href="#{{ block.section.section_id }}">{{ block.section.title }}</a>
  {% endfor %}</nav>
  {% if unheld %}
  <p class="meta" id="no-data">No data yet for
    {% for section in unheld %}<span title="load it with {{ section.load_hint }}">{{
      section.title }}</span>{{ ", " if not loop.last else "" }}{% endfor %}
    (load with: {% for section in unheld %}{{ section.load_hint }}{{
      "; " if not loop.last else "" }}{% endfor %}).</p>
  {% endif %}
</header>
{% for block in blocks %}
<section id="{{ block.section.section_id }}">
  <h2>{{ block.section.title }}</h2>
  {% if block.section.intro %}<p>{{ block.section.intro }}</p>{% endif %}
  {% if not block["items"] %}
  <p class="missing">Nothing to show yet: no rows in {{ block.empty_marts | join(", ") }}.
    Load the data with {{ block.section.load_hint }}.</p>
  {% endif %}
  {% for item in block["items"] %}
  <figure data-chart="{{ item.chart.chart_id }}" data-kind="{{ item.kind }}">
    <h3>{{ item.chart.title }}</h3>
    {% if item.kind == "vega" %}
    <div class="vega" id="chart-{{ item.chart.chart_id }}"></div>
    {% elif item.kind == "table" %}
      {% if item.table.rows %}
      <div class="table-wrap"><table>
        <thead><tr>{% for c in item.table.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
        <tbody>{% for row in item.table.rows %}<tr>{% for v in row %}
          <td{% if v is number %} class="num"{% endif %}>{{ "" if v is none else v }}</td>
        {% endfor %}</tr>{% endfor %}</tbody>
      </table></div>
      {% else %}<p class="missing">{{ item.table.empty }}</p>{% endif %}
    {% else %}
    <p class="missing">{{ item.message }}</p>
    {% endif %}
    {% if item.chart.caption %}<figcaption>{{ item.chart.caption }}</figcaption>{% endif %}
  </figure>
  {% endfor %}
  {% if block["items"] and block.result.missing %}
  <ul class="missing">{% for line in block.result.missing %}<li>{{ line }}</li>{% endfor %}</ul>
  {% endif %}
</section>
{% endfor %}
<script type="application/json" id="wirehouse-specs">{{ specs_json | safe }}</script>
<script>
  // Render every chart as SVG; the page says when all are drawn (the browser test waits on it).
  const specs = JSON.parse(document.getElementById("wirehouse-specs").textContent);
  // exporting PNG/SVG works offline; the editor and source links would leave the page
  const options = {
    renderer: "svg",
    actions: {export: true, source: false, compiled: false, editor: false},
  };
  Promise.all(Object.entries(specs).map(
    ([id, spec]) => vegaEmbed("#chart-" + id, spec, options)
  )).then(() => { document.body.dataset.rendered = "true"; })
    .catch((error) => { document.body.dataset.rendered = "failed"; console.error(error); });
</script>
</body>
</html>
"""
)
