"""Every name a results folder holds: records, the files beside them, locks, logs, TensorBoard runs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
