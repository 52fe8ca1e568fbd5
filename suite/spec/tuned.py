"""Tuned settings: what `tune` chose per (task, method), as data a run applies.

A tuned file maps each (task, method) to the knobs and the learning rate its best trial used on the
held-out split, with every trial's score and the tuning budget. It also states the settings it was
tuned under (`tuned_under`: model, training config, data subsample and held-out rule); a run applies
it only when its own settings are the same, so a tuned setting is never carried to data or a schedule
it was not chosen on. Applying it sets the chosen values as method knobs and the cell's learning rate:
both are in the cell's config hash, so a tuned and an untuned cell are never taken for each other.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from suite.errors import SuiteError, clipped
from suite.spec.presets import Preset

FORMAT = 1
# Trials per (task, method) a tuned file may list: far more than any tuning budget here.
MAX_TRIALS = 1000


def entry_key(task: str, method: str) -> str:
    return f"{task}/{method}"


# The key of `tuned_under` that holds each tuned task's own training settings.
TASKS = "tasks"


def tuned_under(preset: Preset) -> dict[str, Any]:
    """The settings a tuned choice holds for: what the trials trained and were scored under, as JSON gives
    them back (tuples as lists). Each task's training settings (epochs and learning rate may be the
    task's own) are kept per task, under `tasks`, so a file applies to any run whose tasks train as its
    trials did; the grid's budgets and seeds are left out, so a run of a part of the grid applies it too."""
    under = {
        "model": preset.model,
        "max_train_samples": preset.max_train_samples,
        "data_seed": preset.data_seed,
        "heldout": preset.heldout,
        "flop_seq_len": preset.flop_seq_len,
        "pruning_schedule": dataclasses.asdict(preset.pruning_schedule),
        TASKS: {task: dataclasses.asdict(preset.train_for(task)) for task in sorted(preset.tasks)},
    }
    return json.loads(json.dumps(under))


@dataclass(frozen=True)
class TunedChoice:
    """One (task, method)'s chosen settings and the evidence for them."""

    knobs: dict[str, Any]  # method knob path -> value (JSON types)
    learning_rate: float
    trials: int  # how many trials were run for it
    heldout_score: float | None  # the chosen trial's held-out score; None when no trial finished
    default_heldout_score: float | None = None  # the trial at the method's defaults, for comparison
    chosen_trial: int | None = None  # the index of the trial whose settings these are
    beats_trivial: bool | None = None  # False: no trial beat the majority class, so the defaults were kept
    best_trial: int | None = None  # the best-scoring trial above the trivial score, chosen or not
    # The 95% paired-bootstrap interval of the best trial's held-out gain over the defaults: the best
    # replaces the defaults only where it lies above zero.
    gain_over_defaults: tuple[float, float] | None = None
    # The budget its trials ran at where the method cannot reach the file's (None: the file's budget).
    budget: float | None = None


@dataclass(frozen=True)
class TunedSettings:
    file: str  # as the run named it: recorded with every tuned cell
    sha256: str
    preset: str
    under: dict[str, Any]
    budget: float  # the budget the trials ran at
    seed: int
    trials: int  # the tuning budget: trials per (task, method)
    choices: dict[str, TunedChoice] = field(default_factory=dict)  # entry_key -> choice

    def choice(self, task: str, method: str) -> TunedChoice | None:
        return self.choices.get(entry_key(task, method))

    def check_applies(self, preset: Preset) -> None:
        """One line unless `preset` trains and holds out data as the trials did: the shared settings, and
        the training of every task both tuned and run (a task the file has no trials of gets no choice)."""
        own = tuned_under(preset)
        differ = [name for name in own if name != TASKS and own[name] != self.under.get(name)]
        theirs = self.under.get(TASKS)
        theirs = theirs if isinstance(theirs, dict) else {}
        differ += [f"{task} training" for task, train in own[TASKS].items() if task in theirs and theirs[task] != train]
        if differ:
            names = ", ".join(differ)
            raise SuiteError(
                f"--tuned {self.file} was tuned under other settings ({names} differ from this run's); "
                "run with the settings it was tuned under, or pass --tuned none"
            )

    def record(self, task: str, method: str, overridden: list[str]) -> dict[str, Any] | None:
        """The record's `tuning` for a cell of (task, method), or None when the file has no choice for it."""
        choice = self.choice(task, method)
        if choice is None:
            return None
        return {
            "file": self.file,
            "sha256": self.sha256,
            "trials": choice.trials,
            "budget": self.budget if choice.budget is None else choice.budget,
            "chosen": {**choice.knobs, "learning_rate": choice.learning_rate},
            "heldout_score": choice.heldout_score,
            "overridden": overridden,  # knobs the command line set to other values than the file's
        }


def parse_tuned(data: Any, file: str, sha256: str) -> TunedSettings:
    """A tuned file's JSON as TunedSettings; anything malformed is one line naming the file."""

    def fail(what: str) -> SuiteError:
        return SuiteError(f"tuned file {file}: {what}; write it again with python -m suite tune")

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise fail(f"not a tuned file of format {FORMAT}")
    for name, kind in (("preset", str), ("tuned_under", dict), ("choices", dict)):
        if not isinstance(data.get(name), kind):
            raise fail(f"'{name}' is missing or not a {kind.__name__}")
    budget, seed, trials = data.get("budget"), data.get("seed"), data.get("trials")
    if not _number(budget) or not 0 < budget <= 1:
        raise fail(f"budget {clipped(repr(budget))} is not a FLOP fraction in (0, 1]")
    if not _count(seed, 0) or not _count(trials, 1):
        raise fail("seed and trials must be whole numbers (trials at least 1)")
    choices = {}
    for key, entry in data["choices"].items():
        task, slash, method = str(key).partition("/")
        if not slash or not task or not method or not isinstance(entry, dict):
            raise fail(f"choice {clipped(repr(key))} is not 'task/method' with an object")
        knobs, lr = entry.get("knobs"), entry.get("learning_rate")
        if not isinstance(knobs, dict) or not all(isinstance(k, str) for k in knobs):
            raise fail(f"{key}: 'knobs' is not an object of knob paths")
        if not all(isinstance(v, str | int | float | bool) and not _non_finite(v) for v in knobs.values()):
            raise fail(f"{key}: a knob value is not a finite number, a string or a boolean")
        if not _number(lr) or lr <= 0:
            raise fail(f"{key}: learning_rate {clipped(repr(lr))} is not a positive number")
        if not _count(entry.get("trials"), 1) or entry["trials"] > MAX_TRIALS:
            raise fail(f"{key}: trials must be a whole number in [1, {MAX_TRIALS}]")
        scores = [entry.get("heldout_score"), entry.get("default_heldout_score")]
        if not all(s is None or _number(s) for s in scores):
            raise fail(f"{key}: a held-out score is not a finite number")
        chosen, beats = entry.get("chosen_trial"), entry.get("beats_trivial")
        if not (chosen is None or _count(chosen, 0)) or not (beats is None or isinstance(beats, bool)):
            raise fail(f"{key}: chosen_trial must be a whole number and beats_trivial a boolean")
        best, gain = entry.get("best_trial"), entry.get("gain_over_defaults")
        if not (best is None or _count(best, 0)):
            raise fail(f"{key}: best_trial must be a whole number")
        if not (gain is None or (isinstance(gain, list) and len(gain) == 2 and all(_number(g) for g in gain))):
            raise fail(f"{key}: gain_over_defaults must be [low, high], two finite numbers")
        interval = None if gain is None else (float(gain[0]), float(gain[1]))
        own_budget = entry.get("budget")
        if not (own_budget is None or (_number(own_budget) and 0 < own_budget <= 1)):
            raise fail(f"{key}: budget {clipped(repr(own_budget))} is not a FLOP fraction in (0, 1]")
        own_budget = None if own_budget is None else float(own_budget)
        choices[key] = TunedChoice(
            dict(knobs), float(lr), entry["trials"], *scores, chosen, beats, best, interval, own_budget
        )
    return TunedSettings(
        file=file,
        sha256=sha256,
        preset=data["preset"],
        under=data["tuned_under"],
        budget=float(budget),
        seed=seed,
        trials=trials,
        choices=choices,
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _count(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def knob_overrides(choice_knobs: Mapping[str, Any], cli_knobs: Mapping[str, Any]) -> list[str]:
    """The tuned knobs the command line sets to another value (it wins; the record names them)."""
    return sorted(path for path, value in cli_knobs.items() if path in choice_knobs and choice_knobs[path] != value)
