"""Running a tune: each trial is a cell run through the ordinary grid machinery, in its own folder.

Trial `k` of every study of a phase is one grid (its tasks x that phase's methods) in
`<tune folder>/trials/<phase>-<k>/`, a results folder like any other: the trial's values reach the
cells as tuned settings (knobs and learning rate, so in their config hash), the executor (in-process
or Ray) runs them, and resume, locks and records come with it. A trial's held-out score is read from
its record and told to its study.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna

from suite.leaderboard.bootstrap import Interval
from suite.records.completeness import TRIVIAL_METHOD
from suite.records.layout import Cell, cell_path
from suite.records.reader import read_record
from suite.records.schema import REFERENCE_BUDGET
from suite.registry import get_registered
from suite.run.grid import Grid
from suite.run.identity import TEACHER_METHOD
from suite.run.plan import GridSummary, expand_grid
from suite.spec.search import split_trial
from suite.spec.tuned import TunedChoice, TunedSettings, entry_key, tuned_under
from suite.tune.evidence import gain_interval
from suite.tune.plan import PHASES, Study, TunePlan
from suite.tune.studies import Studies, TrialResult, default_values

# Builds the grid of one trial folder: (folder, the settings its cells apply) -> Grid.
GridFactory = Callable[[Path, TunedSettings], Grid]
# Runs a grid's cells on an executor (in-process or Ray) and returns its summary.
Executor = Callable[[Grid, list[Cell]], GridSummary]
# Told after each trial: (study, trial index, held-out score or None, why it has none).
Reporter = Callable[[Study, int, float | None, str], None]


def trial_dir(folder: Path, phase: str, index: int) -> Path:
    return folder / "trials" / f"{phase}-{index:03d}"


@dataclass
class TuneOutcome:
    results: dict[str, list[TrialResult]] = field(default_factory=dict)  # entry_key -> finished trials
    unreachable: dict[str, str] = field(default_factory=dict)  # entry_key -> why the budget is out of reach
    trivial: dict[str, float] = field(default_factory=dict)  # task -> its trivial row's held-out score
    # entry_key -> trial index -> the interval of its held-out gain over trial 0 (None: no evidence)
    gains: dict[str, dict[int, Interval | None]] = field(default_factory=dict)
    # entry_key -> the fallback budget a study ran at, where its method cannot reach the plan's
    budgets: dict[str, float] = field(default_factory=dict)
    # entry_key -> the budget its trials ran at, where that is not the plan's (a row that does not
    # compress ran at 1; a study that moved, at its fallback): what its choice records
    tuned_budgets: dict[str, float] = field(default_factory=dict)

    def complete(self, plan: TunePlan) -> bool:
        """Every reachable study has all its trials."""
        return all(
            len(self.results.get(entry_key(s.task, s.method), [])) == plan.trials
            for s in plan.studies
            if entry_key(s.task, s.method) not in self.unreachable
        )


class Tuner:
    def __init__(self, plan: TunePlan, folder: Path, build: GridFactory, execute: Executor, report: Reporter) -> None:
        self.plan = plan
        self.folder = folder
        self.studies = Studies(folder, plan.trials, plan.seed)
        self.build, self.execute, self.report = build, execute, report
        self.outcome = TuneOutcome()

    def run(self) -> TuneOutcome:
        for phase in PHASES:
            studies = self.plan.phase(phase)
            if not studies:
                continue
            fixed = self.chosen(TEACHER_METHOD) if phase == PHASES[1] else {}
            opened = {
                entry_key(s.task, s.method): self.studies.study(s.task, s.method, default_values(s.space, s.defaults))
                for s in studies
            }
            for key, study in opened.items():  # a study that moved to a fallback budget in an earlier process
                moved = Studies.moved_to(study)
                if moved is not None:
                    self.outcome.budgets[key] = moved
            for index in range(self.plan.trials):
                self.run_trial(phase, index, studies, opened, fixed)
            for key, study in opened.items():
                self.outcome.results[key] = self.studies.results(study)
            for study in studies:
                key = entry_key(study.task, study.method)
                self.outcome.gains[key] = self.gains(phase, study)
                if (budget := self.budget_of(study)) != self.plan.budget:
                    self.outcome.tuned_budgets[key] = budget
            self.outcome.trivial = trivial_scores(self.folder, self.plan)
        return self.outcome

    def run_trial(
        self,
        phase: str,
        index: int,
        studies: list[Study],
        opened: dict[str, optuna.Study],
        fixed: dict[str, TunedChoice],
    ) -> None:
        """Trial `index` of every study of the phase not finished with it, as one grid; a study whose
        method cannot reach its budget moves to the next of the plan's fallback budgets and runs the
        same trial there, until one is reachable or none is left."""
        pending: dict[str, tuple[Study, int, dict[str, Any]]] = {}
        for study in studies:
            key = entry_key(study.task, study.method)
            if key in self.outcome.unreachable:
                continue
            asked = self.studies.trial(opened[key], index, study.space)
            if asked is not None:
                pending[key] = (study, *asked)
        while pending:
            moved = self.run_grid(phase, index, pending, opened, fixed)
            pending = {key: pending[key] for key in moved}

    def budget_of(self, study: Study) -> float:
        """The budget a study's trials run at: 1 for a row that does not compress (the teacher, `dense`),
        else the plan's, or the fallback it moved to."""
        if not get_registered(study.method).info.budgeted:
            return REFERENCE_BUDGET
        return self.outcome.budgets.get(entry_key(study.task, study.method), self.plan.budget)

    def run_grid(
        self,
        phase: str,
        index: int,
        pending: dict[str, tuple[Study, int, dict[str, Any]]],
        opened: dict[str, optuna.Study],
        fixed: dict[str, TunedChoice],
    ) -> list[str]:
        """One trial grid of the pending studies, each told its held-out score; returns the studies that
        moved to a fallback budget (their trial is still to run)."""
        choices = dict(fixed)
        for key, (study, _, values) in pending.items():
            scale, knobs = split_trial(values)
            rate = self.plan.preset.train_for(study.task).learning_rate * scale
            choices[key] = TunedChoice(knobs, rate, trials=1, heldout_score=None, budget=self.budget_of(study))
        folder = trial_dir(self.folder, phase, index)
        settings = TunedSettings(
            file=f"{self.studies.path} ({phase} trial {index})",
            sha256="",
            preset=self.plan.preset.name,
            under=tuned_under(self.plan.preset),
            budget=self.plan.budget,
            seed=self.plan.seed,
            trials=1,
            choices=choices,
        )
        grid = self.build(folder, settings)
        wanted = {(s.task, s.method, self.budget_of(s)) for s, _, _ in pending.values()}
        methods = list(dict.fromkeys(s.method for s, _, _ in pending.values()))
        budgets = tuple(sorted({budget for _, _, budget in wanted}))
        planned = expand_grid(replace(self.plan.preset, budgets=budgets), methods)
        cells = [c for c in planned if (c.task, c.method, c.budget) in wanted]
        summary = self.execute(grid, cells)
        unreachable = {(c.task, c.method): reason for c, reason in summary.unreachable}
        moved = []
        for cell in cells:
            key = entry_key(cell.task, cell.method)
            study, number, _ = pending[key]
            if (cell.task, cell.method) in unreachable:
                higher = [b for b in self.plan.fallback_budgets if b > cell.budget]
                if higher:
                    self.outcome.budgets[key] = higher[0]
                    Studies.move_to(opened[key], higher[0])
                    self.report(study, index, None, f"budget {cell.budget:g} out of reach: tuned at {higher[0]:g}")
                    moved.append(key)
                    continue
                self.outcome.unreachable[key] = unreachable[(cell.task, cell.method)]
                self.report(study, index, None, f"not tuned: {unreachable[(cell.task, cell.method)]}")
                continue
            record = read_record(cell_path(folder, cell.task, cell.method, cell.budget, cell.seed))
            if record is None:  # another process on this tune is computing it: it tells the study
                self.report(study, index, None, "being computed by another process")
                continue
            score = record.get("score") if record.get("status") == "ok" else None
            Studies.tell(opened[key], number, score)
            error = (record.get("error") or "").splitlines()
            why = "" if score is not None else f"{record.get('status')}" + (f": {error[0]}" if error else "")
            self.report(study, index, score, why)
        return moved

    def gains(self, phase: str, study: Study) -> dict[int, Interval | None]:
        """Each scored trial's held-out gain over the defaults (trial 0), from the two cells' predictions."""
        key = entry_key(study.task, study.method)
        budget, seed = self.budget_of(study), self.plan.seed

        def path(index: int) -> Path:
            return cell_path(trial_dir(self.folder, phase, index), study.task, study.method, budget, seed)

        scored = [r.index for r in self.outcome.results.get(key, []) if r.value is not None and r.index != 0]
        return {index: gain_interval(study.task, path(0), path(index)) for index in scored}

    def chosen(self, method: str) -> dict[str, TunedChoice]:
        """The finished phase's choice for `method` on every task (the teacher, for phase 2)."""
        choices = {}
        for study in self.plan.studies:
            if study.method != method:
                continue
            key = entry_key(study.task, study.method)
            trivial = self.outcome.trivial.get(study.task)
            results, gains = self.outcome.results.get(key, []), self.outcome.gains.get(key, {})
            choice = best_choice(self.plan, study, results, trivial, gains, self.outcome.tuned_budgets.get(key))
            if choice is not None:
                choices[key] = choice
        return choices


def trivial_scores(folder: Path, plan: TunePlan) -> dict[str, float]:
    """Each task's trivial (majority-class) score on the held-out split, from the first trial folder of
    the tune that holds its row (every trial shares the split, so every trial's row is the same)."""
    scores: dict[str, float] = {}
    for task in plan.preset.tasks:
        for phase in PHASES:
            record = read_record(cell_path(trial_dir(folder, phase, 0), task, TRIVIAL_METHOD, 1.0, 0))
            score = None if record is None else record.get("score")
            if isinstance(score, int | float) and not isinstance(score, bool):
                scores[task] = float(score)
                break
    return scores


def best_choice(
    plan: TunePlan,
    study: Study,
    results: list[TrialResult],
    trivial: float | None = None,
    gains: Mapping[int, Interval | None] | None = None,
    budget: float | None = None,
) -> TunedChoice | None:
    """The tuned setting of a study, or None when no trial scored.

    Among the finished trials that beat the task's trivial held-out score (a setting that only ties the
    majority class learned nothing, and choosing it would make a constant predictor the tuned row), the
    best (the lowest index among equal scores) replaces the defaults (trial 0) only where its gain over
    them is called: `gains[index]`, the paired-bootstrap interval of that gain, lies above zero. Where
    the defaults failed or did not beat the trivial score, there is nothing to keep and the best wins;
    where no trial beats it, the defaults are kept. `gains` None: the best wins on its score alone.
    `budget`: the fallback budget the study's trials ran at (None: the plan's).
    """
    scored = [r for r in results if r.value is not None]
    if not scored:
        return None
    above = [r for r in scored if trivial is None or r.value > trivial]
    defaults = next((r for r in scored if r.index == 0), None)
    best = max(above, key=lambda r: (r.value, -r.index)) if above else None
    interval = None if best is None or gains is None else gains.get(best.index)
    if best is None:
        chosen = defaults or max(scored, key=lambda r: (r.value, -r.index))
    elif gains is None or defaults is None or defaults not in above or best is defaults:
        chosen = best
    else:
        chosen = best if interval is not None and interval.low > 0 else defaults
    scale, knobs = split_trial(chosen.params)
    rate = plan.preset.train_for(study.task).learning_rate * scale
    return TunedChoice(
        knobs,
        rate,
        trials=len(results),
        heldout_score=chosen.value,
        default_heldout_score=None if defaults is None else defaults.value,
        chosen_trial=chosen.index,
        beats_trivial=None if trivial is None else bool(above),
        best_trial=None if best is None else best.index,
        gain_over_defaults=None if interval is None else (interval.low, interval.high),
        budget=budget,
    )
