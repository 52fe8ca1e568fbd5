"""The tuned choice: the best held-out trial that beats the majority class, else the defaults."""

from __future__ import annotations

import pytest

from suite.spec.presets import get_preset
from suite.tune.loop import best_choice
from suite.tune.plan import plan_tune
from suite.tune.studies import TrialResult

TRIVIAL = 75.78  # an all-positive MRPC F1: what a model that learned nothing scores


def _trial(index: int, value: float | None, scale: float) -> TrialResult:
    state = "fail" if value is None else "complete"
    return TrialResult(index, {"learning_rate_scale": scale}, value, state)


@pytest.fixture
def dense_mrpc():
    plan = plan_tune(get_preset("smoke"), ["dense"], trials=4, budget=0.1, seed=0)
    study = next(s for s in plan.studies if s.task == "mrpc" and s.method == "dense")
    return plan, study, get_preset("smoke").train_for("mrpc").learning_rate


def test_the_best_trial_above_the_trivial_score_is_chosen(dense_mrpc):
    plan, study, rate = dense_mrpc
    trials = [_trial(0, 65.0, 1.0), _trial(1, 77.0, 0.5), _trial(2, None, 2.0), _trial(3, 76.0, 3.0)]
    choice = best_choice(plan, study, trials, TRIVIAL)
    assert (choice.chosen_trial, choice.heldout_score, choice.beats_trivial) == (1, 77.0, True)
    assert choice.learning_rate == pytest.approx(0.5 * rate)
    assert choice.default_heldout_score == 65.0 and choice.trials == 4


def test_a_trial_that_only_ties_the_majority_class_is_not_chosen_the_defaults_are(dense_mrpc):
    plan, study, rate = dense_mrpc
    trials = [_trial(0, 65.0, 1.0), _trial(1, TRIVIAL, 0.5), _trial(2, 72.9, 2.0), _trial(3, TRIVIAL, 3.0)]
    choice = best_choice(plan, study, trials, TRIVIAL)
    assert (choice.chosen_trial, choice.heldout_score, choice.beats_trivial) == (0, 65.0, False)
    assert choice.learning_rate == pytest.approx(rate)
    # Without a trivial score to compare with, the best trial wins (the lowest index among ties).
    unguarded = best_choice(plan, study, trials, None)
    assert (unguarded.chosen_trial, unguarded.beats_trivial) == (1, None)


def test_no_choice_when_no_trial_scored(dense_mrpc):
    plan, study, _ = dense_mrpc
    assert best_choice(plan, study, [_trial(0, None, 1.0), _trial(1, None, 0.5)], TRIVIAL) is None
