"""Every name a results folder holds: records, the files beside them, locks, logs, TensorBoard runs."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.errors import SuiteError


def cell_path(results_dir: Path, task: str, method: str, budget: float, seed: int) -> Path:
    return Path(results_dir) / task / method / f"budget{budget:g}_seed{seed}.json"


PREDICTIONS_SUFFIX = ".predictions.json.gz"


def predictions_path(record_path: Path) -> Path:
    return record_path.with_name(record_path.stem + PREDICTIONS_SUFFIX)


# A cell's saved model is the folder `<record stem>.model/` beside its record (see atomic.write_model_dir).
SAVED_MODEL_SUFFIX = ".model"


def record_files(results_dir: Path) -> list[Path]:
    """The JSON files under `results_dir` that may be records, in path order. Saved-model folders are
    not entered: their config and tokenizer files are JSON too, and a tokenizer is megabytes to parse."""
    found = []
    for folder, subfolders, files in os.walk(results_dir):
        subfolders[:] = [name for name in subfolders if not name.endswith(SAVED_MODEL_SUFFIX)]
        found.extend(Path(folder) / name for name in files if name.endswith(".json"))
    return sorted(found)


CURVE_SUFFIX = ".curve.csv"


def curve_path(record_path: Path) -> Path:
    return record_path.with_name(record_path.stem + CURVE_SUFFIX)


def model_dir(record_path: Path) -> Path:
    return record_path.with_name(record_path.stem + SAVED_MODEL_SUFFIX)


LOCKS_DIR = ".locks"


TENSORBOARD_DIR = "tensorboard"


LOGS_DIR = "logs"


def lock_path(results_dir: Path, cell: Cell) -> Path:
    """A cell's lock file: `<results>/.locks/<task>/<method>/budget<b>_seed<s>.lock`."""
    return cell_path(Path(results_dir) / LOCKS_DIR, cell.task, cell.method, cell.budget, cell.seed).with_suffix(".lock")


def runs_dir(results_dir: Path) -> Path:
    """Where the runs using the folder register (`runs.register`): `<results>/.locks/runs/`, holding
    `<run id>.lock` and `<run id>.run` per live run (`.run`, not `.json`: no reader takes it for a record)."""
    return Path(results_dir) / LOCKS_DIR / "runs"


def runs_lock_path(results_dir: Path) -> Path:
    """The lock held while one run registers, so that two runs starting at once see each other."""
    return Path(results_dir) / LOCKS_DIR / "runs.lock"


def log_path(results_dir: Path, cell: Cell) -> Path:
    """Where a cell's log goes: `<results>/logs/<task>/<method>/budget<b>_seed<s>.log`."""
    return cell_path(Path(results_dir) / LOGS_DIR, cell.task, cell.method, cell.budget, cell.seed).with_suffix(".log")


def teacher_log_path(results_dir: Path, task: str, seed: int) -> Path:
    return Path(results_dir) / LOGS_DIR / "teachers" / f"{task}_seed{seed}.log"


# One cell of the grid: what names its record, its lock, its log and its TensorBoard run.
@dataclass(frozen=True)
class Cell:
    task: str
    method: str
    budget: float
    seed: int

    @property
    def label(self) -> str:
        return f"{self.task}/{self.method}/b{self.budget:g}/s{self.seed}"

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> Cell:
        """The cell a (checked) record belongs to."""
        return cls(record["task"], record["method"], float(record["budget"]), int(record["seed"]))


SUPERSEDED_SUFFIX = ".superseded"


def files_of_record(record_path: Path) -> tuple[Path, ...]:
    """The record and every file a cell keeps beside it (predictions, curve, saved model)."""
    return (record_path, predictions_path(record_path), curve_path(record_path), model_dir(record_path))


def superseded_path(record_path: Path, source: Path, old_hash: str) -> Path:
    """Where a file of a record of another configuration is kept: `<stem>.<its hash><suffix>.superseded`,
    a name no reader takes for a record."""
    suffix = source.name[len(record_path.stem) :]  # ".json", ".predictions.json.gz", ".curve.csv", ".model"
    return source.with_name(f"{record_path.stem}.{old_hash}{suffix}{SUPERSEDED_SUFFIX}")


class NamedFileError(SuiteError, ValueError):
    """A file a record names is not a plain file (or folder) beside it; the message names the file."""


class NamedFileMissing(NamedFileError):
    """A file a record names is not there (a dangling symlink included)."""


def file_beside(record_path: Path, name: object, *, folder: bool = False) -> Path:
    """The file `name` that the record at `record_path` names (its predictions, curve), or with `folder`
    its saved-model folder, checked before anything opens it. A results folder may come from anyone, so
    a name must not lead a reader elsewhere on the machine or to something that never ends: it is a bare
    name (no absolute path, no `..`, no subfolder), its target with every symlink followed lies inside
    the record's folder, and that target is a regular file, or a folder holding only regular files
    (not symlinks), as `atomic.write_model_dir` writes it. Nothing here reads a byte of the file."""
    record_path = Path(record_path)
    kind = "folder" if folder else "file"
    if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise NamedFileError(f"{record_path}: names the {kind} {name!r}, not the name of a {kind} beside it")
    candidate = record_path.parent / name
    where = f"named by {record_path.name}"
    try:
        home = record_path.parent.resolve(strict=True)
        target = candidate.resolve(strict=True)
    except FileNotFoundError:
        raise NamedFileMissing(f"{candidate}: {where}, is missing") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop is a RuntimeError before Python 3.13
        raise NamedFileError(f"{candidate}: {where}, cannot be resolved ({exc})") from None
    if target == home or not target.is_relative_to(home):
        raise NamedFileError(f"{candidate}: {where}, leads outside the record's folder (to {target})")
    mode = target.stat().st_mode  # stat, not open: a FIFO or device is refused without blocking on it
    if folder:
        if not stat.S_ISDIR(mode):
            raise NamedFileError(f"{candidate}: {where}, is not a folder")
        with os.scandir(target) as entries:
            odd = sorted(e.name for e in entries if not e.is_file(follow_symlinks=False))
        if odd:
            raise NamedFileError(f"{candidate}: {where}, holds {odd[0]!r}, which is not a regular file")
    elif not stat.S_ISREG(mode):
        raise NamedFileError(f"{candidate}: {where}, is not a regular file")
    return candidate
