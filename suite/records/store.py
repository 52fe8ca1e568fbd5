"""The results folder as a store of cells: its checks, the claim on a cell, and its one writer.

Torch-free: what a cell makes beside its record (`CellFiles`) arrives as plain data (bytes and
rows), made wherever the cell ran; this module only puts it on disk.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock, Timeout

from suite.errors import SuiteError
from suite.records.atomic import (
    clean_stale_temp_files,
    write_bytes_atomic,
    write_json_atomic,
    write_model_dir,
    write_text_atomic,
)
from suite.records.formats import CurveRow, Predictions, PredictionsError, read_predictions, to_csv
from suite.records.layout import (
    Cell,
    cell_path,
    curve_path,
    files_of_record,
    lock_path,
    log_path,
    model_dir,
    predictions_path,
    superseded_path,
    teacher_log_path,
)
from suite.records.reader import read_record
from suite.records.runs import Registration, RunConfiguration, register
from suite.records.schema import FINISHED, RunResult

log = logging.getLogger("suite")


class SavedModelFiles(Protocol):
    """A finalized model as the bytes of its files (suite.compute.packing.PackedModel is one)."""

    files: dict[str, bytes]
    plain_transformers: bool


@dataclass
class CellFiles:
    """What a cell writes beside its record, made where it ran and written by the results' one writer."""

    predictions: Predictions | None = None
    curve: list[CurveRow] = field(default_factory=list)  # suite.compute.curves rows
    model: SavedModelFiles | None = None  # the finalized model, with `--save-models`


class CurveSink(Protocol):
    """Somewhere else a cell's training curve goes once its CSV is written (TensorBoard, ...)."""

    def curve_written(self, root: Path, cell: Cell, rows: list[CurveRow]) -> None: ...


class ClaimState(Enum):
    CLAIMED = "claimed"  # this process computes the cell now; the lock is held until release
    BUSY = "busy"  # another run on this results folder is computing it
    FINISHED = "finished"  # finished (same config hash) by the time the lock was taken
    FAILED = "failed"  # its lock could not be made (the folder turned read-only, the disk is full): `error` says why


class Claim:
    """This process's claim on one cell: taken without waiting, released once (leaving a `with` does it)."""

    def __init__(self, lock: FileLock | None, state: ClaimState, error: str | None = None) -> None:
        self._lock: FileLock | None = lock if state is ClaimState.CLAIMED else None
        self.state = state
        self.error = error

    @property
    def claimed(self) -> bool:
        return self.state is ClaimState.CLAIMED

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class ResultStore:
    def __init__(self, root: Path, sinks: Sequence[CurveSink] = ()) -> None:
        self.root = Path(root)
        self.sinks = tuple(sinks)
        self._registration: Registration | None = None

    def path(self, cell: Cell) -> Path:
        return cell_path(self.root, cell.task, cell.method, cell.budget, cell.seed)

    def read(self, cell: Cell) -> dict[str, Any] | None:
        return read_record(self.path(cell))

    # ----- checks before a grid ----------------------------------------------------------------
    def check_not_a_file(self) -> None:
        """The one check that writes nothing (a dry run makes it too)."""
        if self.root.exists() and not self.root.is_dir():
            raise SuiteError(f"results path {self.root} is a file; pass --results-dir with a folder")

    def check_writable(self, cells: list[Cell]) -> None:
        """The folder exists (made here) and takes files, and no cell's record path is a folder."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as exc:
            raise SuiteError(
                f"results folder {self.root} is not writable ({exc.strerror}); pass another --results-dir"
            ) from None
        for cell in cells:
            path = self.path(cell)
            if path.is_dir():
                raise SuiteError(f"{path} is a folder where the cell's record goes; move it away and rerun")

    def start(self, cells: list[Cell], configuration: RunConfiguration) -> None:
        """Ready to write `cells` under `configuration`: writable, this run registered on the folder (refused
        where a live run there has another configuration, see `runs`), and the temporary files of a run
        killed mid-write removed. `close` ends the registration."""
        self.check_writable(cells)
        self.close()
        self._registration = register(self.root, configuration)
        for stale in clean_stale_temp_files(self.root):
            log.info("removed a stale temporary file %s", stale)

    def close(self) -> None:
        """End this run's registration on the folder (the process's end does it too)."""
        if self._registration is not None:
            self._registration.release()
            self._registration = None

    # ----- which cells to compute ----------------------------------------------------------------
    def finished(self, cell: Cell, config_hash: str) -> bool:
        """The cell's record is finished (ok or over_budget) under `config_hash` and its predictions
        sidecar checks out (beside it, sha256 and n as the record says), as `validate` checks it; any other
        cell is computed (again), its old files set aside by `write`."""
        path = self.path(cell)
        existing = read_record(path)
        if not (existing and existing.get("status") in FINISHED and existing.get("config_hash") == config_hash):
            return False
        try:
            read_predictions(path, existing)
        except (PredictionsError, FileNotFoundError) as exc:  # FileNotFoundError: the record names no sidecar
            log.info("cell %s: computed again, its finished record does not check out: %s", cell.label, exc)
            return False
        return True

    def lock(self, cell: Cell) -> FileLock:
        """One lock file per cell under `<results>/.locks/`, so two runs on one results folder never
        compute the same cell twice (lock files stay; they hold no data and no reader looks there)."""
        path = lock_path(self.root, cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(path)

    def claim(self, cell: Cell, config_hash: str) -> Claim:
        """Lock the cell without waiting, then recheck that it is unfinished (another run may have
        finished it meanwhile); anything but CLAIMED holds no lock. A lock that cannot be made (the
        folder turned read-only, the disk filled up) is FAILED, with the reason: the cell's record could
        not be written either, so it is not computed."""
        try:
            lock = self.lock(cell)
            lock.acquire(timeout=0)
        except Timeout:
            return Claim(lock, ClaimState.BUSY)
        except OSError as exc:
            where = exc.filename or lock_path(self.root, cell)
            reason = f"the results folder takes no lock file ({where}: {exc.strerror or exc})"
            log.error("cell %s: not run: %s", cell.label, reason)
            return Claim(None, ClaimState.FAILED, reason)
        if self.finished(cell, config_hash):
            lock.release()
            return Claim(lock, ClaimState.FINISHED)
        return Claim(lock, ClaimState.CLAIMED)

    # ----- writing ---------------------------------------------------------------------------------
    def write(self, cell: Cell, result: RunResult, files: CellFiles | None) -> None:
        """Write a cell's record and the files beside it (predictions, training curve, saved model;
        each before the record that names it). A finished record there (ok or over_budget) is kept beside
        it as `<name>.<its hash>.json.superseded` (its files likewise) rather than overwritten: a cell is
        written when it is not `finished` (or its method broke before training), so that record is of
        another configuration, or its sidecar no longer checks out; either way an earlier run made it and
        nothing it made is silently lost. A failed record is overwritten (it holds no result). A failed
        write (disk full, permissions changed mid-run) is logged and turns the cell into a failure, and the
        grid goes on."""
        path = self.path(cell)
        files = files or CellFiles()
        try:
            existing = read_record(path)
            if existing and existing.get("status") in FINISHED:
                _set_aside(path, str(existing.get("config_hash") or "unknown"))
            self._write_beside(path, cell, result, files)
            write_record(path, result, files.predictions)
        except (OSError, TypeError, ValueError) as exc:
            log.error("cell %s: its record could not be written to %s: %s", cell.label, path, exc)
            result.status = "failed"
            result.error = f"record not written: {type(exc).__name__}: {exc}"

    def write_baseline(self, cell: Cell, result: RunResult, predictions: Predictions | None) -> None:
        """Write a row made from the data alone (a trivial baseline) and its predictions, before the grid:
        a finished record there is set aside first as `write` does (it is of other data, or its sidecar
        broke). A failed write is a SuiteError: the run has not started, so it stops in one line."""
        path = self.path(cell)
        try:
            existing = read_record(path)
            if existing and existing.get("status") in FINISHED:
                _set_aside(path, str(existing.get("config_hash") or "unknown"))
            write_record(path, result, predictions)
        except OSError as exc:
            raise SuiteError(
                f"results folder {self.root}: {path} could not be written ({exc.strerror or exc});"
                " free space or pass another --results-dir"
            ) from None

    def write_log(self, cell: Cell, text: str) -> None:
        """A cell's log; one that cannot be written (a folder turned read-only, a full disk) is an error
        line, not the grid's end."""
        self._write_log(log_path(self.root, cell), text)

    def write_teacher_log(self, task: str, seed: int, text: str) -> None:
        self._write_log(teacher_log_path(self.root, task, seed), text)

    def _write_log(self, path: Path, text: str) -> None:
        try:
            write_text_atomic(path, text)
        except OSError as exc:
            log.error("log %s could not be written: %s", path, exc.strerror or exc)

    def _write_beside(self, path: Path, cell: Cell, result: RunResult, files: CellFiles) -> None:
        """The training curve (CSV, then every sink) and the saved model, named in `result`.
        A cell without a curve removes a stale one, as a record without predictions does."""
        curve = curve_path(path)
        result.curve = None
        if files.curve:
            write_text_atomic(curve, to_csv(files.curve))
            result.curve = {"file": curve.name, "rows": len(files.curve)}
            for sink in self.sinks:
                sink.curve_written(self.root, cell, files.curve)
        else:
            curve.unlink(missing_ok=True)
        result.saved_model = None
        if files.model is not None:
            folder = model_dir(path)
            write_model_dir(folder, files.model.files)
            result.saved_model = {"path": folder.name, "plain_transformers": files.model.plain_transformers}


def write_record(path: Path, result: RunResult, predictions: Predictions | None) -> None:
    """The predictions sidecar first, then the record that names it (both atomic), so a record never
    points at a missing or older sidecar; a record without predictions removes a stale one."""
    sidecar = predictions_path(path)
    if predictions is None:
        sidecar.unlink(missing_ok=True)
        result.predictions = None
    else:
        payload = json.dumps(asdict(predictions), sort_keys=True, separators=(",", ":")).encode()
        blob = gzip.compress(payload, mtime=0)  # mtime 0: the same predictions give the same bytes
        write_bytes_atomic(sidecar, blob)
        result.predictions = {
            "file": sidecar.name,
            "n": len(predictions.predictions),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "split": predictions.split,
        }
    write_json_atomic(path, result.to_dict())


def _set_aside(path: Path, old_hash: str) -> None:
    """Keep a superseded record and the files beside it under names no reader takes for a record (a
    symlink is moved as the link, never followed)."""
    for source in files_of_record(path):
        if source.exists():
            os.replace(source, superseded_path(path, source, old_hash))
