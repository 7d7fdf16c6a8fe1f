"""Files on disk as the loader sees them: exactly which bytes were read, and what to do when a
file is still being written.

The manifest records the sha256 and size of the bytes that were loaded, not of whatever the
file holds later. A file written to within the last seconds, or one that changes while it is
read, is loaded from a frozen copy of its prefix (cut after its last complete line for
line-based kinds), so rows appended meanwhile are loaded by the next ingest, never lost.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from ingest.kinds.base import Digest

READ_CHUNK = 4 << 20
RECENT_WRITE_NS = 5_000_000_000  # written this recently (the 5-s poll): may still grow


def digest_of(
    path: Path, size: int, count_lines: bool = True, checkpoint: int | None = None
) -> Digest:
    """sha256 and newline count (0 unless `count_lines`: half the cost of the sha256 for a
    capture that has no lines) of exactly the first `size` bytes of `path`; with a
    `checkpoint` at most `size`, also the sha256 of the first `checkpoint` bytes (read once)."""
    sha = hashlib.sha256()
    prefix = sha.copy() if checkpoint == 0 else None
    newlines, last, read = 0, b"", 0
    with path.open("rb") as f:
        while read < size and (chunk := f.read(min(READ_CHUNK, size - read))):
            if checkpoint is not None and read < checkpoint < read + len(chunk):
                sha.update(chunk[: checkpoint - read])  # stop at the checkpoint, remember it
                prefix = sha.copy()
                sha.update(chunk[checkpoint - read :])
            else:
                sha.update(chunk)
            if count_lines:
                newlines += chunk.count(b"\n")
            last, read = chunk[-1:], read + len(chunk)
            if checkpoint == read:
                prefix = sha.copy()
    return Digest(sha.hexdigest(), read, newlines, last == b"\n", prefix and prefix.hexdigest())


def recently_written(stat: os.stat_result) -> bool:
    """Written to within the last seconds: a writer may still be appending to it."""
    return time.time_ns() - stat.st_mtime_ns < RECENT_WRITE_NS


def changed(path: Path, before: os.stat_result) -> bool:
    """The file's size or mtime moved since `before` (or it is gone)."""
    try:
        now = path.stat()
    except OSError:
        return True
    return (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns)


def freeze(path: Path, size: int, line_based: bool, tmp_dir: Path) -> tuple[Path, int]:
    """A private copy of the first `size` bytes (line-based: up to the last complete line),
    and how many bytes of an unfinished last line it leaves for the next ingest."""
    cut = size
    if line_based and not path.name.endswith((".gz", ".bz2")):
        cut = _after_last_newline(path, size)
    # same file name in a folder of its own: sources may read meaning from the name
    copy = tmp_dir / f"frozen-{uuid.uuid4().hex}" / path.name
    copy.parent.mkdir()
    with path.open("rb") as src, copy.open("wb") as dst:
        _copy_prefix(src, dst, cut)
    return copy, size - cut


def _after_last_newline(path: Path, size: int) -> int:
    """Offset just after the last line end in the first `size` bytes (`size` if none)."""
    with path.open("rb") as f:
        end = size
        while end > 0:
            start = max(0, end - READ_CHUNK)
            f.seek(start)
            chunk = f.read(end - start)
            at = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))  # CR-only files end lines in CR
            if at >= 0:
                return start + at + 1
            end = start
    return size


def _copy_prefix(src: BinaryIO, dst: BinaryIO, size: int) -> None:
    while size and (chunk := src.read(min(READ_CHUNK, size))):
        dst.write(chunk)
        size -= len(chunk)
