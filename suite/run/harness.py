"""Expand the grid, skip finished cells, run each cell, and write one result record per cell.

A cell is a pure function of its spec (task, method, budget, seed + the preset), so cells can run
in any order and a finished cell is skipped on the next run (resume).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import shutil
import socket
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock, Timeout
from torch import nn
from tqdm.auto import tqdm
from transformers import DataCollatorWithPadding

from suite.api import Budget, PruningMethod, RunContext
from suite.compute.data import TaskData, load_task, source_identity, tokenize
from suite.compute.device import CPU, Placement, hardware
from suite.compute.evaluation import Evaluation, evaluate
from suite.compute.latency_memo import LatencyMemo
from suite.compute.models import load_model, load_tokenizer
from suite.compute.packing import PackedModel, pack_model
from suite.compute.train import TrainStats, make_loader, train
from suite.errors import SuiteError
from suite.flops import FlopReport, budget_fraction, count_flops, linear_compression, training_flops
from suite.metrics.glue import primary_score
from suite.records.atomic import clean_stale_temp_files, write_model_dir, write_text_atomic
from suite.records.formats import Predictions, Row, to_csv
from suite.records.layout import LOCKS_DIR, TENSORBOARD_DIR, Cell, cell_path, curve_path, model_dir, predictions_path
from suite.records.provenance import config_hash, git_sha, versions
from suite.records.reader import read_record
from suite.records.schema import RunResult
from suite.records.sinks import write_tensorboard
from suite.records.store import write_record
from suite.registry import get_method, get_registered
from suite.run.teachers import Teacher, TeacherStore
from suite.run.trivial import TRIVIAL_METHOD, trivial_baseline
from suite.spec.presets import Preset
from suite.spec.rules import Lineage, method_lineage, teacher_lineage
from suite.spec.tasks import TaskSpec, get_task

log = logging.getLogger("suite")

TEACHER_METHOD = "teacher"  # plain fine-tuning for S steps (methods/teacher)
CALIBRATION_BATCHES = 4
FINISHED = ("ok", "over_budget")


@dataclass
class CellFiles:
    """What a cell writes beside its record, made where it ran and written by the results' one writer."""

    predictions: Predictions | None = None
    curve: list[Row] = field(default_factory=list)  # suite.curves rows
    model: PackedModel | None = None  # the finalized model, with `--save-models`


def expand_grid(preset: Preset, methods: list[str]) -> list[Cell]:
    """task x method x budget x seed; a method that does not compress runs at budget 1.0 only."""
    cells = []
    for task in preset.tasks:
        for method in methods:
            budgets = preset.budgets if get_registered(method).info.budgeted else (1.0,)
            for budget in budgets:
                for seed in preset.seeds:
                    cells.append(Cell(task, method, float(budget), int(seed)))
    return cells


@dataclass
class GridSummary:
    ran: list[RunResult] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)
    # Cells the method cannot reach by design (PruningMethod.unreachable), with the reason: not run.
    unreachable: list[tuple[Cell, str]] = field(default_factory=list)
    busy: list[Cell] = field(default_factory=list)  # being computed by another run at the time: left to it
    teachers_trained: list[tuple[str, int]] = field(default_factory=list)  # (task, seed), Ray executor

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.ran)

    @property
    def any_failed(self) -> bool:
        return self.count("failed") > 0


@dataclass
class GridPlan:
    to_run: list[tuple[Cell, PruningMethod, dict[str, Any]]] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)
    unreachable: list[tuple[Cell, str]] = field(default_factory=list)
    broken: list[tuple[Cell, str]] = field(default_factory=list)  # (cell, error): recorded as failed


@dataclass(frozen=True)
class GridProgress:
    done: int  # cells run so far in this invocation (skipped and unreachable cells not counted)
    total: int
    remaining_s: float | None


def estimate_remaining_s(finished: list[RunResult], pending: list[Cell]) -> float | None:
    """Seconds the pending cells will take, from the cells this run has finished: each pending cell
    costs the mean wall time of finished cells of its task and method, else of its task, else of all.
    Cells of one task share their data size and schedule, and methods differ by up to 3x in step cost."""
    if not pending:
        return 0.0
    timed = [r for r in finished if r.wall_s is not None]
    if not timed:
        return None

    def mean(rows: list[RunResult]) -> float | None:
        return sum(r.wall_s for r in rows) / len(rows) if rows else None

    overall = mean(timed)
    total = 0.0
    for cell in pending:
        same_task = [r for r in timed if r.task == cell.task]
        same_method = [r for r in same_task if r.method == cell.method]
        total += mean(same_method) or mean(same_task) or overall
    return total


@dataclass
class _Trained:
    model: torch.nn.Module
    stats: TrainStats
    evaluation: Evaluation
    eval_s: float
    flops: float  # estimated training compute (suite.flops.training_flops)


class Harness:
    def __init__(
        self,
        preset: Preset,
        results_dir: Path,
        glue_dir: Path | None,
        cache_dir: Path,
        progress: bool = True,
        placement: Placement = CPU,
        method_args: Mapping[str, Mapping[str, Any]] | None = None,
        read_only: bool = False,
        save_models: bool = False,
        tensorboard: bool = False,
    ) -> None:
        self.preset = preset
        self.save_models = save_models  # keep each finished cell's model beside its record
        self.tensorboard = tensorboard  # the training curves as TensorBoard runs too (the writer's job)
        self.placement = placement
        # Knobs set per method (suite.knobs: typed, checked); they change the method's Config, and so
        # its cells' config hash.
        self.method_args = {name: dict(values) for name, values in (method_args or {}).items()}
        self.results_dir = Path(results_dir)
        self.glue_dir = glue_dir
        self.teachers = TeacherStore(cache_dir, clean=not read_only)  # read_only: a harness that only plans
        self.progress = progress
        self._tokenizer = None
        self._data: dict[str, TaskData] = {}
        self._reference: dict[str, FlopReport] = {}
        self._reference_models: dict[str, nn.Module] = {}
        self._reference_on_device: dict[str, nn.Module] = {}
        self._provenance: dict[str, Any] | None = None
        self.executor = "local"  # recorded with the host; a Ray worker's harness says "ray"
        self.latency = LatencyMemo(preset.flop_seq_len, preset.latency_batches, preset.latency_repeats, placement)

    # ----- shared, cached inputs -------------------------------------------------------------
    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.preset.model)
        return self._tokenizer

    @property
    def collator(self) -> DataCollatorWithPadding:
        return DataCollatorWithPadding(self.tokenizer, return_tensors="pt")

    def task_data(self, task_name: str) -> TaskData:
        """Parsed, subsampled and tokenized data of one task (loaded once per harness)."""
        if task_name not in self._data:
            task = get_task(task_name)
            raw = load_task(
                task,
                self.glue_dir,
                self.preset.max_train_samples,
                self.preset.max_eval_samples,
                self.preset.data_seed,
            )
            max_len = self.preset.train.max_seq_length
            self._data[task_name] = TaskData(
                task,
                tokenize(raw.train, self.tokenizer, max_len),
                {s: tokenize(ds, self.tokenizer, max_len) for s, ds in raw.evals.items()},
                raw.sha256,
            )
        return self._data[task_name]

    def use_task_data(self, task_name: str, data: TaskData) -> None:
        """Data prepared elsewhere (a Ray worker gets the driver's, so no worker reads files)."""
        self._data[task_name] = data

    def preflight(self, cells: list[Cell]) -> None:
        """Fail before the grid on bad input that would fail every cell (data, model, tokenizer, a
        results directory that cannot take records), so nothing trains only to be lost."""
        self._check_inputs(cells)
        self._check_results_dir(cells)  # last: a run refused for its data leaves no empty folder

    def _check_inputs(self, cells: list[Cell]) -> None:
        for task_name in dict.fromkeys(c.task for c in cells):
            self.task_data(task_name)
            self.reference_flops(task_name)
        root = self.results_dir
        if root.exists() and not root.is_dir():
            raise SuiteError(f"results path {root} is a file; pass --results-dir with a folder")

    def _check_results_dir(self, cells: list[Cell]) -> None:
        root = self.results_dir
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=root):
                pass
        except OSError as exc:
            raise SuiteError(
                f"results folder {root} is not writable ({exc.strerror}); pass another --results-dir"
            ) from None
        for cell in cells:
            path = cell_path(root, cell.task, cell.method, cell.budget, cell.seed)
            if path.is_dir():
                raise SuiteError(f"{path} is a folder where the cell's record goes; move it away and rerun")

    def reference_model(self, task_name: str) -> nn.Module:
        """The unpruned model for this task (pre-trained weights, fresh head), on the CPU: the FLOP
        reference and what planning inspects (a driver that only plans may have no GPU)."""
        if task_name not in self._reference_models:
            self._reference_models[task_name] = load_model(self.preset.model, get_task(task_name), seed=0).eval()
        return self._reference_models[task_name]

    def reference_on_device(self, task_name: str) -> nn.Module:
        """The reference model on the cell's device: what latency is timed against."""
        if self.placement.device.type == "cpu":
            return self.reference_model(task_name)
        if task_name not in self._reference_on_device:
            model = copy.deepcopy(self.reference_model(task_name))
            self._reference_on_device[task_name] = model.to(self.placement.device)
        return self._reference_on_device[task_name]

    def reference_flops(self, task_name: str) -> FlopReport:
        """Dense FLOPs of the unpruned model: the denominator of every budget for this task."""
        if task_name not in self._reference:
            self._reference[task_name] = count_flops(self.reference_model(task_name), self.preset.flop_seq_len)
        return self._reference[task_name]

    def provenance(self) -> dict[str, Any]:
        if self._provenance is None:
            self._provenance = {"versions": versions(), "git_sha": git_sha(), "hardware": hardware()}
        return self._provenance

    # ----- configuration identity ------------------------------------------------------------
    def _data_config(self, task: str) -> dict[str, Any]:
        """What decides the data a cell sees. The folder's path is left out (a copy elsewhere with the
        same content is the same data); its content hash is in."""
        p = self.preset
        return {
            "max_train_samples": p.max_train_samples,
            "max_eval_samples": p.max_eval_samples,
            "data_seed": p.data_seed,
            "max_seq_length": p.train.max_seq_length,
            "data_source": source_identity(self.glue_dir)["source"],
            "data_sha256": self.task_data(task).sha256,
            "data_augmentation": False,  # no method trains on augmented data (see methods/ksp card)
        }

    def data_identity(self, task: str) -> dict[str, str]:
        """The record's `data`: which source (folder path or hub id) and the content hash."""
        return {**source_identity(self.glue_dir), "sha256": self.task_data(task).sha256}

    def _teacher_config(self, task: str, seed: int) -> dict[str, Any]:
        return {
            "model": self.preset.model,
            "task": task,
            "seed": seed,
            "method": TEACHER_METHOD,
            "train": dataclasses.asdict(self.preset.train_for(task)),
            "data": self._data_config(task),
            # The device type and precision change the numbers; the device's name (which GPU or CPU
            # model) is only recorded, so a cluster of mixed GPUs does not redo finished cells.
            "device": self.placement.device.type,
            "precision": self.placement.precision,
        }

    def teacher_key(self, task: str, seed: int) -> str:
        """The teacher cache key of (task, seed) under this run's settings."""
        return self.teachers.key(self._teacher_config(task, seed))

    def teacher_steps(self, task: str) -> int:
        """S: the teacher's optimizer steps, the unit of the training rule."""
        return self.preset.train_for(task).total_steps(len(self.task_data(task).train))

    def lineage(self, task: str, method: PruningMethod) -> Lineage:
        steps = self.teacher_steps(task)
        return teacher_lineage(steps) if method.info.is_teacher else method_lineage(method.start, steps)

    def cell_config(self, cell: Cell, method: PruningMethod) -> dict[str, Any]:
        config = self._teacher_config(cell.task, cell.seed)
        config.update(
            method=cell.method,
            method_config=_as_dict(method.config),
            budget=cell.budget,
            flop_seq_len=self.preset.flop_seq_len,
            lineage=dataclasses.asdict(self.lineage(cell.task, method)),
            pruning_schedule=dataclasses.asdict(self.preset.pruning_schedule),
        )
        if uses_teacher(method):
            config["teacher"] = self.teacher_key(cell.task, cell.seed)
        return config

    def method(self, name: str) -> PruningMethod:
        """A fresh instance of the method `name`, with this run's knobs for it."""
        return get_method(name, self.method_args.get(name))

    # ----- running ---------------------------------------------------------------------------
    def plan(self, cells: list[Cell]) -> GridPlan:
        """Sort the grid into cells to run, finished cells (same config hash), unreachable ones, and
        broken ones (the method's constructor, `unreachable()` or config raised: recorded as failed)."""
        plan = GridPlan()
        for cell in cells:
            try:
                method = self.method(cell.method)
                reason = method.unreachable(
                    self.reference_model(cell.task), self.reference_flops(cell.task), Budget(cell.budget)
                )
                config = None if reason else self.cell_config(cell, method)
            except (Exception, SystemExit) as exc:  # a plugin's fault is its cells' failure, not the grid's
                plan.broken.append((cell, f"{type(exc).__name__} before training: {exc}\n{_traceback_tail(exc)}"))
                continue
            if reason:
                plan.unreachable.append((cell, reason))
                continue
            if self.finished(cell, config):
                plan.skipped.append(cell)
            else:
                plan.to_run.append((cell, method, config))
        return plan

    def preview(self, cells: list[Cell]) -> GridPlan:
        """What a run of `cells` would do (`run --dry-run`): the input checks and the plan of start_grid,
        finished records read, and nothing written: no results folder, no record, no teacher."""
        self._check_inputs(cells)
        return self.plan(cells)

    def teacher_cached(self, task: str, seed: int) -> bool:
        """A teacher for (task, seed) under this run's settings is in the cache (damage is found on load)."""
        return self.teachers.path(self.teacher_key(task, seed)).is_dir()

    def start_grid(self, cells: list[Cell]) -> tuple[GridPlan, GridSummary]:
        """What every executor does first, in the process that writes the records: check the input,
        remove stale temporary files, plan, write the trivial rows and record the broken cells."""
        self.preflight(cells)
        for stale in clean_stale_temp_files(self.results_dir):  # left by a run killed mid-write
            log.info("removed a stale temporary file %s", stale)
        plan = self.plan(cells)
        summary = GridSummary(skipped=plan.skipped, unreachable=plan.unreachable)
        for cell, reason in plan.unreachable:
            log.info("%s: not run: %s", cell.label, reason)
        if plan.to_run or plan.skipped:  # a grid with nothing to run writes nothing
            self.write_trivial_baselines(list(dict.fromkeys(c.task for c in cells)))
        for cell, error in plan.broken:
            log.error("cell %s failed: %s", cell.label, error.splitlines()[0])
            result = RunResult(cell.method, cell.task, cell.budget, cell.seed, "failed", "", error=error)
            self.write_result(cell, result, None)
            summary.ran.append(result)
        return plan, summary

    def run(self, cells: list[Cell], on_result: Callable[[RunResult, GridProgress], None] | None = None) -> GridSummary:
        """The in-process executor: the cells one after another, each record written as it finishes."""
        plan, summary = self.start_grid(cells)
        pending = [cell for cell, _, _ in plan.to_run]
        bar = tqdm(plan.to_run, desc="cells", unit="cell", disable=not self.progress)
        for index, (cell, method, config) in enumerate(bar):
            bar.set_postfix_str(cell.label)
            lock = self.cell_lock(cell)
            try:
                lock.acquire(timeout=0)
            except Timeout:  # another run on this results folder is computing it now
                log.info("%s: being computed by another run; skipped", cell.label)
                summary.busy.append(cell)
                continue
            try:
                if self.finished(cell, config):  # that other run finished it while this one waited
                    summary.skipped.append(cell)
                    continue
                result, files = self.run_cell(cell, method, config)
                self.write_result(cell, result, files)
            finally:
                lock.release()
            summary.ran.append(result)
            if on_result is not None:
                remaining = pending[index + 1 :]
                on_result(result, GridProgress(index + 1, len(pending), estimate_remaining_s(summary.ran, remaining)))
        return summary

    def cell_lock(self, cell: Cell) -> FileLock:
        """One lock file per cell under `<results>/.locks/`, so two runs on one results folder never
        compute the same cell twice (lock files stay; they hold no data and no reader looks there)."""
        path = cell_path(self.results_dir / LOCKS_DIR, cell.task, cell.method, cell.budget, cell.seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(path.with_suffix(".lock"))

    def finished(self, cell: Cell, config: dict[str, Any]) -> bool:
        existing = read_record(cell_path(self.results_dir, cell.task, cell.method, cell.budget, cell.seed))
        return bool(
            existing and existing.get("status") in FINISHED and existing.get("config_hash") == config_hash(config)
        )

    def write_result(self, cell: Cell, result: RunResult, files: CellFiles | None) -> None:
        """Write a cell's record and the files beside it (predictions, training curve, saved model;
        each before the record that names it). A finished record of another configuration is kept
        beside it as `<name>.<its hash>.json.superseded` (its files likewise) rather than overwritten;
        a failed write (disk full, permissions changed mid-run) is logged and turns the cell into a
        failure, and the grid goes on."""
        path = cell_path(self.results_dir, cell.task, cell.method, cell.budget, cell.seed)
        files = files or CellFiles()
        try:
            existing = read_record(path)
            if existing and existing.get("status") in FINISHED and existing.get("config_hash") != result.config_hash:
                _set_aside(path, str(existing.get("config_hash") or "unknown"))
            self._write_beside(path, cell, result, files)
            write_record(path, result, files.predictions)
        except (OSError, TypeError, ValueError) as exc:
            log.error("cell %s: its record could not be written to %s: %s", cell.label, path, exc)
            result.status = "failed"
            result.error = f"record not written: {type(exc).__name__}: {exc}"

    def _write_beside(self, path: Path, cell: Cell, result: RunResult, files: CellFiles) -> None:
        """The training curve (CSV; TensorBoard too when asked) and the saved model, named in `result`.
        A cell without a curve removes a stale one, as a record without predictions does."""
        curve = curve_path(path)
        result.curve = None
        if files.curve:
            write_text_atomic(curve, to_csv(files.curve))
            result.curve = {"file": curve.name, "rows": len(files.curve)}
            if self.tensorboard:
                runs = cell_path(self.results_dir / TENSORBOARD_DIR, cell.task, cell.method, cell.budget, cell.seed)
                run = runs.with_suffix("")
                shutil.rmtree(run, ignore_errors=True)  # a rerun replaces the cell's scalars, never repeats them
                write_tensorboard(run, files.curve)
        else:
            curve.unlink(missing_ok=True)
        result.saved_model = None
        if files.model is not None:
            folder = model_dir(path)
            write_model_dir(folder, files.model.files)
            result.saved_model = {"path": folder.name, "plain_transformers": files.model.plain_transformers}

    def write_trivial_baselines(self, tasks: list[str]) -> list[RunResult]:
        """One `trivial` row per task (majority class, or a constant for regression), from the data
        alone; skipped where a record with the same data identity exists. Returns those written."""
        written = []
        for task_name in tasks:
            data = self.task_data(task_name)
            eval_labels = {split: np.asarray(ds["label"]) for split, ds in data.evals.items()}
            baseline = trivial_baseline(data.task, np.asarray(data.train["label"]), eval_labels)
            config = {"data": self._data_config(task_name), "method": TRIVIAL_METHOD, "rule": baseline.rule}
            path = cell_path(self.results_dir, task_name, TRIVIAL_METHOD, 1.0, 0)
            existing = read_record(path)
            if existing and existing.get("config_hash") == config_hash(config):
                continue
            result = RunResult(
                method=TRIVIAL_METHOD,
                task=task_name,
                budget=1.0,
                seed=0,  # no randomness: one row serves every seed
                status="ok",
                config_hash=config_hash(config),
                role="trivial",
                score=primary_score(data.task, baseline.metrics),
                metrics=baseline.metrics,
                # Predicting a constant needs no model: zero FLOPs, parameters and latency.
                flops={"dense": 0.0, "effective": 0.0, "fraction": 0.0, "linear_compression": None},
                params={"total": 0, "nonzero": 0, "encoder_linear_density": 0.0},
                latency_ms={},
                train_steps=0,
                train_examples=0,
                wall_s=0.0,
                method_config={"rule": baseline.rule, "value": baseline.value},
                run_config=config,
                data=self.data_identity(task_name),
                training={
                    "start": "none",
                    "own_steps": 0,
                    "inherited_steps": 0,
                    "lineage_steps": 0,
                    "examples": 0,
                    "flops": 0.0,
                    "teacher_flops": None,
                },
                **self.provenance(),
            )
            evaluation = Evaluation(baseline.metrics, baseline.predictions, baseline.labels)
            write_record(path, result, predictions_of(data.task, evaluation))
            written.append(result)
        return written

    def run_cell(self, cell: Cell, method: PruningMethod, config: dict[str, Any]) -> tuple[RunResult, CellFiles]:
        """Run one cell; any exception becomes a `failed` record (with no files beside it) so the grid
        goes on."""
        start = time.perf_counter()
        result = self.new_result(cell, method, config)
        try:
            files = self._measure(cell, method, result)
        except (Exception, SystemExit) as exc:  # sys.exit() in a method's hook fails its cell only
            log.error("cell %s failed: %s", cell.label, exc)
            log.debug(traceback.format_exc())
            result.status = "failed"
            result.error = f"{type(exc).__name__}: {exc}\n{_traceback_tail(exc)}"
            files = CellFiles()
        result.wall_s = time.perf_counter() - start
        return result, files

    def new_result(self, cell: Cell, method: PruningMethod, config: dict[str, Any]) -> RunResult:
        """A cell's record before it runs: `failed` until measured, with every identity field."""
        return RunResult(
            method=cell.method,
            task=cell.task,
            budget=cell.budget,
            seed=cell.seed,
            status="failed",
            config_hash=config_hash(config),
            role="teacher" if method.info.is_teacher else "method",
            model=self.preset.model,
            method_config=_as_dict(method.config),
            run_config=config,
            data=self.data_identity(cell.task),
            device=self.placement.record,
            precision=self.placement.precision,
            executor={"name": self.executor, "host": socket.gethostname()},
            **self.provenance(),
        )

    def _measure(self, cell: Cell, method: PruningMethod, result: RunResult) -> CellFiles:
        task = get_task(cell.task)
        reference = self.reference_flops(cell.task)
        if method.info.is_teacher:
            teacher = self.teacher(cell.task, cell.seed)
            model, meta = teacher.model, teacher.meta
            result.teacher = teacher.summary
            evaluation = Evaluation(
                meta["metrics"],
                {k: np.asarray(v) for k, v in meta["predictions"].items()},
                {k: np.asarray(v) for k, v in meta["labels"].items()},
            )
            result.train_steps, result.train_examples = meta["train_steps"], meta["train_examples"]
            result.training = meta["training"]
            curve = meta.get("curve", [])  # teachers cached before curves were kept have none
        else:
            teacher = self.teacher(cell.task, cell.seed) if uses_teacher(method) else None
            result.teacher = teacher.summary if teacher else None
            lineage = self.lineage(cell.task, method)
            trained = self._fit(cell.task, cell.seed, method, Budget(cell.budget), teacher, lineage)
            model, evaluation, curve = trained.model, trained.evaluation, trained.stats.curve
            result.train_steps, result.train_examples = trained.stats.steps, trained.stats.examples
            result.training = {
                **lineage.as_dict(),
                "examples": trained.stats.examples,
                "flops": trained.flops,
                "teacher_flops": teacher.meta["training"]["flops"] if teacher else None,
            }
            if trained.stats.steps != lineage.own_steps:
                raise RuntimeError(f"trained {trained.stats.steps} steps, the training rule asks {lineage.own_steps}")
        result.metrics = evaluation.metrics
        result.score = primary_score(task, result.metrics)
        report = count_flops(model, self.preset.flop_seq_len)
        fraction = budget_fraction(report, reference)
        result.flops = {
            "dense": report.dense,
            "effective": report.effective,
            "fraction": fraction,
            "dense_fraction": report.dense / reference.dense,
            "attention": report.attention,
            "linear_compression": linear_compression(report, reference),
            "reference_dense": reference.dense,
            "seq_len": report.seq_len,
        }
        result.params = {
            "total": report.params_total,
            "nonzero": report.params_nonzero,
            "encoder_linear_density": report.encoder_linear_nonzero / reference.encoder_linear_weights,
            "reference_total": reference.params_total,
        }
        # Timed once per distinct architecture in this run; the record says whether it was reused.
        result.latency_ms = self.latency.measure(model, cell.label, reference=self.reference_on_device(cell.task))
        result.status = "ok" if Budget(cell.budget).allows(fraction) else "over_budget"
        if result.status == "over_budget":
            result.error = f"effective FLOP fraction {fraction:.4f} exceeds budget {cell.budget:g} (+1%)"
        packed = pack_model(model, self.tokenizer) if self.save_models else None
        return CellFiles(predictions_of(task, evaluation), curve, packed)

    def teacher(self, task: str, seed: int) -> Teacher:
        """The dense fine-tuned model for (task, seed), S steps: from the cache, or trained now."""

        def train_teacher(key: str) -> Teacher:
            log.info("training teacher %s for %s seed %d", key, task, seed)
            lineage = teacher_lineage(self.teacher_steps(task))
            trained = self._fit(task, seed, get_method(TEACHER_METHOD), Budget(1.0), None, lineage)
            evaluation = trained.evaluation
            meta = {
                "id": key,
                "score": primary_score(get_task(task), evaluation.metrics),
                "metrics": evaluation.metrics,
                "predictions": {k: v.tolist() for k, v in evaluation.predictions.items()},
                "labels": {k: v.tolist() for k, v in evaluation.labels.items()},
                "train_steps": trained.stats.steps,
                "train_examples": trained.stats.examples,
                "training": {**lineage.as_dict(), "examples": trained.stats.examples, "flops": trained.flops},
                "wall_s": trained.stats.wall_s + trained.eval_s,
                "config": self._teacher_config(task, seed),
                "curve": trained.stats.curve,
            }
            return Teacher(trained.model, meta)

        teacher = self.teachers.get_or_train(self._teacher_config(task, seed), train_teacher)
        teacher.model.requires_grad_(False).eval().to(self.placement.device)
        return teacher

    def _fit(
        self,
        task_name: str,
        seed: int,
        method: PruningMethod,
        budget: Budget,
        teacher: Teacher | None,
        lineage: Lineage,
    ) -> _Trained:
        """prepare -> train -> finalize -> evaluate: the same path for students and teachers.

        The starting weights and the step count come from the training rule (`lineage`); a method
        never picks them itself."""
        data = self.task_data(task_name)
        cfg = self.preset.train_for(task_name)
        if lineage.start == "teacher":
            if teacher is None:
                raise RuntimeError(f"{method.info.name} starts from the teacher, but no teacher was loaded")
            model = copy.deepcopy(teacher.model).requires_grad_(True).train()
        else:
            model = load_model(self.preset.model, data.task, seed)
        device = self.placement.device
        model = model.to(device)
        ctx = RunContext(
            task=data.task,
            budget=budget,
            seed=seed,
            total_steps=lineage.own_steps,
            reference=self.reference_flops(task_name),
            flop_seq_len=self.preset.flop_seq_len,
            # A private copy: hooks or edits a method puts on its teacher die with the cell.
            teacher=copy.deepcopy(teacher.model) if teacher and method.info.needs_teacher else None,
            calibration_batches=[
                {k: v.to(device) for k, v in batch.items()}
                for batch in self._calibration_batches(data, cfg.batch_size, seed)
            ],
            logger=logging.getLogger(f"suite.method.{method.info.name}"),
            schedule=self.preset.pruning_schedule,
        )
        model = method.prepare(model, ctx).to(device)  # parameters a method added (scores) move too
        student_flops = count_flops(model, self.preset.flop_seq_len)
        teacher_batches: Counter[tuple[int, int]] = Counter()
        hook = None
        if ctx.teacher is not None:
            hook = ctx.teacher.register_forward_pre_hook(_shape_counter(teacher_batches), with_kwargs=True)
        torch.manual_seed(seed)  # dropout masks: the same stream for every method
        try:
            stats = train(
                model,
                method,
                ctx,
                data.train,
                self.collator,
                cfg,
                progress=self.progress,
                placement=self.placement,
                curve_every=self.preset.curve_every,
            )
        finally:
            if hook is not None:
                hook.remove()
        flops = training_flops(
            student_flops,
            stats.batch_shapes,
            count_flops(ctx.teacher, self.preset.flop_seq_len) if ctx.teacher is not None else None,
            dict(teacher_batches),
        )
        model = method.finalize(model, ctx)
        model.eval()
        eval_start = time.perf_counter()
        evaluation = evaluate(model, data.task, data.evals, self.collator, self.placement)
        return _Trained(model, stats, evaluation, time.perf_counter() - eval_start, flops)

    def _calibration_batches(self, data: TaskData, batch_size: int, seed: int) -> list[dict]:
        loader = make_loader(data.train, self.collator, batch_size, seed=seed + 10_000)
        batches = []
        for batch in loader:
            batches.append(batch)
            if len(batches) >= CALIBRATION_BATCHES:
                break
        return batches


def predictions_of(task: TaskSpec, evaluation: Evaluation | None) -> Predictions | None:
    """The sidecar's content: the split that gives the score, the other eval splits beside it."""
    if evaluation is None:
        return None
    primary = task.eval_splits[0]
    others = {
        split: {"predictions": evaluation.predictions[split].tolist(), "labels": evaluation.labels[split].tolist()}
        for split in task.eval_splits[1:]
        if split in evaluation.predictions
    }
    return Predictions(primary, evaluation.predictions[primary].tolist(), evaluation.labels[primary].tolist(), others)


def uses_teacher(method: PruningMethod) -> bool:
    """The cell needs the teacher: to distil from it, or to start from its weights."""
    return method.info.needs_teacher or method.start == "teacher"


def _shape_counter(counts: Counter[tuple[int, int]]) -> Callable[..., None]:
    """A forward pre-hook that counts the (batch size, length) of every call: the teacher's forwards."""

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None:
            counts[(int(ids.shape[0]), int(ids.shape[1]))] += 1

    return hook


def _as_dict(config: Any) -> dict[str, Any]:
    """A method's Config as JSON-safe data (a Path or an enum field becomes its string), so the record
    that carries it can always be written; the config hash sees the same strings."""
    raw = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
    return json.loads(json.dumps(raw, default=str))


def _set_aside(path: Path, old_hash: str) -> None:
    """Keep a superseded record and the files beside it under names no reader takes for a record."""
    for source in (path, predictions_path(path), curve_path(path), model_dir(path)):
        if source.exists():
            suffix = source.name[len(path.stem) :]  # ".json", ".predictions.json.gz", ".curve.csv", ".model"
            os.replace(source, source.with_name(f"{path.stem}.{old_hash}{suffix}.superseded"))


def _traceback_tail(exc: BaseException, lines: int = 6) -> str:
    formatted = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return "\n".join(formatted.strip().splitlines()[-lines:])
