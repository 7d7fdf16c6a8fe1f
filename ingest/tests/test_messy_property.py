"""Property: whatever faults a nix-bitcoin-monitor file carries, every line is accounted for.

Generated files mix good rows with every kind of bad line, any line ending per line, a BOM,
blank lines, and a tail appended after the first load. For each: loaded rows + recorded
issues + blank lines = the file's data lines; every good row is loaded exactly once with its
values as written; and after the faults are repaired, loading again gives the clean result.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.kinds import tracepoints
from ingest.loader.warehouse import Warehouse
from ingest.tests.helpers import HEADER

GOOD = "2025-01-22T14:{m:02d}:{s:02d}Z,{i},inbound,[2a02::{i:x}]:8333,in,{t},{n}"
FAULTS = {
    "open quote": lambda i: GOOD.format(m=0, s=4, i=i, t="ping", n=8).replace("[", '"['),
    "few columns": lambda i: f"2025-01-22T14:00:04Z,{i},inbound",
    "many columns": lambda i: GOOD.format(m=0, s=4, i=i, t="ping", n=8) + ",x,y",
    "decimal": lambda i: GOOD.format(m=0, s=4, i=i, t="ping", n="12.5"),
    "exponent": lambda i: GOOD.format(m=0, s=4, i=i, t="ping", n="1e3"),
    "hex": lambda i: GOOD.format(m=0, s=4, i=i, t="ping", n=" 0x10"),
    "bad time": lambda i: GOOD.format(m=0, s=4, i=i, t="ping", n=8).replace("14:00", "25:61"),
    "text in id": lambda i: GOOD.format(m=0, s=4, i=i, t="ping", n=8).replace(f",{i},", ",x,", 1),
    "long line": lambda i: "a," * 3000,
    "not utf-8": lambda i: GOOD.format(m=0, s=4, i=i, t="p\udcffng", n=8),
}
ENDINGS = ["\r\n", "\n", "\r"]

line = st.one_of(
    st.tuples(st.just("good"), st.integers(0, 59), st.sampled_from(["ping", "tx", "inv"])),
    st.tuples(st.just("fault"), st.sampled_from(sorted(FAULTS)), st.just("")),
    st.tuples(st.just("blank"), st.just(0), st.just("")),
)


def render(kinds: list[tuple], endings: list[str], repaired: bool = False) -> tuple[str, set]:
    """The file's text and the set of good rows (peer_id, size) it holds."""
    parts, good = [HEADER], set()
    for i, (kind, a, b) in enumerate(kinds, start=1):
        if kind == "good" or (kind == "fault" and repaired):
            msg = b or "ping"
            parts.append(GOOD.format(m=a if kind == "good" else 0, s=4, i=i, t=msg, n=i % 97))
            good.add((i, i % 97))
        elif kind == "fault":
            parts.append(FAULTS[a](i))
        else:
            parts.append("")
    text = "".join(p + endings[n % len(endings)] for n, p in enumerate(parts))
    return text, good


def ingest(db: Path, path: Path, replace: bool = False):
    with Warehouse(db) as wh:
        wh.ensure_tables(tracepoints.SOURCE.tables)
        return wh.ingest_file(path, tracepoints.SOURCE, replace=replace)


def loaded(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select peer_id, size from raw.bitcoin_p2p_messages order by peer_id"
        ).fetchall()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(line, min_size=1, max_size=40),
    endings=st.lists(st.sampled_from(ENDINGS), min_size=1, max_size=3),
    bom=st.booleans(),
    tail=st.integers(0, 5),
)
def test_every_line_is_a_row_or_an_issue(kinds, endings, bom, tail) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, db = Path(tmp) / "2025-01-22.csv", Path(tmp) / "w.duckdb"
        text, good = render(kinds, endings)
        bom_bytes = ("\ufeff" if bom else "").encode()
        path.write_bytes(bom_bytes + text.encode("utf-8", "surrogateescape"))
        result = ingest(db, path)
        faults = sum(k == "fault" for k, _, _ in kinds)
        blanks = sum(k == "blank" for k, _, _ in kinds)
        if not good:
            assert result.status == "failed" and "no data rows" in result.message
        else:
            assert result.rows == len(good) and result.issues == faults, result
            assert result.rows + result.issues + blanks == len(kinds)
            assert set(loaded(db)) == good

        # a tail appended later is loaded too, and the earlier rows stay once
        more = [("good", 30, "tx")] * tail
        text, good = render(kinds + more, endings)
        path.write_bytes(bom_bytes + text.encode("utf-8", "surrogateescape"))
        ingest(db, path)
        assert sorted(loaded(db)) == sorted(good)

        # the user repairs the faulty lines and loads the file again with --replace: the
        # clean file's result (without it, the repaired content would be a next generation)
        text, clean = render(kinds + more, endings, repaired=True)
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        repaired = ingest(db, path, replace=True)
        assert repaired.issues == 0 and sorted(loaded(db)) == sorted(clean)
