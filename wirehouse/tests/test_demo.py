"""The demo generator: deterministic, in nix-bitcoin-monitor's exact format, with the cases
the marts must handle (restart with peer id reuse, counter reset, gaps, SPV and spy peers)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from wirehouse.demo.bitcoin import generate


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, days=2, peers=20, scale=0.02, seed=3)
    return out


def digest(directory: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(directory.rglob("*.csv")):
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_files(demo: Path, tmp_path: Path) -> None:
    generate(tmp_path, days=2, peers=20, scale=0.02, seed=3)
    assert digest(tmp_path) == digest(demo)


def test_files_are_daily_crlf_with_exact_headers(demo: Path) -> None:
    net = sorted((demo / "tracepoints/net").iterdir())
    sysd = sorted((demo / "systemd/ip_accounting").iterdir())
    assert [p.name for p in net] == ["2025-01-22.csv", "2025-01-23.csv"]
    assert [p.name for p in sysd] == [p.name for p in net]
    first = net[0].read_bytes().split(b"\r\n")
    assert first[0] == b"timestamp,peer_id,peer_conn_type,peer_addr,flow,msg_type,size"
    assert first[1][:21].decode().endswith("Z,") and first[1][17:19] in (b"04", b"09", b"14")
    assert (
        sysd[0]
        .read_bytes()
        .startswith(
            b"timestamp,IPIngressPackets,IPEgressPackets,IPIngressBytes,IPEgressBytes\r\n"
            b"2025-01-22T00:00:04Z,"
        )
    )


def test_contains_the_cases_the_marts_need(demo: Path) -> None:
    con = duckdb.connect()
    con.execute(f"create view msgs as from read_csv('{demo}/tracepoints/net/*.csv')")
    kinds = {r[0] for r in con.execute("select distinct msg_type from msgs").fetchall()}
    assert {
        "inv",
        "tx",
        "getdata",
        "headers",
        "block",
        "ping",
        "pong",
        "addrv2",
        "feefilter",
        "sendcmpct",
        "filterload",
        "version",
    } <= kinds
    conn_types = {r[0] for r in con.execute("select distinct peer_conn_type from msgs").fetchall()}
    assert {"inbound", "outbound-full-relay", "block-relay-only", "feeler"} <= conn_types
    addrs = [r[0] for r in con.execute("select distinct peer_addr from msgs").fetchall()]
    assert any(a.startswith("[2") for a in addrs) and any(".onion:" in a for a in addrs)
    # the restart on day 2 makes peer ids start again at 0
    assert con.execute(
        "select min(peer_id) from msgs where timestamp > '2025-01-23 13:37:13'"
    ).fetchone() == (0,)
    con.execute(f"create view samples as from read_csv('{demo}/systemd/ip_accounting/*.csv')")
    gaps = con.execute("select count(*) from samples where IPIngressBytes is null").fetchone()
    assert gaps == (6,)
    drops = con.execute(
        "select count(*) from (select IPIngressBytes - lag(IPIngressBytes) over (order by"
        " timestamp) as d from samples where IPIngressBytes is not null) where d < 0"
    ).fetchone()
    assert drops == (1,)
