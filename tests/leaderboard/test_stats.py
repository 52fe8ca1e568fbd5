"""The leaderboard's statistics on hand-computable cases: vectorized metrics, the paired bootstrap, estimates."""

from __future__ import annotations

import numpy as np
import pytest

from suite.leaderboard.bootstrap import bootstrap_draws, percentile_interval, task_indices
from suite.leaderboard.estimates import Estimate, format_difference, format_estimate, seed_mean
from suite.metrics.glue import task_metrics
from suite.metrics.vectorized import metric_rows
from suite.spec.tasks import get_task


def _suite_score(task: str, predictions: np.ndarray, labels: np.ndarray) -> float:
    spec = get_task(task)
    return task_metrics(spec, predictions, labels)[spec.primary_metric]


def _classification_cases(rng: np.random.Generator, classes: int) -> list[tuple[np.ndarray, np.ndarray]]:
    n = 37
    labels = rng.integers(0, classes, n)
    return [
        (rng.integers(0, classes, n), labels),  # random
        (labels.copy(), labels),  # perfect
        (np.zeros(n, dtype=int), labels),  # constant prediction: MCC 0, F1 0
        (np.ones(n, dtype=int), labels),  # all positive
        (rng.integers(0, classes, n), np.zeros(n, dtype=int)),  # one label class only
        (np.zeros(n, dtype=int), np.zeros(n, dtype=int)),  # nothing positive anywhere: F1 0 by convention
        (1 - labels if classes == 2 else (labels + 1) % classes, labels),  # always wrong
    ]


@pytest.mark.filterwarnings("ignore:A single label was found")  # sklearn, on the one-class cases
@pytest.mark.parametrize("task", ["cola", "sst2", "mrpc", "qqp", "rte", "mnli"])
def test_vectorized_classification_metrics_equal_the_suites(task):
    rng = np.random.default_rng(1)
    classes = get_task(task).num_labels
    cases = _classification_cases(rng, classes)
    for _ in range(20):
        cases += _classification_cases(rng, classes)[:1]
    for predictions, labels in cases:
        ours = metric_rows(get_task(task).primary_metric, predictions, labels)
        assert ours.shape == (1,)
        assert ours[0] == pytest.approx(_suite_score(task, predictions, labels), abs=1e-9)


def test_vectorized_matthews_in_every_row_of_a_matrix():
    rng = np.random.default_rng(2)
    predictions, labels = rng.integers(0, 2, (50, 23)), rng.integers(0, 2, (50, 23))
    predictions[0] = 1  # a constant row inside a batch
    ours = metric_rows("matthews_correlation", predictions, labels)
    expected = [_suite_score("cola", p, y) for p, y in zip(predictions, labels, strict=True)]
    np.testing.assert_allclose(ours, expected, atol=1e-9)


def test_vectorized_spearman_equals_the_suites_with_ties_and_constants():
    rng = np.random.default_rng(3)
    labels = np.round(rng.uniform(0, 5, 41), 0)  # heavy ties among labels
    cases = [
        np.round(labels + rng.normal(0, 1, 41), 1),
        np.round(rng.uniform(0, 5, 41), 0),  # ties among predictions
        np.full(41, 2.4),  # constant prediction: 0
        np.full(41, 0.1),  # a constant whose mean is not exactly itself in floating point
        -labels,
    ]
    for predictions in cases:
        assert metric_rows("spearmanr", predictions, labels)[0] == pytest.approx(
            _suite_score("stsb", predictions, labels), abs=1e-9
        )
    assert metric_rows("spearmanr", labels, np.full(41, 3.0))[0] == 0.0  # constant labels
    assert metric_rows("pearson", cases[0], labels)[0] == pytest.approx(
        task_metrics(get_task("stsb"), cases[0], labels)["pearson"], abs=1e-9
    )


def test_identical_predictions_have_a_difference_ci_of_exactly_zero():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 200)
    predictions = np.where(rng.random(200) < 0.8, labels, 1 - labels)
    draws = bootstrap_draws("f1", labels, {"a": predictions, "b": predictions.copy()}, task_indices("mrpc", 200))
    difference = Estimate(1.0, (1.0,), draws["a"]).minus(Estimate(1.0, (1.0,), draws["b"]))
    assert (difference.ci.low, difference.ci.high) == (0.0, 0.0)
    assert not difference.ci.excludes_zero
    assert len(draws["a"]) == 1000 and draws["a"].std() > 0  # the scores themselves do vary


def test_bootstrap_on_a_hand_made_index_matrix():
    # Two examples: A is right on the first only, B on neither. The four possible resamples of two
    # examples give A 100, 50, 50, 0 and B always 0.
    labels = np.array([1, 0])
    a, b = np.array([1, 1]), np.array([0, 1])
    index = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    draws = bootstrap_draws("accuracy", labels, {"a": a, "b": b}, [index[:2], index[2:]])  # blocks join up
    np.testing.assert_array_equal(draws["a"], [100.0, 50.0, 50.0, 0.0])
    np.testing.assert_array_equal(draws["b"], [0.0, 0.0, 0.0, 0.0])
    difference = draws["a"] - draws["b"]
    ci = percentile_interval(difference)  # numpy's linear percentile: 2.5% of (0, 50, 50, 100) -> 3.75
    assert (ci.low, ci.high) == pytest.approx((3.75, 96.25))
    assert ci.excludes_zero


def test_bootstrap_of_two_examples_covers_every_outcome():
    labels, a = np.array([1, 0]), np.array([1, 1])
    draws = bootstrap_draws("accuracy", labels, {"a": a}, task_indices("sst2", 2))["a"]
    assert set(np.unique(draws)) == {0.0, 50.0, 100.0}
    assert np.mean(draws == 50.0) == pytest.approx(0.5, abs=0.05)  # P(one of each) = 1/2
    assert (percentile_interval(draws).low, percentile_interval(draws).high) == (0.0, 100.0)


def test_index_matrices_are_fixed_per_task_and_independent_between_tasks():
    first = np.concatenate(list(task_indices("rte", 277, 300)))
    again = np.concatenate(list(task_indices("rte", 277, 300)))
    other = np.concatenate(list(task_indices("mrpc", 277, 300)))
    assert first.shape == (300, 277) and first.min() >= 0 and first.max() < 277
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    blocks = list(task_indices("qqp", 40_000, 1000))
    assert len(blocks) > 1 and sum(len(b) for b in blocks) == 1000  # large dev sets come in blocks


def test_seeds_are_averaged_inside_each_resample():
    one, two = np.array([10.0, 20.0, 30.0]), np.array([30.0, 20.0, 10.0])
    estimate = seed_mean([20.0, 24.0], [one, two], [3, 7])
    assert estimate.value == 22.0 and estimate.n == 2 and estimate.by_seed == {3: 20.0, 7: 24.0}
    np.testing.assert_array_equal(estimate.draws, [20.0, 20.0, 20.0])
    assert seed_mean([20.0, 24.0], [one, None]).draws is None  # a seed without predictions: no CI


def test_formats_show_ci_seed_spread_and_the_significance_mark():
    assert format_estimate(Estimate(82.34, (82.34,))) == "82.3"
    assert format_estimate(Estimate(82.0, (81.0, 83.0), np.array([80.0, 84.0]))) == (
        "82.0 [80.1, 83.9] (seeds 81.0..83.0, sd 1.4)"
    )
    assert format_estimate(Estimate(82.0, (81.0, 83.0))) == "82.0 (seeds 81.0..83.0, sd 1.4)"  # no predictions
    assert format_difference(Estimate(1.0, (), np.array([0.0, 4.0]))) == "+1.0 [0.1, 3.9]†"
    assert format_difference(Estimate(0.2, (), np.array([-1.0, 3.0]))) == "+0.2 [-0.9, 2.9]"
    assert format_difference(Estimate(-2.0)) == "-2.0"


@pytest.mark.parametrize("metric", ["spearmanr", "matthews_correlation", "f1", "accuracy", "pearson"])
def test_bootstrap_draws_equal_the_metric_on_each_resample(metric):
    # The bootstrap ranks resamples by counting instead of sorting; it must give rankdata's answer.
    rng = np.random.default_rng(5)
    if metric in ("spearmanr", "pearson"):
        labels = np.round(rng.uniform(0, 5, 60), 0)
        predictions = np.round(labels + rng.normal(0, 1.5, 60), 0)  # ties, duplicated further by resampling
    else:
        labels = rng.integers(0, 2, 60)
        predictions = np.where(rng.random(60) < 0.7, labels, 1 - labels)
    index = rng.integers(0, 60, (40, 60))
    index[0] = 0  # a resample of one example: constant on both sides
    draws = bootstrap_draws(metric, labels, {"m": predictions}, [index])["m"]
    np.testing.assert_allclose(draws, metric_rows(metric, predictions[index], labels[index]), atol=1e-9)
    if metric == "spearmanr":
        expected = [_suite_score("stsb", predictions[i], labels[i]) for i in index]
        np.testing.assert_allclose(draws, expected, atol=1e-9)
