"""Cumulative counters and preprocessed per-interval deltas give the same measured traffic.

The shared real file holds cumulative counters; its differenced copy is written the way the
published analysis does it (pandas `diff()`, floats). Both are ingested into their own
warehouse and must give equal hourly and daily tables in both counter modes. A restart
injected into a copy shows where the two forms must differ: exact mode knows the traffic
after a restart from the counters (the new value) but not from the deltas (booked 0).
"""

from __future__ import annotations

import bz2
import csv
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import dbt, wirehouse, write_differenced_systemd

pytestmark = pytest.mark.integration

REAL = "systemd/systemd_preprocessed_cumulative_ddb6ad5.csv.bz2"
MARTS = ("fct_traffic_measured_hourly", "fct_traffic_measured_daily", "fct_counter_resets")


def build(tmp: Path, name: str, source: Path, *ingest_args: str) -> dict[str, dict]:
    """Ingest one systemd file into a fresh warehouse; the marts in both counter modes."""
    db = tmp / name / "warehouse.duckdb"  # dbt() starts from the session's parse
    loaded = wirehouse("ingest", "systemd", source, "--db", db, *ingest_args)
    assert loaded.returncode == 0, loaded.stderr
    tables: dict[str, dict] = {}
    for mode in ("exact", "seed"):
        run = dbt(
            db,
            tmp / name,
            "run",
            "-s",
            "+" + " +".join(MARTS),
            "--vars",
            f"{{counter_mode: {mode}}}",
            "--full-refresh",  # incremental marts keep what an earlier mode built
        )
        assert run.returncode == 0, run.output[-2000:]
        with duckdb.connect(str(db), read_only=True) as con:
            for mart in MARTS[:2]:
                rows = con.execute(
                    f"select * exclude (node_id, sample_count, gap_sample_count, loaded_at)"
                    f" from marts.{mart} order by all"
                ).fetchall()
                tables[f"{mode} {mart}"] = rows
            tables[f"{mode} resets"] = con.execute(
                "select reset_at, counter_name, raw_diff from marts.fct_counter_resets order by all"
            ).fetchall()
    return tables, loaded.stderr


def test_real_counters_and_their_deltas_agree(shared: Path, tmp_path: Path) -> None:
    real = shared / REAL
    deltas = write_differenced_systemd(real, tmp_path / "systemd_preprocessed.csv")
    cumulative, _ = build(tmp_path, "cumulative", real)
    differenced, note = build(tmp_path, "deltas", deltas)
    assert "per-interval deltas" in note
    for key, rows in cumulative.items():
        assert differenced[key] == rows, key
    assert len(cumulative["seed fct_traffic_measured_hourly"]) == 2 * 278


def test_a_restart_is_known_from_counters_not_from_deltas(tmp_path: Path) -> None:
    stamps = [f"2025-01-01 10:{m:02d}:{s:02d}+00:00" for m in range(0, 2) for s in range(4, 60, 5)]
    values = [1000 + 100 * i for i in range(12)] + [50 + 10 * i for i in range(12)]
    src = tmp_path / "restart.csv"
    with src.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["timestamp", "IPIngressBytes", "IPEgressBytes"])
        out.writerows([t, v, v] for t, v in zip(stamps, values, strict=True))
    cumulative, _ = build(tmp_path, "cumulative", src)
    differenced, _ = build(tmp_path, "deltas", write_differenced_systemd(src, tmp_path / "d.csv"))
    # seed mode (the published rule: hourly sum of differences, negative -> 0) is equal
    assert (
        differenced["seed fct_traffic_measured_hourly"]
        == cumulative["seed fct_traffic_measured_hourly"]
    )
    # exact mode: 11 * 100 + 11 * 10 bytes either way, plus the 50 after the restart if known
    (hour_c,) = [r for r in cumulative["exact fct_traffic_measured_hourly"] if r[1] == "in"]
    (hour_d,) = [r for r in differenced["exact fct_traffic_measured_hourly"] if r[1] == "in"]
    assert (hour_c[2], hour_d[2]) == (1100 + 110 + 50, 1100 + 110)
    assert cumulative["exact resets"] == differenced["exact resets"]
    assert [r[2] for r in cumulative["exact resets"]] == [50 - 2100] * 2


def test_counters_form_can_be_forced(tmp_path: Path) -> None:
    src = tmp_path / "ip_accounting.csv"
    src.write_text("timestamp,IPIngressBytes,IPEgressBytes\n2025-01-01T00:00:04Z,5,6\n")
    auto = wirehouse("ingest", "systemd", src, "--db", tmp_path / "a.duckdb")
    assert auto.returncode == 0 and "deltas" not in auto.stderr
    forced = wirehouse(
        "ingest", "systemd", src, "--db", tmp_path / "f.duckdb", "--counters", "deltas"
    )
    assert forced.returncode == 0 and "deltas (--counters deltas)" in forced.stderr
    with duckdb.connect(str(tmp_path / "f.duckdb"), read_only=True) as con:
        rows = con.execute("select IPIngressBytes from raw.systemd_ip_accounting_intervals")
        assert rows.fetchall() == [(5.0,)]


def test_the_notebooks_differenced_file_with_a_restart_builds_green(
    shared: Path, tmp_path: Path
) -> None:
    """seed-001's input: the real cumulative file with a restart (counters back to near 0
    half way), differenced as the notebook does. The build, data tests included, is green:
    a deltas file knows no counter values, so a reset's values are NULL, not a failure; and a
    file without packet counters measures NULL packets in seed mode, not 0."""
    with bz2.open(shared / REAL, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    half = len(rows) // 2
    restarted = tmp_path / "restarted.csv"
    with restarted.open("w", newline="") as f:
        out = csv.DictWriter(f, header, lineterminator="\n")
        out.writeheader()
        for i, row in enumerate(rows):
            if i >= half and row["IPIngressBytes"]:
                for name in ("IPIngressBytes", "IPEgressBytes"):
                    row[name] = str(int(row[name]) - int(rows[half - 1][name] or 0) + 1000)
            out.writerow(row)
    deltas = write_differenced_systemd(restarted, tmp_path / "systemd_preprocessed.csv")
    db = tmp_path / "warehouse.duckdb"
    loaded = wirehouse("ingest", "systemd", deltas, "--db", db)
    assert loaded.returncode == 0, loaded.stderr
    for mode in ("exact", "seed"):
        built = dbt(
            db,
            tmp_path,
            "build",
            "-s",
            "+fct_counter_resets",
            "+fct_traffic_measured_hourly",
            "--exclude-resource-type",
            "unit_test",
            "--vars",
            f"{{counter_mode: {mode}}}",
            "--full-refresh",
        )
        assert built.returncode == 0, built.output[-3000:]
        with duckdb.connect(str(db), read_only=True) as con:
            resets = con.execute(
                "select count(*), count(new_value), count(previous_value)"
                " from marts.fct_counter_resets where counter_name = 'ingress_bytes'"
            ).fetchone()
            packets = con.execute(
                "select count(*), count(measured_packets) from marts.fct_traffic_measured_hourly"
            ).fetchone()
        assert resets[0] >= 1 and resets[1:] == (0, 0), (mode, resets)  # found, no values
        assert packets[0] > 0 and packets[1] == 0, (mode, packets)
