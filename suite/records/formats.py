"""The formats of the files beside a record: the predictions sidecar (gzip JSON) and the training curve (CSV)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from suite.errors import SuiteError
from suite.records.layout import NamedFileError, NamedFileMissing, file_beside

# A sidecar must reproduce its record's score; float noise between sklearn and numpy is ~1e-12.
SCORE_TOLERANCE = 1e-6


class PredictionsError(SuiteError, ValueError):
    """A sidecar does not match its record (the CLI prints it as one line)."""


# How much of a sidecar is read, from its record's `n`: a prediction and its label are under 25 bytes of
# JSON each (a float's repr), MNLI's mismatched split beside the matched one doubles that, so 256 bytes
# per example is several times what any sidecar holds; 1 MiB more covers keys and small dev sets. The
# decompressed JSON is cut off at that bound (a gzip bomb is never expanded past it), and the compressed
# file at the same number (JSON of digits compresses to well under its size). A record may claim at most
# MAX_EXAMPLES (QQP's dev set, GLUE's largest, has 40,430), so no record can make the bound unbounded.
BYTES_PER_EXAMPLE = 256
BYTES_CONSTANT = 1 << 20
MAX_EXAMPLES = 1_000_000


def sidecar_bound(n: int) -> int:
    """The most bytes (compressed, and decompressed) read of a sidecar of `n` predictions."""
    return BYTES_CONSTANT + BYTES_PER_EXAMPLE * n


class _TooLarge(Exception):
    pass


def _read_bounded(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of the regular file `path` (_TooLarge past that). Opened without blocking and
    checked again once open, so a FIFO or device put there after `file_beside` looked is refused too."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        blob = handle.read(limit + 1)
    if len(blob) > limit:
        raise _TooLarge
    return blob


def _gunzip_bounded(blob: bytes, limit: int) -> bytes:
    """The gzip data `blob` decompressed (every member, as gzip.decompress does), stopping with _TooLarge
    once the output passes `limit` bytes rather than expanding it all."""
    out = bytearray()
    rest = blob
    while rest:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16: a gzip header and trailer
        out += member.decompress(rest, limit + 1 - len(out))  # never 0 (unbounded): len(out) <= limit here
        if len(out) > limit or member.unconsumed_tail:
            raise _TooLarge
        if not member.eof:
            raise zlib.error("the gzip data ends early")
        rest = member.unused_data
    return bytes(out)


@dataclass(frozen=True)
class Predictions:
    """Per-example outputs of one cell: class ids (or regression scores) and labels in dev-set order,
    for the split that gives the score; other eval splits (MNLI mismatched) under `other_splits`.
    The fields are the JSON lists the sidecar holds; `arrays` gives them as numpy arrays."""

    split: str | None
    predictions: list[float] | list[int]
    labels: list[float] | list[int]
    other_splits: dict[str, dict[str, list]] = field(default_factory=dict)

    @cached_property
    def _arrays(self) -> dict[str | None, tuple[np.ndarray, np.ndarray]]:
        out = {None: (np.asarray(self.predictions), np.asarray(self.labels))}
        for name, split in self.other_splits.items():
            out[str(name)] = (np.asarray(split["predictions"]), np.asarray(split["labels"]))
        return out

    def arrays(self, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(predictions, labels) of the scored split (None) or of another eval split, as numpy arrays
        (converted once)."""
        return self._arrays[split]


def has_predictions(record: dict[str, Any]) -> bool:
    return bool((record.get("predictions") or {}).get("file"))


def read_predictions(record_path: Path | None, record: dict[str, Any]) -> Predictions:
    """The sidecar a record names, checked against the record's `n`, `sha256` and `split`: a sidecar
    that is missing, altered or of the wrong length raises PredictionsError (the results folder no
    longer holds what its records describe), and so does one that is not a regular file inside the record's
    folder (`layout.file_beside`) or larger than `n` allows (`sidecar_bound`). A record that names no
    sidecar raises FileNotFoundError."""
    meta = record.get("predictions") or {}
    if not meta.get("file"):
        raise FileNotFoundError(f"{record_path} has no predictions (the record predates per-example outputs)")
    where = f"{record.get('task')}/{record.get('method')} budget {record.get('budget')}"
    if record_path is None:
        raise PredictionsError(f"record {where} names predictions {meta.get('file')} but has no path to find them")
    record_path = Path(record_path)
    fix = f"rerun that cell (python -m suite run) or restore the file beside {record_path.name}"
    try:
        sidecar = file_beside(record_path, meta["file"])
    except NamedFileMissing:
        missing = record_path.parent / str(meta["file"])
        raise PredictionsError(f"{missing}: predictions named by {record_path.name} are missing; {fix}") from None
    except NamedFileError as exc:
        raise PredictionsError(f"{exc}; {fix}") from None
    n = meta.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_EXAMPLES:
        raise PredictionsError(f"{sidecar}: {record_path.name} says n={n!r}, not a count up to {MAX_EXAMPLES}; {fix}")
    limit = sidecar_bound(n)
    too_large = f"more than {limit} bytes, past what n={n} predictions take; {fix}"
    try:
        blob = _read_bounded(sidecar, limit)
    except _TooLarge:
        raise PredictionsError(f"{sidecar}: {too_large}") from None
    except OSError as exc:
        raise PredictionsError(f"{sidecar}: cannot be read ({exc.strerror or exc}); {fix}") from None
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise PredictionsError(f"{sidecar}: sha256 differs from the one in {record_path.name}; {fix}")
    try:
        data = json.loads(_gunzip_bounded(blob, limit))
        loaded = Predictions(data.get("split"), data["predictions"], data["labels"], data.get("other_splits") or {})
        predictions, labels = loaded.arrays()  # every split converted here: a malformed one fails now
    except _TooLarge:
        raise PredictionsError(f"{sidecar}: decompresses to {too_large}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zlib.error) as exc:
        raise PredictionsError(f"{sidecar}: not a gzip JSON predictions file ({exc}); {fix}") from None
    if predictions.ndim != 1 or predictions.shape != labels.shape or len(predictions) != n:
        raise PredictionsError(
            f"{sidecar}: {len(predictions)} predictions and {len(labels)} labels, {record_path.name} says n={n}; {fix}"
        )
    if meta.get("split") is not None and loaded.split is not None and loaded.split != meta["split"]:
        raise PredictionsError(f"{sidecar}: split {loaded.split!r}, {record_path.name} says {meta['split']!r}; {fix}")
    return loaded


FIRST_COLUMNS = ("step", "loss", "lr", "flop_fraction")


CurveRow = dict[str, float]


def columns(rows: list[CurveRow]) -> list[str]:
    """The fixed columns, then every loss term any row has, in order of appearance."""
    extra = dict.fromkeys(name for row in rows for name in row if name not in FIRST_COLUMNS)
    return [*FIRST_COLUMNS, *extra]


def to_csv(rows: list[CurveRow]) -> str:
    """The rows as CSV text (a term missing from a row is an empty cell)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
