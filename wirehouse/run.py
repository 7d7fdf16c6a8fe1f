"""`wirehouse run`'s machinery: the run lock, the build plan and the dbt build. The run itself
(ingest every source, build, publish, report, record) is ``wirehouse.api.run``.

- One run at a time per warehouse: a lock file beside it (``<warehouse>.run.lock``, flock,
  released by the OS if the process dies) makes a second run exit at once (RunBusy).
- Ingest is `wirehouse ingest` for each source: unchanged files are skipped by the manifest.
- The build is `dbt build` in this process (dbt's programmatic runner: Python and dbt start
  once), without unit tests (they check logic, not data: `make test` runs them). It runs when
  files were loaded since the last good build (then only the models downstream of the raw
  tables that changed, incrementally), and in full (``--full-refresh``) the first time, after
  the dbt project or its vars changed, or after files moved to another node.
- Nothing new and nothing changed: no build, and the run says so.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.kinds import registry
from ingest.loader.warehouse import FileResult, Warehouse

if TYPE_CHECKING:  # wirehouse.project imports wirehouse.api, which imports this module
    from wirehouse.project import Project

DBT_PROJECT = Path(__file__).resolve().parents[1]  # dbt_project.yml and profiles.yml
# what a build depends on besides the data: a change here rebuilds everything
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")


class RunBusy(Exception):
    """Another `wirehouse run` holds this warehouse."""


@dataclass
class BuildResult:
    mode: str  # incremental | full
    reason: str
    ok: bool
    seconds: float
    selected: list[str] = field(default_factory=list)  # the models and seeds built
    counts: dict[str, int] = field(default_factory=dict)  # models / tests / seeds that ran
    failures: list[str] = field(default_factory=list)  # one line per node that did not pass
    busy: bool = False  # dbt could not lock the warehouse


class DbtParse:
    """Import dbt and parse the project (2-3 s of Python) in a thread, while DuckDB loads the
    files: parsing reads the project, not the warehouse."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.thread: threading.Thread | None = None
        self.result: object = None
        self.seconds = 0.0  # the parse's own time, part of the build's

    def start(self) -> None:
        if self.thread is None:
            os.environ["WIREHOUSE_DB"] = str(self.project.warehouse)  # profiles.yml reads it
            self.thread = threading.Thread(target=self._parse, name="dbt-parse")
            self.thread.start()

    def _parse(self) -> None:
        started = time.perf_counter()
        from dbt.cli.main import dbtRunner

        self.result = dbtRunner().invoke(["parse", *dbt_arguments(self.project)])
        self.seconds = time.perf_counter() - started

    def parsed(self) -> object:
        """The parse's dbtRunnerResult (parsing now if it was not started)."""
        self.start()
        assert self.thread is not None
        self.thread.join()
        return self.result


def dbt_arguments(project: Project) -> list[str]:
    """The arguments every dbt invocation of a run shares."""
    target = project.target_path or DBT_PROJECT / "target"
    # no manifest.json (writing it costs ~1.2 s per invocation at this project's size); the
    # partial parse file is still kept, and dbt_build writes run_results.json
    arguments = [
        *("--quiet", "--no-use-colors", "--log-level-file", "info", "--no-write-json"),
        *("--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)),
        *("--target-path", str(target), "--log-path", str(target.parent / "logs")),
    ]
    if project.vars:
        arguments += ["--vars", json.dumps(project.vars, sort_keys=True)]
    return arguments


@dataclass(frozen=True)
class BuildPlan:
    mode: str  # incremental | full
    reason: str
    rebuild: list[str]  # raw tables whose downstream models are built
    new: list[str] = field(default_factory=list)  # of those, the ones never built before
    views: bool = True  # also (re)create views (their SQL changed, or a kind is new)


def plan_build(
    wh: Warehouse, fingerprint: str, full_refresh: bool, files: list[FileResult]
) -> BuildPlan | None:
    """The build this run needs, or None: only the models that read raw tables of the kinds
    that have data (a Bitcoin node's warehouse has no capture marts), with what they need."""
    last = wh.last_build()
    relabelled = any(f.status == "relabelled" for f in files)
    reason = ""
    if full_refresh:
        reason = "--full-refresh"
    elif last is None:
        reason = "first build"
    elif last[0] != fingerprint:
        reason = "the dbt project or its vars changed"
    elif relabelled:
        reason = "files moved to another node"
    if reason:
        tables = tables_of_kinds(wh.kinds_loaded_since(None))
        return BuildPlan("full", reason, tables, new=tables) if tables else None
    loaded, removed = wh.kinds_loaded_since(last[1]), wh.kinds_removed_since(last[1])
    changed = loaded | removed
    if not changed:
        return None
    new = tables_of_kinds(loaded - wh.kinds_loaded_until(last[1]))
    # views only change with the project (then the build is full) unless a kind is new
    reason = "; ".join(
        f"{what}: {', '.join(sorted(kinds))}"
        for what, kinds in (("new data", loaded), ("rows removed", removed))
        if kinds
    )
    return BuildPlan("incremental", reason, tables_of_kinds(changed), new=new, views=bool(new))


def selection(manifest: object, plan: BuildPlan) -> list[str]:
    """The models and seeds the plan builds: everything downstream of its raw tables and, for
    tables never built before, what those models read. Computed here rather than with dbt's
    ``@`` operator, whose ancestors-of-descendants walk goes through the exposures (they
    list every mart) and so selects every model of every kind."""
    manifest.build_parent_and_child_maps()
    children, parents = manifest.child_map, manifest.parent_map
    buildable = ("model.", "seed.")

    def walk(start: list[str], edges: dict[str, list[str]]) -> set[str]:
        found: set[str] = set()
        todo = list(start)
        while todo:
            for node in edges.get(todo.pop(), []):
                if node.startswith(buildable) and node not in found:
                    found.add(node)
                    todo.append(node)
        return found

    def downstream(tables: list[str]) -> set[str]:
        ids = [uid for uid, src in manifest.sources.items() if src.name in tables]
        return walk(ids, children)

    chosen = downstream(plan.rebuild)
    chosen |= walk(sorted(downstream(plan.new)), parents)
    return sorted(manifest.nodes[uid].name for uid in chosen)


def tables_of_kinds(kinds: set[str]) -> list[str]:
    return sorted({table.name for kind in kinds for table in registry()[kind].tables})


def build_fingerprint(variables: dict[str, object]) -> str:
    """sha256 of everything a build depends on except the data: dbt project files and vars."""
    digest = hashlib.sha256(json.dumps(variables, sort_keys=True, default=str).encode())
    for name in PROJECT_FILES:
        root = DBT_PROJECT / name
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(DBT_PROJECT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def dbt_build(project: Project, plan: BuildPlan, parsing: DbtParse) -> BuildResult:
    """`dbt build` of the plan's selection in this process (no unit tests): dbt parses the
    project once (``parsing``, started while files loaded), the selection is computed from
    that manifest, the build reuses it."""
    from dbt.cli.main import dbtRunner  # imported by the parse: only when there is work

    started = time.perf_counter()
    common = dbt_arguments(project)
    # buildable: the tests of what is built, also those reading its upstream models (not
    # those reading a model outside the selection, which may not exist in this warehouse)
    args = ["build", *common, "--exclude-resource-type", "unit_test"]
    args += ["--indirect-selection", "buildable"]
    if not project.data_tests:
        args += ["--exclude-resource-type", "test"]
    if not plan.views:
        args += ["--exclude", "config.materialized:view"]
    if plan.mode == "full":
        args.append("--full-refresh")
    try:
        parsed = parsing.parsed()
        started = time.perf_counter() - parsing.seconds  # dbt's time in all: parse and build
        if parsed.exception is not None or parsed.result is None:
            return failed_build(plan, started, parsed.exception)
        selected = selection(parsed.result, plan)
        if not selected:
            return BuildResult(plan.mode, plan.reason, True, time.perf_counter() - started)
        outcome = dbtRunner(manifest=parsed.result).invoke([*args, "--select", *selected])
    finally:
        close_dbt_connection()
    if outcome.exception is not None or outcome.result is None:
        return failed_build(plan, started, outcome.exception)
    target = project.target_path or DBT_PROJECT / "target"
    outcome.result.write(str(target / "run_results.json"))  # what `dbt build` leaves
    return build_result(plan, outcome, selected, started)


def build_result(
    plan: BuildPlan, outcome: object, selected: list[str], started: float
) -> BuildResult:
    """What a finished dbt build did: counts per resource type, a line per failed node."""
    counts: dict[str, int] = {}
    failures = []
    for node_result in outcome.result.results:
        node = node_result.node
        status = str(node_result.status)
        counts[node.resource_type] = counts.get(node.resource_type, 0) + 1
        if status not in ("success", "pass", "warn", "no-op"):  # exposures are no-ops
            message = _line(node_result.message)
            failures.append(f"{status} {node.resource_type} {node.name}: {message}")
    return BuildResult(
        plan.mode,
        plan.reason,
        outcome.success and not failures,
        time.perf_counter() - started,
        selected,
        counts,
        failures,
        busy=any("Could not set lock" in f for f in failures),
    )


def failed_build(plan: BuildPlan, started: float, exc: BaseException | None) -> BuildResult:
    message = _line(exc) if exc is not None else "dbt did not run"
    return BuildResult(
        plan.mode,
        plan.reason,
        False,
        time.perf_counter() - started,
        failures=[f"dbt: {message}"],
        busy="Could not set lock" in message or "Conflicting lock" in message,
    )


def close_dbt_connection() -> None:
    """dbt-duckdb keeps its DuckDB instance open in this process after a build (1.11: a class
    attribute); close it, so publish and the report can open the file read-only, and other
    processes (BI readers) are not locked out while the run finishes."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager as Manager

    with Manager._LOCK:
        env, Manager._ENV = Manager._ENV, None
    if env is not None:
        env.close()


def _line(value: object) -> str:
    text = str(value or "").strip()
    return text.splitlines()[0] if text else ""


@contextmanager
def run_lock(warehouse: Path) -> Iterator[None]:
    """Hold ``<warehouse>.run.lock`` for the whole run; RunBusy if another run holds it."""
    path = warehouse.with_name(warehouse.name + ".run.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise RunBusy(
                f"{warehouse}: another `wirehouse run` is working on it ({holder});"
                " this run did nothing. A timer can simply try again later"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()}, started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
