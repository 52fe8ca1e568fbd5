import numpy as np
import pytest

from suite.data import get_task
from suite.metrics import glue_average, primary_score, split_metrics, task_metrics


def test_classification_metrics_by_hand():
    labels = np.array([1, 1, 0, 0, 1])
    preds = np.array([1, 0, 0, 1, 1])
    m = task_metrics(get_task("mrpc"), preds, labels)
    # tp=2, fp=1, fn=1 -> F1 = 2*2/(2*2+1+1) = 2/3; accuracy 3/5
    assert m["f1"] == pytest.approx(200 / 3)
    assert m["accuracy"] == pytest.approx(60.0)
    assert primary_score(get_task("mrpc"), m) == pytest.approx(200 / 3)


def test_matthews_for_cola():
    labels = np.array([1, 1, 0, 0])
    m = task_metrics(get_task("cola"), np.array([1, 1, 0, 0]), labels)
    assert m["matthews_correlation"] == pytest.approx(100.0)
    m = task_metrics(get_task("cola"), np.array([0, 0, 1, 1]), labels)
    assert m["matthews_correlation"] == pytest.approx(-100.0)
    # constant predictions: MCC is 0, not NaN
    assert task_metrics(get_task("cola"), np.ones(4, int), labels)["matthews_correlation"] == 0.0


def test_stsb_correlations():
    labels = np.array([0.0, 1.0, 2.0, 3.0, 5.0])
    m = task_metrics(get_task("stsb"), labels * 2 + 1, labels)
    assert m["pearson"] == pytest.approx(100.0) and m["spearmanr"] == pytest.approx(100.0)
    monotone = np.array([0.0, 0.1, 0.2, 4.0, 4.1])
    m = task_metrics(get_task("stsb"), monotone, labels)
    assert m["spearmanr"] == pytest.approx(100.0) and m["pearson"] < 100.0
    assert task_metrics(get_task("stsb"), np.ones(5), labels)["pearson"] == 0.0


def test_mnli_splits_flatten_with_prefix_and_average():
    mnli = get_task("mnli")
    flat = split_metrics(mnli, {"validation_matched": {"accuracy": 80.0}, "validation_mismatched": {"accuracy": 81.0}})
    assert flat == {"accuracy": 80.0, "validation_mismatched/accuracy": 81.0}
    assert glue_average({"a": 80.0, "b": 60.0}) == 70.0
    with pytest.raises(ValueError):
        glue_average({})
