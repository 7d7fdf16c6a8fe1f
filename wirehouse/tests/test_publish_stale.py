"""`wirehouse query`, `tables` and `report` say, in one line on stderr, when the published
copy is older than the warehouse's marts: after a build that changed a mart, not after
writes that left the marts alone (ingest, `wirehouse run`'s own record), never with --live,
never failing or waiting while a writer holds the warehouse."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from ingest.loader.warehouse import Warehouse
from wirehouse import api
from wirehouse.cli import main
from wirehouse.serve import publish as publish_module
from wirehouse.serve.publish import current_version_dir, publish

pytestmark = pytest.mark.integration

NOTE = re.compile(
    r"wirehouse: note: the published copy \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\) is older than"
    r" the marts in (?P<warehouse>\S+) \(written \d{4}-\d\d-\d\d \d\d:\d\d UTC\);"
    r" run `wirehouse publish` \(or add --live\)"
)

# what a build does to a mart: dbt-duckdb's table materialization (a new table renamed in),
# an incremental model's insert, replace_partitions' delete of a partition
BUILDS = {
    "rebuild": [
        "create table marts.fct_x__dbt_tmp as select a + 1 as a, b from marts.fct_x",
        "alter table marts.fct_x rename to fct_x__dbt_backup",
        "alter table marts.fct_x__dbt_tmp rename to fct_x",
        "drop table marts.fct_x__dbt_backup",
    ],
    "insert": ["insert into marts.fct_x values (3, 'z')"],
    "delete": ["delete from marts.fct_x where a = 2"],
}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A published warehouse: one mart and one raw table (what ingest writes)."""
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        con.execute("create schema raw")
        con.execute("create table marts.fct_x as select * from (values (1, 'x'), (2, 'y')) t(a, b)")
        con.execute("comment on table marts.fct_x is 'One row per a (a): a test mart.'")
        con.execute("create table raw.rows as select 1 as x")
    publish(db)
    return db


def run(db: Path, *args: str) -> Result:
    out = CliRunner().invoke(main, [*args, "--db", str(db)])
    assert out.exit_code == 0, out.output
    return out


def notes(db: Path, tmp_path: Path, *extra: str) -> dict[str, list[str]]:
    """The note lines each reading command prints."""
    commands = {
        "query": ["query", "select count(*) from fct_x", *extra],
        "tables": ["tables", *extra],
        "report": ["report", "--out", str(tmp_path / "report"), *extra],
    }
    return {
        name: [line for line in run(db, *args).stderr.splitlines() if "note:" in line]
        for name, args in commands.items()
    }


def write(db: Path, statements: list[str]) -> None:
    with duckdb.connect(str(db)) as con:
        for statement in statements:
            con.execute(statement)


@pytest.mark.parametrize("build", list(BUILDS))
def test_a_changed_mart_gives_one_line_until_the_next_publish(
    warehouse: Path, tmp_path: Path, build: str
) -> None:
    assert notes(warehouse, tmp_path) == {"query": [], "tables": [], "report": []}
    write(warehouse, BUILDS[build])
    seen = notes(warehouse, tmp_path)
    for command, lines in seen.items():
        assert len(lines) == 1, (command, lines)
        match = NOTE.fullmatch(lines[0])
        assert match and match["warehouse"] == str(warehouse), lines[0]
    # the numbers are still the published ones (the note is why)
    count = ["query", "select count(*) as n, sum(a) as total from fct_x", "--format", "csv"]
    assert run(warehouse, *count).stdout == "n,total\n2,3\n"
    assert notes(warehouse, tmp_path, "--live") == {"query": [], "tables": [], "report": []}
    publish(warehouse)
    assert notes(warehouse, tmp_path) == {"query": [], "tables": [], "report": []}


def test_writes_that_leave_the_marts_alone_give_no_note(warehouse: Path, tmp_path: Path) -> None:
    write(warehouse, ["insert into raw.rows values (2)"])  # an ingest without a build
    assert notes(warehouse, tmp_path) == {"query": [], "tables": [], "report": []}
    # `wirehouse run` records itself after it has published (and at every timer tick)
    with Warehouse(warehouse) as opened:
        opened.record_run(
            run_id=str(uuid.uuid4()),
            started_at=datetime(2026, 1, 1),
            finished_at=datetime(2026, 1, 1),
            files_loaded=0,
            files_failed=0,
            rows_loaded=0,
            build="none",
            build_fingerprint="x",
            built_through=None,
        )
    assert notes(warehouse, tmp_path) == {"query": [], "tables": [], "report": []}


def test_the_warehouse_is_compared_once_per_change(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[Path] = []
    real = publish_module._compare_marts

    def counted(db: Path, fingerprint: str) -> object:
        compared.append(db)
        return real(db, fingerprint)

    monkeypatch.setattr(publish_module, "_compare_marts", counted)
    seen: list[api.Stale] = []
    where = api.ReadFrom(warehouse)

    def query() -> None:
        with api.query("select 1", where, seen.append) as result:
            assert result is not None and result.fetchall() == [(1,)]

    query()
    assert (compared, seen) == ([], [])  # the file is as published: one stat, no open
    write(warehouse, ["insert into raw.rows values (2)"])
    query()
    query()
    assert (len(compared), seen) == (1, [])  # then checked.json answers
    write(warehouse, BUILDS["insert"])
    query()
    query()
    assert len(compared) == 2 and len(seen) == 2
    assert seen[0].warehouse == warehouse and seen[0].written_at >= seen[0].published_at


def test_a_busy_warehouse_is_not_waited_for(warehouse: Path, tmp_path: Path) -> None:
    write(warehouse, BUILDS["insert"])
    holder = subprocess.Popen(  # a build still writing: DuckDB refuses readers at once
        [
            sys.executable,
            "-c",
            f"import duckdb,sys; c=duckdb.connect({str(warehouse)!r});"
            " print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        out = run(warehouse, "query", "select count(*) as n from fct_x", "--format", "csv")
        assert time.monotonic() - started < 10
        assert (out.stdout, out.stderr) == ("n\n2\n", "")  # nothing said, nothing failed
    finally:
        holder.communicate("")
    assert not (current_version_dir(warehouse.parent / "published") / "checked.json").exists()
    assert len(notes(warehouse, tmp_path)["query"]) == 1  # told once the writer is done


def test_nothing_to_compare_gives_no_note(warehouse: Path, tmp_path: Path) -> None:
    version_dir = current_version_dir(warehouse.parent / "published")
    assert version_dir is not None
    (version_dir / "source.json").write_text("{not json")
    write(warehouse, BUILDS["insert"])
    assert notes(warehouse, tmp_path)["query"] == []
    publish(warehouse)
    write(warehouse, BUILDS["insert"])
    moved = warehouse.rename(tmp_path / "elsewhere.duckdb")  # the warehouse is gone
    out = run(moved, "query", "select 1", "--published", str(tmp_path / "published"))
    assert out.stderr == ""
