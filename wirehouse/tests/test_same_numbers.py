"""Same numbers however you get there: a stateful property test of the user's operations.

The rules are what a Bitcoin node operator does with two nodes' nix-bitcoin-monitor files:
files arrive (part of a day, then all of it, in any order), a file is rotated by logrotate's
copytruncate, re-exported and loaded with --replace, or forgotten;
vars change through `dbt build --vars` and through wirehouse.toml; builds are plain, partial
(-s) or `wirehouse run`; the marts are published.

After every sequence the user builds once more, and then:
- every model equals `dbt run --full-refresh` of a copy of the same warehouse with the same
  vars, exactly (doubles included);
- no loaded row is missing: raw.bitcoin_p2p_messages holds every generation the loader
  promises to keep (earlier generations of a rotated file stay; --replace and forget drop);
and after each publish the published copy equals the marts it was published from.

The named tests below replay the defects issue 20 found, one sequence each (the published
copy's are in test_publish_atomic.py and test_publish_stale.py).
"""

from __future__ import annotations

import collections
import itertools
import json
import shutil
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from ingest.tests.helpers import dbt, wirehouse

pytestmark = pytest.mark.integration

NODES = ("alpha", "beta")
DAYS = ("2025-01-22", "2025-01-23")
KINDS = {"tracepoints": "tracepoints/net", "systemd": "systemd/ip_accounting"}
# the vars a node operator changes, with values that change the numbers
VAR_CHOICES = {
    "ack_ratio": [0, 2, 3],
    "counter_mode": ["exact", "seed"],
    "min_connection_seconds": [600, 3600],
    "tcp_header_bytes": [20, 32],
}
# every model the node's data reaches (a build of the whole project costs twice as much)
SELECTED = ("+marts.node_traffic", "+marts.peers", "+marts.quality")
# a build rule keeps the vars, or first changes one of them
VAR_CHANGE = st.none() | st.sampled_from(
    [(name, value) for name, values in VAR_CHOICES.items() for value in values]
)
NO_TESTS = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
NOT_COMPARED = {"loaded_at", "built_at"}  # when, not what


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


class Operations(RuleBasedStateMachine):
    """One user's warehouse; `generated` (set by the fixture) holds every file they get."""

    generated: Path
    root: Path
    counter = itertools.count()
    done: ClassVar[collections.Counter[str]] = collections.Counter()  # rules that changed something

    def __init__(self) -> None:
        super().__init__()
        self.dir = self.root / f"user{next(self.counter)}"
        self.inbox = self.dir / "inbox"
        self.inbox.mkdir(parents=True)
        self.db = self.dir / "warehouse.duckdb"
        self.vars: dict[str, object] = {}
        # per tracepoint file: the content of each generation the warehouse should hold
        self.generations: dict[Path, list[bytes]] = {}

    # -- helpers -------------------------------------------------------------------------

    def source(self, kind: str, node: str, day: str) -> Path:
        return self.generated / node / KINDS[kind] / f"{day}.csv"

    def file(self, kind: str, node: str, day: str) -> Path:
        return self.inbox / node / KINDS[kind] / f"{day}.csv"

    def loaded_tracepoints(self, node: str, day: str) -> tuple[Path | None, list[bytes]]:
        """A day's tracepoint file in the inbox (None if it never arrived), and its full lines."""
        target = self.file("tracepoints", node, day)
        if not target.exists():
            return None, []
        return target, lines_of(self.source("tracepoints", node, day))

    def write(self, path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def ingest(self, *extra: str) -> str:
        """`wirehouse ingest` of both kinds over the inbox; the tracepoint model follows."""
        notes = ""
        for kind in KINDS:
            done = wirehouse("ingest", kind, self.inbox, "--db", self.db, *extra)
            assert done.returncode == 0, done.stdout + done.stderr
            notes += done.stderr
        self.expect_loaded(replace=bool(extra))
        return notes

    def expect_loaded(self, replace: bool = False) -> None:
        """What the loader promises for each tracepoint file now in the inbox."""
        for path in sorted(self.inbox.glob(f"*/{KINDS['tracepoints']}/*.csv")):
            content = path.read_bytes()
            kept = self.generations.setdefault(path, [])
            if kept and content == kept[-1]:  # unchanged: skipped, --replace or not
                continue
            if replace or not kept:
                kept[:] = [content]
            elif content.startswith(kept[-1]):  # grown: the newest generation is replaced
                kept[-1] = content
            else:  # rotated or rewritten: a new generation, the earlier rows stay
                kept.append(content)

    def change_var(self, change: tuple[str, object] | None) -> None:
        if change is not None:
            self.vars[change[0]] = change[1]
            self.done["change_var"] += 1

    def vars_arg(self) -> tuple[str, ...]:
        return ("--vars", json.dumps(self.vars)) if self.vars else ()

    def build(self, db: Path, *args: str) -> None:
        done = dbt(db, db.parent, "build", "-s", *SELECTED, *NO_TESTS, *self.vars_arg(), *args)
        assert done.returncode == 0, done.output[-3000:]

    def check_published(self, published: Path) -> None:
        with duckdb.connect() as con:
            con.execute(f"attach '{self.db}' as live (read_only)")
            con.execute(f"attach '{published}' as copy (read_only)")
            tables = con.execute(
                "select table_name from duckdb_tables() where database_name = 'copy'"
                " and schema_name = 'marts'"
            ).fetchall()
            assert tables
            built = {
                name
                for (name,) in con.execute(
                    "select table_name from duckdb_tables() where database_name = 'live'"
                    " and schema_name = 'marts'"
                ).fetchall()
            }
            for (table,) in tables:
                if table in built:
                    assert differences(con, "live", "copy", "marts", table) == [], table
                else:  # a mart of a kind never loaded: published empty
                    [(rows,)] = con.execute(f"select count(*) from copy.marts.{table}").fetchall()
                    assert rows == 0, table

    # -- rules: what users do ------------------------------------------------------------

    @initialize(node=st.sampled_from(NODES), day=st.sampled_from(DAYS))
    def first_day(self, node: str, day: str) -> None:
        """Every sequence starts from one day of one node, ingested and built."""
        self.arrive(node, day, 1)
        self.dbt_run()

    @rule(node=st.sampled_from(NODES), day=st.sampled_from(DAYS), share=st.sampled_from([0.5, 1]))
    def arrive(self, node: str, day: str, share: float) -> None:
        """Today's files as far as they are written (share 0.5), or a whole day."""
        for kind in KINDS:
            lines = lines_of(self.source(kind, node, day))
            target = self.file(kind, node, day)
            have = target.read_bytes() if target.exists() else b""
            content = b"".join(lines[: max(2, int(len(lines) * share))])
            if content.startswith(have):  # files only grow while they are written
                self.write(target, content)
        self.ingest()
        self.done["arrive"] += 1

    @rule(node=st.sampled_from(NODES), day=st.sampled_from(DAYS))
    def rotate(self, node: str, day: str) -> None:
        """logrotate copytruncate: the file is emptied and refills with newer rows."""
        target, lines = self.loaded_tracepoints(node, day)
        if target is None:
            return
        self.write(target, lines[0] + b"".join(lines[-max(1, len(lines) // 4) :]))
        notes = self.ingest()
        assert "generation" in notes, notes
        self.done["rotate"] += 1

    @rule(node=st.sampled_from(NODES), day=st.sampled_from(DAYS))
    def replace(self, node: str, day: str) -> None:
        """A re-export of one day, loaded with --replace: it replaces what was loaded."""
        target, lines = self.loaded_tracepoints(node, day)
        if target is None:
            return
        self.write(target, b"".join(lines[: max(2, len(lines) // 3)]))
        self.ingest("--replace")
        self.done["replace"] += 1

    @rule(node=st.sampled_from(NODES), day=st.sampled_from(DAYS))
    def forget(self, node: str, day: str) -> None:
        """A file taken back out (and out of the inbox, or the next run loads it again)."""
        target = self.file("tracepoints", node, day)
        if not target.exists():
            return
        done = wirehouse("forget", target, "--db", self.db)
        assert done.returncode == 0, done.stdout + done.stderr
        target.unlink()
        del self.generations[target]
        self.done["forget"] += 1

    @rule(change=VAR_CHANGE)
    def dbt_run(self, change: tuple[str, object] | None = None) -> None:
        """A plain incremental `dbt build`, perhaps with a var changed by --vars."""
        self.change_var(change)
        if self.db.exists():
            self.build(self.db)
            self.done["dbt_build"] += 1

    @rule(change=VAR_CHANGE)
    def dbt_run_one_model(self, change: tuple[str, object] | None = None) -> None:
        """`dbt build -s` of one mart: it builds, or says in one line what to rebuild."""
        self.change_var(change)
        if not self.db.exists():
            return
        done = dbt(
            self.db,
            self.dir,
            "build",
            "-s",
            "fct_traffic_estimated_hourly",
            *NO_TESTS,
            *self.vars_arg(),
        )
        self.done["dbt_build_one_model"] += 1
        if done.returncode != 0:
            assert "build the inputs too: dbt build -s +fct_traffic_estimated_hourly" in (
                done.output
            ), done.output[-3000:]

    @rule(change=VAR_CHANGE)
    def wirehouse_run(self, change: tuple[str, object] | None = None) -> None:
        """`wirehouse run`, perhaps with a var changed in wirehouse.toml; it ingests, builds
        and publishes."""
        self.change_var(change)
        toml_vars = ", ".join(f"{k} = {json.dumps(v)}" for k, v in sorted(self.vars.items()))
        config = self.dir / "wirehouse.toml"
        config.write_text(
            '[warehouse]\npath = "warehouse.duckdb"\n'
            f'[build]\ntarget_path = "target"\ndata_tests = false\nvars = {{ {toml_vars} }}\n'
            '[publish]\ndirectory = "published"\n'
            f'[[source]]\nkind = "tracepoints"\npaths = ["{self.inbox}"]\n'
            f'[[source]]\nkind = "systemd"\npaths = ["{self.inbox}"]\n'
        )
        done = wirehouse("run", "--project", config)
        assert done.returncode == 0, done.stdout + done.stderr
        self.expect_loaded()
        self.done["wirehouse_run"] += 1
        if "nothing new" not in done.stdout:
            self.check_published(self.dir / "published" / "published.duckdb")

    @rule()
    def publish(self) -> None:
        if not self.db.exists():
            return
        done = wirehouse("publish", "--db", self.db, "--to", self.dir / "published")
        if done.returncode == 2 and "has no marts yet" in done.stderr:  # nothing built yet
            with duckdb.connect(str(self.db), read_only=True) as con:
                marts = con.execute(
                    "select count(*) from duckdb_tables() where schema_name = 'marts'"
                ).fetchone()[0]
            assert marts == 0
            return
        assert done.returncode == 0, done.stdout + done.stderr
        self.check_published(self.dir / "published" / "published.duckdb")
        self.done["publish"] += 1

    # -- the invariant ---------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.db.exists():
                self.check_invariant()
                self.done["sequences checked"] += 1
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def check_invariant(self, full_refresh: bool = True) -> None:
        self.build(self.db)  # what the user does next: a plain build
        expected_rows = sum(
            len(content.splitlines()) - 1 for kept in self.generations.values() for content in kept
        )
        with duckdb.connect(str(self.db), read_only=True) as con:
            loaded = con.execute("select count(*) from raw.bitcoin_p2p_messages").fetchone()[0]
        assert loaded == expected_rows
        if not full_refresh:
            return
        fresh = self.dir / "fresh" / "warehouse.duckdb"
        fresh.parent.mkdir()
        shutil.copyfile(self.db, fresh)
        self.build(fresh, "--full-refresh")
        with duckdb.connect() as con:
            con.execute(f"attach '{self.db}' as live (read_only)")
            con.execute(f"attach '{fresh}' as fresh (read_only)")
            tables = con.execute(
                "select schema_name, table_name from duckdb_tables()"
                " where database_name = 'fresh' and schema_name in ('intermediate', 'marts')"
            ).fetchall()
            assert len(tables) > 10
            for schema, table in tables:
                assert differences(con, "live", "fresh", schema, table) == [], (
                    f"{schema}.{table} differs from a full refresh with vars {self.vars}"
                )


def differences(
    con: duckdb.DuckDBPyConnection, a: str, b: str, schema: str, table: str
) -> list[tuple]:
    """Rows of a table in one attached warehouse and not the other (exact, doubles too)."""
    columns = [
        row[0]
        for row in con.execute(
            "select column_name from duckdb_columns() where database_name = ?"
            " and schema_name = ? and table_name = ?",
            [b, schema, table],
        ).fetchall()
        if row[0] not in NOT_COMPARED
    ]
    listed = ", ".join(f'"{c}"' for c in columns)
    one_way = "select {0} from {1}.{2}.{3} except all select {0} from {4}.{2}.{3}"
    return con.execute(
        f"({one_way.format(listed, a, schema, table, b)})"
        f" union all ({one_way.format(listed, b, schema, table, a)}) limit 5"
    ).fetchall()


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> type[Operations]:
    generated = tmp_path_factory.mktemp("generated")
    for node, seed in (("alpha", "21"), ("beta", "22")):
        made = wirehouse(
            *("demo-data", generated / node, "--days", str(len(DAYS)), "--scale", "0.01"),
            *("--peers", "8", "--seed", seed, "--no-capture", "--no-bluetooth"),
        )
        assert made.returncode == 0, made.stderr
    Operations.generated = generated
    Operations.root = tmp_path_factory.mktemp("users")
    return Operations


def test_any_sequence_of_operations_gives_the_numbers_of_a_full_refresh(
    machine: type[Operations],
) -> None:
    machine.done.clear()
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=3,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,  # the same sequences in CI and here; the named ones below add more
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(dict(machine.done))  # what the sequences did (pytest -s shows it)
    assert machine.done["sequences checked"] >= 3
    assert machine.done["dbt_build"] + machine.done["wirehouse_run"] >= 3


# -- the defects issue 20 found, one sequence each ---------------------------------------------


def test_a_var_changed_with_plain_dbt_run_rebuilds(machine: type[Operations]) -> None:
    user = machine()
    user.arrive("alpha", DAYS[0], 1)
    user.dbt_run()
    user.vars.update(ack_ratio=0, counter_mode="seed")
    user.dbt_run()
    with duckdb.connect(str(user.db), read_only=True) as con:
        modes = con.execute(
            "select distinct counter_mode from marts.fct_traffic_measured_hourly"
        ).fetchall()
    assert modes == [("seed",)]
    user.teardown()


def test_a_copytruncate_rotation_keeps_the_earlier_rows(machine: type[Operations]) -> None:
    user = machine()
    user.arrive("alpha", DAYS[0], 1)
    user.rotate("alpha", DAYS[0])
    assert len(user.generations[user.file("tracepoints", "alpha", DAYS[0])]) == 2
    user.check_invariant(full_refresh=False)  # every row of both generations is there
    shutil.rmtree(user.dir)


def test_one_model_built_alone_after_a_var_change_says_what_to_rebuild(
    machine: type[Operations],
) -> None:
    user = machine()
    user.arrive("beta", DAYS[1], 0.5)
    user.dbt_run()
    user.vars["ack_ratio"] = 3
    done = dbt(user.db, user.dir, "run", "-s", "fct_traffic_estimated_hourly", *user.vars_arg())
    assert done.returncode != 0
    assert (
        "its input int_connection_messages_aggregated was built with other vars (ack_ratio)"
        in done.output
    )
    user.teardown()


def test_a_plain_build_after_forget_drops_the_rows(machine: type[Operations]) -> None:
    user = machine()  # the sequence the property test shrank to
    user.first_day("beta", DAYS[1])
    user.forget("beta", DAYS[1])
    user.teardown()


def test_a_plain_build_after_a_shrinking_replace_drops_the_rows(
    machine: type[Operations],
) -> None:
    user = machine()  # CI's sequence: the hours no longer in the file stayed in the models
    user.first_day("alpha", DAYS[0])
    user.replace("alpha", DAYS[0])
    user.teardown()


def test_wirehouse_run_after_forget_rebuilds(machine: type[Operations]) -> None:
    user = machine()
    user.arrive("alpha", DAYS[0], 1)
    user.arrive("beta", DAYS[0], 1)
    user.wirehouse_run()
    user.forget("alpha", DAYS[0])
    user.wirehouse_run()  # nothing new arrived, but rows went: it builds and publishes
    with duckdb.connect(str(user.dir / "published" / "published.duckdb"), read_only=True) as con:
        nodes = con.execute(
            "select distinct node_id from marts.fct_traffic_estimated_hourly"
        ).fetchall()
    assert nodes == [("beta",)]
    user.teardown()


@pytest.mark.parametrize(
    ("given", "messages"),
    [
        (
            {
                "network_windows_start": "x",
                "ack_ratio": -1,
                "mtu_bytes": "15OO",
                "network_window_start": "yesterday",
                "network_window_end": "2024-09-13 05:00:00",
            },
            [
                "network_windows_start: not a var of this project"
                " (did you mean network_window_start?)",
                "ack_ratio: -1 is below 0",
                'mtu_bytes: "15OO" is not an integer',
                'network_window_start: "yesterday" is not an ISO time with a UTC offset',
                'network_window_end: "2024-09-13 05:00:00" has no UTC offset',
            ],
        ),
        (
            {
                "network_window_start": "2024-09-13 06:00:00+00:00",
                "network_window_end": "2024-09-13 05:00:00+00:00",
            },
            ["network_window_end: 2024-09-13 05:00:00+00:00 is not after"],
        ),
    ],
)
def test_bad_vars_stop_dbt_before_any_model_runs(
    machine: type[Operations], given: dict, messages: list[str]
) -> None:
    user = machine()
    user.arrive("alpha", DAYS[0], 0.5)
    done = dbt(user.db, user.dir, "run", "-s", *SELECTED, "--vars", json.dumps(given))
    assert done.returncode != 0
    problems = [line for line in done.output.splitlines() if "wirehouse: bad vars: " in line]
    assert len(problems) == 1, done.output[-2000:]  # every problem, in one line
    for message in messages:
        assert message in problems[0]
    assert done.results == []  # no model ran
    shutil.rmtree(user.dir)
