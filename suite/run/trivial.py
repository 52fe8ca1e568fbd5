"""The trivial baseline of a task, from its data alone: the training set's majority class, or for a
regression task (STS-B) the mean training label as a constant. A table that does not show it
cannot tell a model that learned something from one that predicts the prior."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.metrics.glue import split_metrics, task_metrics
from suite.spec.tasks import TaskSpec

TRIVIAL_METHOD = "trivial"


@dataclass(frozen=True)
class TrivialBaseline:
    rule: str
    value: float | int
    metrics: dict[str, float]
    predictions: dict[str, np.ndarray]  # per eval split, constant
    labels: dict[str, np.ndarray]


def trivial_baseline(task: TaskSpec, train_labels: np.ndarray, eval_labels: dict[str, np.ndarray]) -> TrivialBaseline:
    train_labels = np.asarray(train_labels)
    if task.is_regression:
        value: float | int = float(np.mean(train_labels))
        rule = "constant: the mean training label"
    else:
        # bincount's argmax takes the lowest class id on a tie: deterministic.
        value = int(np.argmax(np.bincount(train_labels.astype(int), minlength=task.num_labels)))
        rule = f"majority class of the training labels ({task.label_names[value] if task.label_names else value})"
    predictions = {split: np.full(len(labels), value) for split, labels in eval_labels.items()}
    per_split = {split: task_metrics(task, predictions[split], labels) for split, labels in eval_labels.items()}
    return TrivialBaseline(rule, value, split_metrics(task, per_split), predictions, dict(eval_labels))
