"""dbt-duckdb plugin: registers the SQL function ``wirehouse_pseudonym`` on dbt's connection.

``wirehouse_pseudonym(addr, mode, keep_port, key)`` -> text (anon.py): ``mode`` opaque
or prefix, ``key`` env ($WIREHOUSE_ANON_KEY) or test. The key is read in Python, so it never
appears in compiled SQL, ``target/`` or logs. Enabled in profiles.yml (``plugins:``); models
call it through the ``pseudonymise`` macro.
"""

from __future__ import annotations

import atexit
import contextlib

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import BOOLEAN, VARCHAR

from wirehouse.dbt_runtime import anon


def pseudonyms(addrs: pa.Array, modes: pa.Array, keep_ports: pa.Array, keys: pa.Array) -> pa.Array:
    """Vectorised over one DuckDB chunk; each distinct address is computed once (cached)."""
    return pa.array(
        [
            anon.for_key(key).pseudonym(addr, mode, bool(keep))
            for addr, mode, keep, key in zip(
                addrs.to_pylist(),
                modes.to_pylist(),
                keep_ports.to_pylist(),
                keys.to_pylist(),
                strict=True,
            )
        ],
        type=pa.string(),
    )


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        conn.create_function(
            "wirehouse_pseudonym",
            pseudonyms,
            [VARCHAR, VARCHAR, BOOLEAN, VARCHAR],
            VARCHAR,
            type="arrow",
        )
        # a connection still holding a Python function at interpreter exit makes nanobind
        # print leak reports (sqlfluff's dbt templater never closes its connection)
        atexit.register(_remove_function, conn)


def _remove_function(conn: DuckDBPyConnection) -> None:
    with contextlib.suppress(Exception):
        conn.remove_function("wirehouse_pseudonym")
