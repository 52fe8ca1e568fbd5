"""The official GLUE metrics as pure functions, every value on a 0-100 scale.

They are computed by the `evaluate` module shipped in `suite/glue_metric/` (scikit-learn and scipy
underneath), loaded from its local path: nothing is fetched from the hub. evaluate is imported on
the first call only, because importing it imports torch.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from suite.compat.evaluate import load_local_module
from suite.metrics.glue_metric import METRIC_DIR
from suite.spec.tasks import TaskSpec

if TYPE_CHECKING:
    from evaluate import EvaluationModule


def task_metrics(task: TaskSpec, predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """All GLUE sub-metrics for one split. `predictions` are class ids, or scores for STS-B."""
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    if len(predictions) != len(labels) or len(labels) == 0:
        raise ValueError(f"need equal, non-empty predictions and labels, got {len(predictions)} and {len(labels)}")
    values = _glue_metric(task.name).compute(predictions=predictions, references=labels)
    return {name: 100.0 * value for name, value in values.items()}


@functools.cache
def _glue_metric(task_name: str) -> EvaluationModule:
    # One module per task and process: the first load imports evaluate and the script (seconds
    # without torch already imported), later ones copy-check a file (tens of milliseconds).
    return load_local_module(METRIC_DIR, task_name)


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
