"""One cell, start to finish, in the process that runs it: train and measure it, and return its
record and the files beside it. Nothing here writes: the results folder's one writer does."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from typing import Any

import numpy as np

from suite.api import Budget, PruningMethod
from suite.compute.engines import engines_for
from suite.compute.evaluation import Evaluation
from suite.compute.latency_memo import LatencyMemo
from suite.compute.packing import pack_model
from suite.flops import budget_fraction, count_flops, linear_compression
from suite.metrics.glue import primary_score
from suite.records.formats import Predictions
from suite.records.layout import Cell
from suite.records.provenance import config_hash
from suite.records.schema import ROLE_METHOD, ROLE_TEACHER, RunResult
from suite.records.store import CellFiles
from suite.run.fit import Fitter
from suite.run.identity import Execution, Identity, method_config, uses_teacher
from suite.run.teachers import Teachers
from suite.run.time_limit import CellTimedOut, alarm_after
from suite.spec.tasks import TaskSpec

log = logging.getLogger("suite")


def new_result(
    identity: Identity, cell: Cell, method: PruningMethod, config: dict[str, Any], executor: str
) -> RunResult:
    """A cell's record before it runs: `failed` until measured, with every identity field."""
    inputs = identity.inputs
    return RunResult(
        method=cell.method,
        task=cell.task,
        budget=cell.budget,
        seed=cell.seed,
        status="failed",
        config_hash=config_hash(config),
        role=ROLE_TEACHER if method.info.is_teacher else ROLE_METHOD,
        model=identity.preset.model,
        method_config=method_config(method),
        run_config=config,
        data=identity.data_identity(cell.task),
        tuning=identity.tuning(cell.task, cell.method),
        device=inputs.placement.record,
        precision=inputs.placement.precision,
        executor={"name": executor, "host": socket.gethostname()},
        **inputs.provenance(),
    )


class CellRunner:
    def __init__(self, identity: Identity, teachers: Teachers, fitter: Fitter, execution: Execution) -> None:
        self.identity = identity
        self.inputs = identity.inputs
        self.teachers = teachers
        self.fitter = fitter
        self.execution = execution
        preset, placement = identity.preset, self.inputs.placement
        engines = engines_for(preset.latency_engines)
        self.latency = LatencyMemo(
            preset.flop_seq_len, preset.latency_batches, preset.latency_repeats, placement, engines
        )

    def unclaimed(self, cell: Cell, method: PruningMethod, config: dict[str, Any], reason: str) -> RunResult:
        """The `failed` record of a cell that was not run because it could not be claimed (`reason`)."""
        result = new_result(self.identity, cell, method, config, self.execution.executor)
        result.error = f"not run: {reason}"
        return result

    def run(
        self, cell: Cell, method: PruningMethod, config: dict[str, Any], limit_s: float | None = None
    ) -> tuple[RunResult, CellFiles]:
        """Run one cell; any exception becomes a `failed` record (with no files beside it) so the grid
        goes on. `limit_s`: stop the cell after that many seconds (suite.run.time_limit), a `failed`
        record too."""
        start, teacher_training_s = time.perf_counter(), self.teachers.training_s
        result = new_result(self.identity, cell, method, config, self.execution.executor)
        try:
            with alarm_after(limit_s, self.identity.preset.cell_timeout):
                files = self.train_and_measure(cell, method, result)
        # sys.exit() in a method's hook fails its cell only; so does running past the time limit (its
        # traceback's tail shows where the cell was when it was stopped).
        except (Exception, SystemExit, CellTimedOut) as exc:
            log.error("cell %s failed: %s", cell.label, exc)
            log.debug(traceback.format_exc())
            result.status = "failed"
            result.error = f"{type(exc).__name__}: {exc}\n{traceback_tail(exc)}"
            files = CellFiles()
        # The cell's own seconds: a teacher trained on its behalf is counted once, in the teacher's row
        # (which the teacher branch below started at the teacher's training time, however long ago).
        own_s = time.perf_counter() - start - (self.teachers.training_s - teacher_training_s)
        result.wall_s = (result.wall_s or 0.0) + own_s
        return result, files

    def train_and_measure(self, cell: Cell, method: PruningMethod, result: RunResult) -> CellFiles:
        """Train the cell's model (a teacher cell takes the cached teacher), then fill `result` with its
        scores, FLOPs, parameters, latency and status; the files to keep beside the record."""
        preset = self.identity.preset
        task = self.inputs.task_data(cell.task).task  # as this run scores it (dev or held out)
        reference = self.inputs.reference_flops(cell.task)
        if method.info.is_teacher:
            teacher = self.teachers.get(cell.task, cell.seed)
            model, meta = teacher.model, teacher.meta
            result.teacher = teacher.summary
            evaluation = Evaluation(
                meta["metrics"],
                {k: np.asarray(v) for k, v in meta["predictions"].items()},
                {k: np.asarray(v) for k, v in meta["labels"].items()},
            )
            result.train_steps, result.train_examples = meta["train_steps"], meta["train_examples"]
            result.training = meta["training"]
            result.wall_s = float(meta.get("wall_s") or 0.0)  # its training and evaluation, from the cache entry
            curve = meta.get("curve", [])  # teachers cached before curves were kept have none
        else:
            teacher = self.teachers.get(cell.task, cell.seed) if uses_teacher(method) else None
            result.teacher = teacher.summary if teacher else None
            lineage = self.identity.lineage(cell.task, method)
            teacher_model = teacher.model if teacher else None
            train = self.identity.train_for(cell.task, cell.method)
            trained = self.fitter.fit(cell.task, cell.seed, method, Budget(cell.budget), teacher_model, lineage, train)
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
        report = count_flops(model, preset.flop_seq_len)
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
        on_device = self.inputs.reference_on_device(cell.task)
        result.latency_ms = self.latency.measure(model, cell.label, reference=on_device)
        result.status = "ok" if Budget(cell.budget).allows(fraction) else "over_budget"
        if result.status == "over_budget":
            result.error = f"effective FLOP fraction {fraction:.4f} exceeds budget {cell.budget:g} (+1%)"
        packed = pack_model(model, self.inputs.tokenizer) if self.execution.save_models else None
        return CellFiles(predictions_of(task, evaluation), curve, packed)


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


def traceback_tail(exc: BaseException, lines: int = 6) -> str:
    formatted = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return "\n".join(formatted.strip().splitlines()[-lines:])
