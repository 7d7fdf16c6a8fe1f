"""wirehouse ingest: land raw network measurements in DuckDB (CLI: `wirehouse`)."""

import os
import tempfile
from pathlib import Path


def _compiled_code_cache() -> str:
    """Where numba keeps the capture reader's compiled code: the user's cache directory if
    it can be written, else a private temporary one (a service user may have no home)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for candidate in (base, Path(tempfile.gettempdir())):
        target = candidate / f"wirehouse-numba-{os.getuid()}"
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(target, os.W_OK):
            return str(target)
    return ""


# numba reads this when it is first imported, so it is set before any capture code loads
if "NUMBA_CACHE_DIR" not in os.environ and (_cache := _compiled_code_cache()):
    os.environ["NUMBA_CACHE_DIR"] = _cache
