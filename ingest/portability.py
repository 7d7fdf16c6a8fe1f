"""Which dbt models still speak only DuckDB: transpile each compiled model to Spark SQL.

A report, not a gate (`make project-checks` prints it): DuckDB is our engine; this tells a
team moving to Spark where the work would be.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import sqlglot


def duckdb_only_models(manifest_path: Path) -> tuple[list[str], int]:
    manifest = json.loads(manifest_path.read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    stuck = []
    for node in models:
        try:
            sqlglot.transpile(
                node.get("compiled_code") or "",
                read="duckdb",
                write="spark",
                unsupported_level=sqlglot.ErrorLevel.RAISE,
            )
        except sqlglot.errors.SqlglotError:
            stuck.append(node["name"])
    return sorted(stuck), len(models)


if __name__ == "__main__":
    stuck, total = duckdb_only_models(
        Path(sys.argv[1] if len(sys.argv) > 1 else "target/manifest.json")
    )
    print(
        f"Spark portability: {total - len(stuck)}/{total} models transpile; DuckDB-only: "
        f"{', '.join(stuck) or 'none'}"
    )
