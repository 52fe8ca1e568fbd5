"""The tuned choice: the best held-out trial that beats the majority class and, by a paired bootstrap,
the defaults; else the defaults."""

from __future__ import annotations

import pytest

from suite.leaderboard.bootstrap import Interval
from suite.records.atomic import write_json_atomic
from suite.records.layout import predictions_path
from suite.spec.presets import get_preset
from suite.tune.evidence import gain_interval
from suite.tune.loop import best_choice
from suite.tune.plan import plan_tune
from suite.tune.studies import TrialResult
from tests.builders.records import accurate_predictions, attach_predictions, dev_labels, make_record

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


def _interval(low: float, high: float) -> Interval:
    return Interval(low, high)


def test_the_best_trial_replaces_the_defaults_only_where_its_gain_is_called(dense_mrpc):
    plan, study, rate = dense_mrpc
    trials = [_trial(0, 78.0, 1.0), _trial(1, 80.0, 0.5), _trial(2, 79.0, 2.0)]
    called = best_choice(plan, study, trials, TRIVIAL, {1: _interval(0.4, 3.6), 2: _interval(-1.0, 3.0)})
    assert (called.chosen_trial, called.best_trial, called.gain_over_defaults) == (1, 1, (0.4, 3.6))
    assert called.learning_rate == pytest.approx(0.5 * rate)
    noise = best_choice(plan, study, trials, TRIVIAL, {1: _interval(-0.5, 4.5), 2: _interval(0.1, 2.0)})
    # Only the best trial is tested: a lesser trial with a called gain does not stand in for it.
    assert (noise.chosen_trial, noise.best_trial, noise.heldout_score) == (0, 1, 78.0)
    assert noise.learning_rate == pytest.approx(rate)
    # No evidence (a trial without readable predictions) claims no gain either.
    assert best_choice(plan, study, trials, TRIVIAL, {}).chosen_trial == 0


def test_defaults_that_learned_nothing_give_way_to_the_best_trial_without_a_test(dense_mrpc):
    plan, study, _ = dense_mrpc
    trials = [_trial(0, 65.0, 1.0), _trial(1, 77.0, 0.5)]
    choice = best_choice(plan, study, trials, TRIVIAL, {1: _interval(-2.0, 20.0)})
    assert (choice.chosen_trial, choice.beats_trivial) == (1, True)
    failed_defaults = [_trial(0, None, 1.0), _trial(1, 77.0, 0.5)]
    assert best_choice(plan, study, failed_defaults, TRIVIAL, {}).chosen_trial == 1


def test_the_gain_interval_is_a_paired_bootstrap_of_the_two_trials_predictions(tmp_path):
    labels = dev_labels("sst2", 400)
    paths = {}
    for index, accuracy in ((0, 80.0), (1, 90.0), (2, 80.5)):
        record = make_record("sst2", "dense", 0.1, 0)
        path = tmp_path / f"trial-{index}" / "record.json"
        attach_predictions(path, record, accurate_predictions(labels, accuracy), labels)
        write_json_atomic(path, record)
        paths[index] = path
    clear = gain_interval("sst2", paths[0], paths[1])
    assert clear is not None and clear.low > 0 and clear.low < 10.0 < clear.high
    slight = gain_interval("sst2", paths[0], paths[2])
    assert slight is not None and slight.low <= 0 < slight.high
    # A trial whose predictions are gone is no evidence.
    predictions_path(paths[1]).unlink()
    assert gain_interval("sst2", paths[0], paths[1]) is None
    assert gain_interval("sst2", paths[0], tmp_path / "missing.json") is None
