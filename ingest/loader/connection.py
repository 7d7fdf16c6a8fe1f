"""Opening the warehouse file: where it is, and every way that fails as one line.

Typed errors in the manner of sqlite-utils: the CLI maps ``WarehouseBusy`` (another process
holds DuckDB's lock; it names that process) and ``WarehouseError`` (not a DuckDB file,
unwritable, made by a newer wirehouse...) to their own exit codes and one-line messages.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

DEFAULT_DB = "warehouse.duckdb"

# DuckDB names a database after its file; one named like a schema makes `raw.x` ambiguous.
RESERVED_DB_NAMES = frozenset({"raw", "staging", "intermediate", "marts", "reference", "main"})

LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


class WarehouseError(Exception):
    """The warehouse file cannot be used (not a DuckDB file, unwritable...): one line."""


class WarehouseBusy(WarehouseError):
    """Another process holds DuckDB's lock on the warehouse file."""

    def __init__(self, path: Path, pid: int | None, holder: str) -> None:
        self.pid = pid
        who = f"process {pid} ({holder})" if pid else "another process"
        super().__init__(
            f"{path} is in use by {who}; wait for it to finish (or stop it) and run this"
            " again. BI tools should read the published copy (wirehouse publish), not this file"
        )


def default_db_path() -> Path:
    return Path(os.environ.get("WIREHOUSE_DB") or DEFAULT_DB)


def check_name(path: Path) -> None:
    """Refuse a warehouse file named after a schema (a usage error, hence ValueError)."""
    if path.stem.lower() in RESERVED_DB_NAMES:
        raise ValueError(
            f"{path}: a warehouse file may not be named after a schema"
            f" ({', '.join(sorted(RESERVED_DB_NAMES))}); pick another name"
        )


# No extension is ever downloaded or loaded behind our back (only parquet, json and icu are
# built in): set when the file is opened, before DuckDB looks at what kind of file it is (a
# SQLite file would otherwise make it fetch sqlite_scanner from the internet).
OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
EXTENSION_NEEDED = re.compile(r'Extension "[^"]*?(\w+)_scanner\.duckdb_extension" not found')


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; lock conflicts and unusable files become WarehouseError."""
    try:
        return duckdb.connect(str(path), read_only=read_only, config=OFFLINE)
    except duckdb.IOException as exc:
        text = str(exc)
        if needed := EXTENSION_NEEDED.search(text):
            raise WarehouseError(
                f"{path}: not a DuckDB warehouse (it looks like a {needed[1]} database)"
            ) from None
        held = LOCK_HOLDER.search(text)
        if held:
            pid = int(held["pid"])
            raise WarehouseBusy(path, pid, _command_line(pid) or held["program"]) from None
        if "Could not set lock" in text:
            raise WarehouseBusy(path, None, "") from None
        raise WarehouseError(f"{path}: {first_line(exc).removeprefix('IO Error: ')}") from None
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: {first_line(exc)}") from None


def first_line(exc: Exception) -> str:
    """An error as one line: DuckDB's messages go on with hints and context below it."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _command_line(pid: int) -> str:
    """What the lock holder runs (e.g. `dbt build`), where /proc tells; else ''."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    words = [Path(w).name if i == 0 else w for i, w in enumerate(raw.decode().split("\0")) if w]
    if len(words) > 1 and words[0].startswith("python"):
        words = words[1:]  # `python -m x` / `python script` -> what it runs
    return " ".join(words)[:80]
