"""Teachers: the on-disk teacher cache (TeacherStore), and getting-or-training a teacher (Teachers).

The cache holds one dense fine-tuned model per (model, task, seed, training config,
data content hash, device type, precision).

Every method that distils or starts from the teacher uses the same cached model, and the `teacher`
method's cells reuse it, so the teacher row of the leaderboard is exactly the model that teaches
the others.

Layout under `<cache>/teachers/`: `<key>/` (the `save_pretrained` files and `teacher.json`), `<key>.lock`
(held while one process checks, trains and saves that key, so concurrent runs on one cache train it
once), and transient `.<key>.*` folders (a save in progress, or a damaged teacher moved aside).
A cache that takes no lock file (read-only, or a full disk) is still read: a teacher is renamed into
place whole, so reading needs no lock, and a teacher trained meanwhile is kept in memory only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from transformers import AutoModelForSequenceClassification, PreTrainedModel

from suite.api import Budget
from suite.compute.device import Placement
from suite.metrics.glue import primary_score
from suite.records.atomic import dir_mode
from suite.records.provenance import config_hash
from suite.registry import get_method
from suite.run.fit import Fitter
from suite.run.identity import TEACHER_METHOD, Identity

log = logging.getLogger("suite.run.teachers")
run_log = logging.getLogger("suite")  # a run's progress lines

# What the harness reads from a teacher's meta; a teacher.json without one of them is unusable.
REQUIRED_META = ("id", "score", "metrics", "predictions", "labels", "train_steps", "train_examples", "training")


def default_cache_dir() -> Path:
    return Path(os.environ.get("PRUNE_SUITE_CACHE", Path.home() / ".cache" / "prune_suite"))


@dataclass
class Teacher:
    model: PreTrainedModel
    meta: dict[str, Any]  # id, score, metrics, train_steps, train_examples, wall_s

    @property
    def summary(self) -> dict[str, Any]:
        return {"id": self.meta["id"], "score": self.meta["score"]}


class CorruptTeacher(Exception):
    """A cached teacher folder that cannot be used; the message says why."""


def meta_problem(meta: Any) -> str | None:
    """Why `meta` cannot serve the harness, or None when it can."""
    if not isinstance(meta, dict):
        return f"teacher.json holds a {type(meta).__name__}, not an object"
    missing = [name for name in REQUIRED_META if name not in meta]
    if missing:
        return f"teacher.json lacks {', '.join(missing)}"
    for name in ("metrics", "predictions", "labels", "training"):
        if not isinstance(meta[name], dict):
            return f"teacher.json's {name} is not an object"
    if "flops" not in meta["training"]:
        return "teacher.json's training lacks flops"
    return None


def read_teacher(folder: Path) -> Teacher:
    """The teacher saved in `folder`; raises CorruptTeacher when its meta or its weights cannot be used."""
    meta_file = folder / "teacher.json"
    if not folder.is_dir():
        raise CorruptTeacher("not a folder")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptTeacher("teacher.json is missing") from None
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bytes that are not UTF-8
        raise CorruptTeacher(f"teacher.json is unreadable: {exc}") from exc
    problem = meta_problem(meta)
    if problem:
        raise CorruptTeacher(problem)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(folder)
    except Exception as exc:  # a missing or truncated weights file raises OSError, SafetensorError, ...
        raise CorruptTeacher(f"the model does not load: {type(exc).__name__}: {exc}") from exc
    model.eval()
    return Teacher(model, meta)


def pack_teacher(teacher: Teacher) -> dict[str, bytes]:
    """A teacher as the bytes of its saved files (`save_pretrained` plus teacher.json): what crosses
    process and machine boundaries (Ray's object store) without a shared filesystem."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        teacher.model.save_pretrained(folder)
        (folder / "teacher.json").write_text(json.dumps(teacher.meta, indent=2, sort_keys=True), encoding="utf-8")
        return {entry.name: entry.read_bytes() for entry in sorted(folder.iterdir()) if entry.is_file()}


def unpack_teacher(files: dict[str, bytes]) -> Teacher:
    """The teacher that `pack_teacher` packed, checked like a cached one (CorruptTeacher if unusable)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, content in files.items():
            if Path(name).name != name:
                raise CorruptTeacher(f"packed file name {name!r} is not a plain file name")
            (folder / name).write_bytes(content)
        return read_teacher(folder)


# A transient entry: `.<key>.<random>` from mkdtemp, or `.<key>.corrupt-<random>` (a key is a config hash).
_TEMP_NAME = re.compile(r"\.([0-9a-f]{16})\..+")


def _temp_key(name: str) -> str | None:
    """The key of a transient entry's name, or None for any other name."""
    match = _TEMP_NAME.fullmatch(name)
    return match.group(1) if match else None


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


class TeacherStore:
    def __init__(self, root: Path, clean: bool = True) -> None:
        self.root = Path(root) / "teachers"
        self._memory: dict[str, Teacher] = {}
        self._locks: dict[str, FileLock] = {}
        self._unlockable: set[str] = set()  # keys whose lock file cannot be made (said once each)
        if clean:  # not for a store that is only looked at (a dry run writes nothing)
            self.clean_stale()

    @staticmethod
    def key(config: dict[str, Any]) -> str:
        return config_hash(config)

    def path(self, key: str) -> Path:
        return self.root / key

    def lock(self, key: str) -> FileLock:
        """The inter-process lock of one key (reentrant: one object per key in this store)."""
        if key not in self._locks:
            self.root.mkdir(parents=True, exist_ok=True)
            self._locks[key] = FileLock(str(self.root / f"{key}.lock"))
        return self._locks[key]

    def clean_stale(self) -> list[Path]:
        """Remove the half-written and moved-aside entries of killed or earlier runs, and return them.

        A folder goes only when its key's lock is free at once: a live process saving that key holds
        the lock, and so keeps its folder."""
        if not self.root.is_dir():
            return []
        stale: dict[str, list[Path]] = {}
        for entry in self.root.iterdir():
            key = _temp_key(entry.name)
            if key is not None:
                stale.setdefault(key, []).append(entry)
        removed = []
        for key, folders in sorted(stale.items()):
            try:
                with self.lock(key).acquire(timeout=0):
                    for entry in folders:
                        _remove(entry)
                        removed.append(entry)
            except Timeout:
                continue
            except OSError:  # a read-only cache: nothing in it can be removed, and nothing needs to be
                continue
        return removed

    def load(self, key: str) -> Teacher | None:
        """The cached teacher, or None when there is none. A damaged one is moved aside (with one warning
        naming it) and also gives None, so `get_or_train` trains it again. Waits while another process
        holds the key's lock (training or saving that teacher)."""
        if key in self._memory:
            return self._memory[key]
        folder = self.path(key)
        lock = self._hold(key)
        try:
            if not folder.exists():
                return None
            try:
                teacher = read_teacher(folder)
            except CorruptTeacher as exc:
                self._discard(key, str(exc))
                return None
        finally:
            if lock is not None:
                lock.release()
        self._memory[key] = teacher
        return teacher

    def _discard(self, key: str, reason: str) -> None:
        """Move a damaged teacher out of the way (kept for inspection until the next store cleans it)."""
        folder = self.path(key)
        aside = self.root / f".{key}.corrupt-{uuid.uuid4().hex[:8]}"
        try:
            os.replace(folder, aside)
        except OSError as exc:  # a read-only cache
            log.warning("cached teacher %s is unusable (%s) and stays (%s); to be trained again", folder, reason, exc)
            return
        log.warning("cached teacher %s is unusable (%s); moved aside to %s, to be trained again", folder, reason, aside)

    def remember(self, key: str, teacher: Teacher) -> None:
        """Serve `teacher` for `key` from memory only (a Ray worker's teacher arrives from the driver)."""
        self._memory[key] = teacher

    def save(self, key: str, teacher: Teacher) -> None:
        """Save into a temporary folder, then rename it into place: a crash leaves no half teacher."""
        with self.lock(key):
            tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{key}."))
            try:
                os.chmod(tmp, dir_mode())  # mkdtemp's 0700 would hide the cache from the user's group
                teacher.model.save_pretrained(tmp)
                (tmp / "teacher.json").write_text(json.dumps(teacher.meta, indent=2, sort_keys=True), encoding="utf-8")
                target = self.path(key)
                if target.exists():
                    shutil.rmtree(target)
                os.replace(tmp, target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        self._memory[key] = teacher

    def get_or_train(self, config: dict[str, Any], train_fn: Callable[[str], Teacher]) -> Teacher:
        """The cached teacher for `config`, or `train_fn(key)`'s, saved. The key's lock is held from the
        check to the save, so a concurrent process asking for it waits and then loads this one."""
        key = self.key(config)
        if key in self._memory:
            return self._memory[key]
        lock = self._hold(key)
        try:
            teacher = self.load(key)
            if teacher is None:
                teacher = train_fn(key)
                if lock is None:  # a cache that takes no lock file takes no teacher either
                    self._memory[key] = teacher
                else:
                    self.save(key, teacher)
        finally:
            if lock is not None:
                lock.release()
        return teacher

    def _hold(self, key: str) -> FileLock | None:
        """The key's lock, acquired (`_acquire`), or None where its lock file cannot be made (a read-only
        cache, a full disk), said once per key: the teacher is then read without the lock."""
        try:
            return self._acquire(key)
        except OSError as exc:
            if key not in self._unlockable:
                self._unlockable.add(key)
                run_log.warning(
                    "teacher cache %s takes no lock file (%s): teacher %s is read without its lock, and one"
                    " trained now is kept in memory only",
                    self.root,
                    exc.strerror or exc,
                    key,
                )
            return None

    def _acquire(self, key: str) -> FileLock:
        """The key's lock, acquired; says so once when another process has it (it may train for hours)."""
        lock = self.lock(key)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.info("teacher %s is being trained or saved by another process; waiting (%s)", key, lock.lock_file)
            lock.acquire()
        return lock


class Teachers:
    """The dense fine-tuned model of each (task, seed), S steps: from `cache` (on disk, shared between
    runs) or from memory, else trained now through the one fitting path."""

    def __init__(self, identity: Identity, fitter: Fitter, placement: Placement, cache: TeacherStore | None) -> None:
        self.identity = identity
        self.fitter = fitter
        self.placement = placement
        self.cache = cache
        self._memory: dict[str, Teacher] = {}  # without a cache (a worker keeps what it trained or was sent)
        # Seconds this process has spent training teachers: a cell that trains the teacher it needs
        # takes them off its own time, since they are the teacher row's cost (its record counts them).
        self.training_s = 0.0

    def get(self, task: str, seed: int) -> Teacher:
        """The (task, seed) teacher on this process's device, frozen."""
        config = self.identity.teacher_config(task, seed)
        if self.cache is not None:
            teacher = self.cache.get_or_train(config, lambda key: self._train(task, seed, key))
        else:
            key = TeacherStore.key(config)
            if key not in self._memory:
                self._memory[key] = self._train(task, seed, key)
            teacher = self._memory[key]
        teacher.model.requires_grad_(False).eval().to(self.placement.device)
        return teacher

    def remember(self, key: str, teacher: Teacher) -> None:
        """Serve `teacher` for `key` from memory (a worker's teacher arrives from the driver)."""
        if self.cache is not None:
            self.cache.remember(key, teacher)
        else:
            self._memory[key] = teacher

    def cached(self, task: str, seed: int) -> bool:
        """A teacher for (task, seed) under this run's settings is in the cache (damage is found on load)."""
        return self.cache is not None and self.cache.path(self.identity.teacher_key(task, seed)).is_dir()

    def _train(self, task: str, seed: int, key: str) -> Teacher:
        start = time.perf_counter()
        teacher = self._fit(task, seed, key)
        # Only a teacher that was made has a row to count its seconds; a failed one's stay with the cell.
        self.training_s += time.perf_counter() - start
        return teacher

    def _fit(self, task: str, seed: int, key: str) -> Teacher:
        run_log.info("training teacher %s for %s seed %d", key, task, seed)
        lineage = self.identity.teacher_lineage(task)
        train = self.identity.train_for(task, TEACHER_METHOD)
        trained = self.fitter.fit(task, seed, get_method(TEACHER_METHOD), Budget(1.0), None, lineage, train)
        evaluation = trained.evaluation
        meta = {
            "id": key,
            "score": primary_score(self.identity.inputs.task_data(task).task, evaluation.metrics),
            "metrics": evaluation.metrics,
            "predictions": {k: v.tolist() for k, v in evaluation.predictions.items()},
            "labels": {k: v.tolist() for k, v in evaluation.labels.items()},
            "train_steps": trained.stats.steps,
            "train_examples": trained.stats.examples,
            "training": {**lineage.as_dict(), "examples": trained.stats.examples, "flops": trained.flops},
            "wall_s": trained.stats.wall_s + trained.eval_s,
            "config": self.identity.teacher_config(task, seed),
            "curve": trained.stats.curve,
        }
        return Teacher(trained.model, meta)
