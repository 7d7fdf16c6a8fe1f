"""BI readers never fight ingest, dbt build or publish: separate processes, all succeed.

Two readers query the published copy in a loop, as BI tools do: one reconnects for every
query (Superset, Metabase), one holds a single connection (DBeaver). Meanwhile the next
day's files are ingested, `dbt build` runs and `wirehouse publish` swaps a new copy in.
Every reader query must succeed and see one consistent state: the hourly and daily marts of
the same build (their message totals agree), old or new, never a mix. `wirehouse query`
says the copy is older than the marts after the build, not after the ingest before it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.tests.helpers import REPO, DemoWarehouse, dbt

pytestmark = pytest.mark.integration

READER = """
import json, sys, time
from pathlib import Path
import duckdb

path, stop, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
SQL = '''select
    (select sum(msgs) from marts.fct_traffic_estimated_hourly),
    (select sum(msgs) from marts.fct_traffic_estimated_daily),
    (select count(*) from marts.fct_traffic_reconciled_daily)'''
queries, errors, states, mixed = 0, [], set(), 0
held = duckdb.connect(path, read_only=True) if mode == "held" else None
while not stop.exists():
    try:
        con = held or duckdb.connect(path, read_only=True)
        hourly, daily, days = con.execute(SQL).fetchall()[0]
        if con is not held:
            con.close()
        queries += 1
        states.add((hourly, days))
        mixed += hourly != daily
    except Exception as exc:
        errors.append(str(exc).splitlines()[0])
    time.sleep(0.01)
print(json.dumps({"mode": mode, "queries": queries, "errors": errors,
                  "states": sorted(states), "mixed": mixed}))
"""


def test_readers_run_through_ingest_build_and_publish(
    demo_warehouse: DemoWarehouse, tmp_path: Path
) -> None:
    wirehouse = Path(sys.executable).parent / "wirehouse"
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse.db, db)
    subprocess.run([wirehouse, "publish", "--db", db], check=True, capture_output=True)
    published = tmp_path / "published" / "published.duckdb"

    script, stop = tmp_path / "reader.py", tmp_path / "stop"
    script.write_text(READER)
    readers = [
        subprocess.Popen(
            [sys.executable, script, published, stop, mode], stdout=subprocess.PIPE, text=True
        )
        for mode in ("reconnect", "held")
    ]
    started = time.monotonic()
    steps = []
    try:
        time.sleep(1)  # both readers are looping before the writers start
        for kind in ("tracepoints", "systemd"):
            subprocess.run(
                [wirehouse, "ingest", kind, demo_warehouse.day3, "--db", db],
                check=True,
                capture_output=True,
            )
            steps.append(f"ingest {kind}")
        assert _notes(wirehouse, db) == []  # new rows, but in no mart yet
        build = dbt(
            db,
            tmp_path,
            "build",
            "--select",
            "staging.bitcoin_p2p+",
            "staging.systemd_ip_accounting+",
            "--resource-type",
            "model",  # the data tests ran when the warehouse was built
        )
        assert build.returncode == 0, build.output
        steps.append("dbt build")
        assert len(_notes(wirehouse, db)) == 1  # a plain dbt build: the copy is older now
        subprocess.run([wirehouse, "publish", "--db", db], check=True, capture_output=True)
        steps.append("publish")
        assert _notes(wirehouse, db) == []
        time.sleep(1)  # let the reconnecting reader see the new copy
    finally:
        stop.touch()
        results = [json.loads(r.communicate(timeout=60)[0]) for r in readers]
    seconds = time.monotonic() - started

    (REPO / "target").mkdir(exist_ok=True)
    (REPO / "target" / "publish-concurrency.json").write_text(
        json.dumps({"seconds": round(seconds, 1), "steps": steps, "readers": results}, indent=2)
    )
    reconnect, held = results
    for result in results:
        assert result["errors"] == [], result
        assert result["mixed"] == 0, result
        assert result["queries"] > 10, result
    # the held connection keeps the snapshot it opened; a new connection sees the new day
    assert len(held["states"]) == 1
    assert len(reconnect["states"]) == 2
    (old_total, old_days), (_, new_days) = sorted(reconnect["states"])
    assert held["states"] == [[old_total, old_days]]
    assert (old_days, new_days) == (4, 6)  # two days in/out, then three


def _notes(wirehouse: Path, db: Path) -> list[str]:
    """The notes `wirehouse query` prints on stderr (it reads the published copy)."""
    out = subprocess.run(
        [wirehouse, "query", "select 1", "--db", db], check=True, capture_output=True, text=True
    )
    return [line for line in out.stderr.splitlines() if "note:" in line]
