"""The teacher cache: damaged entries are retrained, concurrent runs train a key once, leftovers go."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import stat
import time
from pathlib import Path

import pytest
from filelock import FileLock

from suite.compute.models import load_classifier
from suite.run.teachers import Teacher, TeacherStore

CONFIG = {"model": "tiny", "task": "sst2", "seed": 0}


def _meta(key: str) -> dict:
    return {
        "id": key,
        "score": 0.5,
        "metrics": {"accuracy": 0.5},
        "predictions": {"validation": [0, 1]},
        "labels": {"validation": [1, 1]},
        "train_steps": 1,
        "train_examples": 2,
        "training": {"flops": 10.0},
    }


def _tiny_teacher(key: str) -> Teacher:
    return Teacher(load_classifier("tiny", 2, seed=0), _meta(key))


class CountingTrainer:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, key: str) -> Teacher:
        self.calls += 1
        return _tiny_teacher(key)


@pytest.fixture(scope="module")
def tiny_teacher() -> Teacher:
    return _tiny_teacher("unused")


@pytest.fixture
def cached(tmp_path, tiny_teacher) -> tuple[Path, str]:
    """A cache holding one saved teacher: (cache root, its folder)."""
    key = TeacherStore.key(CONFIG)
    TeacherStore(tmp_path).save(key, Teacher(tiny_teacher.model, _meta(key)))
    return tmp_path, TeacherStore(tmp_path).path(key)


def _truncate_weights(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])


def _drop_meta_key(name: str):
    def damage(folder: Path) -> None:
        meta = json.loads((folder / "teacher.json").read_text())
        del meta[name]
        (folder / "teacher.json").write_text(json.dumps(meta))

    return damage


DAMAGE = {
    "truncated weights": _truncate_weights,
    "no teacher.json": lambda folder: (folder / "teacher.json").unlink(),
    "bad json": lambda folder: (folder / "teacher.json").write_text("{not json"),
    "not utf-8": lambda folder: (folder / "teacher.json").write_bytes(b'{"id": "\xff\xfe"}'),
    "json list": lambda folder: (folder / "teacher.json").write_text("[]"),
    "no metrics": _drop_meta_key("metrics"),
    "no predictions": _drop_meta_key("predictions"),
    "no labels": _drop_meta_key("labels"),
    "no training": _drop_meta_key("training"),
    "no flops": lambda folder: _edit_meta(folder, training={}),
}


def _edit_meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "teacher.json").read_text())
    (folder / "teacher.json").write_text(json.dumps({**meta, **changes}))


def test_a_cached_teacher_is_loaded_not_trained(cached):
    root, _ = cached
    trainer = CountingTrainer()
    teacher = TeacherStore(root).get_or_train(CONFIG, trainer)
    assert trainer.calls == 0 and teacher.meta["id"] == TeacherStore.key(CONFIG)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_teacher_is_moved_aside_with_one_warning_and_retrained(cached, caplog, damage):
    root, folder = cached
    DAMAGE[damage](folder)
    trainer = CountingTrainer()
    with caplog.at_level(logging.WARNING, logger="suite.run.teachers"):
        teacher = TeacherStore(root).get_or_train(CONFIG, trainer)
    assert trainer.calls == 1 and teacher.meta["score"] == 0.5
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(folder) in warnings[0], warnings
    # The retrained teacher replaced the damaged one: a new store loads it without training.
    assert TeacherStore(root).get_or_train(CONFIG, trainer) is not None and trainer.calls == 1
    # The moved-aside folder is removed by the next store, its key's lock being free.
    assert not [p for p in (root / "teachers").iterdir() if p.name.startswith(".")]


def _ask_for_teacher(root: str, log_file: str, barrier) -> None:
    """One concurrent run: all start together; the trainer is slow enough for the others to collide."""

    def train(key: str) -> Teacher:
        with open(log_file, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(1.0)
        return _tiny_teacher(key)

    store = TeacherStore(Path(root))
    barrier.wait(timeout=120)
    teacher = store.get_or_train(CONFIG, train)
    assert teacher.meta["id"] == TeacherStore.key(CONFIG)
    assert TeacherStore(Path(root)).load(teacher.meta["id"]) is not None


def test_concurrent_processes_train_one_key_once(tmp_path):
    # spawn, not fork: a forked child of a process that already ran torch can deadlock in its thread pools.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    log_file = tmp_path / "trained.log"
    args = (str(tmp_path / "cache"), str(log_file), barrier)
    workers = [context.Process(target=_ask_for_teacher, args=args) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert len(log_file.read_text().splitlines()) == 1


def _leftover(root: Path, key: str, name: str) -> Path:
    folder = root / "teachers" / f".{key}.{name}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"half")
    return folder


def test_a_new_store_removes_leftover_temp_folders_but_not_one_being_saved(tmp_path):
    stale = _leftover(tmp_path, "0123456789abcdef", "k1ll3d")
    busy_key = "fedcba9876543210"
    busy = _leftover(tmp_path, busy_key, "s4v1ng")
    other = tmp_path / "teachers" / ".not-a-teacher"
    other.mkdir()
    # Another process saving `busy_key` holds its lock (a second lock object stands in for it).
    with FileLock(str(tmp_path / "teachers" / f"{busy_key}.lock")):
        TeacherStore(tmp_path)
        assert not stale.exists() and busy.exists() and other.exists()
    TeacherStore(tmp_path)
    assert not busy.exists()


def test_saved_teacher_folder_follows_the_umask(tmp_path, tiny_teacher, monkeypatch):
    monkeypatch.setattr("suite.records.atomic._UMASK", 0o022, raising=False)
    store = TeacherStore(tmp_path)
    store.save("0123456789abcdef", tiny_teacher)
    assert stat.S_IMODE(store.path("0123456789abcdef").stat().st_mode) == 0o755


@pytest.fixture
def read_only_cache(monkeypatch):
    """A cache whose lock files cannot be made, as on a read-only filesystem (injected: tests may run
    as root, who writes into a chmod-ed read-only folder anyway)."""
    import errno

    import suite.run.teachers as teachers_module

    class NoLockFile(FileLock):
        def acquire(self, *args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system", self.lock_file)

    monkeypatch.setattr(teachers_module, "FileLock", NoLockFile)


def test_a_read_only_cache_that_holds_the_teacher_serves_it(cached, read_only_cache, caplog):
    root, _ = cached
    _leftover(root, "0123456789abcdef", "k1ll3d")  # a leftover whose lock cannot be taken does not stop the store
    trainer = CountingTrainer()
    with caplog.at_level(logging.WARNING, logger="suite"):
        store = TeacherStore(root)
        teacher = store.get_or_train(CONFIG, trainer)
        assert store.load(TeacherStore.key(CONFIG)) is teacher
    assert trainer.calls == 0 and teacher.meta["id"] == TeacherStore.key(CONFIG)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "takes no lock file (Read-only file system)" in warnings[0], warnings


def test_a_teacher_a_read_only_cache_lacks_is_trained_once_and_kept_in_memory(tmp_path, read_only_cache):
    (tmp_path / "teachers").mkdir()
    trainer = CountingTrainer()
    store = TeacherStore(tmp_path)
    first = store.get_or_train(CONFIG, trainer)
    assert store.get_or_train(CONFIG, trainer) is first and trainer.calls == 1
    assert list((tmp_path / "teachers").iterdir()) == []  # nothing written
