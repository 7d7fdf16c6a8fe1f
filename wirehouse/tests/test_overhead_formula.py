"""The estimate_wire_bytes macro reproduces the seed notebook's formula to the byte.

The reference is `estimate_network_traffic` from virtu/bitcoind-p2p-traffic
`analysis/validation/00_ETL.ipynb` (commit 50fd321e), copied below with only its
ACK_RATIO made a parameter (2 = that notebook; 0 = the older notebooks, which had
no ACK term). The macro is compiled by dbt once per ACK setting over a table of
random sizes and run in DuckDB; every row must match exactly (float equality).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import duckdb
import pytest

from ingest.tests.helpers import dbt

pytestmark = pytest.mark.integration


def estimate_network_traffic(row, ack_ratio=2):
    # verbatim from the notebook, except ACK_RATIO (and 0 = no ACK term)
    MAX_MTU_SIZE = 1500
    BITCOIN_PROTOCOL_OVERHEAD = 24
    TCP_HEADER_SIZE = 32
    IP_HEADER_SIZE = 40 if row["ipv6"] else 20
    ACK_RATIO = ack_ratio
    MSS = MAX_MTU_SIZE - IP_HEADER_SIZE - TCP_HEADER_SIZE
    bitcoin_message_size = row["size"] + BITCOIN_PROTOCOL_OVERHEAD
    num_segments = math.ceil(bitcoin_message_size / MSS)
    tcpip_overhead = num_segments * (IP_HEADER_SIZE + TCP_HEADER_SIZE)
    ack_overhead = (
        (num_segments / ACK_RATIO) * (IP_HEADER_SIZE + TCP_HEADER_SIZE) if ACK_RATIO else 0
    )
    return bitcoin_message_size + tcpip_overhead + ack_overhead


def sizes() -> list[tuple[int, bool]]:
    rng = random.Random(20250122)
    rows = [(rng.randrange(0, 4_000_000), rng.random() < 0.3) for _ in range(5_000)]
    rows += [(rng.randrange(0, 3000), rng.random() < 0.5) for _ in range(5_000)]
    # segment boundaries for both IP versions: MSS 1448 / 1428, minus the 24-byte header
    for mss in (1448, 1428):
        for k in (1, 2, 3, 100, 2762):
            for delta in (-1, 0, 1):
                size = k * mss - 24 + delta
                rows += [(size, False), (size, True)]
    rows += [(0, False), (0, True)]
    return rows


def compile_macro(tmp_path: Path, ack_ratio: int) -> str:
    """One dbt invocation compiles the macro over a `sizes` relation."""
    inline = (
        "select size, ipv6, {{ estimate_wire_bytes('size',"
        " \"case when ipv6 then 'ipv6' else 'ipv4' end\") }} from sizes"
    )
    given = json.dumps({"ack_ratio": ack_ratio, "p2p_transport": "v1"})
    out = dbt(
        tmp_path / "warehouse.duckdb",
        tmp_path,
        *("compile", "--quiet", "--inline", inline, "--vars", given, "--output", "json"),
    )
    assert out.returncode == 0, out.output[-3000:]
    return json.loads(out.stdout)["compiled"]


@pytest.mark.parametrize("ack_ratio", [2, 0], ids=["with-acks", "without-acks"])
def test_macro_matches_notebook_to_the_byte(tmp_path: Path, ack_ratio: int) -> None:
    sql = compile_macro(tmp_path, ack_ratio)
    rows = sizes()
    con = duckdb.connect()
    con.execute(
        "create table sizes as select unnest($1::bigint[]) as size, unnest($2::boolean[]) as ipv6",
        [[size for size, _ in rows], [ipv6 for _, ipv6 in rows]],
    )
    result = con.execute(f"select size, ipv6, message_bytes, segments, tcpip_bytes from ({sql})")
    checked = 0
    for size, ipv6, message_bytes, segments, tcpip_bytes in result.fetchall():
        row = {"size": size, "ipv6": ipv6}
        expected = estimate_network_traffic(row, ack_ratio)
        mss = 1500 - (40 if ipv6 else 20) - 32
        assert message_bytes == size + 24
        assert segments == math.ceil((size + 24) / mss)
        assert tcpip_bytes == expected, (size, ipv6, tcpip_bytes, expected)
        checked += 1
    assert checked == len(rows) > 10_000
