"""The trivial baseline of a task, from its data alone: the training set's majority class, or for a
regression task (STS-B) the mean training label as a constant. A table that does not show it
cannot tell a model that learned something from one that predicts the prior.

One `trivial` record per task, written by `write_trivial_rows` (the `run` and `baselines` commands)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.compute.evaluation import Evaluation
from suite.metrics.glue import primary_score, split_metrics, task_metrics
from suite.records.completeness import TRIVIAL_METHOD
from suite.records.layout import Cell
from suite.records.provenance import config_hash
from suite.records.schema import ROLE_TRIVIAL, RunResult
from suite.records.store import ResultStore
from suite.run.cell import predictions_of
from suite.run.identity import Identity
from suite.spec.tasks import TaskSpec


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


def write_trivial_rows(identity: Identity, store: ResultStore, tasks: list[str]) -> list[RunResult]:
    """One `trivial` row per task (majority class, or a constant for regression), from the data
    alone; skipped where a record with the same data identity is finished (its sidecar intact), else
    written again (the data alone make it; a finished one there is set aside). Returns those written."""
    inputs = identity.inputs
    written = []
    for task_name in tasks:
        data = inputs.task_data(task_name)
        eval_labels = {split: np.asarray(ds["label"]) for split, ds in data.evals.items()}
        baseline = trivial_baseline(data.task, np.asarray(data.train["label"]), eval_labels)
        config = {"data": identity.data_config(task_name), "method": TRIVIAL_METHOD, "rule": baseline.rule}
        cell = Cell(task_name, TRIVIAL_METHOD, 1.0, 0)
        if store.finished(cell, config_hash(config)):
            continue
        result = RunResult(
            method=TRIVIAL_METHOD,
            task=task_name,
            budget=1.0,
            seed=0,  # no randomness: one row serves every seed
            status="ok",
            config_hash=config_hash(config),
            role=ROLE_TRIVIAL,
            score=primary_score(data.task, baseline.metrics),
            metrics=baseline.metrics,
            # Predicting a constant needs no model: zero FLOPs, parameters and latency.
            flops={"dense": 0.0, "effective": 0.0, "fraction": 0.0, "linear_compression": None},
            params={"total": 0, "nonzero": 0, "encoder_linear_density": 0.0},
            latency_ms={},
            train_steps=0,
            train_examples=0,
            wall_s=0.0,
            method_config={"rule": baseline.rule, "value": baseline.value},
            run_config=config,
            data=identity.data_identity(task_name),
            training={
                "start": "none",
                "own_steps": 0,
                "inherited_steps": 0,
                "lineage_steps": 0,
                "examples": 0,
                "flops": 0.0,
                "teacher_flops": None,
            },
            **inputs.provenance(),
        )
        evaluation = Evaluation(baseline.metrics, baseline.predictions, baseline.labels)
        store.write_baseline(cell, result, predictions_of(data.task, evaluation))
        written.append(result)
    return written
