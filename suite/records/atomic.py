"""Files and folders written atomically (a temporary sibling, then a rename), with the usual permissions."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from suite.errors import SuiteError


def _read_umask() -> int:
    """The process umask: it can only be read by setting it, so set it back at once."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, at import, before any thread of ours could create a file under the briefly cleared mask.
_UMASK = _read_umask()


def file_mode() -> int:
    """The mode a plain `open()` would give a new file: `mkstemp` makes 0600, unreadable to the group."""
    return 0o666 & ~_UMASK


def current_file_mode() -> int:
    """`file_mode()` under the umask as it is now, for a single-threaded writer (the leaderboard) whose
    caller may change the umask between calls; reading it briefly clears it, so never from a run's threads."""
    return 0o666 & ~_read_umask()


def dir_mode() -> int:
    """The mode `mkdir` would give a new folder: `mkdtemp` makes 0700."""
    return 0o777 & ~_UMASK


# Every temporary name carries its writer, `p<pid>-<host tag>`, so that a cleaner on the same machine
# can tell a killed writer's leftovers (removed at once) from a live writer's file in progress (kept).
_HOST_TAG = hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest()[:8]
_WRITER = re.compile(r"\.p([0-9]+)-([0-9a-f]{8})\.[a-z0-9_]+\.tmp")


def _temp_prefix(path: Path) -> str:
    """`.<target name>.p<pid>-<host tag>.`: mkstemp and mkdtemp add `<random>` and the suffix `.tmp`."""
    return f".{path.name}.p{os.getpid()}-{_HOST_TAG}."


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write to a temporary file in the same folder, then rename: never half a file."""
    blob = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
    write_bytes_atomic(path, blob)


def write_text_atomic(path: Path, text: str) -> None:
    """A text file (a cell's log) written like a record: complete or not at all."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, blob: bytes, mode: int | None = None) -> None:
    """`blob` as the file `path` (its folder made where missing), through a temporary file in the same
    folder, so a reader never sees half a file; `mode` defaults to `file_mode()`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        os.chmod(tmp, file_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_temp_file(path: Path) -> bool:
    # The names `write_bytes_atomic` gives its temporary files (and write_model_dir its temporary
    # folders): `.<target name>.<random>.tmp`, with the writer before `<random>` (see `_temp_prefix`).
    return path.name.startswith(".") and path.name.endswith(".tmp") and (path.is_file() or path.is_dir())


def _writer_is_gone(name: str) -> bool:
    """The temporary file `name` was made by a process of this machine that no longer runs. Unknown
    (another machine sharing the folder, a name without its writer, a pid taken by a new process)
    is not gone: such a file is left to the age rule."""
    match = _WRITER.search(name)
    if match is None or match.group(2) != _HOST_TAG or int(match.group(1)) <= 0:
        return False
    try:
        os.kill(int(match.group(1)), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # PermissionError: it exists, as another user's
        return False
    return False


def clean_stale_temp_files(results_dir: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Remove the temporary files a killed run left beside its records, and return their paths.

    A file whose writer was a process of this machine that has ended goes at once; any other (its
    writer alive, on another machine, or unnamed) only once untouched for `older_than_s`, since a
    concurrent run's write in progress is seconds old."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    cutoff = time.time() - older_than_s
    removed = []
    for path in sorted(root.rglob(".*.tmp")):
        try:
            if _is_temp_file(path) and (_writer_is_gone(path.name) or path.stat().st_mtime < cutoff):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
        except OSError:  # removed meanwhile by its writer or another cleaner, or not ours to remove
            continue
    return removed


def _temp_sibling(path: Path) -> Path:
    """A fresh folder beside `path` under the results' temporary-file naming (`.<name>.<writer>.<random>.tmp`),
    so a killed run's leftovers are cleaned like any other temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp"))


def _replace_dir(source: Path, target: Path) -> None:
    """Put the complete folder `source` under the name `target`, replacing what is there. A folder
    cannot be renamed over a non-empty one, so the old one is first renamed out of the way."""
    os.chmod(source, dir_mode())
    old = None
    if target.exists():
        old = _temp_sibling(target)
        os.replace(target, old / "old")
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_model_dir(path: Path, files: dict[str, bytes]) -> None:
    """Write a packed model's files as the folder `path`: complete, or not at all."""
    tmp = _temp_sibling(path)
    try:
        for name, content in files.items():
            if Path(name).name != name:
                raise ValueError(f"packed file name {name!r} is not a plain file name")
            (tmp / name).write_bytes(content)
            os.chmod(tmp / name, file_mode())
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def copy_model_dir(source: Path, target: Path) -> None:
    """Copy a saved model to `target` (which must not exist, or be an empty folder), atomically."""
    if target.exists() and not target.is_dir():
        raise SuiteError(f"--to {target} is a file; pass a new or empty folder")
    if target.is_dir() and any(target.iterdir()):
        raise SuiteError(f"--to {target} exists and is not empty; pass a new or empty folder")
    inside = Path(source).resolve()
    if inside == target.resolve() or inside in target.resolve().parents:
        raise SuiteError(f"--to {target} lies inside the saved model it copies ({source}); pass a folder outside it")
    try:
        tmp = _temp_sibling(target)
    except OSError as exc:  # a parent that is a file, a read-only place, a full disk
        raise SuiteError(f"--to {target}: cannot write there ({exc.strerror or exc}); pass a writable folder") from None
    try:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        if target.is_dir():
            target.rmdir()  # empty, checked above
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
