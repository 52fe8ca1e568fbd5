"""One Optuna study per (task, method), ask-and-tell, kept in a journal file in the tune's folder.

The journal is Optuna's append-only log, so a killed tune resumes from it and two processes can
share it. Each trial carries its index (0 .. trials-1) as a user attribute: a resumed tune finds a
trial it asked for but never told (killed while its cell ran) and runs it again with the same
values, so every (task, method) ends with exactly `trials` trials whatever happened in between.
Trial 0 is the method's defaults at the preset's learning rate (enqueued), so the chosen setting is
never worse on the held-out split than the untuned one, and the gain is measured.

Each ask is seeded by its study and trial index, so a resumed tune asks what an uninterrupted one
would have. A sampler seeded once per process restarted its random stream with every resume and
asked again the values it had drawn first (in the random start and in TPE alike, whose candidates
drawn from the prior repeat too). A finished trial whose values repeat an earlier index's is void:
its index is asked again, and only the new trial counts.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from suite.spec.search import LEARNING_RATE, Choice, IntRange, LogUniform, Param, Uniform

INDEX = "index"  # the user attribute holding a trial's index in its study
MOVED_TO = "budget"  # the study attribute naming the fallback budget it moved to, if any
FINISHED_STATES = (TrialState.COMPLETE, TrialState.FAIL)

optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial is the tune's own to print


@dataclass(frozen=True)
class TrialResult:
    index: int
    params: dict[str, Any]
    value: float | None  # the held-out score; None for a trial that failed
    state: str  # "complete" | "fail"


def study_name(task: str, method: str) -> str:
    return f"{task}/{method}"


def sampler_seed(seed: int, study: str, index: int) -> int:
    """A seed of its own per study and trial index, stable across processes (Python's hash() is salted)."""
    digest = hashlib.sha256(f"{seed}/{study}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def repeats(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of the finished trials whose values repeat those of a finished trial of a lower index
    (one not itself a repeat): asked again by a sampler whose random stream restarted."""
    first: dict[tuple, int] = {}  # values -> the lowest index that finished with them
    found = set()
    finished = [t for t in trials if t.state in FINISHED_STATES and isinstance(t.user_attrs.get(INDEX), int)]
    for trial in sorted(finished, key=lambda t: (t.user_attrs[INDEX], t.number)):
        values = tuple(sorted(trial.params.items()))
        index = trial.user_attrs[INDEX]
        if first.get(values, index) < index:
            found.add(trial.number)
        else:
            first.setdefault(values, index)
    return found


class Studies:
    """The studies of one tune, in `folder`/studies.journal."""

    def __init__(self, folder: Path, trials: int, seed: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "studies.journal"
        self.storage = JournalStorage(JournalFileBackend(str(self.path)))
        self.trials = trials
        self.seed = seed
        # Asking is read-then-append on the journal: one process at a time, or two could both take index k.
        (folder / ".locks").mkdir(exist_ok=True)  # beside the trial folders' own locks: never committed
        self.ask_lock = FileLock(str(folder / ".locks" / "studies.ask.lock"))

    def study(self, task: str, method: str, defaults: dict[str, Any]) -> optuna.Study:
        """The (task, method) study; created with trial 0 enqueued at `defaults` the first time."""
        name = study_name(task, method)
        with self.ask_lock:
            study = optuna.create_study(
                storage=self.storage,
                sampler=self.sampler(name, 0),
                study_name=name,
                direction="maximize",
                load_if_exists=True,
            )
            if not study.get_trials(deepcopy=False):
                study.enqueue_trial(defaults, user_attrs={INDEX: 0})
        return study

    def sampler(self, study: str, index: int) -> optuna.samplers.TPESampler:
        """The sampler that asks trial `index` of `study`."""
        # Half the trials sample at random before TPE models the rest (Optuna's default waits for 10).
        return optuna.samplers.TPESampler(
            n_startup_trials=max(1, self.trials // 2), seed=sampler_seed(self.seed, study, index)
        )

    def trial(self, study: optuna.Study, index: int, space: dict[str, Param]) -> tuple[int, dict[str, Any]] | None:
        """(trial number, values) of the study's trial `index`: asked now, or the one asked before and
        never told; None when that trial has finished (a void repeat does not count)."""
        with self.ask_lock:
            trials = study.get_trials(deepcopy=False)
            void = repeats(trials)
            for trial in trials:
                if trial.user_attrs.get(INDEX) == index and trial.number not in void:
                    if trial.state in FINISHED_STATES:
                        return None
                    if set(trial.params) == set(space):
                        return trial.number, dict(trial.params)
            study.sampler = self.sampler(study.study_name, index)
            trial = study.ask()
            trial.set_user_attr(INDEX, index)
            values = {name: _suggest(trial, name, param) for name, param in space.items()}
        return trial.number, values

    @staticmethod
    def moved_to(study: optuna.Study) -> float | None:
        """The fallback budget the study's trials run at, where its method could not reach the tune's."""
        value = study.user_attrs.get(MOVED_TO)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @staticmethod
    def move_to(study: optuna.Study, budget: float) -> None:
        study.set_user_attr(MOVED_TO, budget)

    @staticmethod
    def tell(study: optuna.Study, number: int, value: float | None) -> None:
        """Finish trial `number`: its held-out score, or failed (None, or a score that is not finite)."""
        if value is None or not math.isfinite(value):
            study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
        else:
            study.tell(number, value, skip_if_finished=True)

    @staticmethod
    def results(study: optuna.Study) -> list[TrialResult]:
        """The study's finished trials by index (a trial told twice by two processes counts once; a void
        repeat not at all)."""
        found: dict[int, TrialResult] = {}
        trials = study.get_trials(deepcopy=False)
        void = repeats(trials)
        for trial in trials:
            index = trial.user_attrs.get(INDEX)
            if (
                trial.state in FINISHED_STATES
                and trial.number not in void
                and isinstance(index, int)
                and index not in found
            ):
                value = trial.value if trial.state == TrialState.COMPLETE else None
                state = "complete" if trial.state == TrialState.COMPLETE else "fail"
                found[index] = TrialResult(index, dict(trial.params), value, state)
        return [found[index] for index in sorted(found)]


def _suggest(trial: optuna.Trial, name: str, param: Param) -> Any:
    if isinstance(param, Choice):
        return trial.suggest_categorical(name, list(param.options))
    if isinstance(param, IntRange):
        return trial.suggest_int(name, param.low, param.high, log=param.log)
    if isinstance(param, LogUniform):
        return trial.suggest_float(name, param.low, param.high, log=True)
    if isinstance(param, Uniform):
        return trial.suggest_float(name, param.low, param.high)
    raise TypeError(f"unknown search dimension {param!r}")


def default_values(space: dict[str, Param], knob_defaults: dict[str, Any]) -> dict[str, Any]:
    """Trial 0: the preset's learning rate (factor 1) and the method's default knob values."""
    return {name: (1.0 if name == LEARNING_RATE else knob_defaults[name]) for name in space}
