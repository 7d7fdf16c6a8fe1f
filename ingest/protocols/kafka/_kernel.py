"""Compiled (numba) reading of Kafka request heads: the fields ``parse_request`` gives with
``partial=True``, for every message of a batch at once (``headers.py`` stays the reference
and reads the rare heads this kernel hands back: negative or unknown api_key/api_version).

A field that does not fit in the head's bytes or its message is ``NONE``, and so is
everything after it, exactly as the Python reader's NeedMore/Malformed make them None.
"""

from __future__ import annotations

import numba
import numpy as np

from ingest.protocols.kafka.apis import KAFKA_APIS
from ingest.protocols.kafka.headers import MAX_MESSAGE_BYTES

jit = numba.njit(cache=True, nogil=True, boundscheck=False)

NONE = -(1 << 40)  # a field the head does not hold
# rows of the output matrix
R_KEY, R_VERSION, R_HV, R_CORR, R_CID_OFF, R_CID_LEN, R_MAX_WAIT, R_ACKS, R_PYTHON = range(9)
N_R = 9

# per api_key: known (0/1) and first flexible version (a huge number when never flexible)
KNOWN = np.zeros(max(KAFKA_APIS) + 1, np.int64)
FLEX_FROM = np.full(max(KAFKA_APIS) + 1, 1 << 30, np.int64)
for _key, (_, _, _flex) in KAFKA_APIS.items():
    KNOWN[_key] = 1
    if _flex is not None:
        FLEX_FROM[_key] = _flex


@jit
def _be(head: np.ndarray, at: int, n: int) -> int:
    value = 0
    for k in range(n):
        value = (value << 8) | np.int64(head[at + k])
    return value


@jit
def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


@jit
def _uvarint(head: np.ndarray, pos: int, end: int) -> tuple[int, int]:
    """(value, position after it); position -1 when it runs past ``end`` or is too long."""
    value = 0
    for k in range(5):
        if pos >= end:
            return 0, -1
        byte = np.int64(head[pos])
        pos += 1
        value |= (byte & 0x7F) << (7 * k)
        if not byte & 0x80:
            return value, pos
    return 0, -1


@jit
def request_fields(
    heads: np.ndarray, head_len: np.ndarray, known: np.ndarray, flex_from: np.ndarray
) -> np.ndarray:
    """out[R_*, i] for request head i (at least 12 bytes); R_PYTHON = 1: read it in Python."""
    n = len(head_len)
    out = np.full((N_R, n), NONE, np.int64)
    for i in range(n):
        head = heads[i]
        size = _signed(_be(head, 0, 4), 32)
        key = _signed(_be(head, 4, 2), 16)
        version = _signed(_be(head, 6, 2), 16)
        out[R_KEY, i], out[R_VERSION, i] = key, version
        out[R_CORR, i] = _signed(_be(head, 8, 4), 32)
        out[R_PYTHON, i] = 0
        if key < 0 or version < 0 or key >= len(known) or known[key] == 0:
            out[R_PYTHON, i] = 1
            continue
        if not 8 <= size <= MAX_MESSAGE_BYTES:  # the reader raises for it, as before
            out[R_PYTHON, i] = 1
            continue
        flexible = version >= flex_from[key]
        hv = 0 if key == 7 and version == 0 else (2 if flexible else 1)
        out[R_HV, i] = hv
        end = min(4 + size, head_len[i])  # past the head or past the message: None
        pos = 12
        cid_off, cid_len = -1, 0
        if hv != 0:
            if pos + 2 > end:
                continue
            length = _signed(_be(head, pos, 2), 16)
            pos += 2
            if length < -1:
                continue
            if length >= 0:
                if pos + length > end:
                    continue
                cid_off, cid_len = pos, length
                pos += length
        if hv == 2:  # tagged fields: count, then (tag, size, bytes) each
            count, pos = _uvarint(head, pos, end)
            k = 0
            while pos >= 0 and k < count:
                _, pos = _uvarint(head, pos, end)
                if pos < 0:
                    break
                skip, pos = _uvarint(head, pos, end)
                if pos < 0 or pos + skip > end:
                    pos = -1
                    break
                pos += skip
                k += 1
            if pos < 0:
                continue
        out[R_CID_OFF, i], out[R_CID_LEN, i] = cid_off, cid_len
        if key == 1:  # Fetch: ReplicaId (int32) precedes MaxWaitMs up to v14
            if version < 15:
                pos += 4
            if pos + 4 <= end:
                out[R_MAX_WAIT, i] = _signed(_be(head, pos, 4), 32)
        elif key == 0:  # Produce: TransactionalId (nullable) from v3, then acks
            if version >= 3:
                if flexible:
                    length, pos = _uvarint(head, pos, end)
                    length -= 1
                else:
                    if pos + 2 > end:
                        continue
                    length = _signed(_be(head, pos, 2), 16)
                    pos += 2
                if pos < 0:
                    continue
                if length > 0:
                    pos += length
            if pos + 2 <= end:
                out[R_ACKS, i] = _signed(_be(head, pos, 2), 16)
    return out
