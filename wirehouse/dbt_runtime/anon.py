"""Keyed, deterministic pseudonyms for network addresses (the SQL function ``wirehouse_pseudonym``).

One function for every address the warehouse holds - capture and tshark IPs, Bitcoin
``peer_addr`` (``host:port``, ``[ipv6]:port``, ``*.onion:port``, ``*.b32.i2p:port``, CJDNS
``[fc..]:port``) - so a host has the same pseudonym in every mart, file and day for one key,
and an unrelated one under another key.

Modes
    ``opaque``: ``<family>-<16 hex>``, the first 64 bits of HMAC-SHA256(key, family|host).
        Nothing about the address survives but its family.
    ``prefix``: Crypto-PAn (Xu et al. 2002, via the ``yacryptopan`` package): IPv4 and IPv6
        addresses become addresses again, and two addresses sharing their first n bits have
        pseudonyms sharing their first n bits (a /24 stays a /24). CJDNS keeps its fc00::/8
        prefix. Onion, I2P and host names have no prefix to keep: they get the opaque form.
        Being a permutation of the address space, a pseudonym can be a real address, now
        and then its own (measured: about 1 in 10,000 IPv4 addresses for a given key).
        Nothing marks which, so it tells nobody without the key what was real; still, use
        ``opaque`` where a shared file must hold no real address at all.
    The port is kept (``host:port`` forms) or dropped, by option.

The key
    ``$WIREHOUSE_ANON_KEY`` (any text), read here in Python so it never reaches SQL, dbt's
    ``target/`` or logs. Sub-keys are derived with HMAC-SHA256, one per mode. The name
    ``test`` selects the public Crypto-PAn sample key (the reference implementation's), for
    unit tests whose expectations are the published test vectors. Without the variable a
    random key is made for the process (pseudonyms then match nothing from other runs) and a
    warning says so.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import sys
from dataclasses import dataclass
from functools import cache, lru_cache

from yacryptopan import CryptoPAn

KEY_ENV = "WIREHOUSE_ANON_KEY"
MODES = ("opaque", "prefix")
# The key of the Crypto-PAn reference implementation's sample (sample.cpp); public by design.
CRYPTOPAN_SAMPLE_KEY = bytes.fromhex(
    "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202"
)
CJDNS_PREFIX_BITS = 8  # fc00::/8


@dataclass(frozen=True)
class Address:
    family: str  # ipv4, ipv6, cjdns, onion, i2p, unknown
    host: str  # canonical: lower case, IPv6 compressed (RFC 5952)
    port: str | None


def parse(text: str) -> Address:
    """Split ``host``, ``host:port`` or ``[ipv6]:port`` and name the host's family."""
    text = text.strip()
    port = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") and rest[1:].isdigit() else None
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        port = port if port.isdigit() else None
    else:
        host = text
    host = host.lower()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        family = next((f for f in ("onion", "i2p") if host.endswith("." + f)), "unknown")
        return Address(family, host, port)
    if ip.version == 4:
        return Address("ipv4", str(ip), port)
    cjdns = ip in ipaddress.ip_network("fc00::/8")
    return Address("cjdns" if cjdns else "ipv6", str(ip), port)


class Pseudonymizer:
    """Pseudonyms under one key; results are cached per distinct address."""

    def __init__(self, key: bytes, cryptopan_key: bytes | None = None) -> None:
        self._opaque_key = hmac.digest(key, b"wirehouse/opaque", "sha256")
        self._cryptopan = CryptoPAn(
            cryptopan_key or hmac.digest(key, b"wirehouse/crypto-pan", "sha256")
        )
        self.pseudonym = lru_cache(maxsize=1 << 20)(self._pseudonym)

    def _opaque(self, addr: Address) -> str:
        mac = hmac.new(self._opaque_key, f"{addr.family}|{addr.host}".encode(), hashlib.sha256)
        return f"{addr.family}-{mac.hexdigest()[:16]}"

    def _prefix(self, addr: Address) -> str:
        if addr.family == "ipv4":
            return self._cryptopan.anonymize(addr.host)
        if addr.family not in ("ipv6", "cjdns"):
            return self._opaque(addr)
        value = int(ipaddress.IPv6Address(addr.host))
        anonymised = self._cryptopan.anonymize_bin(value, 6)
        if addr.family == "cjdns":  # keep the fc00::/8 marker: flip only the bits after it
            keep = ((1 << CJDNS_PREFIX_BITS) - 1) << (128 - CJDNS_PREFIX_BITS)
            anonymised = (value & keep) | (anonymised & ~keep)
        return str(ipaddress.IPv6Address(anonymised))

    def _pseudonym(self, text: str | None, mode: str, keep_port: bool) -> str | None:
        if text is None or not text.strip():
            return None
        if mode not in MODES:
            raise ValueError(f"anonymisation mode must be one of {', '.join(MODES)}, not {mode!r}")
        addr = parse(text)
        host = self._prefix(addr) if mode == "prefix" else self._opaque(addr)
        if not (keep_port and addr.port is not None):
            return host
        bracket = mode == "prefix" and addr.family in ("ipv6", "cjdns")
        return f"[{host}]:{addr.port}" if bracket else f"{host}:{addr.port}"


@cache
def for_key(name: str) -> Pseudonymizer:
    """The pseudonymizer for a key name: ``env`` ($WIREHOUSE_ANON_KEY) or ``test``."""
    if name == "test":
        return Pseudonymizer(CRYPTOPAN_SAMPLE_KEY, cryptopan_key=CRYPTOPAN_SAMPLE_KEY)
    if name != "env":
        raise ValueError(f"anonymisation key must be 'env' or 'test', not {name!r}")
    secret = os.environ.get(KEY_ENV, "")
    if not secret:
        print(
            f"wirehouse: warning: {KEY_ENV} is not set; pseudonyms use a random key for this"
            " run and will not match any other run",
            file=sys.stderr,
        )
        return Pseudonymizer(secrets.token_bytes(32))
    return Pseudonymizer(secret.encode())
