"""The marts' contracts as the dbt project declares them (models/marts/**/_*__models.yml):
name, description and typed columns, with `{{ doc("...") }}` blocks filled in.

Publish uses them to put every mart into the published copy, also those a warehouse never
built because their kind of data was never loaded (`wirehouse run` builds only the models
of the kinds it has): a dashboard on such a mart shows no rows instead of failing with
"does not exist". Read from the YAML, not dbt's manifest, which `wirehouse run` does not
write (a parse would cost seconds per publish).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
import yaml

# libyaml's loader where PyYAML has it: the pure-Python one took 0.8 s of every publish
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DOCS_BLOCK = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.DOTALL)


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    description: str


@dataclass(frozen=True)
class MartContract:
    name: str
    description: str
    columns: tuple[Column, ...]

    def create_sql(self, schema: str = "marts") -> str:
        columns = ", ".join(f'"{c.name}" {c.data_type}' for c in self.columns)
        return f"create table {schema}.{self.name} ({columns})"


def mart_contracts(project: Path) -> dict[str, MartContract]:
    """Every mart with an enforced contract in the dbt project at `project`, by name."""
    return dict(_contracts(project.resolve()))


@cache
def _contracts(project: Path) -> tuple[tuple[str, MartContract], ...]:
    docs = {
        name: text.strip()
        for path in sorted((project / "models").rglob("*.md"))
        for name, text in DOCS_BLOCK.findall(path.read_text())
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals["doc"] = lambda name: docs[name]
    # published copies are DuckDB files: types written per engine render as DuckDB's
    env.globals["target"] = {"type": "duckdb"}

    def render(text: str | None) -> str:
        # as dbt does: only text with Jinja in it is rendered (losing a trailing newline)
        return env.from_string(text).render() if text and "{" in text else text or ""

    marts = {p.stem for p in (project / "models" / "marts").rglob("*.sql")}
    found = []
    for path in sorted((project / "models" / "marts").rglob("*.yml")):
        for model in (yaml.load(path.read_text(), LOADER) or {}).get("models", []):
            if model["name"] not in marts or not model.get("columns"):
                continue
            columns = tuple(
                Column(c["name"], render(c["data_type"]), render(c.get("description")))
                for c in model["columns"]
            )
            found.append(
                (
                    model["name"],
                    MartContract(model["name"], render(model.get("description")), columns),
                )
            )
    return tuple(sorted(found))
