"""The grid on Ray: teachers first, cells as Ray tasks, one writer.

The driver (the `run` process) plans exactly as the in-process executor does, so a cell's config
hash does not depend on the executor. It then trains each missing (task, seed) teacher once as its
own Ray task, hands teachers and tokenized data to the cells through Ray's object store (no shared
filesystem is assumed), writes every record, predictions file, training curve, saved model and log
itself as results arrive,
and stores each new teacher in its local teacher cache. A worker that dies is retried by Ray up to
`max_retries` times; after that the cell is recorded `failed` with the reason and the grid goes on.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from suite.errors import SuiteError
from suite.records.layout import LOGS_DIR, Cell, log_path, teacher_log_path
from suite.records.provenance import config_hash
from suite.records.schema import RunResult
from suite.records.store import Claim, ClaimState
from suite.run.cell import new_result
from suite.run.executors.ray_worker import CellOutcome, WorkerSpec, run_cell, train_teacher
from suite.run.grid import Grid, start
from suite.run.identity import needs_teacher
from suite.run.plan import GridProgress, GridSummary, estimate_remaining_s
from suite.run.teachers import pack_teacher, unpack_teacher

log = logging.getLogger("suite.ray")


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # "auto", "ray://host:10001", or None: start a local cluster
    workers: int | None = None  # local cluster only: cells at once (default: the CPUs / cpus_per_cell)
    cpus_per_cell: float = 1.0
    gpus_per_cell: float = 0.0  # fractions let several small cells share one GPU
    max_retries: int = 2  # Ray's retries of a cell whose worker died (killed, out of memory)


def import_ray():
    try:
        import ray
    except ImportError:
        raise SuiteError("--executor ray needs Ray: pip install 'ray>=2.9' (or the suite's [ray] extra)") from None
    return ray


def connect(options: RayOptions) -> bool:
    """Join the cluster at `options.address`, or start a local one; True when this call started Ray
    (and so shuts it down at the end). An already initialized Ray (a test, a notebook) is used as is."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    # Workers' prints stay in Ray's own log files: each cell's log is written under the results folder.
    common = {"log_to_driver": False, "include_dashboard": False, "logging_level": logging.WARNING}
    if options.address:
        try:
            ray.init(address=options.address, **common)
        except ConnectionError as exc:
            raise SuiteError(f"--ray-address {options.address}: no Ray cluster answers there ({exc})") from None
        return True
    workers = options.workers
    if workers is not None and workers < 1:
        raise SuiteError(f"--workers must be at least 1, got {workers}")
    cpus = None if workers is None else workers * options.cpus_per_cell
    ray.init(num_cpus=cpus, **common)
    return True


def _reason(exc: BaseException) -> str:
    """The first lines of a Ray error: its type and what Ray says about the cause."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {' '.join(lines[:3])[:600]}"


def run_on_ray(
    grid: Grid,
    cells: list[Cell],
    options: RayOptions,
    spec: WorkerSpec,
    on_result: Callable[[RunResult, GridProgress], None] | None = None,
) -> GridSummary:
    """Run `cells` on Ray; the same summary as `run_local`, and the same records on disk."""
    ray = import_ray()
    plan, summary = start(grid, cells)
    started_here = False
    try:
        if not plan.to_run:
            return summary
        started_here = connect(options)
        check_resources(ray, options)
        return _Driver(ray, grid, options, spec, summary, on_result).run(plan.to_run)
    finally:
        grid.store.close()
        if started_here:
            ray.shutdown()


class _Driver:
    def __init__(self, ray, grid: Grid, options, spec, summary, on_result) -> None:
        self.ray, self.options, self.spec = ray, options, spec
        self.store, self.identity, self.inputs = grid.store, grid.identity, grid.inputs
        self.teacher_cache, self.progress = grid.teachers.cache, grid.execution.progress
        self.summary, self.on_result = summary, on_result
        resources = {"num_cpus": options.cpus_per_cell, "num_gpus": options.gpus_per_cell}
        retry = {"max_retries": options.max_retries, "retry_exceptions": False}
        self.teacher_task = ray.remote(_teacher_task).options(num_returns=2, **resources, **retry)
        self.cell_task = ray.remote(_cell_task).options(**resources, **retry)
        self.started_cells = ray.remote(num_cpus=0)(_StartedCells).remote()
        self.claims: dict[Cell, Claim] = {}
        self.submitted: dict[Cell, float] = {}  # perf_counter() when the cell's task was handed to Ray

    def run(self, to_run: list[tuple[Cell, Any, dict[str, Any]]]) -> GridSummary:
        ray = self.ray
        cells = []
        for cell, method, config in to_run:
            claim = self.store.claim(cell, config_hash(config))
            if claim.state is ClaimState.BUSY:  # another run on this results folder is computing it
                log.info("%s: being computed by another run; skipped", cell.label)
                self.summary.busy.append(cell)
            elif claim.state is ClaimState.FINISHED:
                self.summary.skipped.append(cell)
            elif claim.state is ClaimState.FAILED:  # the folder stopped taking files: not computed
                result = new_result(self.identity, cell, method, config, "ray")
                result.error = f"not run: {claim.error}"
                self.store.write(cell, result, None)
                self.summary.ran.append(result)
            else:
                self.claims[cell] = claim
                cells.append((cell, method, config))
        data = {task: ray.put(self.inputs.task_data(task)) for task in dict.fromkeys(c.task for c, _, _ in cells)}
        teachers, pending = self._teachers(cells, data)
        for cell, method, config in cells:
            teacher = teachers.get((cell.task, cell.seed)) if needs_teacher(method) else None
            ref = self.cell_task.remote(self.spec, cell, config, data[cell.task], teacher, self.started_cells)
            self.submitted[cell] = time.perf_counter()
            pending[ref] = ("cell", cell, method, config)
        total = len(cells)
        bar = tqdm(total=total, desc="cells", unit="cell", disable=not self.progress)
        done: set[Cell] = set()  # Cell is a frozen dataclass
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=2.0)
                for ref in ready:
                    kind, *item = pending.pop(ref)
                    if kind == "teacher":
                        self._teacher_arrived(ref, item)
                        continue
                    cell, method, config = item
                    result = self._cell_arrived(ref, cell, method, config)
                    done.add(cell)
                    bar.update(1)
                    remaining = [c for c, _, _ in cells if c not in done]
                    if self.on_result is not None:
                        progress = GridProgress(len(done), total, estimate_remaining_s(self.summary.ran, remaining))
                        self.on_result(result, progress)
                    bar.set_postfix_str(f"{cell.label} {result.status}")
                started = set(ray.get(self.started_cells.started.remote()))
                running = len(started - {c.label for c in done})
                teachers = sum(item[0] == "teacher" for item in pending.values())
                bar.set_description(
                    f"cells (running {running}, queued {total - len(done) - running}"
                    + (f"; teachers training {teachers})" if teachers else ")")
                )
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            log.warning("interrupted: %d unfinished cells cancelled; rerun the command to resume", total - len(done))
            raise
        finally:
            bar.close()
            for claim in self.claims.values():
                claim.release()
        return self.summary

    def _teachers(self, cells, data) -> tuple[dict[tuple[str, int], Any], dict[Any, tuple]]:
        """One object per (task, seed) whose cells need a teacher: the cached one, packed, or the
        output of one teacher-training task."""
        teachers: dict[tuple[str, int], Any] = {}
        pending: dict[Any, tuple] = {}
        for cell, method, _ in cells:
            task_seed = (cell.task, cell.seed)
            if not needs_teacher(method) or task_seed in teachers:
                continue
            key = self.identity.teacher_key(*task_seed)
            cached = self.teacher_cache.load(key)
            if cached is not None:
                teachers[task_seed] = self.ray.put(pack_teacher(cached))
                continue
            files, log_text = self.teacher_task.remote(self.spec, cell.task, cell.seed, data[cell.task])
            teachers[task_seed] = files
            pending[log_text] = ("teacher", cell.task, cell.seed, key, files)
            self.summary.teachers_trained.append(task_seed)
        return teachers, pending

    def _teacher_arrived(self, log_ref, item) -> None:
        """Save the new teacher in the local cache (later runs and the in-process executor reuse it)."""
        task, seed, key, files_ref = item
        try:
            log_text = self.ray.get(log_ref)
            teacher = unpack_teacher(self.ray.get(files_ref))
            if teacher.meta["id"] != key:
                raise RuntimeError(f"the worker trained teacher {teacher.meta['id']}, the driver expected {key}")
            self.teacher_cache.save(key, teacher)
        except Exception as exc:  # its cells fail with the same cause, each in its own record
            log.error("teacher for %s seed %d failed: %s", task, seed, _reason(exc))
            log_text = f"teacher training failed: {_reason(exc)}\n"
        self.store.write_teacher_log(task, seed, log_text)

    def _cell_arrived(self, ref, cell: Cell, method, config: dict[str, Any]) -> RunResult:
        try:
            outcome: CellOutcome = self.ray.get(ref)
            result, files, log_text = outcome.result, outcome.files, outcome.log
        except Exception as exc:  # the worker died more than max_retries times, or its teacher failed
            result = new_result(self.identity, cell, method, config, "ray")
            result.executor = {"name": "ray", "host": "unknown (the worker did not finish)"}
            # No worker reported a time: the driver's seconds from handing the cell to Ray to learning of
            # its failure. That spans the queue, its teacher's training and every attempt, so it is an
            # upper bound on the cell's own time, not a measurement of one attempt.
            result.wall_s = time.perf_counter() - self.submitted[cell]
            attempts = self.options.max_retries + 1
            if isinstance(exc, _worker_died(self.ray)):
                result.error = f"the cell did not finish on Ray after up to {attempts} attempts: {_reason(exc)}"
            else:  # e.g. its teacher's training failed: the cause is in the teacher's log too
                result.error = f"the cell could not run on Ray: {_reason(exc)}"
            files, log_text = None, result.error + "\n"
            log.error("cell %s failed: %s", cell.label, result.error)
        self.store.write_log(cell, log_text)
        self.store.write(cell, result, files)
        self.summary.ran.append(result)
        self.claims.pop(cell).release()
        return result


def _worker_died(ray) -> tuple[type[BaseException], ...]:
    """Ray's errors for a worker or node that went away (killed, out of memory, node lost)."""
    errors = ray.exceptions
    names = ("WorkerCrashedError", "OutOfMemoryError", "NodeDiedError", "ActorDiedError")
    return tuple(getattr(errors, name) for name in names if hasattr(errors, name))


def check_resources(ray, options: RayOptions) -> None:
    """A cell that asks for more than the whole cluster has would wait forever: refuse it at once."""
    total = ray.cluster_resources()
    for name, asked, flag in (
        ("CPU", options.cpus_per_cell, "--cpus-per-cell"),
        ("GPU", options.gpus_per_cell, "--gpus-per-cell"),
    ):
        have = total.get(name, 0.0)
        if asked > have:
            raise SuiteError(f"{flag} {asked:g}: the Ray cluster has {have:g} {name}s in all, so no cell could start")


class _StartedCells:
    """Which cells have started on a worker (a retried cell starts again): the bar's running count."""

    def __init__(self) -> None:
        self.labels: set[str] = set()

    def start(self, label: str) -> None:
        self.labels.add(label)

    def started(self) -> list[str]:
        return sorted(self.labels)


def _teacher_task(spec: WorkerSpec, task: str, seed: int, data) -> tuple[dict[str, bytes], str]:
    outcome = train_teacher(spec, task, seed, data)
    return outcome.files, outcome.log


def _cell_task(spec: WorkerSpec, cell: Cell, config: dict[str, Any], data, teacher_files, started_cells) -> CellOutcome:
    started_cells.start.remote(cell.label)
    start = time.perf_counter()
    outcome = run_cell(spec, cell, config, data, teacher_files)
    outcome.log += f"cell {cell.label} on {socket.gethostname()}: {time.perf_counter() - start:.1f}s\n"
    return outcome


__all__ = ["LOGS_DIR", "RayOptions", "connect", "log_path", "run_on_ray", "teacher_log_path"]
