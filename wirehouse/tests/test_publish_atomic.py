"""`wirehouse publish` moves every reader form in one step: the DuckDB copy, the views over
Parquet, parquet/latest and `wirehouse query` all show one version, the old one until the
single swap of `current` and the new one after it, whatever point a publish is killed at;
the next publish then succeeds and leaves nothing behind. A directory in the old layout is
taken over the same way, and a reader that is connected keeps the version it opened."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from wirehouse.serve import publish as publish_module
from wirehouse.serve.publish import PublishedTable, current_copy, publish
from wirehouse.serve.query import connect_reader

pytestmark = pytest.mark.integration

FIXED = ("published.duckdb", "parquet_views.duckdb", "parquet/latest")
MARKER = "select thing_id from marts.dim_things"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """One mart row says which state of the warehouse a copy was made from."""
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.dim_things as select 'a' as thing_id")
        con.execute(
            "create table marts.fct_hourly as select"
            " timestamp '2025-01-22 00:00:00' + to_hours(i) as hour_at, i::bigint as msgs"
            " from range(48) t(i)"
        )
    return db


def set_marker(db: Path, value: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("update marts.dim_things set thing_id = ?", [value])


def open_views(directory: Path) -> duckdb.DuckDBPyConnection:
    """parquet_views.duckdb as a reader opens it: its paths relative to the directory."""
    con = duckdb.connect(str(directory / "parquet_views.duckdb"), read_only=True)
    con.execute(f"set file_search_path = '{directory}'")
    return con


def forms(directory: Path) -> dict[str, str | None]:
    """What each way of reading the published copy shows (None: nothing there)."""
    seen: dict[str, str | None] = {}
    for name in ("published.duckdb", "parquet_views.duckdb"):
        seen[name] = None
        if (directory / name).exists():
            connect = open_views if name == "parquet_views.duckdb" else None
            with (
                connect(directory)
                if connect
                else duckdb.connect(str(directory / name), read_only=True)
            ) as con:
                seen[name] = con.execute(MARKER).fetchall()[0][0]
    latest = directory / "parquet" / "latest" / "marts" / "dim_things.parquet"
    seen["parquet/latest"] = None
    if latest.exists():
        with duckdb.connect() as con:
            seen["parquet/latest"] = con.execute(f"select thing_id from '{latest}'").fetchall()[0][
                0
            ]
    copy = current_copy(directory)  # what `wirehouse query` opens
    seen["wirehouse query"] = None
    if copy is not None:
        with connect_reader(copy) as con:
            seen["wirehouse query"] = con.execute(MARKER).fetchall()[0][0]
    return seen


def leftovers(directory: Path) -> list[str]:
    """What no reader can reach and no publish will: unfinished versions, temporary names."""
    current = os.readlink(directory / "current").split("/")[-1]
    found = [p.name for p in (directory / "versions").iterdir() if p.name > current]
    for pattern in (".*", "parquet/.*", "versions/*/.*"):
        found += [p.name for p in directory.glob(pattern) if p.name != ".publish.lock"]
    return found


def old_layout(template: Path, directory: Path) -> None:
    """A publish directory as wirehouse wrote it before versions/ and `current`: real
    DuckDB files at the top, Parquet in parquet/<version>/, views naming those files."""
    version = "20250101T000000.000000-old000"
    version_dir = template / "versions" / os.readlink(template / "current").split("/")[-1]
    parquet = directory / "parquet" / version
    shutil.copytree(version_dir / "parquet", parquet)
    shutil.copy(version_dir / "published.duckdb", directory / "published.duckdb")
    tables = [
        PublishedTable(f"marts.{p.stem}", 1, p, None, None)
        for p in sorted((parquet / "marts").glob("*.parquet"))
    ]
    publish_module._write_views(directory / "parquet_views.duckdb", tables, None)  # absolute
    (directory / "parquet" / "latest").symlink_to(version)


class Killed(BaseException):
    """A kill: no handler of publish sees it (a SIGKILL runs none)."""


# the steps of a publish that change the directory (each one can be where a kill lands)
STEPS = ("_copy_marts", "_export_parquet", "_write_views", "_write_json")
CALLS = ((os, "replace"), (os, "symlink"), (os, "link"), (shutil, "rmtree"))


@contextmanager
def kill_at(monkeypatch: pytest.MonkeyPatch, event: int, directory: Path) -> Iterator[list[str]]:
    """Raise Killed at the `event`-th step of a publish (before each step, and after the
    swap); yields the steps seen."""
    seen: list[str] = []

    def wrap(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def step(*args: object, **kwargs: object) -> object:
            label = name
            if name == "os.replace" and Path(str(args[1])) == directory / "current":
                # the one step; taking over an old layout first makes its files current
                label = "adopt" if "-old" in os.readlink(str(args[0])) else "swap"
            seen.append(f"{label} start")
            if len(seen) == event:
                raise Killed(seen[-1])
            result = real(*args, **kwargs)
            if label == "swap":  # elsewhere a step's end is the next one's start
                seen.append(f"{label} end")
                if len(seen) == event:
                    raise Killed(seen[-1])
            return result

        return step

    with monkeypatch.context() as patch:
        for name in STEPS:
            patch.setattr(publish_module, name, wrap(name, getattr(publish_module, name)))
        for module, name in CALLS:
            patch.setattr(module, name, wrap(f"{module.__name__}.{name}", getattr(module, name)))
        yield seen


@pytest.mark.parametrize("layout", ["versions", "old"])
def test_a_kill_anywhere_shows_one_version_and_the_next_publish_succeeds(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    template = tmp_path / "template"
    set_marker(warehouse, "old")
    if layout == "old":
        publish(warehouse, template)
    event = 0
    while True:
        event += 1
        target = tmp_path / f"pub{event}"
        set_marker(warehouse, "old")
        if layout == "old":
            target.mkdir()
            old_layout(template, target)
        else:
            publish(warehouse, target)
        before = forms(target)
        assert set(before.values()) == {"old"}, before
        set_marker(warehouse, "new")
        with kill_at(monkeypatch, event, target) as seen:
            try:
                publish(warehouse, target)
            except Killed:
                pass
            else:
                break  # past the last step: every point has been tried
        swapped = "swap end" in seen
        after = forms(target)
        assert set(after.values()) == {"new" if swapped else "old"}, (seen[-1], after)

        set_marker(warehouse, "next")
        publish(warehouse, target, keep_versions=1)
        assert set(forms(target).values()) == {"next"}, seen[-1]
        assert not leftovers(target), seen[-1]
        assert len(list((target / "versions").iterdir())) == 1
        assert not list((target / "parquet").glob("2025*")), "the old layout's Parquet is pruned"
        shutil.rmtree(target)
    assert event > {"versions": 7, "old": 15}[layout]  # every step was a kill point


KILLER = """
import os, signal, sys
from pathlib import Path
from wirehouse.serve import publish as p

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[3] == "parquet":  # mid-export: the version's DuckDB file open, Parquet half written
    made, real = [], p.PublishedTable
    def table(*args):
        made.append(real(*args))
        if len(made) == 2:
            die()
        return made[-1]
    p.PublishedTable = table
else:  # right after the swap, before pruning
    swap = p._make_current
    p._make_current = lambda *args: (swap(*args), die())
p.publish(Path(sys.argv[1]), Path(sys.argv[2]))
"""


@pytest.mark.parametrize(("point", "shows"), [("parquet", "old"), ("swap", "new")])
def test_sigkill_of_a_publishing_process(
    warehouse: Path, tmp_path: Path, point: str, shows: str
) -> None:
    target = tmp_path / "pub"
    set_marker(warehouse, "old")
    publish(warehouse, target)
    set_marker(warehouse, "new")
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(warehouse), str(target), point],
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert set(forms(target).values()) == {shows}
    set_marker(warehouse, "next")
    publish(warehouse, target)
    assert set(forms(target).values()) == {"next"}
    assert not leftovers(target)


def test_an_old_layout_is_taken_over_and_its_readers_keep_their_files(
    warehouse: Path, tmp_path: Path
) -> None:
    publish(warehouse, tmp_path / "template")
    target = tmp_path / "pub"
    target.mkdir()
    old_layout(tmp_path / "template", target)
    held_copy = duckdb.connect(str(target / "published.duckdb"), read_only=True)
    held_views = open_views(target)
    try:
        set_marker(warehouse, "b")
        result = publish(warehouse, target, keep_versions=3)
        assert set(forms(target).values()) == {"b"}
        assert all((target / name).is_symlink() for name in FIXED)
        # the old files, now a version of their own, still serve their readers
        assert held_copy.execute(MARKER).fetchall() == [("a",)]
        assert held_views.execute(MARKER).fetchall() == [("a",)]
        assert sorted(p.name for p in (target / "versions").iterdir()) == [
            "20250101T000000.000000-old000",
            result.version,
        ]
        for value in ("c", "d"):
            set_marker(warehouse, value)
            publish(warehouse, target, keep_versions=2)
        assert not (target / "parquet" / "20250101T000000.000000-old000").exists()
        assert len(list((target / "versions").iterdir())) == 2
        assert not leftovers(target)
    finally:
        held_copy.close()
        held_views.close()


def test_readers_stay_on_the_version_they_opened(warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "pub"
    publish(warehouse, target)
    query_reader = connect_reader(current_copy(target))  # as `wirehouse query` opens it
    views_reader = open_views(target)
    try:
        for value in ("b", "c"):
            set_marker(warehouse, value)
            publish(warehouse, target, keep_versions=3)
            assert set(forms(target).values()) == {value}
            assert query_reader.execute(MARKER).fetchall() == [("a",)]
            assert views_reader.execute(MARKER).fetchall() == [("a",)]
    finally:
        query_reader.close()
        views_reader.close()


def test_versions_are_pruned_and_every_fixed_path_goes_through_current(
    warehouse: Path, tmp_path: Path
) -> None:
    target = tmp_path / "pub"
    results = [publish(warehouse, target, keep_versions=2) for _ in range(3)]
    assert sorted(p.name for p in (target / "versions").iterdir()) == sorted(
        r.version for r in results[1:]
    )
    assert os.readlink(target / "current") == f"versions/{results[-1].version}"
    assert {name: os.readlink(target / name) for name in FIXED} == {
        "published.duckdb": "current/published.duckdb",
        "parquet_views.duckdb": "current/parquet_views.duckdb",
        "parquet/latest": "../current/parquet",
    }
    assert (target / "parquet" / "latest").resolve() == results[-1].parquet_dir
    assert results[-1].duckdb_path == target / "published.duckdb"
    assert not leftovers(target)


def test_failed_publish_leaves_the_previous_copy(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "pub"
    first = publish(warehouse, target)
    before = first.duckdb_path.read_bytes()

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(publish_module, "_export_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        publish(warehouse, target)
    assert first.duckdb_path.read_bytes() == before
    assert [p.name for p in (target / "versions").iterdir()] == [first.version]
    assert not leftovers(target)
