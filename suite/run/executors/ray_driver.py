"""The grid on Ray: teachers first, cells as Ray tasks, one writer.

The driver (the `run` process) plans exactly as the in-process executor does, so a cell's config
hash does not depend on the executor. It then trains each missing (task, seed) teacher once as its
own Ray task, hands teachers and tokenized data to the cells through Ray's object store (no shared
filesystem is assumed), writes every record, predictions file, training curve, saved model and log
itself as results arrive, and stores each new teacher in its local teacher cache.

Retries are the driver's, not Ray's. Ray counts a worker killed by its memory monitor against a
separate budget, `task_oom_retries`, which is unlimited by default and is a setting of the cluster: a
run that joins a cluster with `--ray-address` cannot change it. Ray applies it only to tasks that may
be retried at all, so every task is handed to Ray with `max_retries=0`, and the driver itself runs a
cell or teacher again whose worker went away (killed, out of memory, its node lost), up to
`max_retries` times, whatever the cluster's settings. After that the cell is recorded `failed` with
Ray's reason and the grid goes on; the cells of a teacher that could not be trained are each recorded
`failed` with the teacher's reason. A cell that needs a teacher still in training is handed to Ray
once its teacher has arrived, so a teacher run again reaches every cell waiting for it.

The progress bar's count of running cells comes from a small actor the workers tell when a cell
starts. It is bookkeeping only: if it dies (the memory monitor may pick it too), the bar shows the
cells left instead, and the workers and the driver go on.

A cell running past its time limit (suite.run.time_limit, timed from when the driver sees it start on a
worker) is cancelled, its worker killed, and recorded `failed` by the driver (not run again).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections import Counter
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
from suite.run.executors.progress import running_description
from suite.run.executors.ray_worker import CellOutcome, WorkerSpec, run_cell, train_teacher
from suite.run.grid import Grid, start
from suite.run.identity import needs_teacher
from suite.run.plan import GridProgress, GridSummary, estimate_remaining_s
from suite.run.teachers import pack_teacher, unpack_teacher
from suite.run.time_limit import cell_limit_s, exceeded

log = logging.getLogger("suite.ray")


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # "auto", "ray://host:10001", or None: start a local cluster
    workers: int | None = None  # local cluster only: cells at once (default: the CPUs / cpus_per_cell)
    cpus_per_cell: float = 1.0
    gpus_per_cell: float = 0.0  # fractions let several small cells share one GPU
    max_retries: int = 2  # runs again of a cell or teacher whose worker died (killed, out of memory, node lost)


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
            _init(ray, address=options.address, **common)
        except ConnectionError as exc:
            raise SuiteError(f"--ray-address {options.address}: no Ray cluster answers there ({exc})") from None
        return True
    workers = options.workers
    if workers is not None and workers < 1:
        raise SuiteError(f"--workers must be at least 1, got {workers}")
    cpus = None if workers is None else workers * options.cpus_per_cell
    _init(ray, num_cpus=cpus, **common)
    return True


def _init(ray, **kwargs: Any) -> None:
    """ray.init, keeping the caller's SIGTERM handler. Ray's init replaces it with one that exits at
    once, and its C++ core then prints a stack dump on SIGTERM; a caller that handles SIGTERM itself
    (the `run` command stops the grid as on Ctrl-C) gets its handler back. A default handler is left
    to Ray, whose exit shuts down the cluster it started."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main_thread else None
    ray.init(**kwargs)
    if callable(previous):
        signal.signal(signal.SIGTERM, previous)


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
        # Ray runs each task once: with max_retries=0 it retries no out-of-memory kill either, and the
        # driver's own count bounds every kind of death (see the module docstring).
        once = {"max_retries": 0, "retry_exceptions": False}
        self.teacher_task = ray.remote(_teacher_task).options(num_returns=2, **resources, **once)
        self.cell_task = ray.remote(_cell_task).options(**resources, **once)
        self.started_cells = ray.remote(num_cpus=0)(_StartedCells).remote()
        self.started_known = True  # False once the progress actor has gone away
        self.claims: dict[Cell, Claim] = {}
        self.submitted: dict[Cell, float] = {}  # perf_counter() when the driver took the cell on
        self.attempts: Counter[Cell | tuple[str, int]] = Counter()  # tasks handed to Ray per cell, per teacher
        self.waiting: dict[tuple[str, int], list[tuple[Cell, Any, dict[str, Any]]]] = {}  # cells held for a teacher
        self.pending: dict[Any, tuple] = {}  # Ray's object ref -> what the driver awaits from it
        self.data: dict[str, Any] = {}  # task -> its tokenized data in the object store
        self.started_at: dict[Cell, float] = {}  # perf_counter() when the driver first saw the cell started

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
        self.data = {task: ray.put(self.inputs.task_data(task)) for task in dict.fromkeys(c.task for c, _, _ in cells)}
        teachers = self._teachers(cells)
        for cell, method, config in cells:
            self.submitted[cell] = time.perf_counter()
            task_seed = (cell.task, cell.seed)
            if not needs_teacher(method):
                self._submit_cell(cell, method, config, None)
            elif task_seed in teachers:
                self._submit_cell(cell, method, config, teachers[task_seed])
            else:  # its teacher is training: handed to Ray when the teacher arrives
                self.waiting.setdefault(task_seed, []).append((cell, method, config))
        total = len(cells)
        bar = tqdm(total=total, desc="cells", unit="cell", disable=not self.progress)
        done: set[Cell] = set()  # Cell is a frozen dataclass

        def finished(cell: Cell, result: RunResult) -> None:
            done.add(cell)
            bar.update(1)
            remaining = [c for c, _, _ in cells if c not in done]
            if self.on_result is not None:
                progress = GridProgress(len(done), total, estimate_remaining_s(self.summary.ran, remaining))
                self.on_result(result, progress)
            bar.set_postfix_str(f"{cell.label} {result.status}")

        try:
            while self.pending:
                ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=2.0)
                for ref in ready:
                    kind, *item = self.pending.pop(ref)
                    arrived = self._teacher_arrived(ref, item) if kind == "teacher" else self._cell_arrived(ref, *item)
                    for cell, result in arrived:
                        finished(cell, result)
                started = self._started_labels()
                running = self._running(started or set())
                for ref, (cell, method, config, limit_s) in self._past_limit(running).items():
                    ray.cancel(ref, force=True)
                    del self.pending[ref]
                    finished(cell, self._timed_out(cell, method, config, limit_s, running.pop(cell)))
                teachers_training = sum(item[0] == "teacher" for item in self.pending.values())
                if started is None:  # the progress actor is gone: the cells left, not which run
                    left = total - len(done)
                    bar.set_description(
                        f"cells ({left} running or queued"
                        + (f"; teachers training {teachers_training})" if teachers_training else ")")
                    )
                else:
                    queued = total - len(done) - len(running)
                    labels = {c.label: seconds for c, seconds in running.items()}
                    bar.set_description(running_description(labels, queued, teachers_training))
        except KeyboardInterrupt:
            for ref in self.pending:
                ray.cancel(ref, force=True)
            # The `run` command says it in one line (finished cells kept, rerun to resume); the count is detail.
            log.debug("interrupted: %d unfinished cells cancelled", total - len(done))
            raise
        finally:
            bar.close()
            for claim in self.claims.values():
                claim.release()
        return self.summary

    def _started_labels(self) -> set[str] | None:
        """The labels of the cells that have started on a worker, while the progress actor answers; None
        once it has gone away (its death must not stop the run, and a cell's time limit is then not
        enforced: the driver no longer learns when cells start)."""
        if not self.started_known:
            return None
        try:
            return set(self.ray.get(self.started_cells.started.remote(), timeout=30))
        except self.ray.exceptions.RayError as exc:  # died, or unreachable: the count is lost, not the run
            log.warning(
                "the progress bar's running count and the cells' time limits are lost (%s); the cells go on",
                _reason(exc),
            )
            self.started_known = False
            return None

    def _running(self, started: set[str]) -> dict[Cell, float]:
        """The pending cells that have started on a worker, with their seconds since the driver first
        saw them started (within one poll; a retried cell's count goes on from its first attempt)."""
        now = time.perf_counter()
        running = {}
        for kind, *item in self.pending.values():
            if kind == "cell" and item[0].label in started:
                running[item[0]] = now - self.started_at.setdefault(item[0], now)
        return running

    def _past_limit(self, running: dict[Cell, float]) -> dict[Any, tuple]:
        """The running cells past their time limit: ref -> (cell, method, config, limit in seconds)."""
        setting = self.identity.preset.cell_timeout
        over = {}
        for ref, (kind, *item) in self.pending.items():
            if kind == "cell" and item[0] in running:
                limit_s = cell_limit_s(setting, self.summary.ran, item[0])
                if limit_s is not None and running[item[0]] > limit_s:
                    over[ref] = (item[0], item[1], item[2], limit_s)
        return over

    def _timed_out(self, cell: Cell, method, config: dict[str, Any], limit_s: float, elapsed_s: float) -> RunResult:
        """The record of a cell cancelled past its time limit, written by the driver: its worker was
        killed, so there is no worker's record or log."""
        result = new_result(self.identity, cell, method, config, "ray")
        result.executor = {"name": "ray", "host": "unknown (cancelled past its time limit)"}
        result.wall_s = elapsed_s  # the driver's seconds since it saw the cell start on a worker
        result.error = f"{exceeded(limit_s, self.identity.preset.cell_timeout)}; cancelled on Ray"
        log.error("cell %s failed: %s", cell.label, result.error)
        self.store.write_log(cell, result.error + "\n")
        self.store.write(cell, result, None)
        self.summary.ran.append(result)
        self.claims.pop(cell).release()
        return result

    def _teachers(self, cells) -> dict[tuple[str, int], Any]:
        """The object of each cached teacher the cells need, packed; each missing one is handed to Ray
        for training (its cells wait for it in `self.waiting`)."""
        teachers: dict[tuple[str, int], Any] = {}
        training: set[tuple[str, int]] = set()
        for cell, method, _ in cells:
            task_seed = (cell.task, cell.seed)
            if not needs_teacher(method) or task_seed in teachers or task_seed in training:
                continue
            key = self.identity.teacher_key(*task_seed)
            cached = self.teacher_cache.load(key)
            if cached is not None:
                teachers[task_seed] = self.ray.put(pack_teacher(cached))
                continue
            self._submit_teacher(cell.task, cell.seed, key)
            training.add(task_seed)
            self.summary.teachers_trained.append(task_seed)
        return teachers

    def _submit_teacher(self, task: str, seed: int, key: str) -> None:
        self.attempts[(task, seed)] += 1
        files, log_text = self.teacher_task.remote(self.spec, task, seed, self.data[task])
        self.pending[log_text] = ("teacher", task, seed, key, files)

    def _submit_cell(self, cell: Cell, method, config: dict[str, Any], teacher) -> None:
        self.attempts[cell] += 1
        ref = self.cell_task.remote(self.spec, cell, config, self.data[cell.task], teacher, self.started_cells)
        self.pending[ref] = ("cell", cell, method, config, teacher)

    def _again(self, what, label: str, exc: BaseException) -> bool:
        """Whether a task whose worker went away is run again: its attempts so far are under the cap."""
        attempts = self.attempts[what]
        if attempts > self.options.max_retries:
            return False
        total = self.options.max_retries + 1
        log.warning("%s: its worker went away (%s); attempt %d of %d", label, _reason(exc), attempts + 1, total)
        return True

    def _teacher_arrived(self, log_ref, item) -> list[tuple[Cell, RunResult]]:
        """Save the new teacher in the local cache (later runs and the in-process executor reuse it) and
        hand its cells to Ray; a teacher that failed for good fails each of its cells instead."""
        task, seed, key, files_ref = item
        try:
            log_text = self.ray.get(log_ref)
            teacher = unpack_teacher(self.ray.get(files_ref))
            if teacher.meta["id"] != key:
                raise RuntimeError(f"the worker trained teacher {teacher.meta['id']}, the driver expected {key}")
            self.teacher_cache.save(key, teacher)
        except _worker_died(self.ray) as exc:
            if self._again((task, seed), f"teacher for {task} seed {seed}", exc):
                self._submit_teacher(task, seed, key)
                return []
            reason = f"not trained after {_attempts(self.attempts[(task, seed)])}: {_reason(exc)}"
        except Exception as exc:
            reason = _reason(exc)
        else:
            self.store.write_teacher_log(task, seed, log_text)
            for cell, method, config in self.waiting.pop((task, seed), []):
                self._submit_cell(cell, method, config, files_ref)
            return []
        log.error("teacher for %s seed %d failed: %s", task, seed, reason)
        self.store.write_teacher_log(task, seed, f"teacher training failed: {reason}\n")
        error = f"the cell could not run on Ray: its teacher ({task} seed {seed}) failed: {reason}"
        waiting = self.waiting.pop((task, seed), [])
        return [(cell, self._failed(cell, method, config, error)) for cell, method, config in waiting]

    def _cell_arrived(self, ref, cell: Cell, method, config: dict[str, Any], teacher) -> list[tuple[Cell, RunResult]]:
        try:
            outcome: CellOutcome = self.ray.get(ref)
        except _worker_died(self.ray) as exc:
            if self._again(cell, cell.label, exc):
                self._submit_cell(cell, method, config, teacher)
                return []
            error = f"the cell did not finish on Ray after {_attempts(self.attempts[cell])}: {_reason(exc)}"
        except Exception as exc:  # the task itself failed outside the cell (e.g. a plugin did not load)
            error = f"the cell could not run on Ray: {_reason(exc)}"
        else:
            self._write(cell, outcome.result, outcome.files, outcome.log)
            return [(cell, outcome.result)]
        return [(cell, self._failed(cell, method, config, error))]

    def _failed(self, cell: Cell, method, config: dict[str, Any], error: str) -> RunResult:
        """The `failed` record of a cell no worker finished, written."""
        result = new_result(self.identity, cell, method, config, "ray")
        result.executor = {"name": "ray", "host": "unknown (the worker did not finish)"}
        # No worker reported a time: the driver's seconds from taking the cell on to learning of its
        # failure. That spans the queue, its teacher's training and every attempt, so it is an upper
        # bound on the cell's own time, not a measurement of one attempt.
        result.wall_s = time.perf_counter() - self.submitted[cell]
        result.error = error
        log.error("cell %s failed: %s", cell.label, error)
        self._write(cell, result, None, error + "\n")
        return result

    def _write(self, cell: Cell, result: RunResult, files, log_text: str) -> None:
        self.store.write_log(cell, log_text)
        self.store.write(cell, result, files)
        self.summary.ran.append(result)
        self.claims.pop(cell).release()


def _attempts(count: int) -> str:
    return f"{count} attempt{'' if count == 1 else 's'}"


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
    try:
        started_cells.start.remote(cell.label)
    except Exception:  # the progress actor is gone: the bar's count is lost, the cell runs all the same
        pass
    start = time.perf_counter()
    outcome = run_cell(spec, cell, config, data, teacher_files)
    outcome.log += f"cell {cell.label} on {socket.gethostname()}: {time.perf_counter() - start:.1f}s\n"
    return outcome


__all__ = ["LOGS_DIR", "RayOptions", "connect", "log_path", "run_on_ray", "teacher_log_path"]
