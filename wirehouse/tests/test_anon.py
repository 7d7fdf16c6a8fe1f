"""Pseudonyms: stable, key-dependent, family-aware, prefix-preserving (dbt_runtime/anon.py)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wirehouse.dbt_runtime import anon
from wirehouse.dbt_runtime.plugin import pseudonyms

PEERS = [
    "123.100.246.24:8333",
    "[2a02:c206:2222:6547::1]:8333",
    "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion:8333",
    "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:0",
    "[fc32:17ea:e415:c3bf:9808:149d:b5a2:c9aa]:8333",
]
ONE, OTHER = anon.Pseudonymizer(b"one key"), anon.Pseudonymizer(b"another key")


def common_prefix_bits(a: str, b: str) -> int:
    x, y = ipaddress.ip_address(a), ipaddress.ip_address(b)
    width = x.max_prefixlen
    diff = int(x) ^ int(y)
    return width - diff.bit_length()


@pytest.mark.parametrize(
    ("text", "family", "host", "port"),
    [
        ("123.100.246.24:8333", "ipv4", "123.100.246.24", "8333"),
        ("10.0.0.1", "ipv4", "10.0.0.1", None),
        ("[2A02:C206:2222:6547:0::1]:8333", "ipv6", "2a02:c206:2222:6547::1", "8333"),
        ("2a00:1450:4006:804::200e", "ipv6", "2a00:1450:4006:804::200e", None),
        ("[fc32:17ea::1]:8333", "cjdns", "fc32:17ea::1", "8333"),
        (PEERS[2], "onion", PEERS[2][:-5], "8333"),
        (PEERS[3], "i2p", PEERS[3][:-2], "0"),
        ("not-an-address", "unknown", "not-an-address", None),
    ],
)
def test_parse_names_the_family(text: str, family: str, host: str, port: str | None) -> None:
    assert anon.parse(text) == anon.Address(family, host, port)


@pytest.mark.parametrize("mode", anon.MODES)
def test_stable_and_key_dependent(mode: str) -> None:
    for addr in PEERS:
        first = ONE.pseudonym(addr, mode, True)
        assert first == anon.Pseudonymizer(b"one key").pseudonym(addr, mode, True)
        assert first != OTHER.pseudonym(addr, mode, True)
        assert anon.parse(addr).host not in first


def test_families_keep_their_shape() -> None:
    opaque = [ONE.pseudonym(a, "opaque", True) for a in PEERS]
    assert [p.split("-")[0] for p in opaque] == ["ipv4", "ipv6", "onion", "i2p", "cjdns"]
    assert [p.rsplit(":", 1)[1] for p in opaque] == ["8333", "8333", "8333", "0", "8333"]
    prefix = [ONE.pseudonym(a, "prefix", False) for a in PEERS]
    assert ipaddress.ip_address(prefix[0]).version == 4
    assert ipaddress.ip_address(prefix[1]).version == 6
    assert prefix[2].startswith("onion-") and prefix[3].startswith("i2p-")
    assert ipaddress.ip_address(prefix[4]) in ipaddress.ip_network("fc00::/8")
    # the same host with or without a port, brackets or case: one pseudonym
    assert ONE.pseudonym("[2A02:C206:2222:6547::1]:1", "prefix", False) == prefix[1]
    assert ONE.pseudonym("2a02:c206:2222:6547::1", "prefix", True) == prefix[1]


ipv4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))


@given(st.one_of(st.tuples(ipv4, ipv4), st.tuples(ipv6, ipv6)))
def test_prefix_mode_preserves_shared_prefixes(pair: tuple[str, str]) -> None:
    a, b = pair
    pa, pb = (ONE.pseudonym(x, "prefix", False) for x in pair)
    if a == b:
        assert pa == pb
    else:
        assert common_prefix_bits(pa, pb) == common_prefix_bits(a, b)


def test_one_subnet_keeps_one_pseudonym_prefix() -> None:
    hosts = [ONE.pseudonym(f"192.0.2.{i}", "prefix", False) for i in range(256)]
    assert len({h.rsplit(".", 1)[0] for h in hosts}) == 1
    assert len(set(hosts)) == 256  # a bijection: no two hosts merge


def test_test_key_gives_the_published_crypto_pan_vectors() -> None:
    sample = anon.for_key("test")
    assert sample.pseudonym("128.11.68.132", "prefix", False) == "135.242.180.132"
    assert sample.pseudonym("192.102.249.13", "prefix", False) == "252.138.62.131"


def test_env_key_and_missing_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    anon.for_key.cache_clear()
    monkeypatch.setenv(anon.KEY_ENV, "one key")
    assert anon.for_key("env").pseudonym(PEERS[0], "opaque", True) == ONE.pseudonym(
        PEERS[0], "opaque", True
    )
    anon.for_key.cache_clear()
    monkeypatch.delenv(anon.KEY_ENV)
    unkeyed = anon.for_key("env").pseudonym(PEERS[0], "opaque", True)
    assert unkeyed.startswith("ipv4-") and unkeyed != ONE.pseudonym(PEERS[0], "opaque", True)
    assert "WIREHOUSE_ANON_KEY is not set" in capsys.readouterr().err
    anon.for_key.cache_clear()
    with pytest.raises(ValueError, match="'env' or 'test'"):
        anon.for_key("mine")
    with pytest.raises(ValueError, match="opaque, prefix"):
        ONE.pseudonym(PEERS[0], "hash", True)


def test_sql_function_is_vectorised_and_null_safe() -> None:
    import pyarrow as pa

    out = pseudonyms(
        pa.array(["128.11.68.132", None, ""]),
        pa.array(["prefix"] * 3),
        pa.array([True] * 3),
        pa.array(["test"] * 3),
    )
    assert out.to_pylist() == ["135.242.180.132", None, None]
