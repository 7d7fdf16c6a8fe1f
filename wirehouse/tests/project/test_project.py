"""Project rules dbt cannot express, checked on target/manifest.json and compiled SQL.

Runs after `dbt build` (make project-checks). What dbt_project_evaluator would check:
layers and names, marts under contract with a primary-key test, marts never reading raw;
plus every compiled model parsed by sqlglot as DuckDB, and var_rules' read_by lists exact.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pytest
import sqlglot

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "target" / "manifest.json"
VAR_CALL = re.compile(r"""\bvar\(\s*['"](\w+)['"]""")
PREFIX = {"staging": "stg_", "intermediate": "int_", "marts": ("fct_", "dim_", "rpt_")}


@pytest.fixture(scope="module")
def manifest() -> dict:
    assert MANIFEST.exists(), "run `dbt build` (or `make test`) first"
    return json.loads(MANIFEST.read_text())


def models(manifest: dict) -> list[dict]:
    found = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert found, "manifest has no models"
    return found


def layer(node: dict) -> str:
    return node["fqn"][1]


def attached_tests(manifest: dict, unique_id: str) -> list[dict]:
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and unique_id in n["depends_on"]["nodes"]
    ]


def test_models_live_in_a_layer_and_are_named_for_it(manifest: dict) -> None:
    for node in models(manifest):
        assert layer(node) in PREFIX, f"{node['name']} is outside staging/intermediate/marts"
        assert node["name"].startswith(PREFIX[layer(node)]), f"{node['name']} misnamed"


def test_every_model_and_mart_column_is_described(manifest: dict) -> None:
    for node in models(manifest):
        assert node["description"].strip(), f"{node['name']} has no description"
        if layer(node) == "marts":
            assert node["columns"], f"{node['name']} documents no columns"
            for name, column in node["columns"].items():
                assert column["description"].strip(), f"{node['name']}.{name} undescribed"


def test_marts_have_contract_grain_and_primary_key(manifest: dict) -> None:
    for node in models(manifest):
        if layer(node) != "marts":
            continue
        assert node["config"]["contract"]["enforced"], f"{node['name']} has no contract"
        assert node["description"].lower().startswith("one row per"), (
            f"{node['name']}: description must start with its grain ('One row per ...')"
        )
        kinds = {
            t["test_metadata"]["name"]
            for t in attached_tests(manifest, node["unique_id"])
            if t.get("test_metadata")
        }
        assert "primary_key" in kinds or {"unique", "not_null"} <= kinds, (
            f"{node['name']} has no primary-key test"
        )


def test_only_staging_reads_sources(manifest: dict) -> None:
    for node in models(manifest):
        sources = [d for d in node["depends_on"]["nodes"] if d.startswith("source.")]
        if layer(node) != "staging":
            assert not sources, f"{node['name']} reads {sources}; go through staging"


def test_compiled_models_parse_as_duckdb(manifest: dict) -> None:
    for node in models(manifest):
        compiled = node.get("compiled_code")
        assert compiled, f"{node['name']} not compiled"
        sqlglot.parse_one(compiled, read="duckdb")


def vars_read(manifest: dict, node: dict) -> set[str]:
    """The vars a node reads in its own SQL or through any macro it calls."""
    read = set(VAR_CALL.findall(node["raw_code"]))
    seen: set[str] = set()
    todo = list(node["depends_on"]["macros"])
    while todo:
        uid = todo.pop()
        if uid in seen or uid not in manifest["macros"]:
            continue
        seen.add(uid)
        macro = manifest["macros"][uid]
        if macro["name"] != "var_rules":  # it names every var; it reads none
            read |= set(VAR_CALL.findall(macro["macro_sql"]))
        todo += macro["depends_on"]["macros"]
    return read


def test_var_rules_name_the_models_that_read_each_var(manifest: dict) -> None:
    # built_with rebuilds a model when a var it depends on changes: read_by must be exact
    macro = manifest["macros"]["macro.wirehouse.var_rules"]["macro_sql"]
    literal = macro[macro.index("return(") + len("return(") : macro.rindex(") }}")]
    rules = jinja2.Environment().compile_expression(literal)()
    readers: dict[str, set[str]] = {name: set() for name in rules}
    for node in models(manifest):
        for name in vars_read(manifest, node):
            assert name in rules, f"{node['name']} reads var {name}, which var_rules lacks"
            readers[name].add(node["name"])
    assert {name: set(rule["read_by"]) for name, rule in rules.items()} == readers
