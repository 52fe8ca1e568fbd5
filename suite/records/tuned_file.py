"""Reading and writing tuned files (suite.spec.tuned): bounded, checked, written whole or not at all."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from suite.errors import SuiteError
from suite.records.atomic import write_text_atomic
from suite.spec.tuned import TunedSettings, parse_tuned

# A tuned file lists a few hundred trials; anything far larger is not one (and is not read whole).
MAX_TUNED_FILE_BYTES = 8 * 1024 * 1024


# The committed tuned files, one per preset that has been tuned (package data).
TUNED_DIR = Path(__file__).resolve().parents[1] / "tuned"


def default_tuned_path(preset: str) -> Path:
    return TUNED_DIR / f"{preset}.json"


def read_tuned(path: Path, name: str | None = None) -> TunedSettings:
    """The tuned file at `path`: a regular file of at most MAX_TUNED_FILE_BYTES of valid JSON, else one line.
    `name`: how records name it (default: the path as given)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SuiteError(
            f"--tuned {path}: cannot read it ({exc.strerror}); pass a file python -m suite tune wrote"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise SuiteError(f"--tuned {path} is not a regular file; pass a file python -m suite tune wrote")
    if info.st_size > MAX_TUNED_FILE_BYTES:
        raise SuiteError(f"--tuned {path} is {info.st_size} bytes, over the {MAX_TUNED_FILE_BYTES} a tuned file may be")
    with open(path, "rb") as handle:
        blob = handle.read(MAX_TUNED_FILE_BYTES + 1)
    try:
        data = json.loads(blob)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SuiteError(f"--tuned {path} is not JSON ({exc}); write it again with python -m suite tune") from None
    return parse_tuned(data, name or str(path), hashlib.sha256(blob).hexdigest())


def write_tuned(path: Path, data: dict[str, Any]) -> None:
    """Write a tuned file atomically (sorted keys, so a rerun that chooses the same writes the same bytes)."""
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
