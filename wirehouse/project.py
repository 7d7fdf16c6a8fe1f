"""wirehouse.toml: the sources `wirehouse run` loads, the warehouse it writes, the dbt vars.

    [warehouse]
    path = "warehouse.duckdb"            # relative paths are relative to this file
    engine = "duckdb"                    # or "spark" (wirehouse/spark/run.py)
    spark_master = "local[2]"            # engine = "spark": the session's master URL
    spark_dir = "spark"                  # engine = "spark": warehouse and metastore

    [build]
    vars = { counter_mode = "exact" }    # dbt vars (dbt_project.yml lists them)

    [[source]]
    kind = "tracepoints"                 # a `wirehouse ingest` kind
    paths = ["/srv/tau"]                 # files, folders (the kind's layout) or globs
    node = "tau"                         # optional: else the folder above the layout

Other keys of a source are the kind's options (`counters` for systemd, `kafka_ports` and
`bitcoin_ports` for pcap, `start` for tshark), as `wirehouse ingest <kind>` takes them. The
commented `wirehouse.toml` at the repo root is the full reference.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.kinds.base import SourceKind
from ingest.loader.files import NodeNameError, check_node
from wirehouse.api import OptionError, UsageError, make_kind
from wirehouse.run import DBT_PROJECT

DEFAULT_FILE = "wirehouse.toml"
SECTIONS = {"warehouse", "build", "publish", "report", "source"}


class ProjectError(UsageError):
    """A project file that cannot be used: one line naming the file and the setting."""


def project_vars() -> list[str]:
    """The names of the dbt project's vars (its dbt_project.yml)."""
    with (DBT_PROJECT / "dbt_project.yml").open() as f:
        return list(yaml.safe_load(f)["vars"])


@dataclass(frozen=True)
class Source:
    kind: str
    paths: tuple[Path, ...]  # absolute; may hold glob patterns
    node: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    where: str = ""  # "source 2" for messages

    def source_kind(self) -> SourceKind:
        return make_kind(self.kind, **self.options)


@dataclass(frozen=True)
class Project:
    path: Path
    warehouse: Path
    sources: tuple[Source, ...]
    vars: dict[str, object] = field(default_factory=dict)
    target_path: Path | None = None  # dbt's target/ (default: the dbt project's own)
    data_tests: bool = True  # run the data tests of what was built
    publish_dir: Path | None = None  # [publish] present: publish there after each build
    report_dir: Path | None = None  # [report] present: write the report there
    engine: str = "duckdb"  # duckdb | spark
    spark_master: str = "local[2]"
    spark_dir: Path = Path("spark")


def load_project(path: Path | None = None) -> Project:
    path = (path or Path(DEFAULT_FILE)).absolute()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(
            f"{path}: no such project file (see wirehouse.toml in the repo)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path}: {exc}") from None

    def fail(where: str, message: str) -> ProjectError:
        return ProjectError(f"{path}: {where}: {message}")

    unknown = set(data) - SECTIONS
    if unknown:
        raise fail(
            ", ".join(sorted(unknown)), f"unknown section (known: {', '.join(sorted(SECTIONS))})"
        )
    base = path.parent

    def table(name: str, keys: set[str]) -> dict:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise fail(name, "must be a table, e.g. [" + name + "]")
        extra = set(value) - keys
        if extra:
            raise fail(
                f"{name}.{sorted(extra)[0]}", f"unknown setting (known: {', '.join(sorted(keys))})"
            )
        return value

    def a_path(where: str, value: object, default: str | None = None) -> Path | None:
        if value is None:
            return None if default is None else _under(base, default)
        if not isinstance(value, str) or not value:
            raise fail(where, "must be a path (a string)")
        return _under(base, value)

    warehouse = table("warehouse", {"path", "engine", "spark_master", "spark_dir"})
    engine = warehouse.get("engine", "duckdb")
    if engine not in ("duckdb", "spark"):
        raise fail("warehouse.engine", f'{engine!r} is not an engine ("duckdb" or "spark")')
    spark_master = warehouse.get("spark_master", "local[2]")
    if not isinstance(spark_master, str) or not spark_master:
        raise fail("warehouse.spark_master", 'must be a master URL, e.g. "local[2]"')
    build = table("build", {"vars", "target_path", "data_tests"})
    publish = table("publish", {"directory"})
    report = table("report", {"directory"})
    variables = build.get("vars", {})
    if not isinstance(variables, dict):
        raise fail("build.vars", 'must be a table of dbt vars, e.g. { counter_mode = "exact" }')
    known = project_vars() if variables else []
    for name in variables:  # values are checked by dbt itself before any model runs
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise fail(f"build.vars.{name}", f"not a var of the dbt project{hint}")
    data_tests = build.get("data_tests", True)
    if not isinstance(data_tests, bool):
        raise fail("build.data_tests", "must be true or false")
    entries = data.get("source", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise fail("source", "list sources as [[source]] tables")
    sources = tuple(_source(entry, i + 1, base, fail) for i, entry in enumerate(entries))
    return Project(
        path=path,
        warehouse=a_path("warehouse.path", warehouse.get("path"), "warehouse.duckdb"),
        sources=sources,
        vars=variables,
        target_path=a_path("build.target_path", build.get("target_path")),
        data_tests=data_tests,
        publish_dir=a_path("publish.directory", publish.get("directory"), "published")
        if "publish" in data
        else None,
        report_dir=a_path("report.directory", report.get("directory"), "report")
        if "report" in data
        else None,
        engine=engine,
        spark_master=spark_master,
        spark_dir=a_path("warehouse.spark_dir", warehouse.get("spark_dir"), "spark"),
    )


def _under(base: Path, value: str) -> Path:
    """A path of the project file, relative to its folder; `..` collapsed, so files are
    printed as users think of them (/x/btc-demo, not /x/btc/../btc-demo)."""
    return Path(os.path.normpath(base / Path(value).expanduser()))


def _source(entry: dict, number: int, base: Path, fail: Callable[..., ProjectError]) -> Source:
    where = f"source {number}"
    paths = entry.get("paths")
    if isinstance(paths, str):
        paths = [paths]
    node = entry.get("node")
    source = Source(
        kind=entry.get("kind"),
        paths=tuple(_under(base, p) for p in paths or () if isinstance(p, str)),
        node=node,
        options={k: v for k, v in entry.items() if k not in ("kind", "paths", "node")},
        where=where,
    )
    try:
        source.source_kind()  # the kind and its options, checked as `wirehouse ingest` does
    except OptionError as exc:
        raise fail(f"{where}.{exc.option}", exc.reason) from None
    if not paths or not all(isinstance(p, str) and p for p in paths):
        raise fail(f"{where}.paths", "give a list of files, folders or globs")
    if node is not None:
        try:
            check_node(node if isinstance(node, str) else "")
        except NodeNameError as exc:
            raise fail(f"{where}.node", str(exc)) from None
    return source
