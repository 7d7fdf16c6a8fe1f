"""Load the files under some paths into the warehouse: the library behind `wirehouse ingest`
and `wirehouse run` (expanding folders and globs, naming each file's node, one result per file).

Every row belongs to a node (a Bitcoin node, a capture point): the name the user gives
(`--node`, `node =` in wirehouse.toml), else the folder the kind's layout sits in
(`<node>/tracepoints/net/*.csv`, `<node>/systemd/ip_accounting/*.csv`, `<node>/net.csv`),
else `default`.
"""

from __future__ import annotations

import fnmatch
import glob
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePath

from ingest.kinds.base import SourceKind
from ingest.loader.warehouse import FileResult, Warehouse

DEFAULT_NODE = "default"
MAX_NODE_CHARS = 64


class NodeNameError(ValueError):
    """A node name that cannot label rows (empty, too long, control characters)."""


def check_node(name: str) -> str:
    if not name or len(name) > MAX_NODE_CHARS or not name.isprintable() or name != name.strip():
        raise NodeNameError(
            f"node name {name!r}: give 1 to {MAX_NODE_CHARS} printable characters,"
            " without leading or trailing spaces"
        )
    return name


def node_from_layout(path: Path, layouts: Iterable[str]) -> str | None:
    """The folder a layout glob ("**/tracepoints/net/*") sits in, for a file that matches it."""
    parts = path.absolute().parts
    for layout in layouts:
        pattern = PurePath(layout.removeprefix("**/")).parts
        k = len(pattern)
        if len(parts) > k + 1 and all(
            fnmatch.fnmatchcase(part, want) for part, want in zip(parts[-k:], pattern, strict=True)
        ):
            return parts[-k - 1]
    return None


def node_of(path: Path, source: SourceKind, node: str | None = None) -> str:
    return node or node_from_layout(path, source.layouts) or DEFAULT_NODE


def expand(paths: Iterable[Path | str], source: SourceKind) -> list[Path]:
    """Files of `source` under each path: a file, a folder (the kind's layout), or a glob."""
    return list(expand_named(paths, source))


def expand_named(paths: Iterable[Path | str], source: SourceKind) -> dict[Path, str]:
    """Like expand, each file with its name: its path below the folder given (or a glob's
    fixed folder), its own name when given itself. Names key captures in the marts wherever
    the files sit, on this machine or another (a path is kept as an attribute)."""
    files: dict[Path, str] = {}
    for path in map(Path, paths):
        if not path.exists() and glob.has_magic(str(path)):
            base = _fixed_folder(path)
            matches = [Path(p) for p in sorted(glob.glob(str(path), recursive=True))]
        else:
            base = path if path.is_dir() else path.parent
            matches = [path]
        for match in matches:
            for file in source.find(match) if match.is_dir() else [match]:
                files.setdefault(file, name_below(file, base))
    return files


def _fixed_folder(pattern: Path) -> Path:
    """The folder of a glob before its first wildcard ('logs/*/net.csv' -> 'logs')."""
    parts = pattern.parts
    first_magic = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    return Path(*parts[:first_magic]) if first_magic else Path()


def name_below(file: Path, base: Path) -> str:
    """`file`'s path below `base` with / separators; its own name when it is not below."""
    try:
        return file.absolute().relative_to(base.absolute()).as_posix()
    except ValueError:
        return file.name


def ingest_files(
    warehouse: Warehouse,
    source: SourceKind,
    files: Iterable[Path],
    node: str | None = None,
    on_file: Callable[[Path, FileResult], None] = lambda _path, _result: None,
    replace: bool = False,
    names: Mapping[Path, str] | None = None,
) -> list[FileResult]:
    """Load each file in its own transaction, labelled with its node and its name (from
    expand_named; else the file's own name); never raises for a file."""
    warehouse.ensure_tables(source.tables)
    results = []
    for path in files:
        name = (names or {}).get(path, path.name)
        result = warehouse.ingest_file(path, source, node_of(path, source, node), replace, name)
        results.append(result)
        on_file(path, result)
    return results
