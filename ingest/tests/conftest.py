from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HEADER = "timestamp,peer_id,peer_conn_type,peer_addr,flow,msg_type,size"


def write_csv(path: Path, lines: list[str]) -> Path:
    """Write lines the way nix-bitcoin-monitor does (csv module: CRLF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())
    return path


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    return SHARED
