"""The checks of `python -m suite validate` that read one record (and its sidecar) on its own.

The record contract (every field of `suite.records.schema.RunResult`, the file where its cell belongs, its
config hash recomputed from its settings), its FLOP fraction recomputed from its own FLOP fields
against its budget and status, its training lineage, its predictions sidecar (present, same sha256
and size) and its score and metrics recomputed from those predictions. Every problem is one line
naming the file.

Scores are recomputed with the vectorized GLUE metrics (`suite.metrics.vectorized`), which the tests hold equal to
`suite.metrics.glue` (the `evaluate` scripts behind that module import torch; this side never does).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from suite.errors import SuiteError
from suite.metrics.vectorized import METRIC_RANGES, METRICS, metric_rows
from suite.records.checks import RecordError, check_record, shown
from suite.records.formats import SCORE_TOLERANCE, Predictions, PredictionsError, has_predictions, read_predictions
from suite.records.layout import NamedFileError, cell_path, file_beside
from suite.records.provenance import config_hash
from suite.records.reader import NotAnObject, RecordFile, Unreadable, scan_records
from suite.records.schema import RECORD_FIELDS, ROLE_TEACHER, ROLE_TRIVIAL, SCHEMA_VERSION, STATUSES, get_field
from suite.spec.rules import STARTS, within_budget
from suite.spec.splits import DEV, scored_task
from suite.spec.tasks import SIMILARITY_RANGE, TaskSpec, get_task

RATIO_TOLERANCE = 1e-9  # a recorded FLOP ratio against the same ratio recomputed (JSON keeps 17 digits)
# The run_config fields that name the cell the record is for.
CELL_FIELDS = ("task", "method", "budget", "seed", "method_config", "model")


@dataclass
class Entry:
    """One record read from the folder; `labels` (a digest of its dev labels) is set once its
    predictions check out, for the comparison between records."""

    path: Path
    record: dict[str, Any]
    well_formed: bool = False
    labels: str | None = None
    problems: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.problems.append(f"{self.path}: {message}")


def read_entries(results_dir: Path) -> tuple[list[Entry], list[str]]:
    """Every record under `results_dir` in path order, and one problem per file that is not JSON.
    JSON files that are not records (no method or task field) are not result files and pass."""
    records, unreadable = scan_records(results_dir)
    problems = [_unreadable(item) for item in unreadable]
    return [Entry(item.path, item.record) for item in records], problems


def _unreadable(item: Unreadable) -> str:
    if isinstance(item.error, NotAnObject):
        return f"{item.path}: not a record: {item.error}"
    return f"{item.path}: not a readable JSON file ({_first_line(item.error)})"


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else repr(exc)


def as_number(value: Any) -> float | None:
    """`value` as a finite float; None for anything else (a whole number too large for a float, too)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def check_score(entry: Entry, task: TaskSpec) -> bool:
    """The score of a finished record is a finite number its task's metric can give; False (with the
    problem added) where it is not, and nothing can be recomputed against it."""
    record = entry.record
    score = as_number(record.get("score"))
    if score is None:
        given = shown(record.get("score"), 40)
        entry.add(f"status {record.get('status')} with score {given}, expected a finite number")
        return False
    low, high = METRIC_RANGES[task.primary_metric]
    if not low <= score <= high:
        entry.add(f"score {score:.6g} is outside {low:g}..{high:g}, the range of {task.primary_metric}")
        return False
    return True


def _check_contract(entry: Entry, root: Path) -> TaskSpec | None:
    """Fields, types, location and config hash; the task, where the rest of the checks can go on."""
    record = entry.record
    missing = [name for name in RECORD_FIELDS if name not in record]
    if missing:
        entry.add(f"missing fields {', '.join(missing)} (a record of schema {SCHEMA_VERSION} has them all)")
        return None
    try:
        check_record(RecordFile(record, entry.path), 0)
        task = get_task(record["task"])
    except (RecordError, SuiteError) as exc:
        entry.problems.append(str(exc) if str(exc).startswith(str(entry.path)) else f"{entry.path}: {exc}")
        return None
    if record["schema_version"] != SCHEMA_VERSION:
        entry.add(f"schema_version {record['schema_version']!r}, this suite reads {SCHEMA_VERSION}")
    if record["status"] not in STATUSES:
        entry.add(f"status {record['status']!r}, expected one of {', '.join(STATUSES)}")
        return None
    expected = cell_path(root, record["task"], record["method"], record["budget"], record["seed"])
    if entry.path != expected:
        entry.add(f"its fields name the cell whose record is {expected.relative_to(root)}")
    run_config = record["run_config"]
    if not isinstance(run_config, dict):
        entry.add(f"run_config is {run_config!r}, expected the cell's settings")
        return None
    if record["config_hash"] != config_hash(run_config):
        entry.add(f"config_hash {record['config_hash']} is not the hash of its run_config ({config_hash(run_config)})")
    for name in CELL_FIELDS:
        if name in run_config and run_config[name] != record[name]:
            entry.add(f"{name} is {record[name]!r}, its run_config says {run_config[name]!r}")
    data_hash, recorded = get_field(run_config, "data", "data_sha256"), get_field(record, "data", "sha256")
    if recorded != data_hash:
        entry.add(f"data.sha256 {recorded} differs from run_config.data.data_sha256 {data_hash}")
    if record["status"] == "failed":
        if not isinstance(record["error"], str) or not record["error"]:
            entry.add("status failed without an error message")
    elif not check_score(entry, task):
        return None
    entry.well_formed = True
    return task


def _check_flops(entry: Entry) -> None:
    """The FLOP rule from the record's own fields: fraction = effective / reference dense, within the
    budget (+ tolerance) exactly where the status says `ok`."""
    record = entry.record
    flops = record["flops"] if isinstance(record["flops"], dict) else {}
    fraction = as_number(flops.get("fraction"))
    if record.get("role") == ROLE_TRIVIAL:  # predicts a constant: no model, no FLOPs
        if fraction != 0.0 or as_number(flops.get("effective")) != 0.0:
            entry.add(f"a trivial baseline with FLOPs {flops!r}, expected 0")
        return
    effective, reference = as_number(flops.get("effective")), as_number(flops.get("reference_dense"))
    if fraction is None or effective is None or reference is None or reference <= 0:
        entry.add(f"flops needs numbers fraction, effective and reference_dense > 0, has {json.dumps(flops)[:120]}")
        return
    recomputed = effective / reference
    if not math.isclose(fraction, recomputed, rel_tol=RATIO_TOLERANCE):
        entry.add(f"flops.fraction {fraction:.6g} is not flops.effective / flops.reference_dense = {recomputed:.6g}")
    dense = as_number(flops.get("dense"))
    dense_fraction = as_number(flops.get("dense_fraction"))
    if dense is not None and dense_fraction is not None and not math.isclose(dense_fraction, dense / reference):
        entry.add(f"flops.dense_fraction {dense_fraction:.6g} is not flops.dense / flops.reference_dense")
    seq_len = record["run_config"].get("flop_seq_len")
    if seq_len is not None and flops.get("seq_len") != seq_len:
        entry.add(f"FLOPs counted at length {flops.get('seq_len')}, run_config.flop_seq_len is {seq_len}")
    allowed = within_budget(recomputed, record["budget"])
    if record["status"] == "ok" and not allowed:
        entry.add(f"status ok, but its FLOP fraction {recomputed:.4f} exceeds budget {record['budget']:g} (+1%)")
    elif record["status"] == "over_budget" and allowed:
        entry.add(f"status over_budget, but its FLOP fraction {recomputed:.4f} is within budget {record['budget']:g}")


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_training(entry: Entry) -> None:
    """The lineage as the training rule builds it: own + inherited steps, inherited ones only (and as
    many as its own) for a start from the teacher; the same in run_config and train_steps."""
    record = entry.record
    if record.get("role") == ROLE_TRIVIAL:
        return
    training = record["training"] if isinstance(record["training"], dict) else {}
    start = training.get("start")
    own, inherited, lineage = (as_int(training.get(k)) for k in ("own_steps", "inherited_steps", "lineage_steps"))
    if start not in STARTS or own is None or inherited is None or lineage is None:
        entry.add(f"training needs start ({' or '.join(STARTS)}) and whole own, inherited and lineage steps")
        return
    if lineage != own + inherited:
        entry.add(f"training.lineage_steps {lineage} is not own_steps {own} + inherited_steps {inherited}")
    if start == "pretrained" and inherited != 0:
        entry.add(f"starts from the pre-trained model but inherits {inherited} steps")
    if start == "teacher" and own != inherited:
        entry.add(f"starts from the teacher ({inherited} steps) and trains {own} more; the training rule asks as many")
    if record.get("role") == ROLE_TEACHER and start != "pretrained":
        entry.add(f"a teacher row that starts from {start}")
    planned = record["run_config"].get("lineage")
    recorded = {"start": start, "own_steps": own, "inherited_steps": inherited}
    if planned is not None and planned != recorded:
        entry.add(f"training {recorded} differs from run_config.lineage {planned}")
    if record["train_steps"] != own:
        entry.add(f"train_steps {record['train_steps']!r}, training.own_steps {own}")


def _labels_digest(labels: np.ndarray) -> str:
    return hashlib.sha256(labels.astype(float).tobytes()).hexdigest()


def _check_named_files(entry: Entry) -> None:
    """The training curve and saved model the record names are there, inside its folder (not read: the
    sidecar is checked by `check_predictions`)."""
    record = entry.record
    named = [("curve", "file", False), ("saved_model", "path", True)]
    for name, key, folder in named:
        meta = record.get(name)
        if meta is None:
            continue
        if not isinstance(meta, dict):
            entry.add(f"{name} is {meta!r}, expected the file it names")
            continue
        try:
            file_beside(entry.path, meta.get(key), folder=folder)
        except NamedFileError as exc:
            entry.problems.append(f"{exc} ({name}.{key}); rerun that cell")


def _labels_in_range(task: TaskSpec, labels: np.ndarray) -> bool:
    """Class ids 0..num_labels-1, or for the regression task (STS-B) similarities on its 0-5 scale."""
    if task.is_regression:
        return bool(((labels >= SIMILARITY_RANGE[0]) & (labels <= SIMILARITY_RANGE[1])).all())
    return bool(((labels == np.round(labels)) & (labels >= 0) & (labels < task.num_labels)).all())


def _check_values(entry: Entry, task: TaskSpec, loaded: Predictions) -> bool:
    """Every split's predictions and labels are finite numbers (no metric is defined on NaN, and a
    NaN scores like any wrong answer), the labels on the task's scale."""
    for split in (None, *loaded.other_splits):
        predictions, labels = loaded.arrays(split)
        named = f"split {split!r} of its predictions" if split else "its predictions"
        for what, values in (("predictions", predictions), ("labels", labels)):
            if values.dtype.kind not in "iuf" or not np.isfinite(values).all():
                entry.add(f"{named}: {what} that are not all finite numbers (NaN, infinite or not numbers)")
                return False
        if not _labels_in_range(task, labels):
            scale = "similarities from 0 to 5" if task.is_regression else f"class ids 0..{task.num_labels - 1}"
            entry.add(f"{named}: labels outside {task.name}'s {scale} (another task's or damaged labels)")
            return False
    return True


def check_predictions(entry: Entry, task: TaskSpec) -> Predictions | None:
    """The sidecar (present, sha256, n, split, finite values, labels on the task's scale), then every
    score the record states, recomputed from the predictions; the predictions where they could be read."""
    record = entry.record
    if not has_predictions(record):
        if record.get("status") == "ok":
            entry.add("no predictions sidecar: its score cannot be recomputed or compared per example")
        return None
    try:
        loaded = read_predictions(entry.path, record)
    except PredictionsError as exc:
        entry.problems.append(str(exc))
        return None
    scored_on = scored_task(task, get_field(record, "run_config", "data", "eval_split") or DEV).eval_splits[0]
    if loaded.split is not None and loaded.split != scored_on:
        entry.add(f"predictions of split {loaded.split!r}, its run scores {task.name} on {scored_on!r}")
        return None
    if not _check_values(entry, task, loaded):
        return None
    entry.labels = _labels_digest(loaded.arrays()[1])
    primary = _recomputed(loaded, task.primary_metric, None)
    if abs(primary - record["score"]) > SCORE_TOLERANCE:
        entry.add(f"score {record['score']:.6f}, its predictions give {primary:.6f} ({task.primary_metric})")
    metrics = record.get("metrics", {})  # a record without the field is named by the contract check
    if not isinstance(metrics, dict):
        entry.add(f"metrics is {shown(metrics, 40)}, expected an object of metric name -> value")
        metrics = {}
    for name, value in sorted(metrics.items()):
        split, _, metric = name.rpartition("/")
        if metric not in METRICS:
            entry.add(f"metrics.{name}: no GLUE metric {metric!r} to recompute it with")
            continue
        if split and split not in loaded.other_splits:
            entry.add(f"metrics.{name}: the sidecar has no predictions of split {split!r}")
            continue
        again = _recomputed(loaded, metric, split or None)
        if as_number(value) is None or abs(again - value) > SCORE_TOLERANCE:
            entry.add(f"metrics.{name} is {shown(value, 40)}, its predictions give {again:.6f}")
    return loaded


def _recomputed(loaded: Predictions, metric: str, split: str | None) -> float:
    return float(metric_rows(metric, *loaded.arrays(split))[0])


def check_entry(entry: Entry, root: Path) -> None:
    """Every check of one record on its own; the problems land in `entry.problems`."""
    try:
        task = _check_contract(entry, root)
        if task is None or entry.record["status"] == "failed":
            return
        _check_flops(entry)
        _check_training(entry)
        _check_named_files(entry)
        check_predictions(entry, task)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a field of an unexpected shape
        entry.add(f"malformed record ({type(exc).__name__}: {exc})")
        entry.well_formed = False


def verify_score(item: RecordFile) -> tuple[Predictions | None, list[str]]:
    """What `validate` checks of a finished record's score, the record on its own: a finite number in
    its metric's range, and what its predictions sidecar (present, matching the record) gives. Returns
    the predictions where every check passed, and the problems (one line each, naming the file)."""
    record = item.record
    if item.path is None:
        cell = f"{record.get('task')}/{record.get('method')} budget {record.get('budget')} seed {record.get('seed')}"
        return None, [f"record {cell}: built in memory, so no predictions sidecar to recompute its score from"]
    entry = Entry(item.path, record)
    loaded = None
    try:
        task = get_task(record["task"])
        if check_score(entry, task):
            loaded = check_predictions(entry, task)
    except SuiteError as exc:  # a task the suite does not know
        entry.add(str(exc))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a field of an unexpected shape
        entry.add(f"malformed record ({type(exc).__name__}: {exc})")
    return (None if entry.problems else loaded), entry.problems
