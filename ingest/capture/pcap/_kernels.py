# ruff: noqa: SIM108, SIM109 - plain if/else and == chains compile to the simplest numba code
"""Compiled (numba) inner loops: the record walk and the per-packet dissection.

Everything here works on a ``uint8`` numpy buffer and plain integer arrays; nothing allocates
Python objects per packet. All arithmetic is done in int64 on purpose: mixing numba's unsigned
and signed integers silently promotes to float64.

Return protocol of the walkers: ``(n, pos, status, arg)``; ``n`` records were written to the
output arrays, ``pos`` is where the walk stopped, ``status`` says why (constants below) and
``arg`` carries the offending value for error statuses.
"""

from __future__ import annotations

import numba
import numpy as np

# walker statuses
FULL = 0  # output arrays full: call again
NEED_MORE = 1  # the next record/block is not completely in the buffer
STOP_BLOCK = 2  # pcapng: a block Python handles itself (SHB, IDB) starts at pos
ERR_RECORD_TOO_BIG = 3  # arg = declared length
ERR_BLOCK_LEN_SMALL = 4  # arg = block length
ERR_BLOCK_LEN_MULT4 = 5
ERR_BLOCK_TRAILER = 6  # arg = trailing length
ERR_NO_IDB = 7  # arg = interface id
ERR_CAPLEN_EXCEEDS_BLOCK = 8  # arg = caplen
ERR_CAPLEN_TOO_BIG = 9  # arg = caplen (above the snapshot length / libpcap's maximum)

# dissection output rows (one int64 row per field, -1 = null)
F_IP_VERSION = 0
F_IP_PROTO = 1
F_TTL = 2
F_IP_TOTAL_LEN = 3
F_IP_ID = 4
F_FRAG_OFFSET = 5
F_MORE_FRAGMENTS = 6
F_DONT_FRAGMENT = 7
F_SRC_PORT = 8
F_DST_PORT = 9
F_TCP_FLAGS = 10
F_TCP_SEQ = 11
F_TCP_ACK = 12
F_TCP_WINDOW = 13
F_TCP_WSCALE = 14
F_TCP_MSS = 15
F_TCP_SACK_PERMITTED = 16
F_TCP_TSVAL = 17
F_TCP_TSECR = 18
F_TCP_HEADER_LEN = 19
F_PAYLOAD_LEN = 20
F_ICMP_TYPE = 21
F_ICMP_CODE = 22
F_MAL_CODE = 23  # 0 = well formed; see malformed_texts in reader.py
F_MAL_A = 24
F_MAL_B = 25
F_PAYLOAD_OFF = 26  # buffer offset of the TCP payload (segments)
F_PAYLOAD_CAPLEN = 27  # captured TCP payload bytes
F_VLAN_COUNT = 28
F_L3_OFF = 29  # buffer offset of the IP header (for the address texts)
F_ETHERTYPE = 30  # Ethernet/SLL protocol type after any VLAN tags
N_FIELDS = 31
MAX_VLANS = 4

# malformed codes (texts in reader.malformed_texts)
M_ETH_TRUNC = 1
M_VLAN_TRUNC = 2
M_LINK_HDR_TRUNC = 3
M_IPV4_TRUNC = 4
M_IPV4_IHL = 5
M_IPV4_TOTAL_LT_IHL = 6
M_IP_VERSION_MISMATCH = 7
M_IPV6_TRUNC = 8
M_IPV6_EXT_TRUNC = 9
M_TCP_TRUNC = 10
M_TCP_HLEN = 11
M_TCP_HLEN_GT_PAYLOAD = 12
M_UDP_TRUNC = 13
M_UDP_SHORT = 14
M_IP_VERSION_UNKNOWN = 15
M_IP_LEN_GT_WIRE = 16
M_ICMP_TRUNC = 17
M_IPV6_EXT_GT_PAYLOAD = 18
M_IPV4_OPTIONS_TRUNC = 19

# link types the fast path dissects
LT_NULL = 0
LT_ETHERNET = 1
LT_RAW_12 = 12
LT_RAW_14 = 14
LT_RAW = 101
LT_LOOP = 108
LT_SLL = 113
LT_IPV4 = 228
LT_IPV6 = 229
LT_SLL2 = 276
FAST_LINK_TYPES = frozenset(
    {LT_NULL, LT_ETHERNET, LT_RAW_12, LT_RAW_14, LT_RAW, LT_LOOP, LT_SLL, LT_IPV4, LT_IPV6, LT_SLL2}
)

jit = numba.njit(cache=True, nogil=True, boundscheck=False, _nrt=False)  # see tcp/_kernel.py


@numba.njit(cache=True, inline="always", _nrt=False)
def _u16(buf, o, big):
    a = np.int64(buf[o])
    b = np.int64(buf[o + 1])
    return (a << 8) | b if big else (b << 8) | a


@numba.njit(cache=True, inline="always", _nrt=False)
def _u32(buf, o, big):
    a = np.int64(buf[o])
    b = np.int64(buf[o + 1])
    c = np.int64(buf[o + 2])
    d = np.int64(buf[o + 3])
    if big:
        return (a << 24) | (b << 16) | (c << 8) | d
    return (d << 24) | (c << 16) | (b << 8) | a


@jit
def walk_pcap(
    buf, pos, end, hdr_len, big, frac_ns, swap, max_caplen, max_record,
    data_off, caplen, origlen, ts_ns, stats,
):  # fmt: skip
    """Walk classic pcap records from ``pos`` to ``end``; frac_ns = 1000 (µs) or 1 (ns magic).

    swap: 0 lengths as written, 1 caplen/len swapped (versions before 2.3), 2 swapped when
    caplen > len (2.3: both layouts exist), as libpcap reads them. A caplen above max_caplen
    (libpcap's maximum for the link type) is damage: ERR_CAPLEN_TOO_BIG, arg = caplen.
    stats[0] counts fraction fields outside 0 .. 1 s (kept: signed, carried into the
    seconds), stats[1] is the buffer position of the first such record (-1 until one).
    """
    n = 0
    max_n = data_off.shape[0]
    frac_limit = 1_000_000 if frac_ns == 1000 else 1_000_000_000
    while n < max_n:
        if pos + hdr_len > end:
            return n, pos, NEED_MORE, 0
        incl = _u32(buf, pos + 8, big)
        orig = _u32(buf, pos + 12, big)
        if swap == 1 or (swap == 2 and incl > orig):
            incl, orig = orig, incl
        if incl > max_record:
            return n, pos, ERR_RECORD_TOO_BIG, incl
        if incl > max_caplen:
            return n, pos, ERR_CAPLEN_TOO_BIG, incl
        if pos + hdr_len + incl > end:
            return n, pos, NEED_MORE, 0
        frac = _u32(buf, pos + 4, big)
        if frac >= 0x80000000:  # a signed field, as libpcap (int32 tv_usec) and tshark read it
            frac -= 0x100000000
        if frac < 0 or frac >= frac_limit:
            if stats[0] == 0:
                stats[1] = pos
            stats[0] += 1
        ts_ns[n] = _u32(buf, pos, big) * 1_000_000_000 + frac * frac_ns
        caplen[n] = incl
        origlen[n] = orig
        data_off[n] = pos + hdr_len
        n += 1
        pos += hdr_len + incl
    return n, pos, FULL, 0


@jit
def _pcapng_ts(hi, lo, pow2, exp, offset_ns):
    """Timestamp units since 1970 at resolution 10^-exp or 2^-exp -> ns."""
    if pow2:
        raw = (hi << 32) | lo
        sec = raw >> exp
        frac = raw & ((np.int64(1) << exp) - 1)
        if exp > 30:
            frac_ns = ((frac >> (exp - 30)) * 1_000_000_000) >> 30
        else:
            frac_ns = (frac * 1_000_000_000) >> exp
        return sec * 1_000_000_000 + frac_ns + offset_ns
    if exp <= 9:
        return ((hi << 32) | lo) * 10 ** (9 - exp) + offset_ns
    div = np.int64(10) ** (exp - 9)
    q, r = hi // div, hi % div
    return q * (np.int64(1) << 32) + ((r << 32) + lo) // div + offset_ns


@jit
def walk_pcapng(
    buf, pos, end, big, max_record,
    if_link, if_snap, if_pow2, if_exp, if_offset, n_if,
    data_off, caplen, origlen, ts_ns, iface, link,
):  # fmt: skip
    """Walk pcapng packet blocks (EPB, SPB, obsolete PB), skipping unknown blocks.

    Stops with STOP_BLOCK at SHB/IDB so Python can parse them and update the interface
    arrays (per-interface link type, snapshot length as libpcap adjusts it, timestamp
    resolution and offset). As in libpcap, a packet longer than its interface's snapshot
    length is damage (ERR_CAPLEN_TOO_BIG), and a simple packet block must hold
    min(original length, snapshot length) bytes (ERR_CAPLEN_EXCEEDS_BLOCK).
    """
    n = 0
    max_n = data_off.shape[0]
    while n < max_n:
        if pos + 8 > end:
            return n, pos, NEED_MORE, 0
        btype = _u32(buf, pos, big)
        if btype == 0x0A0D0D0A or btype == 1:
            return n, pos, STOP_BLOCK, 0
        blen = _u32(buf, pos + 4, big)
        if blen < 12:
            return n, pos, ERR_BLOCK_LEN_SMALL, blen
        if blen % 4 != 0:
            return n, pos, ERR_BLOCK_LEN_MULT4, blen
        if blen > max_record:
            return n, pos, ERR_RECORD_TOO_BIG, blen
        if pos + blen > end:
            return n, pos, NEED_MORE, 0
        trailer = _u32(buf, pos + blen - 4, big)
        if trailer != blen:
            return n, pos, ERR_BLOCK_TRAILER, trailer
        body = pos + 8
        if btype == 6 or btype == 2:  # enhanced / obsolete packet block
            if blen < 32:
                return n, pos, ERR_BLOCK_LEN_SMALL, blen
            if btype == 6:
                ifid = _u32(buf, body, big)
            else:
                ifid = _u16(buf, body, big)
            if ifid >= n_if:
                return n, pos, ERR_NO_IDB, ifid
            cl = _u32(buf, body + 12, big)
            if cl > blen - 32:
                return n, pos, ERR_CAPLEN_EXCEEDS_BLOCK, cl
            if cl > if_snap[ifid]:
                return n, pos, ERR_CAPLEN_TOO_BIG, cl
            hi = _u32(buf, body + 4, big)
            lo = _u32(buf, body + 8, big)
            ts_ns[n] = _pcapng_ts(hi, lo, if_pow2[ifid], if_exp[ifid], if_offset[ifid])
            caplen[n] = cl
            origlen[n] = _u32(buf, body + 16, big)
            data_off[n] = body + 20
            iface[n] = ifid
            link[n] = if_link[ifid]
            n += 1
        elif btype == 3:  # simple packet block: interface 0, no timestamp
            if blen < 16:
                return n, pos, ERR_BLOCK_LEN_SMALL, blen
            if n_if == 0:
                return n, pos, ERR_NO_IDB, 0
            orig = _u32(buf, body, big)
            cl = min(orig, if_snap[0])
            if cl > blen - 16:
                return n, pos, ERR_CAPLEN_EXCEEDS_BLOCK, cl
            ts_ns[n] = -1
            caplen[n] = cl
            origlen[n] = orig
            data_off[n] = body + 4
            iface[n] = 0
            link[n] = if_link[0]
            n += 1
        pos += blen
    return n, pos, FULL, 0


@jit
def _mal(out, i, code, a, b):
    if out[F_MAL_CODE, i] == 0:  # keep the first problem found
        out[F_MAL_CODE, i] = code
        out[F_MAL_A, i] = a
        out[F_MAL_B, i] = b


@jit
def _put_dec(chars, c, v):
    if v >= 100:
        chars[c] = 48 + v // 100
        c += 1
    if v >= 10:
        chars[c] = 48 + (v // 10) % 10
        c += 1
    chars[c] = 48 + v % 10
    return c + 1


@jit
def _put_v4(chars, c, buf, p):
    for k in range(4):
        if k:
            chars[c] = 46  # '.'
            c += 1
        c = _put_dec(chars, c, np.int64(buf[p + k]))
    return c


@jit
def _put_hex(chars, c, v):
    started = False
    for shift in (12, 8, 4, 0):
        d = (v >> shift) & 15
        if d or started or shift == 0:
            chars[c] = 48 + d if d < 10 else 87 + d
            c += 1
            started = True
    return c


@jit
def _put_v6(chars, c, buf, p):
    """RFC 5952 text, exactly as Python's ipaddress prints it (no dotted v4 tail)."""
    best_start, best_len, run_start, run_len = -1, 0, -1, 0
    for k in range(8):  # the longest run of zero groups (the first one on a tie)
        if buf[p + 2 * k] == 0 and buf[p + 2 * k + 1] == 0:
            if run_len == 0:
                run_start = k
            run_len += 1
            if run_len > best_len:
                best_start, best_len = run_start, run_len
        else:
            run_len = 0
    if best_len < 2:
        best_start = -1
    k = 0
    while k < 8:
        if k == best_start:
            chars[c] = 58  # ':'
            c += 1
            if k == 0:
                chars[c] = 58
                c += 1
            k += best_len
            continue
        c = _put_hex(chars, c, _u16(buf, p + 2 * k, True))
        if k < 7:
            chars[c] = 58
            c += 1
        k += 1
    return c


@jit
def dissect(
    buf, data_off, caplen, origlen, link, out, vlans, src_chars, dst_chars, src_end, dst_end
):
    """Decode link, network and transport headers of every packet into ``out``.

    ``out`` must be pre-filled with -1 (null) except F_MAL_CODE = 0 and F_VLAN_COUNT = 0.
    Address texts go to ``*_chars`` with end offsets in ``*_end`` (Arrow string layout).
    """
    sc = 0
    dc = 0
    for i in range(data_off.shape[0]):
        _dissect_one(buf, i, data_off[i], caplen[i], origlen[i], link[i], out, vlans)
        v = out[F_IP_VERSION, i]
        p = out[F_L3_OFF, i]
        if v == 4:
            sc = _put_v4(src_chars, sc, buf, p + 12)
            dc = _put_v4(dst_chars, dc, buf, p + 16)
        elif v == 6:
            sc = _put_v6(src_chars, sc, buf, p + 8)
            dc = _put_v6(dst_chars, dc, buf, p + 24)
        src_end[i] = sc
        dst_end[i] = dc


@jit
def _dissect_one(buf, i, off, cl, orig, lt, out, vlans):
    end = off + cl
    et = -1
    p = off
    if lt == LT_ETHERNET:
        if cl < 14:
            _mal(out, i, M_ETH_TRUNC, cl, 14)
            return
        et = _u16(buf, off + 12, True)
        p = off + 14
        nv = 0
        while et == 0x8100 or et == 0x88A8 or et == 0x9100:
            if p + 4 > end:
                _mal(out, i, M_VLAN_TRUNC, nv + 1, 0)
                out[F_VLAN_COUNT, i] = nv
                return
            if nv < MAX_VLANS:
                vlans[i, nv] = _u16(buf, p, True) & 0xFFF
                nv += 1
            et = _u16(buf, p + 2, True)
            p += 4
        out[F_VLAN_COUNT, i] = nv
    elif lt == LT_SLL or lt == LT_SLL2:
        hl = 16 if lt == LT_SLL else 20
        if cl < hl:
            _mal(out, i, M_LINK_HDR_TRUNC, cl, hl)
            return
        et = _u16(buf, off + 14 if lt == LT_SLL else off, True)
        p = off + hl
    elif lt == LT_NULL or lt == LT_LOOP:
        if cl < 4:
            _mal(out, i, M_LINK_HDR_TRUNC, cl, 4)
            return
        # the address family is in the writer's byte order: small values tell which one
        af = _u32(buf, off, buf[off] == 0 and buf[off + 1] == 0)
        if af == 2:
            et = 0x0800
        elif af == 24 or af == 28 or af == 30:
            et = 0x86DD
        p = off + 4
    elif lt == LT_RAW or lt == LT_RAW_12 or lt == LT_RAW_14:
        if cl < 1:
            _mal(out, i, M_IP_VERSION_UNKNOWN, -1, 0)
            return
        ver = np.int64(buf[off]) >> 4
        if ver == 4:
            et = 0x0800
        elif ver == 6:
            et = 0x86DD
        else:
            _mal(out, i, M_IP_VERSION_UNKNOWN, ver, 0)
            return
    elif lt == LT_IPV4:
        et = 0x0800
    elif lt == LT_IPV6:
        et = 0x86DD
    else:
        return
    out[F_ETHERTYPE, i] = et
    if et == 0x0800 or et == 0x86DD:
        _dissect_ip(buf, i, p, end, orig - (p - off), et, out)


@jit
def _dissect_ip(buf, i, p, end, wire, et, out):
    """IPv4/IPv6 at p; wire = bytes on the wire from p (origlen based)."""
    want = 4 if et == 0x0800 else 6
    if p >= end:
        _mal(out, i, M_IPV4_TRUNC if want == 4 else M_IPV6_TRUNC, 0, 20 if want == 4 else 40)
        return
    ver = np.int64(buf[p]) >> 4
    if ver != want:
        _mal(out, i, M_IP_VERSION_MISMATCH, ver, et)
        return
    if want == 4:
        if p + 20 > end:
            _mal(out, i, M_IPV4_TRUNC, end - p, 20)
            return
        ihl = (np.int64(buf[p]) & 15) * 4
        total = _u16(buf, p + 2, True)
        ff = _u16(buf, p + 6, True)
        out[F_IP_VERSION, i] = 4
        out[F_L3_OFF, i] = p
        out[F_IP_TOTAL_LEN, i] = total
        out[F_IP_ID, i] = _u16(buf, p + 4, True)
        out[F_DONT_FRAGMENT, i] = (ff >> 14) & 1
        out[F_MORE_FRAGMENTS, i] = (ff >> 13) & 1
        frag = ff & 0x1FFF
        out[F_FRAG_OFFSET, i] = frag
        out[F_TTL, i] = buf[p + 8]
        proto = np.int64(buf[p + 9])
        out[F_IP_PROTO, i] = proto
        if ihl < 20:
            _mal(out, i, M_IPV4_IHL, ihl, 0)
            return
        if total < ihl:
            _mal(out, i, M_IPV4_TOTAL_LT_IHL, total, ihl)
            return
        if total > wire:
            _mal(out, i, M_IP_LEN_GT_WIRE, total, wire)
        if p + ihl > end:
            _mal(out, i, M_IPV4_OPTIONS_TRUNC, end - p, ihl)
            return
        if frag != 0:
            return
        _dissect_l4(buf, i, p + ihl, min(end, p + total), total - ihl, proto, out)
        return
    if p + 40 > end:
        _mal(out, i, M_IPV6_TRUNC, end - p, 40)
        return
    plen = _u16(buf, p + 4, True)
    out[F_IP_VERSION, i] = 6
    out[F_L3_OFF, i] = p
    out[F_IP_TOTAL_LEN, i] = plen + 40
    out[F_TTL, i] = buf[p + 7]
    if plen + 40 > wire:
        _mal(out, i, M_IP_LEN_GT_WIRE, plen + 40, wire)
    nh = np.int64(buf[p + 6])
    q = p + 40
    remaining = plen
    frag = 0
    for _ in range(16):  # bounded: a looping chain of extension headers is not followed
        if not (nh == 0 or nh == 43 or nh == 60 or nh == 44 or nh == 51):
            break
        if q + 8 > end:
            out[F_IP_PROTO, i] = nh
            _mal(out, i, M_IPV6_EXT_TRUNC, nh, 0)
            return
        if nh == 44:
            hl = 8
            fo = _u16(buf, q + 2, True)
            frag = fo >> 3
            out[F_FRAG_OFFSET, i] = frag
            out[F_MORE_FRAGMENTS, i] = fo & 1
            out[F_IP_ID, i] = _u32(buf, q + 4, True)
        elif nh == 51:
            hl = (np.int64(buf[q + 1]) + 2) * 4
        else:
            hl = (np.int64(buf[q + 1]) + 1) * 8
        nh = np.int64(buf[q])
        q += hl
        remaining -= hl
    out[F_IP_PROTO, i] = nh
    if remaining < 0:
        _mal(out, i, M_IPV6_EXT_GT_PAYLOAD, plen, plen - remaining)
        return
    if frag != 0 or q > end:
        if q > end:
            _mal(out, i, M_IPV6_EXT_TRUNC, nh, 0)
        return
    _dissect_l4(buf, i, q, min(end, p + 40 + plen), remaining, nh, out)


@jit
def _dissect_l4(buf, i, q, end, ip_payload, proto, out):
    """Transport header at q; end = last captured byte of the IP payload + 1."""
    have = end - q
    if proto == 6:
        if have >= 4:
            out[F_SRC_PORT, i] = _u16(buf, q, True)
            out[F_DST_PORT, i] = _u16(buf, q + 2, True)
        if have < 20:
            _mal(out, i, M_TCP_TRUNC, max(have, 0), 20)
            return
        thl = (np.int64(buf[q + 12]) >> 4) * 4
        out[F_TCP_SEQ, i] = _u32(buf, q + 4, True)
        out[F_TCP_ACK, i] = _u32(buf, q + 8, True)
        out[F_TCP_FLAGS, i] = _u16(buf, q + 12, True) & 0x1FF
        out[F_TCP_WINDOW, i] = _u16(buf, q + 14, True)
        out[F_TCP_HEADER_LEN, i] = thl
        if thl < 20:
            _mal(out, i, M_TCP_HLEN, thl, 0)
            return
        if thl > ip_payload:
            _mal(out, i, M_TCP_HLEN_GT_PAYLOAD, thl, ip_payload)
            return
        out[F_PAYLOAD_LEN, i] = ip_payload - thl
        out[F_TCP_SACK_PERMITTED, i] = 0
        if have < thl:
            _mal(out, i, M_TCP_TRUNC, have, thl)
            return
        out[F_PAYLOAD_OFF, i] = q + thl
        out[F_PAYLOAD_CAPLEN, i] = have - thl
        o = q + 20
        oend = q + thl
        while o < oend:
            kind = np.int64(buf[o])
            if kind == 0:
                break
            if kind == 1:
                o += 1
                continue
            if o + 2 > oend:
                break
            olen = np.int64(buf[o + 1])
            if olen < 2 or o + olen > oend:
                break
            if kind == 2 and olen == 4:
                out[F_TCP_MSS, i] = _u16(buf, o + 2, True)
            elif kind == 3 and olen == 3:
                out[F_TCP_WSCALE, i] = buf[o + 2]
            elif kind == 4 and olen == 2:
                out[F_TCP_SACK_PERMITTED, i] = 1
            elif kind == 8 and olen == 10:
                out[F_TCP_TSVAL, i] = _u32(buf, o + 2, True)
                out[F_TCP_TSECR, i] = _u32(buf, o + 6, True)
            o += olen
    elif proto == 17:
        if have < 8:
            if have >= 4:
                out[F_SRC_PORT, i] = _u16(buf, q, True)
                out[F_DST_PORT, i] = _u16(buf, q + 2, True)
            _mal(out, i, M_UDP_TRUNC, max(have, 0), 8)
            return
        out[F_SRC_PORT, i] = _u16(buf, q, True)
        out[F_DST_PORT, i] = _u16(buf, q + 2, True)
        if ip_payload < 8:
            _mal(out, i, M_UDP_SHORT, ip_payload, 0)
            return
        out[F_PAYLOAD_LEN, i] = ip_payload - 8
    elif proto == 1 or proto == 58:
        if have < 2:
            _mal(out, i, M_ICMP_TRUNC, max(have, 0), 2)
            return
        out[F_ICMP_TYPE, i] = buf[q]
        out[F_ICMP_CODE, i] = buf[q + 1]
