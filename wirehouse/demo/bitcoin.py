"""Realistic nix-bitcoin-monitor output for demos, tests and benchmarks.

Writes `tracepoints/net/YYYY-MM-DD.csv` and `systemd/ip_accounting/YYYY-MM-DD.csv` exactly as
nix-bitcoin-monitor does (CRLF, `2025-01-22T14:00:04Z`, polls at :04/:09/...). The node:

- keeps 8 outbound-full-relay, 2 block-relay-only and `peers - 10` inbound slots busy; each
  slot churns through connections with lifetimes from seconds (crawlers) to days; a feeler
  connects every 2 minutes and an addr-fetch now and then;
- addresses are IPv4, IPv6, Tor v3 onion, I2P and CJDNS; inbound Tor peers show as
  127.0.0.1 (they arrive through the local Tor daemon, as in Bitcoin Core);
- one inbound SPV client sends filterload/filteradd; one inbound spy never sends inv;
- the node restarts once, in the middle of the second day: every connection drops, peer ids
  start again at 0 and the systemd counters reset, with a few accounting-off rows (gaps);
- systemd counters are the TCP/IP bytes of those messages (payload + 24-byte header +
  40/60-byte IP/TCP headers per 1448-byte segment, ACKs on the reverse direction) plus
  a little background, so measured and estimated traffic reconcile closely but not exactly.

Everything is vectorised with numpy per day and written with DuckDB's CSV writer, so a
100 M-row data set is practical. Same seed, same files.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

DAY = 86_400
POLL = 5
MSS = 1448  # 1500 - 20 IPv4 - 32 TCP with timestamps

# (msg_type, inbound per hour, outbound per hour) for a full-relay peer at scale 1.
FULL_RELAY_RATES = [
    ("inv", 420, 380),
    ("tx", 110, 90),
    ("getdata", 60, 70),
    ("ping", 30, 30),
    ("pong", 30, 30),
    ("headers", 5, 3),
    ("cmpctblock", 3, 2),
    ("getblocktxn", 1, 1),
    ("blocktxn", 1, 1),
    ("addrv2", 4, 3),
    ("feefilter", 0.6, 0.6),
    ("notfound", 0.5, 0.3),
    ("block", 0.2, 0.1),
    ("getheaders", 0.3, 0.3),
]
BLOCK_RELAY_RATES = [
    ("ping", 30, 30),
    ("pong", 30, 30),
    ("headers", 5, 4),
    ("cmpctblock", 4, 2),
    ("getblocktxn", 1, 1),
    ("blocktxn", 1, 1),
    ("block", 0.3, 0.1),
]
HANDSHAKE = [
    "version",
    "verack",
    "sendaddrv2",
    "wtxidrelay",
    "sendcmpct",
    "sendcmpct",
    "feefilter",
    "sendtxrcncl",
    "getheaders",
    "headers",
    "ping",
    "pong",
]
MSG_TYPES = sorted(
    {m for m, *_ in FULL_RELAY_RATES + BLOCK_RELAY_RATES}
    | set(HANDSHAKE)
    | {"getaddr", "filterload", "filteradd", "mempool", "merkleblock"}
)
CONN_TYPES = [
    "inbound",
    "outbound-full-relay",
    "block-relay-only",
    "feeler",
    "addr-fetch",
    "manual",
]


@dataclass
class Connection:
    start: float
    end: float
    conn_type: str
    addr: str
    ipv6: bool
    role: str = "full"  # full | block | feeler | spv | spy
    run: int = 0
    peer_id: int = 0


def _addr(rng: np.random.Generator, conn_type: str) -> tuple[str, bool]:
    inbound = conn_type == "inbound"
    port = int(rng.integers(32768, 61000)) if inbound else 8333
    kind = rng.choice(
        ["ipv4", "ipv6", "onion", "i2p", "cjdns", "tor-in"],
        p=[0.58, 0.28, 0.07, 0.03, 0.01, 0.03] if inbound else [0.62, 0.30, 0.05, 0.02, 0.01, 0.0],
    )
    if kind == "ipv4":
        octets = [
            int(rng.integers(1, 224)),
            *map(int, rng.integers(0, 256, 2)),
            int(rng.integers(1, 255)),
        ]
        while octets[0] in (10, 127, 169, 172, 192, 100):
            octets[0] = int(rng.integers(1, 224))
        return f"{'.'.join(map(str, octets))}:{port}", False
    if kind == "ipv6":
        prefix = rng.choice(["2a01:4f8", "2a02:c206", "2001:41d0", "2604:a880", "2a03:b0c0"])
        groups = ":".join(f"{int(g):x}" for g in rng.integers(0, 0xFFFF, 4))
        return f"[{prefix}:{groups}::{int(rng.integers(1, 0xFFFF)):x}]:{port}", True
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz234567"))
    if kind == "onion":
        return f"{''.join(rng.choice(letters, 56))}.onion:8333", False
    if kind == "i2p":
        return f"{''.join(rng.choice(letters, 52))}.b32.i2p:0", False
    if kind == "cjdns":
        groups = ":".join(f"{int(g):x}" for g in rng.integers(0, 0xFFFF, 7))
        return f"[fc{int(rng.integers(0, 0xFF)):02x}:{groups}]:8333", True
    return f"127.0.0.1:{port}", False  # inbound Tor, seen through the local proxy


def _lifetime(rng: np.random.Generator, conn_type: str) -> float:
    if conn_type == "feeler":
        return float(rng.uniform(1, 6))
    if conn_type == "addr-fetch":
        return float(rng.uniform(5, 60))
    if conn_type == "inbound" and rng.random() < 0.4:
        return float(rng.uniform(3, 900))  # crawlers and spy nodes
    median = {"inbound": 4 * 3600, "outbound-full-relay": 8 * 3600}.get(conn_type, 16 * 3600)
    return float(min(rng.lognormal(np.log(median), 1.0), 6 * DAY))


def plan_connections(
    rng: np.random.Generator, t0: float, t1: float, restart: float | None, peers: int
) -> list[Connection]:
    """Connections of every slot over [t0, t1), cut by the restart, with peer ids."""
    slots = ["outbound-full-relay"] * 8 + ["block-relay-only"] * 2
    slots += ["inbound"] * max(peers - len(slots), 1)
    boundaries = [t0, restart, t1] if restart else [t0, t1]
    conns: list[Connection] = []
    for run, (a, b) in enumerate(itertools.pairwise(boundaries)):
        run_conns: list[Connection] = []
        for conn_type in slots:
            # run 0 begins mid-run: connections already open (their handshake is not seen)
            t = a - rng.uniform(0, 3600) if run == 0 else a + rng.uniform(20, 120)
            while t < b:
                end = min(t + _lifetime(rng, conn_type), b)
                addr, v6 = _addr(rng, conn_type)
                role = "block" if conn_type == "block-relay-only" else "full"
                run_conns.append(Connection(t, end, conn_type, addr, v6, role, run))
                t = end + rng.uniform(1, 60)
        for conn_type, every in (("feeler", 120), ("addr-fetch", 5400)):
            for t in np.arange(a + rng.uniform(0, every), b, every):
                addr, v6 = _addr(rng, conn_type)
                run_conns.append(
                    Connection(
                        t, min(t + _lifetime(rng, conn_type), b), conn_type, addr, v6, "feeler", run
                    )
                )
        # one long-lived SPV client and one spy (never sends inv) per run
        for role in ("spv", "spy"):
            start = a + rng.uniform(600, 3600)
            addr, v6 = _addr(rng, "inbound")
            run_conns.append(
                Connection(start, min(start + 20 * 3600, b), "inbound", addr, v6, role, run)
            )
        run_conns.sort(key=lambda c: c.start)
        first_id = int(rng.integers(1000, 5000)) if run == 0 else 0
        for i, conn in enumerate(run_conns):
            conn.peer_id = first_id + i
        conns.extend(run_conns)
    return conns


def _sizes(rng: np.random.Generator, msg: str, n: int) -> np.ndarray:
    fixed = {
        "ping": 8,
        "pong": 8,
        "verack": 0,
        "sendaddrv2": 0,
        "wtxidrelay": 0,
        "sendcmpct": 9,
        "feefilter": 8,
        "sendtxrcncl": 12,
        "getaddr": 0,
        "mempool": 0,
        "filteradd": 33,
        "getheaders": 1029,
    }
    if msg in fixed:
        return np.full(n, fixed[msg], dtype=np.int64)
    if msg == "version":
        return rng.choice([102, 103, 110, 126], n)
    if msg in ("inv", "getdata", "notfound"):
        return 1 + 36 * np.minimum(rng.geometric(0.3 if msg == "inv" else 0.5, n), 1000)
    if msg == "tx":
        return np.clip(rng.lognormal(np.log(300), 0.8, n), 60, 100_000).astype(np.int64)
    if msg == "headers":
        return np.where(rng.random(n) < 0.95, 82, 1 + 81 * rng.integers(2, 2000, n))
    if msg == "cmpctblock":
        return rng.integers(12_000, 30_000, n)
    if msg in ("getblocktxn", "blocktxn"):
        return rng.integers(40, 400, n) if msg == "getblocktxn" else rng.integers(300, 20_000, n)
    if msg == "block":
        return rng.integers(600_000, 2_300_000, n)
    if msg == "addrv2":
        return np.where(
            rng.random(n) < 0.9,
            1 + 18 * rng.integers(1, 10, n),
            1 + 18 * rng.integers(500, 1000, n),
        )
    if msg == "filterload":
        return rng.integers(500, 36_000, n)
    if msg == "merkleblock":
        return rng.integers(150, 1500, n)
    raise ValueError(msg)


def _rates(role: str, scale: float) -> list[tuple[str, float, float]]:
    if role == "feeler":
        return []
    if role == "block":
        return [(m, i * scale, o * scale) for m, i, o in BLOCK_RELAY_RATES]
    rates = [(m, i * scale, o * scale) for m, i, o in FULL_RELAY_RATES]
    if role == "spy":
        rates = [(m, 0.0 if m == "inv" else i, o) for m, i, o in rates]
    if role == "spv":
        rates = [(m, i, o) for m, i, o in rates if m not in ("cmpctblock", "blocktxn")]
        rates += [("filteradd", 2.0, 0.0), ("merkleblock", 0.0, 6.0 * scale)]
    return rates


def _day_messages(
    rng: np.random.Generator, conns: list[Connection], d0: float, scale: float
) -> dict[str, np.ndarray]:
    times, conn_idx, types, flows, sizes = [], [], [], [], []
    type_code = {m: i for i, m in enumerate(MSG_TYPES)}

    def add(t: np.ndarray, ci: int | np.ndarray, msg: str, flow: int) -> None:
        times.append(t)
        conn_idx.append(np.broadcast_to(ci, t.shape).astype(np.int32))
        types.append(np.full(t.shape, type_code[msg], dtype=np.int16))
        flows.append(np.full(t.shape, flow, dtype=np.int8))
        sizes.append(_sizes(rng, msg, t.size))

    lo, hi = d0 - 1, d0 + DAY - 1  # messages of this window are stamped with this day's polls
    for ci, c in enumerate(conns):
        a, b = max(c.start, lo), min(c.end, hi)
        if a >= b:
            continue
        if lo <= c.start < hi:  # handshake, both directions, in the first 2 seconds
            extra = [] if c.conn_type == "inbound" else ["getaddr"]
            for k, msg in enumerate(HANDSHAKE[:2] if c.role == "feeler" else HANDSHAKE + extra):
                for flow in (0, 1):
                    if msg == "getaddr" and flow == 0:
                        continue
                    add(np.array([c.start + 0.1 * k]), ci, msg, flow)
            if c.conn_type != "inbound" and c.role != "feeler":
                add(np.array([c.start + 1.5]), ci, "addrv2", 0)  # answer to getaddr
            if c.role == "spv":
                add(np.array([c.start + 1.0]), ci, "filterload", 0)
                add(np.array([c.start + 1.1]), ci, "mempool", 0)
        for msg, per_hour_in, per_hour_out in _rates(c.role, scale):
            for flow, per_hour in ((0, per_hour_in), (1, per_hour_out)):
                n = rng.poisson(per_hour * (b - a) / 3600)
                if n:
                    add(rng.uniform(a, b, n), ci, msg, flow)
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    return {
        "t": t[order],
        "conn": np.concatenate(conn_idx)[order],
        "type": np.concatenate(types)[order],
        "flow": np.concatenate(flows)[order],
        "size": np.concatenate(sizes)[order].astype(np.int64),
    }


def _poll_after(t: np.ndarray) -> np.ndarray:
    """nix-bitcoin-monitor stamps a message with the next poll (wake-ups at :04, :09, ...)."""
    return (np.ceil((t + 1) / POLL) * POLL - 1).astype(np.int64)


def _wire(size: np.ndarray, ipv6: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, packets) of a message on the wire, and the ACK packets it causes."""
    msg = size + 24
    mss = np.where(ipv6, MSS - 20, MSS)
    hdr = np.where(ipv6, 72, 52)
    segments = -(-msg // mss)
    return msg + segments * hdr, segments


def generate(
    directory: Path,
    days: int = 3,
    peers: int = 60,
    scale: float = 1.0,
    seed: int = 1,
    start: str = "2025-01-22",
) -> str:
    rng = np.random.default_rng(seed)
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp()
    t1 = t0 + days * DAY
    restart = t0 + DAY + 13 * 3600 + 37 * 60 + 12.5 if days >= 2 else None
    conns = plan_connections(rng, t0, t1, restart, peers)
    peer_id = np.array([c.peer_id for c in conns], dtype=np.int64)
    conn_type = np.array([c.conn_type for c in conns])
    addr = np.array([c.addr for c in conns])
    ipv6 = np.array([c.ipv6 for c in conns])

    net_dir = directory / "tracepoints" / "net"
    sys_dir = directory / "systemd" / "ip_accounting"
    net_dir.mkdir(parents=True, exist_ok=True)
    sys_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    # counters: (in bytes, out bytes, in packets, out packets), since accounting started
    counters = rng.integers(10**8, 10**9, 4).astype(np.int64)
    total_rows = 0
    for day in range(days):
        d0 = t0 + day * DAY
        m = _day_messages(rng, conns, d0, scale)
        stamp = _poll_after(m["t"])
        date = datetime.fromtimestamp(d0, UTC).date().isoformat()
        msgs = pa.table(
            {
                "ts": pa.array(stamp * 1_000_000, pa.timestamp("us")),
                "peer_id": peer_id[m["conn"]],
                "peer_conn_type": conn_type[m["conn"]],
                "peer_addr": addr[m["conn"]],
                "flow": np.where(m["flow"] == 0, "in", "out"),
                "msg_type": np.array(MSG_TYPES)[m["type"]],
                "size": m["size"],
            }
        )
        con.register("msgs", msgs)
        _copy(
            con,
            "select strftime(ts, '%Y-%m-%dT%H:%M:%SZ') as timestamp, peer_id,"
            " peer_conn_type, peer_addr, flow, msg_type, size from msgs",
            net_dir / f"{date}.csv",
        )
        total_rows += msgs.num_rows
        counters = _write_systemd_day(
            con, rng, m, stamp, ipv6, d0, restart, counters, sys_dir / f"{date}.csv"
        )
    con.close()
    return (
        f"wrote {total_rows:,} tracepoint rows and {days * DAY // POLL:,} systemd samples"
        f" for {days} day(s), {len(conns):,} connections -> {directory}"
    )


def _write_systemd_day(
    con: duckdb.DuckDBPyConnection,
    rng: np.random.Generator,
    m: dict[str, np.ndarray],
    stamp: np.ndarray,
    ipv6: np.ndarray,
    d0: float,
    restart: float | None,
    counters: np.ndarray,
    path: Path,
) -> np.ndarray:
    samples = np.arange(d0 + POLL - 1, d0 + DAY, POLL, dtype=np.int64)
    slot = np.minimum(
        np.searchsorted(samples, stamp), samples.size - 1
    )  # message stamped at sample k counts from k on
    wire, segs = _wire(m["size"], ipv6[m["conn"]])
    acks = -(-segs // 2)
    ack_bytes = acks * np.where(ipv6[m["conn"]], 72, 52)
    inbound = m["flow"] == 0
    per_sample = np.stack(
        [
            np.bincount(slot, np.where(inbound, wire, ack_bytes), samples.size),
            np.bincount(slot, np.where(inbound, ack_bytes, wire), samples.size),
            np.bincount(slot, np.where(inbound, segs, acks), samples.size),
            np.bincount(slot, np.where(inbound, acks, segs), samples.size),
        ]
    ).astype(np.int64)
    per_sample += rng.poisson([[90], [90], [1], [1]], per_sample.shape)  # DNS, NTP, Tor
    gap = np.zeros(samples.size, dtype=bool)
    if restart is not None and d0 <= restart < d0 + DAY:
        k = int(np.searchsorted(samples, restart))
        gap[k : k + 6] = True  # accounting reads fail for 30 s while the unit restarts
        per_sample[:, k] = 0
        cumulative = np.cumsum(per_sample, axis=1) + counters[:, None]
        cumulative[:, k:] -= cumulative[:, k - 1 : k] if k else counters[:, None]
    else:
        cumulative = np.cumsum(per_sample, axis=1) + counters[:, None]
    table = pa.table(
        {
            "ts": pa.array(samples * 1_000_000, pa.timestamp("us")),
            "in_pkts": pa.array(cumulative[2], mask=gap),
            "out_pkts": pa.array(cumulative[3], mask=gap),
            "in_bytes": pa.array(cumulative[0], mask=gap),
            "out_bytes": pa.array(cumulative[1], mask=gap),
        }
    )
    con.register("samples", table)
    _copy(
        con,
        "select strftime(ts, '%Y-%m-%dT%H:%M:%SZ') as timestamp,"
        ' in_pkts as "IPIngressPackets", out_pkts as "IPEgressPackets",'
        ' in_bytes as "IPIngressBytes", out_bytes as "IPEgressBytes" from samples',
        path,
    )
    return cumulative[:, -1].copy()


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    literal = str(path).replace("'", "''")
    con.execute(f"copy ({query}) to '{literal}' (header, new_line '\\r\\n')")
