"""Writing a leaderboard's files: each atomically (temporary file, then rename), with the mode any file
the user creates gets (0666 less the umask; `mkstemp` alone would leave 0600)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def file_mode() -> int:
    """0666 less the process umask (reading the umask means setting it; it is put straight back)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, data: bytes | str, mode: int | None = None) -> None:
    """Write `data` (text as UTF-8, line endings as given) to `path` through a temporary file in the same
    folder, so a reader never sees half a file; `mode` defaults to `file_mode()`."""
    blob = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        os.chmod(tmp, file_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
