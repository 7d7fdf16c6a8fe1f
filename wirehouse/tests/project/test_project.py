"""Project rules dbt cannot express, checked on target/manifest.json and compiled SQL.

Runs after `dbt build` (make project-checks). What dbt_project_evaluator would check:
layers and names, marts under contract with a primary-key test, marts never reading raw;
plus every compiled model parsed by sqlglot as DuckDB.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlglot

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "target" / "manifest.json"
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
        assert "unique_combination_of_columns" in kinds or {"unique", "not_null"} <= kinds, (
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
