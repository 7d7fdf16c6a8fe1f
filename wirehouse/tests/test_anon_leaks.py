"""The anonymisation key and the real addresses stay out of everything we write.

One warehouse with Bitcoin peers (demo tracepoints: IPv4, IPv6, onion, I2P, CJDNS), an
hourly tshark export and a real IPv6 capture, built with a fresh random WIREHOUSE_ANON_KEY:

- key leak: the key's text is in none of the warehouse file, dbt's target/ (compiled SQL,
  manifest, run results, partial parse state) and logs/, nor in a published CSV;
- raw-address leak: no original address (every capture/tshark IP, every peer host) appears in
  any text column of the anonymised marts, in either mode.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import SHARED, dbt, wirehouse
from wirehouse.dbt_runtime import anon
from wirehouse.demo import pcap as demo_pcap
from wirehouse.demo import tshark as demo_tshark

pytestmark = pytest.mark.integration

CAPTURE = SHARED / "pcap-general" / "ndpi_http_ipv6.pcap"
ANONYMISED = ("fct_top_talkers_anonymised", "dim_peers_anonymised")


def run(*args: str | Path) -> str:
    done = wirehouse(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def build(db: Path, tmp: Path, *args: str) -> None:
    done = dbt(db, tmp, *args)
    assert done.returncode == 0, done.output[-3000:]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Path]]:
    tmp = tmp_path_factory.mktemp("anon")
    db = tmp / "warehouse.duckdb"
    demo = ("--days", "1", "--scale", "0.02", "--peers", "12", "--no-capture", "--no-bluetooth")
    run("demo-data", tmp / "demo", *demo)
    demo_pcap.generate(tmp / "demo.pcap", seconds=8, seed=4)
    demo_tshark.generate(tmp / "hourly", tmp / "demo.pcap", first_hour=1483873200, hours=3)
    run("ingest", "tracepoints", tmp / "demo", "--db", db)
    run("ingest", "tshark", tmp / "hourly", "--db", db)
    if CAPTURE.exists():
        run("ingest", "pcap", CAPTURE, "--db", db)
    key = "wh-key-" + secrets.token_hex(16)
    os.environ[anon.KEY_ENV] = key  # for the dbt and wirehouse processes of this module
    os.environ["DBT_LOG_LEVEL_FILE"] = "debug"  # dbt's log file is searched too
    try:
        build(db, tmp, "build", "-s", "+marts.sharing", "--exclude", "test_type:data")
        sql = f"select * from marts.{ANONYMISED[0]}"
        (tmp / "published.csv").write_text(
            run("query", sql, "--live", "--format", "csv", "--db", db)
        )
        yield db, key, tmp
    finally:
        del os.environ[anon.KEY_ENV], os.environ["DBT_LOG_LEVEL_FILE"]


def test_key_is_written_nowhere(built: tuple[Path, str, Path]) -> None:
    db, key, tmp = built
    files = [db, tmp / "published.csv"]
    files += [p for d in ("target", "logs") for p in (tmp / d).rglob("*") if p.is_file()]
    assert len(files) > 20
    needle = key.encode()
    leaked = [p for p in files if needle in p.read_bytes()]
    assert leaked == []
    assert "src_addr" in (tmp / "published.csv").read_text()


def originals(con: duckdb.DuckDBPyConnection) -> set[str]:
    hosts = {
        row[0]
        for row in con.execute(
            "select src_addr from raw.pcap_packets union select dst_addr from raw.pcap_packets"
            " union select ip_src from raw.tshark_packets"
            " union select ip_dst from raw.tshark_packets"
            " union select ipv6_src from raw.tshark_packets"
            " union select ipv6_dst from raw.tshark_packets"
        ).fetchall()
        if row[0]
    }
    peers = con.execute("select distinct peer_addr from raw.bitcoin_p2p_messages").fetchall()
    hosts |= {anon.parse(p[0]).host for p in peers}
    families = {anon.parse(p[0]).family for p in peers}
    assert {"ipv4", "ipv6", "onion", "i2p", "cjdns"} <= families
    return hosts


def text_values(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    columns = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts'"
            " and table_name = ? and data_type = 'VARCHAR'",
            [table],
        ).fetchall()
    ]
    assert columns
    union = " union ".join(f'select "{c}" from marts.{table}' for c in columns)
    return [r[0] for r in con.execute(union).fetchall() if r[0] is not None]


@pytest.mark.parametrize("mode", ["opaque", "prefix"])
def test_no_raw_address_survives(built: tuple[Path, str, Path], mode: str) -> None:
    db, key, tmp = built
    if mode != "opaque":  # rebuild the anonymised marts in the other mode
        build(db, tmp, "run", "-s", "marts.sharing", "--vars", f"{{anon_mode: {mode}}}")
    with duckdb.connect(str(db), read_only=True) as con:
        hosts = originals(con)
        values = [v for table in ANONYMISED for v in text_values(con, table)]
        plain = text_values(con, "fct_top_talkers") + text_values(con, "dim_peers")
    assert len(values) > 50
    # an original as a whole token: not part of a longer address or name
    token = re.compile(
        r"(?<![0-9A-Za-z.:])(" + "|".join(map(re.escape, hosts)) + r")(?![0-9A-Za-z.])"
    )

    def leaks(texts: list[str]) -> set[str]:
        return {m.group(1) for v in texts for m in token.finditer(v.lower())}

    # Crypto-PAn permutes the address space: a pseudonym can be a real address, even its
    # own (about 1 in 10,000 per key here). Nothing marks which, so without the key that
    # is no leak; every other original showing up is one.
    pseudonym = anon.Pseudonymizer(key.encode()).pseudonym
    chance = {h for h in hosts if mode == "prefix" and pseudonym(h, mode, False) in hosts}
    assert len(chance) <= len(hosts) // 100
    assert leaks(values) <= chance
    assert len(leaks(plain)) > 20  # the scan does find addresses where they are
