# ruff: noqa: SIM109 - plain == chains compile to the simplest numba code
"""Compiled (numba) TCP stream layer: connections, per-direction reassembly, framing.

One call of ``advance`` walks the TCP packets of a batch in capture order:

- connections are found in an open-addressing hash table keyed by the two endpoints (in a
  fixed order) and numbered per 4-tuple use (a SYN with a new ISN or a sequence jump larger
  than any window starts a new use: ``seqno`` + 1);
- a connection is *claimed* by a framer by port, or by that framer's strict test on the
  start of a segment (a Python verdict: the call stops with ``EV_CLASSIFY``);
- each direction of a claimed connection is reassembled in sequence order: duplicates and
  overlaps are cut, out-of-order segments are copied into a bounded arena until the hole is
  filled or given up (a gap of known length), sequence numbers wrap at 2**32;
- in-order bytes go to a length-prefixed framer (parameters per framer: prefix length,
  length field, bounds, head bytes to keep). Only the first ``head_cap`` bytes of each
  message are copied out; bodies are counted, never copied. A direction that lost its
  framing *hunts*: it drops data until a segment starts with a plausible message (cheap
  probe here, strict verdict in Python: ``EV_HUNT``), and marks that message ``gap before``.

Everything is int64 state in a few 2-D arrays (field constants below) so state survives
between batches and calls; nothing per packet is a Python object. Outputs are message,
claim and close records in preallocated arrays that Python drains when a call returns.
"""

from __future__ import annotations

import numba
import numpy as np

from ingest.capture.pcap import _kernels as F  # the reader's field rows

# No NRT (numba's reference counting): with it every call between these functions
# increments and decrements each array argument atomically, which cost more than the work
# per segment (bench/results/pcap.md).
# Without it nothing here may allocate: copies are explicit loops.
jit = numba.njit(cache=True, nogil=True, boundscheck=False, _nrt=False)
hot = numba.njit(cache=True, nogil=True, boundscheck=False, inline="always", _nrt=False)
jit_alloc = numba.njit(cache=True, nogil=True, boundscheck=False)  # rare calls that allocate

SEQ_MOD = 1 << 32
FIN, SYN, RST, ACK = 1, 2, 4, 16
MAX_SEQ_JUMP = 64 << 20  # further than any window: another byte stream on the same 4-tuple
MAX_OOO_SEGMENTS = 64  # held out-of-order segments per direction before the hole is a gap
MAX_OOO_BYTES = 4 << 20
HELD_SEGMENTS = 4  # segments an unclaimed connection keeps while it is being classified
HEURISTIC_SEGMENTS = 8  # payload segments an unclaimed connection gets to be recognised
MAX_HELD_BYTES = 16 << 20  # all unclaimed connections together

# advance() statuses
DONE = 0
OUT_FULL = 1  # an output array is full: drain and call again
NEED_CONN = 2  # grow the connection table
NEED_DIR = 3
NEED_HELD = 4
NEED_ARENA = 5  # arg0 = bytes wanted
EV_CLASSIFY = 6  # arg0 = connection; Python sets C_VERDICT then calls again
EV_HUNT = 7  # arg0 = direction, arg1 = held entry or -1 (the packet itself)

# packet input, one column per packet (int64 matrix P[field, i])
P_ROW = 0  # the caller's row id (batch row), for addresses
P_FRAME = 1
P_TS = 2
P_SRC_HI = 3  # addresses as two 64-bit words (IPv4: 0, address)
P_SRC_LO = 4
P_DST_HI = 5
P_DST_LO = 6
P_SPORT = 7
P_DPORT = 8
P_VER = 9
P_SEQ = 10
P_FLAGS = 11
P_OFF = 12  # payload offset in buf, -1 for none
P_CAPLEN = 13  # captured payload bytes
P_WIRELEN = 14  # payload bytes on the wire (> caplen when the snaplen cut it)
P_IPBYTES = 15  # IP packet bytes (headers included)
P_FRAMEBYTES = 16  # link-layer frame bytes on the wire
P_PROBE = 17  # bit k: framer k's cheap probe passes on the payload start
N_P = 18

# connection state C[conn, field]
C_K0 = 0  # C_K0..C_K4: endpoints in a fixed order (A, B) and (version, ports)
C_K4 = 4
C_STATE = 5
C_FRAMER = 6
C_CLIENT_A = 7  # 1: the client (orig) is endpoint A
C_SEQNO = 8
C_GEN = 9  # unique id of this connection use within the file
C_ISN_A = 10
C_ISN_B = 11
C_SYN_CLIENT = 12  # -1 none, 0 A, 1 B: who sent a pure SYN
C_HAS_DATA = 13
C_CLOSED = 14
C_TRIES = 15
C_DIR_A = 16  # direction of the packets sent by A
C_DIR_B = 17
C_HELD = 18  # held segments while unclaimed (list in H)
C_NHELD = 19
C_VERDICT_FRAME = 20  # the frame a Python verdict was given for
C_VERDICT = 21  # -1 rejected, k >= 0 claimed by framer k with the sender as client
C_SLOT = 22  # position in the hash index
C_NEXT_FREE = 23
C_DETECT = 24  # 0 port, 1 heuristic
N_C = 25
FREE, UNKNOWN, CLAIMED, IGNORED = 0, 1, 2, 3

# direction state D[dir, field]
D_CONN = 0
D_IS_CLIENT = 1
D_NEXT = 2  # next expected sequence number, -1 unknown
D_HUNT = 3
D_GAP_BEFORE = 4
D_OOO = 5  # held out-of-order segments (list in H, capture order)
D_NOOO = 6
D_OOO_BYTES = 7
D_VERDICT_SEQ = 8  # sequence number a hunting verdict was given for
D_VERDICT = 9
D_ACTIVE = 10  # a message is being read
D_HLEN = 11  # head bytes collected
D_TOTAL = 12  # message bytes on the wire (prefix included), -1 until the prefix is read
D_VALUE = 13  # the length field
D_CONSUMED = 14
D_FF = 15  # first/last frame and time of the message
D_FT = 16
D_LF = 17
D_LT = 18
D_PACKETS = 19
D_COMPLETE = 20
D_M_GAP_BEFORE = 21
D_IP = 22  # attributed IP bytes (headers shared by payload bytes)
D_FB = 23  # attributed frame bytes
D_INDEX = 24  # message index in the direction
D_MAGIC = 25  # the direction's first magic (framers with one), -1 unknown
D_NEXT_FREE = 26
D_PROBE = 27  # while hunting: segments too short to judge alone (list in H)
D_PROBE_SEQ = 28  # sequence number of the first probe byte
D_PROBE_BYTES = 29
D_HEAD_CUT = 30  # a gap cut the message's head: keep the bytes before it, no more
N_D = 31

# hunting verdicts (Python's answer to EV_HUNT, in D_VERDICT)
V_REJECT = 0  # no message starts here (nor at the probe)
V_SYNC_HERE = 1  # a message starts at this segment
V_MORE = 2  # the probe plus this segment is still too short to tell: keep both
V_NEW_PROBE = 3  # the probe is not a start; this segment is too short to tell: keep it
V_SYNC_PROBE = 4  # a message starts at the probe
MAX_PROBE_BYTES = 4096

# held segment pool H[entry, field] (out-of-order and classification holds)
H_NEXT = 0
H_SEQ = 1
H_LEN = 2
H_OFF = 3  # arena offset
H_FRAME = 4
H_TS = 5
H_WIRELEN = 6
H_IPBYTES = 7
H_FRAMEBYTES = 8
H_PROBE = 9
H_FROM_A = 10
H_INUSE = 11
N_H = 12

# framer specs S[framer, field]
S_PREFIX = 0  # bytes needed to know the length
S_LEN_OFF = 1
S_BIG = 2  # length field byte order
S_BASE = 3  # message bytes = base + length field
S_MIN_CLIENT = 4  # bounds of the length field, per direction
S_MAX_CLIENT = 5
S_MIN_SERVER = 6
S_MAX_SERVER = 7
S_MAGIC_LEN = 8  # 0, or the first bytes must repeat the direction's first magic
S_HEAD_CAP = 9
N_S = 10

# output records M[field, k]
M_GEN = 0
M_IS_CLIENT = 1
M_INDEX = 2
M_VALUE = 3
M_TOTAL = 4
M_FF = 5
M_FT = 6
M_LF = 7
M_LT = 8
M_PACKETS = 9
M_COMPLETE = 10
M_GAP_BEFORE = 11
M_IP = 12
M_FB = 13
M_HLEN = 14
M_FRAMER = 15
N_M = 16
# claim records L[field, k]
L_GEN = 0
L_ROW = 1
L_CLIENT_IS_SRC = 2
L_SEQNO = 3
L_FRAMER = 4
L_DETECT = 5
N_L = 6

# globals G[field]
G_NCONN = 0  # connections in use
G_CTOP = 1  # high-water mark of C
G_CFREE = 2
G_DTOP = 3
G_DFREE = 4
G_HTOP = 5
G_HFREE = 6
G_ATOP = 7  # arena bump pointer
G_GEN = 8
G_NM = 9  # message records written
G_NL = 10  # claim records
G_NX = 11  # close records
G_HELD_BYTES = 12  # classification holds, all connections
G_ARENA_FULL = 13  # Python could not make room: stop holding, declare gaps
G_RESUME_CONN = 14  # connection of the packet a call stopped at (payload phase), else -1
G_HUNT_DIR = 15  # EV_HUNT: the direction, the held entry (-1: the packet) and its seq
G_HUNT_ENTRY = 16
G_HUNT_SEQ = 17
G_ARENA_WANT = 18  # NEED_ARENA: bytes wanted
G_MAX_CONNS = 19  # NEED_CONN at this many connections: Python evicts what cannot produce
N_G = 20


@jit
def seq_delta(a, b):
    """a - b in 32-bit sequence space as a signed distance."""
    d = (a - b) % SEQ_MOD
    return d - SEQ_MOD if d >= SEQ_MOD // 2 else d


@jit
def _hash(k0, k1, k2, k3, k4):
    h = np.uint64(1469598103934665603)
    for k in (k0, k1, k2, k3, k4):
        h = (h ^ np.uint64(k)) * np.uint64(1099511628211)
        h ^= h >> np.uint64(29)
    return np.int64(h >> np.uint64(1))


@jit
def _lookup(index, C, k0, k1, k2, k3, k4):
    """(connection or -1, the slot it is in or the first free slot for it)."""
    mask = index.shape[0] - 1
    s = _hash(k0, k1, k2, k3, k4) & mask
    free = -1
    while True:
        c = index[s]
        if c == -1:
            return -1, (s if free < 0 else free)
        if c == -2:
            if free < 0:
                free = s
        elif (
            C[c, C_K0] == k0 and C[c, C_K0 + 1] == k1 and C[c, C_K0 + 2] == k2
            and C[c, C_K0 + 3] == k3 and C[c, C_K4] == k4
        ):  # fmt: skip
            return c, s
        s = (s + 1) & mask


@jit
def rehash(index, C, top):
    """Rebuild the hash index (after growing it or evicting connections)."""
    index[:] = -1
    mask = index.shape[0] - 1
    for c in range(top):
        if C[c, C_STATE] == FREE:
            continue
        s = _hash(C[c, C_K0], C[c, C_K0 + 1], C[c, C_K0 + 2], C[c, C_K0 + 3], C[c, C_K4]) & mask
        while index[s] != -1:
            s = (s + 1) & mask
        index[s] = c
        C[c, C_SLOT] = s


@jit
def _alloc(T, G, top_field, free_field, next_field):
    """A free row of table T (-1: the table is full and must grow)."""
    r = G[free_field]
    if r >= 0:
        G[free_field] = T[r, next_field]
        return r
    if G[top_field] >= T.shape[0]:
        return -1
    r = G[top_field]
    G[top_field] = r + 1
    return r


@jit
def _free(T, G, r, free_field, next_field):
    T[r, next_field] = G[free_field]
    G[free_field] = r


@jit
def _free_held_list(H, G, head, classification):
    while head >= 0:
        nxt = H[head, H_NEXT]
        if classification:
            G[G_HELD_BYTES] -= H[head, H_LEN]
        H[head, H_INUSE] = 0
        _free(H, G, head, G_HFREE, H_NEXT)
        head = nxt


@jit
def _emit(D, d, C, M, OH, heads, G):
    """Write direction d's current message as a record (the caller checked M has room)."""
    k = G[G_NM]
    c = D[d, D_CONN]
    M[M_GEN, k] = C[c, C_GEN]
    M[M_FRAMER, k] = C[c, C_FRAMER]
    M[M_IS_CLIENT, k] = D[d, D_IS_CLIENT]
    M[M_INDEX, k] = D[d, D_INDEX]
    M[M_VALUE, k] = D[d, D_VALUE]
    M[M_TOTAL, k] = D[d, D_TOTAL]
    M[M_FF, k] = D[d, D_FF]
    M[M_FT, k] = D[d, D_FT]
    M[M_LF, k] = D[d, D_LF]
    M[M_LT, k] = D[d, D_LT]
    M[M_PACKETS, k] = D[d, D_PACKETS]
    M[M_COMPLETE, k] = D[d, D_COMPLETE]
    M[M_GAP_BEFORE, k] = D[d, D_M_GAP_BEFORE]
    M[M_IP, k] = D[d, D_IP]
    M[M_FB, k] = D[d, D_FB]
    n = min(D[d, D_HLEN], OH.shape[1])
    M[M_HLEN, k] = n
    for j in range(n):
        OH[k, j] = heads[d, j]
    G[G_NM] = k + 1
    D[d, D_INDEX] += 1
    D[d, D_ACTIVE] = 0


@jit
def _room(M, G):
    return G[G_NM] < M.shape[1]


@jit
def _desync(D, d):
    D[d, D_ACTIVE] = 0
    D[d, D_HUNT] = 1
    D[d, D_GAP_BEFORE] = 1


@jit
def _gap(D, d, length, C, M, OH, heads, G):
    """length bytes of direction d are missing (the caller checked M has room)."""
    if D[d, D_ACTIVE] and D[d, D_TOTAL] >= 0:
        left = D[d, D_TOTAL] - D[d, D_CONSUMED]
        D[d, D_COMPLETE] = 0
        if length < left:  # still in sync: the next message boundary is known
            D[d, D_CONSUMED] += length
            D[d, D_HEAD_CUT] = 1  # head bytes after the hole would sit at the wrong offsets
            return
        D[d, D_CONSUMED] = D[d, D_TOTAL]
        _emit(D, d, C, M, OH, heads, G)
        if length == left:
            return
    _desync(D, d)


@jit
def _attribute(D, d, wire, ipb, fb, a, b):
    """Give the message the packet's payload bytes [a, b) and their share of its headers
    (integer shares that add up to the packet's bytes over all of its payload)."""
    if wire <= 0 or b <= a:
        return
    hdr = ipb - wire
    D[d, D_IP] += (b - a) + (hdr * b) // wire - (hdr * a) // wire
    D[d, D_FB] += (fb * b) // wire - (fb * a) // wire


@jit
def _read_len(heads, d, lo, big):
    b0 = np.int64(heads[d, lo])
    b1 = np.int64(heads[d, lo + 1])
    b2 = np.int64(heads[d, lo + 2])
    b3 = np.int64(heads[d, lo + 3])
    if big:
        return (b0 << 24) | (b1 << 16) | (b2 << 8) | b3
    return (b3 << 24) | (b2 << 16) | (b1 << 8) | b0


@jit
def _frame(src, off, n, seq0, seg_start, probe, frame, ts, wire, ipb, fb, pos0,
           arena, D, d, C, H, S, M, OH, heads, G):  # fmt: skip
    """Frame n in-order bytes src[off:off+n] of direction d, hunting first if it must.

    Returns (bytes consumed, status) as _frame_bytes does; EV_HUNT when a verdict is needed.
    """
    if D[d, D_HUNT]:
        status, sync, probe_head = _hunt(src, off, n, seq0, seg_start, probe, frame, ts, ipb,
                                         fb, arena, D, d, C, H, M, G)  # fmt: skip
        if status:
            return 0, status
        if not sync:
            return n, DONE
        e = probe_head  # V_SYNC_PROBE: the probe's bytes first (already past next_seq)
        while e >= 0:
            _frame_bytes(arena, H[e, H_OFF], H[e, H_LEN], H[e, H_FRAME], H[e, H_TS],
                         H[e, H_WIRELEN], H[e, H_IPBYTES], H[e, H_FRAMEBYTES], 0,
                         D, d, C, S, M, OH, heads, G)  # fmt: skip
            nxt = H[e, H_NEXT]
            H[e, H_INUSE] = 0
            _free(H, G, e, G_HFREE, H_NEXT)
            e = nxt
    return _frame_bytes(src, off, n, frame, ts, wire, ipb, fb, pos0, D, d, C, S, M, OH, heads, G)


@jit
def _frame_bytes(src, off, n, frame, ts, wire, ipb, fb, pos0, D, d, C, S, M, OH, heads, G):
    """Cut n in-order bytes src[off:off+n] of an in-sync direction d into messages.

    pos0: where they start in their packet's payload (for its header shares). Returns
    (bytes consumed, status): DONE (all consumed, or dropped when framing is lost) or
    OUT_FULL (M is full; the rest waits for the next call).
    """
    c = D[d, D_CONN]
    f = C[c, C_FRAMER]
    client = D[d, D_IS_CLIENT]
    prefix = S[f, S_PREFIX]
    cap = min(S[f, S_HEAD_CAP], heads.shape[1])
    pos = 0
    while pos < n:
        if not _room(M, G):
            return pos, OUT_FULL
        if not D[d, D_ACTIVE]:
            D[d, D_ACTIVE] = 1
            D[d, D_HLEN] = 0
            D[d, D_TOTAL] = -1
            D[d, D_CONSUMED] = 0
            D[d, D_FF] = frame
            D[d, D_FT] = ts
            D[d, D_LF] = -1
            D[d, D_PACKETS] = 0
            D[d, D_COMPLETE] = 1
            D[d, D_M_GAP_BEFORE] = D[d, D_GAP_BEFORE]
            D[d, D_GAP_BEFORE] = 0
            D[d, D_IP] = 0
            D[d, D_FB] = 0
            D[d, D_HEAD_CUT] = 0
        if D[d, D_LF] != frame:
            D[d, D_PACKETS] += 1
            D[d, D_LF] = frame
        D[d, D_LT] = ts
        start = pos
        if D[d, D_TOTAL] < 0:
            h = D[d, D_HLEN]
            take = min(prefix - h, n - pos)
            for j in range(take):
                heads[d, h + j] = src[off + pos + j]
            D[d, D_HLEN] = h + take
            D[d, D_CONSUMED] += take
            pos += take
            if D[d, D_HLEN] < prefix:
                _attribute(D, d, wire, ipb, fb, pos0 + start, pos0 + pos)
                break
            value = _read_len(heads, d, S[f, S_LEN_OFF], S[f, S_BIG])
            lo_ok = S[f, S_MIN_CLIENT] if client else S[f, S_MIN_SERVER]
            hi_ok = S[f, S_MAX_CLIENT] if client else S[f, S_MAX_SERVER]
            ok = lo_ok <= value <= hi_ok
            if ok and S[f, S_MAGIC_LEN] > 0:
                magic = np.int64(0)
                for j in range(S[f, S_MAGIC_LEN]):
                    magic = (magic << 8) | np.int64(heads[d, j])
                if D[d, D_MAGIC] < 0:
                    D[d, D_MAGIC] = magic
                elif D[d, D_MAGIC] != magic:
                    ok = False
            if not ok:  # bytes that cannot start a message: framing is lost
                _desync(D, d)
                return n, 0
            D[d, D_VALUE] = value
            D[d, D_TOTAL] = S[f, S_BASE] + value
        want = 0 if D[d, D_HEAD_CUT] else min(cap, D[d, D_TOTAL]) - D[d, D_HLEN]
        if want > 0:
            h = D[d, D_HLEN]
            take = min(want, n - pos)
            for j in range(take):
                heads[d, h + j] = src[off + pos + j]
            D[d, D_HLEN] = h + take
            D[d, D_CONSUMED] += take
            pos += take
        take = min(D[d, D_TOTAL] - D[d, D_CONSUMED], n - pos)
        if take > 0:
            D[d, D_CONSUMED] += take
            pos += take
        _attribute(D, d, wire, ipb, fb, pos0 + start, pos0 + pos)
        if D[d, D_CONSUMED] >= D[d, D_TOTAL]:
            _emit(D, d, C, M, OH, heads, G)
    return n, 0


@jit
def _drop_probe(D, d, H, G):
    if D[d, D_PROBE] >= 0:
        _free_held_list(H, G, D[d, D_PROBE], False)
        D[d, D_PROBE] = -1
        D[d, D_PROBE_BYTES] = 0
        D[d, D_GAP_BEFORE] = 1


@jit
def _hunt(src, off, n, seq0, seg_start, probe, frame, ts, ipb, fb, arena, D, d, C, H, M, G):
    """A direction that lost its framing meets n bytes: may framing restart here?

    Only at a segment start that passes the probe (or continues a pending probe: segments
    too short to judge, kept until the next ones decide); the verdict is Python's (EV_HUNT,
    keyed by seq0). Returns (status, sync, probe list): sync means frame the bytes now,
    after the returned probe segments (V_SYNC_PROBE; the caller frames and frees them).
    """
    f = C[D[d, D_CONN], C_FRAMER]
    if D[d, D_PROBE] >= 0 and (D[d, D_PROBE_SEQ] + D[d, D_PROBE_BYTES]) % SEQ_MOD != seq0:
        _drop_probe(D, d, H, G)  # bytes went missing after the probe
    if not seg_start or not ((probe >> f) & 1 or D[d, D_PROBE] >= 0):
        _drop_probe(D, d, H, G)
        D[d, D_GAP_BEFORE] = 1
        return DONE, False, -1
    if D[d, D_VERDICT_SEQ] != seq0:
        G[G_HUNT_DIR] = d
        G[G_HUNT_SEQ] = seq0
        return EV_HUNT, False, -1
    verdict = D[d, D_VERDICT]
    if verdict == V_MORE or verdict == V_NEW_PROBE:
        if verdict == V_NEW_PROBE:
            _drop_probe(D, d, H, G)
        head, e = _hold(src, off, seq0, n, n, frame, ts, ipb, fb, probe, 0, H, arena, G,
                        D[d, D_PROBE])  # fmt: skip
        if e == -1:
            G[G_ARENA_WANT] = n
            return NEED_ARENA, False, -1
        if e == -2:
            return NEED_HELD, False, -1
        if D[d, D_PROBE] < 0:
            D[d, D_PROBE_SEQ] = seq0
        D[d, D_PROBE] = head
        D[d, D_PROBE_BYTES] += n
        D[d, D_VERDICT_SEQ] = -1
        return DONE, False, -1
    if verdict == V_REJECT:
        _drop_probe(D, d, H, G)
        D[d, D_GAP_BEFORE] = 1
        D[d, D_VERDICT_SEQ] = -1
        return DONE, False, -1
    if verdict == V_SYNC_HERE:
        _drop_probe(D, d, H, G)
        D[d, D_HUNT] = 0
        D[d, D_VERDICT_SEQ] = -1
        return DONE, True, -1
    # V_SYNC_PROBE: room for every message the probe and this segment may hold
    if G[G_NM] + (MAX_PROBE_BYTES + n) // 8 + 8 > M.shape[1]:
        return OUT_FULL, False, -1
    D[d, D_HUNT] = 0
    D[d, D_VERDICT_SEQ] = -1
    head = D[d, D_PROBE]
    D[d, D_PROBE] = -1
    D[d, D_PROBE_BYTES] = 0
    return DONE, True, head


@hot
def _deliver(src, off, seq, caplen, wire, frame, ts, ipb, fb, probe,
             arena, D, d, C, H, S, M, OH, heads, G):  # fmt: skip
    """One segment (at src[off:off+caplen], sequence number seq) at or before next_seq.

    Cuts what was delivered before, frames the rest, then the snaplen gap (wire > caplen).
    Returns a status as _frame does; idempotent when called again after a stop, because
    only what was consumed moved next_seq.
    """
    skip = -seq_delta(seq, D[d, D_NEXT])  # >= 0 here
    if skip < caplen:
        start = (seq + skip) % SEQ_MOD
        used, status = _frame(src, off + skip, caplen - skip, start, skip == 0, probe, frame,
                              ts, wire, ipb, fb, skip, arena, D, d, C, H, S, M, OH, heads,
                              G)  # fmt: skip
        D[d, D_NEXT] = (D[d, D_NEXT] + used) % SEQ_MOD
        if status:
            return status
    if wire > caplen and D[d, D_NEXT] == (seq + caplen) % SEQ_MOD:
        if not _room(M, G):
            return OUT_FULL
        _gap(D, d, wire - caplen, C, M, OH, heads, G)  # the snaplen cut the segment
        D[d, D_NEXT] = (seq + wire) % SEQ_MOD
    return 0


@hot
def _drain(arena, D, d, C, H, S, M, OH, heads, G):
    """Deliver held out-of-order segments that are now in order; status as _frame."""
    while D[d, D_OOO] >= 0:
        best, prev_best, prev = -1, -1, -1
        best_delta = np.int64(1) << 40
        e = D[d, D_OOO]
        while e >= 0:
            delta = seq_delta(H[e, H_SEQ], D[d, D_NEXT])
            if delta <= 0 and delta < best_delta:
                best, prev_best, best_delta = e, prev, delta
            prev = e
            e = H[e, H_NEXT]
        if best < 0:
            return 0
        if best_delta + H[best, H_WIRELEN] > 0:
            G[G_HUNT_ENTRY] = best
            status = _deliver(arena, H[best, H_OFF], H[best, H_SEQ], H[best, H_LEN],
                              H[best, H_WIRELEN], H[best, H_FRAME], H[best, H_TS],
                              H[best, H_IPBYTES], H[best, H_FRAMEBYTES], H[best, H_PROBE],
                              arena, D, d, C, H, S, M, OH, heads, G)  # fmt: skip
            if status:
                return status
        if prev_best < 0:
            D[d, D_OOO] = H[best, H_NEXT]
        else:
            H[prev_best, H_NEXT] = H[best, H_NEXT]
        D[d, D_NOOO] -= 1
        D[d, D_OOO_BYTES] -= H[best, H_LEN]
        H[best, H_INUSE] = 0
        _free(H, G, best, G_HFREE, H_NEXT)
    return 0


@jit
def _skip_to_held(arena, D, d, C, H, S, M, OH, heads, G):
    """Give up on the missing bytes before the earliest held segment: a gap, then drain."""
    e = D[d, D_OOO]
    first, first_delta = -1, np.int64(1) << 40
    while e >= 0:
        delta = seq_delta(H[e, H_SEQ], D[d, D_NEXT])
        if delta < first_delta:
            first, first_delta = e, delta
        e = H[e, H_NEXT]
    if first >= 0 and first_delta > 0:
        if not _room(M, G):
            return OUT_FULL
        _gap(D, d, first_delta, C, M, OH, heads, G)
        D[d, D_NEXT] = H[first, H_SEQ]
    return _drain(arena, D, d, C, H, S, M, OH, heads, G)


@jit
def _hold(buf, off, seq, caplen, wire, frame, ts, ipb, fb, probe, from_a,
          H, arena, G, head):  # fmt: skip
    """Copy a segment into the arena and append it to the list starting at ``head``.

    Returns (new head, entry); entry -1 when the arena is full, -2 when the pool is.
    """
    if G[G_ATOP] + caplen > arena.shape[0]:
        return head, -1
    e = _alloc(H, G, G_HTOP, G_HFREE, H_NEXT)
    if e < 0:
        return head, -2
    a = G[G_ATOP]
    for j in range(caplen):
        arena[a + j] = buf[off + j]
    G[G_ATOP] = a + caplen
    H[e, H_NEXT] = -1
    H[e, H_SEQ] = seq
    H[e, H_LEN] = caplen
    H[e, H_OFF] = a
    H[e, H_FRAME] = frame
    H[e, H_TS] = ts
    H[e, H_WIRELEN] = wire
    H[e, H_IPBYTES] = ipb
    H[e, H_FRAMEBYTES] = fb
    H[e, H_PROBE] = probe
    H[e, H_FROM_A] = from_a
    H[e, H_INUSE] = 1
    if head < 0:
        return e, e
    last = head
    while H[last, H_NEXT] >= 0:
        last = H[last, H_NEXT]
    H[last, H_NEXT] = e
    return head, e


@jit_alloc
def compact(H, arena, new_arena, G):
    """Copy live held segments to the front of new_arena (may be arena); new top."""
    order = np.argsort(np.where(H[: G[G_HTOP], H_INUSE] == 1, H[: G[G_HTOP], H_OFF], -1))
    top = 0
    for e in order:
        if H[e, H_INUSE] != 1:
            continue
        a, n = H[e, H_OFF], H[e, H_LEN]
        for j in range(n):
            new_arena[top + j] = arena[a + j]
        H[e, H_OFF] = top
        top += n
    G[G_ATOP] = top
    return top


@jit
def _init_dir(D, d, c, is_client, isn):
    D[d, :] = -1
    D[d, D_CONN] = c
    D[d, D_IS_CLIENT] = is_client
    D[d, D_NEXT] = -1 if isn < 0 else (isn + 1) % SEQ_MOD
    D[d, D_HUNT] = 1 if isn < 0 else 0  # without its SYN, the stream may start mid-message
    D[d, D_GAP_BEFORE] = 0
    D[d, D_NOOO] = 0
    D[d, D_OOO_BYTES] = 0
    D[d, D_ACTIVE] = 0
    D[d, D_INDEX] = 0
    D[d, D_PROBE_BYTES] = 0


@jit
def _claim(C, D, G, L, c, f, client_a, detect, row, client_is_src):
    """Connection c is framer f's; the caller checked there are 2 free directions."""
    da = _alloc(D, G, G_DTOP, G_DFREE, D_NEXT_FREE)
    db = _alloc(D, G, G_DTOP, G_DFREE, D_NEXT_FREE)
    C[c, C_STATE] = CLAIMED
    C[c, C_FRAMER] = f
    C[c, C_CLIENT_A] = client_a
    C[c, C_DETECT] = detect
    C[c, C_DIR_A] = da
    C[c, C_DIR_B] = db
    _init_dir(D, da, c, client_a, C[c, C_ISN_A])
    _init_dir(D, db, c, 1 - client_a, C[c, C_ISN_B])
    k = G[G_NL]
    L[L_GEN, k] = C[c, C_GEN]
    L[L_ROW, k] = row
    L[L_CLIENT_IS_SRC, k] = client_is_src
    L[L_SEQNO, k] = C[c, C_SEQNO]
    L[L_FRAMER, k] = f
    L[L_DETECT, k] = detect
    G[G_NL] = k + 1


@jit
def _new_conn(C, D, G, L, index, slot, k0, k1, k2, k3, k4, seqno, port_map, sport, dport,
              a_is_src, row):  # fmt: skip
    """A connection for the key at index[slot]; claimed at once when a framer's port says so.

    The caller checked there is a free connection, 2 directions and a claim record.
    """
    c = _alloc(C, G, G_CTOP, G_CFREE, C_NEXT_FREE)
    C[c, :] = -1
    C[c, C_K0] = k0
    C[c, C_K0 + 1] = k1
    C[c, C_K0 + 2] = k2
    C[c, C_K0 + 3] = k3
    C[c, C_K4] = k4
    C[c, C_STATE] = UNKNOWN
    C[c, C_SEQNO] = seqno
    C[c, C_GEN] = G[G_GEN]
    G[G_GEN] += 1
    C[c, C_HAS_DATA] = 0
    C[c, C_CLOSED] = 0
    C[c, C_TRIES] = 0
    C[c, C_NHELD] = 0
    C[c, C_SLOT] = slot
    index[slot] = c
    G[G_NCONN] += 1
    src_bits, dst_bits = port_map[sport], port_map[dport]
    for f in range(64):
        bit = np.int64(1) << f
        if (src_bits | dst_bits) < bit:
            break
        if dst_bits & bit and not src_bits & bit:  # the sender is the client
            _claim(C, D, G, L, c, f, 1 if a_is_src else 0, 0, row, 1)
            break
        if src_bits & bit and not dst_bits & bit:
            _claim(C, D, G, L, c, f, 0 if a_is_src else 1, 0, row, 0)
            break
    return c


@jit
def _flush_dir(arena, D, d, C, H, S, M, OH, heads, G):
    """End of a direction: held segments delivered across their holes, a cut message out.

    Resumable (a verdict or a full M stops it): a probe made while delivering the held
    segments must survive the next call, so only an undecided probe left at the end is
    dropped (one before a hole is dropped by _hunt itself).
    """
    while D[d, D_OOO] >= 0:
        status = _skip_to_held(arena, D, d, C, H, S, M, OH, heads, G)
        if status:
            return status
    _drop_probe(D, d, H, G)
    if D[d, D_ACTIVE]:
        if not _room(M, G):
            return OUT_FULL
        D[d, D_COMPLETE] = 0
        _emit(D, d, C, M, OH, heads, G)
    return 0


@jit
def _end_conn(c, C, D, H, arena, S, M, OH, heads, G, X):
    """Finish connection c and free it (index untouched); OUT_FULL when M/X is full."""
    if C[c, C_STATE] == CLAIMED:
        for side in (C_DIR_A, C_DIR_B):
            status = _flush_dir(arena, D, C[c, side], C, H, S, M, OH, heads, G)
            if status:
                return status
        if G[G_NX] >= X.shape[0]:
            return OUT_FULL
        X[G[G_NX]] = C[c, C_GEN]
        G[G_NX] += 1
        for side in (C_DIR_A, C_DIR_B):
            _free(D, G, C[c, side], G_DFREE, D_NEXT_FREE)
    _free_held_list(H, G, C[c, C_HELD], True)
    C[c, C_STATE] = FREE
    _free(C, G, c, G_CFREE, C_NEXT_FREE)
    G[G_NCONN] -= 1
    return 0


@jit
def _reuse(c, C, D, H, arena, S, M, OH, heads, G, X, L, index, port_map, sport, dport,
           a_is_src, row):  # fmt: skip
    """The 4-tuple of c starts a new connection: finish c, open seqno + 1 in its slot."""
    k0, k1, k2, k3, k4 = C[c, C_K0], C[c, C_K0 + 1], C[c, C_K0 + 2], C[c, C_K0 + 3], C[c, C_K4]
    status = _end_conn(c, C, D, H, arena, S, M, OH, heads, G, X)
    if status:
        return -1, status
    slot, seqno = C[c, C_SLOT], C[c, C_SEQNO] + 1
    nc = _new_conn(C, D, G, L, index, slot, k0, k1, k2, k3, k4, seqno, port_map, sport, dport,
                   a_is_src, row)  # fmt: skip
    return nc, 0


@hot
def _capacity(C, D, G, L, X, M, index):
    """Room for the worst case of one packet's connection work, else the status to return."""
    if G[G_NCONN] + 1 >= index.shape[0] // 2 or (G[G_CFREE] < 0 and G[G_CTOP] >= C.shape[0]):
        return NEED_CONN
    if G[G_NCONN] >= G[G_MAX_CONNS]:
        return NEED_CONN
    free_dirs = D.shape[0] - G[G_DTOP]
    if free_dirs < 4 and G[G_DFREE] < 0:
        return NEED_DIR
    if free_dirs < 4:  # count the free list (short) to be sure of 4
        k, r = free_dirs, G[G_DFREE]
        while r >= 0 and k < 4:
            k += 1
            r = D[r, D_NEXT_FREE]
        if k < 4:
            return NEED_DIR
    if G[G_NL] + 2 > L.shape[1] or G[G_NX] + 2 > X.shape[0] or G[G_NM] + 4 > M.shape[1]:
        return OUT_FULL
    return DONE


@jit
def advance(P, start, n, buf, C, D, H, arena, heads, index, G, S, port_map, M, OH, L, X):
    """Process packets start..n-1 of P; returns (next packet, status, arg0, arg1).

    After an EV_*/OUT_FULL/NEED_* stop the caller fixes the cause and calls again with the
    returned packet index; a stop inside a packet's payload phase resumes there (G_RESUME).
    """
    i = start
    while i < n:
        resume = G[G_RESUME_CONN]
        G[G_RESUME_CONN] = -1
        flags = P[P_FLAGS, i]
        sport, dport = P[P_SPORT, i], P[P_DPORT, i]
        s_hi, s_lo, d_hi, d_lo = P[P_SRC_HI, i], P[P_SRC_LO, i], P[P_DST_HI, i], P[P_DST_LO, i]
        a_is_src = s_hi < d_hi or (
            s_hi == d_hi and (s_lo < d_lo or (s_lo == d_lo and sport <= dport))
        )
        side = C_DIR_A if a_is_src else C_DIR_B
        other = C_DIR_B if a_is_src else C_DIR_A
        isn_side = C_ISN_A if a_is_src else C_ISN_B
        seq = P[P_SEQ, i]
        row = P[P_ROW, i]
        if resume >= 0:
            c = resume
        else:
            status = _capacity(C, D, G, L, X, M, index)
            if status:
                return i, status, G[G_HUNT_DIR], G[G_HUNT_ENTRY]
            if a_is_src:
                k0, k1, k2, k3 = s_hi, s_lo, d_hi, d_lo
                k4 = (P[P_VER, i] << 32) | (sport << 16) | dport
            else:
                k0, k1, k2, k3 = d_hi, d_lo, s_hi, s_lo
                k4 = (P[P_VER, i] << 32) | (dport << 16) | sport
            c, slot = _lookup(index, C, k0, k1, k2, k3, k4)
            if flags & SYN:
                if c >= 0:
                    known = C[c, isn_side]
                    if known != seq and (known >= 0 or C[c, C_HAS_DATA] or C[c, C_CLOSED]):
                        c, status = _reuse(c, C, D, H, arena, S, M, OH, heads, G, X, L, index,
                                           port_map, sport, dport, a_is_src, row)  # fmt: skip
                        if status:
                            return i, status, G[G_HUNT_DIR], G[G_HUNT_ENTRY]
                else:
                    c = _new_conn(C, D, G, L, index, slot, k0, k1, k2, k3, k4, 0, port_map,
                                  sport, dport, a_is_src, row)  # fmt: skip
                if C[c, isn_side] != seq:
                    C[c, isn_side] = seq
                    if not flags & ACK:
                        C[c, C_SYN_CLIENT] = 0 if a_is_src else 1
                    if C[c, C_STATE] == CLAIMED:
                        d = C[c, side]
                        D[d, D_NEXT] = (seq + 1) % SEQ_MOD
                        D[d, D_HUNT] = 0
            elif c < 0:
                c = _new_conn(C, D, G, L, index, slot, k0, k1, k2, k3, k4, 0, port_map,
                              sport, dport, a_is_src, row)  # fmt: skip
            if flags & (FIN | RST):
                C[c, C_CLOSED] = 1
        # payload phase
        caplen, wire = P[P_CAPLEN, i], P[P_WIRELEN, i]
        if flags & SYN:
            seq = (seq + 1) % SEQ_MOD  # the SYN takes one sequence number (data in it: TFO)
        if wire <= 0:
            if C[c, C_CLOSED] and C[c, C_STATE] == UNKNOWN:
                _free_held_list(H, G, C[c, C_HELD], True)
                C[c, C_HELD] = -1
                C[c, C_NHELD] = 0
                C[c, C_STATE] = IGNORED  # ended without looking like anything we frame
            i += 1
            continue
        if C[c, C_STATE] == CLAIMED:
            d = C[c, side]
            if D[d, D_NEXT] >= 0 and abs(seq_delta(seq, D[d, D_NEXT])) > MAX_SEQ_JUMP:
                # no SYN seen, but another byte stream's numbers: the 4-tuple was reused
                c, status = _reuse(c, C, D, H, arena, S, M, OH, heads, G, X, L, index,
                                   port_map, sport, dport, a_is_src, row)  # fmt: skip
                if status:
                    G[G_RESUME_CONN] = c
                    return i, status, G[G_HUNT_DIR], G[G_HUNT_ENTRY]
        C[c, C_HAS_DATA] = 1
        probe = P[P_PROBE, i]
        if C[c, C_STATE] == UNKNOWN:
            syn_client = C[c, C_SYN_CLIENT]
            me = 0 if a_is_src else 1
            if probe and (syn_client < 0 or syn_client == me):
                if C[c, C_VERDICT_FRAME] != P[P_FRAME, i]:
                    G[G_RESUME_CONN] = c
                    return i, EV_CLASSIFY, c, 0
                C[c, C_VERDICT_FRAME] = -1
                f = C[c, C_VERDICT]
                if f >= 0:
                    _claim(C, D, G, L, c, f, 1 - me, 1, row, 1)
                    _adopt_held(C, D, H, G, c, other)
            if C[c, C_STATE] == UNKNOWN:
                C[c, C_TRIES] += 1
                if C[c, C_TRIES] >= HEURISTIC_SEGMENTS:
                    _free_held_list(H, G, C[c, C_HELD], True)
                    C[c, C_HELD] = -1
                    C[c, C_NHELD] = 0
                    C[c, C_STATE] = IGNORED
                elif (
                    C[c, C_NHELD] < HELD_SEGMENTS and caplen > 0
                    and G[G_HELD_BYTES] + caplen <= MAX_HELD_BYTES and not G[G_ARENA_FULL]
                ):  # fmt: skip
                    head, e = _hold(buf, P[P_OFF, i], seq, caplen, wire, P[P_FRAME, i],
                                    P[P_TS, i], P[P_IPBYTES, i], P[P_FRAMEBYTES, i], probe,
                                    1 if a_is_src else 0, H, arena, G, C[c, C_HELD])  # fmt: skip
                    if e >= 0:
                        C[c, C_HELD] = head
                        C[c, C_NHELD] += 1
                        G[G_HELD_BYTES] += caplen
                i += 1
                continue
        if C[c, C_STATE] != CLAIMED:
            i += 1
            continue
        # a claimed connection: reassemble and frame this direction
        status = _drain(arena, D, C[c, other], C, H, S, M, OH, heads, G)
        if not status:
            G[G_HUNT_ENTRY] = -1
            status = _segment(buf, P, i, seq, caplen, wire, probe, a_is_src, arena,
                              D, C[c, side], C, H, S, M, OH, heads, G)  # fmt: skip
        if status:
            G[G_RESUME_CONN] = c
            return i, status, G[G_HUNT_DIR], G[G_HUNT_ENTRY]
        i += 1
    return n, DONE, 0, 0


@jit
def _adopt_held(C, D, H, G, c, other):
    """A connection just claimed: what its server side sent before goes to that direction
    (held, delivered in sequence order), what the client sent is dropped (it did not start
    a message: the capture began inside one)."""
    od = C[c, other]
    from_a = 1 if other == C_DIR_A else 0
    e = C[c, C_HELD]
    last = -1
    while e >= 0:
        nxt = H[e, H_NEXT]
        H[e, H_NEXT] = -1
        if H[e, H_FROM_A] == from_a:
            if D[od, D_NEXT] < 0:
                D[od, D_NEXT] = H[e, H_SEQ]
            if last < 0:
                D[od, D_OOO] = e
            else:
                H[last, H_NEXT] = e
            last = e
            D[od, D_NOOO] += 1
            D[od, D_OOO_BYTES] += H[e, H_LEN]
        else:
            H[e, H_INUSE] = 0
            _free(H, G, e, G_HFREE, H_NEXT)
        G[G_HELD_BYTES] -= H[e, H_LEN]
        e = nxt
    C[c, C_HELD] = -1
    C[c, C_NHELD] = 0


@hot
def _segment(buf, P, i, seq, caplen, wire, probe, a_is_src, arena,
             D, d, C, H, S, M, OH, heads, G):  # fmt: skip
    """Packet i's payload into claimed direction d: in order, held, or across a gap."""
    if D[d, D_NEXT] < 0:
        D[d, D_NEXT] = seq
    delta = seq_delta(seq, D[d, D_NEXT])
    off, frame, ts = P[P_OFF, i], P[P_FRAME, i], P[P_TS, i]
    ipb, fb = P[P_IPBYTES, i], P[P_FRAMEBYTES, i]
    if delta > 0 and G[G_ARENA_FULL]:  # no room to hold: give up on this direction's holes
        while D[d, D_OOO] >= 0:
            status = _skip_to_held(arena, D, d, C, H, S, M, OH, heads, G)
            if status:
                return status
        delta = seq_delta(seq, D[d, D_NEXT])
        if delta > 0:
            if not _room(M, G):
                return OUT_FULL
            _gap(D, d, delta, C, M, OH, heads, G)
            D[d, D_NEXT] = seq
            delta = 0
    if delta > 0:
        held = False
        e = D[d, D_OOO]
        while e >= 0:
            if H[e, H_SEQ] == seq and H[e, H_LEN] >= caplen:
                held = True  # a retransmission of a held segment (or this call again)
            e = H[e, H_NEXT]
        if not held:
            head, e = _hold(buf, off, seq, caplen, wire, frame, ts, ipb, fb, probe,
                            1 if a_is_src else 0, H, arena, G, D[d, D_OOO])  # fmt: skip
            if e == -1:
                G[G_ARENA_WANT] = caplen
                return NEED_ARENA
            if e == -2:
                return NEED_HELD
            D[d, D_OOO] = head
            D[d, D_NOOO] += 1
            D[d, D_OOO_BYTES] += caplen
        if D[d, D_NOOO] > MAX_OOO_SEGMENTS or D[d, D_OOO_BYTES] > MAX_OOO_BYTES:
            return _skip_to_held(arena, D, d, C, H, S, M, OH, heads, G)
        return DONE
    G[G_HUNT_ENTRY] = -1
    status = _deliver(buf, off, seq, caplen, wire, frame, ts, ipb, fb, probe,
                      arena, D, d, C, H, S, M, OH, heads, G)  # fmt: skip
    if status:
        return status
    return _drain(arena, D, d, C, H, S, M, OH, heads, G)


@jit
def close_all(C, D, H, arena, S, M, OH, heads, G, X):
    """End of the file: finish every connection (resumable: OUT_FULL, drain, call again)."""
    for c in range(G[G_CTOP]):
        if C[c, C_STATE] == FREE:
            continue
        status = _end_conn(c, C, D, H, arena, S, M, OH, heads, G, X)
        if status:
            return status
    return DONE


@jit
def evict(C, D, H, arena, S, M, OH, heads, G, X):
    """Forget connections that cannot produce more: unclaimed ones and closed claimed ones.

    Harmless for what is framed: an unclaimed connection that sends again is classified
    again (a segment from the middle of a stream fails the strict tests). Resumable.
    """
    for c in range(G[G_CTOP]):
        state = C[c, C_STATE]
        if state == FREE or (state == CLAIMED and not C[c, C_CLOSED]):
            continue
        status = _end_conn(c, C, D, H, arena, S, M, OH, heads, G, X)
        if status:
            return status
    return DONE


@hot
def _word(buf, p):
    w = np.int64(0)
    for k in range(8):
        w = (w << 8) | np.int64(buf[p + k])
    return w


@jit
def segment_matrix(buf, fields, rows, frames, ts, origlen, P):
    """Fill P for the reader's batch rows ``rows`` (fields: the reader's F_* matrix)."""
    for i in range(rows.shape[0]):
        r = rows[i]
        P[P_ROW, i] = r
        P[P_FRAME, i] = frames[r]
        P[P_TS, i] = ts[r]
        ver = fields[F.F_IP_VERSION, r]
        p = fields[F.F_L3_OFF, r]
        if ver == 6:  # addresses as two 64-bit words (IPv4: 0 and the address)
            P[P_SRC_HI, i] = _word(buf, p + 8)
            P[P_SRC_LO, i] = _word(buf, p + 16)
            P[P_DST_HI, i] = _word(buf, p + 24)
            P[P_DST_LO, i] = _word(buf, p + 32)
        else:
            P[P_SRC_HI, i] = 0
            P[P_SRC_LO, i] = F._u32(buf, p + 12, True)
            P[P_DST_HI, i] = 0
            P[P_DST_LO, i] = F._u32(buf, p + 16, True)
        P[P_SPORT, i] = fields[F.F_SRC_PORT, r]
        P[P_DPORT, i] = fields[F.F_DST_PORT, r]
        P[P_VER, i] = ver
        P[P_SEQ, i] = fields[F.F_TCP_SEQ, r]
        P[P_FLAGS, i] = fields[F.F_TCP_FLAGS, r]
        P[P_OFF, i] = fields[F.F_PAYLOAD_OFF, r]
        P[P_CAPLEN, i] = max(fields[F.F_PAYLOAD_CAPLEN, r], 0)
        P[P_WIRELEN, i] = max(fields[F.F_PAYLOAD_LEN, r], 0)
        P[P_IPBYTES, i] = fields[F.F_IP_TOTAL_LEN, r]
        P[P_FRAMEBYTES, i] = origlen[r]


@jit
def gather_heads(buf, off, caplen, heads):
    """The first heads.shape[1] payload bytes of each segment, zero-padded."""
    width = heads.shape[1]
    for i in range(off.shape[0]):
        n = min(caplen[i], width) if off[i] >= 0 else 0
        for k in range(n):
            heads[i, k] = buf[off[i] + k]
        for k in range(n, width):
            heads[i, k] = 0
