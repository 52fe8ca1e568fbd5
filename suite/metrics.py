"""The official GLUE metrics as pure functions (offline: scikit-learn and scipy, not `evaluate`,
whose GLUE metric is fetched from the hub). Every value is on a 0-100 scale."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from suite.data import TaskSpec


def task_metrics(task: TaskSpec, predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """All GLUE sub-metrics for one split. `predictions` are class ids, or scores for STS-B."""
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    if len(predictions) != len(labels) or len(labels) == 0:
        raise ValueError(f"need equal, non-empty predictions and labels, got {len(predictions)} and {len(labels)}")
    if task.is_regression:
        with warnings.catch_warnings():  # constant predictions: handled by _finite below
            warnings.simplefilter("ignore")
            pearson, spearman = pearsonr(predictions, labels)[0], spearmanr(predictions, labels)[0]
        return {"pearson": 100.0 * _finite(pearson), "spearmanr": 100.0 * _finite(spearman)}
    out = {"accuracy": 100.0 * accuracy_score(labels, predictions)}
    if task.name == "cola":
        out["matthews_correlation"] = 100.0 * matthews_corrcoef(labels, predictions)
    if task.name in ("mrpc", "qqp"):
        out["f1"] = 100.0 * f1_score(labels, predictions, zero_division=0.0)
    return out


def _finite(value: float) -> float:
    # A constant prediction has no correlation; scipy returns NaN, GLUE scores it as 0.
    return 0.0 if value is None or not np.isfinite(value) else float(value)


def split_metrics(task: TaskSpec, per_split: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Flatten per-split metrics: the primary split's names plain, the others as 'split/name'."""
    primary_split = task.eval_splits[0]
    out: dict[str, float] = {}
    for split, values in per_split.items():
        for name, value in values.items():
            out[name if split == primary_split else f"{split}/{name}"] = float(value)
    return out


def primary_score(task: TaskSpec, metrics: Mapping[str, float]) -> float:
    return float(metrics[task.primary_metric])


def glue_average(scores: Mapping[str, float]) -> float:
    """Unweighted mean of per-task primary scores (the GLUE score over the tasks given)."""
    if not scores:
        raise ValueError("no task scores to average")
    return float(np.mean(list(scores.values())))
