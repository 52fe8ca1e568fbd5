"""Dev-set predictions and GLUE metrics for a trained model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from datasets import Dataset
from torch.utils.data import DataLoader

from suite.compute.device import CPU, Placement
from suite.metrics.glue import split_metrics, task_metrics
from suite.spec.tasks import TaskSpec


@torch.inference_mode()
def predict(
    model: torch.nn.Module, ds: Dataset, collator, batch_size: int = 64, placement: Placement = CPU
) -> np.ndarray:
    """Class ids (or regression scores) in dataset order.

    Examples are batched by length so dynamic padding wastes little compute on CPU, then the
    predictions are put back in the original order.
    """
    model.eval()
    lengths = np.array([len(ids) for ids in ds["input_ids"]])
    order = np.argsort(lengths, kind="stable")
    ordered = ds.select(order.tolist()).remove_columns("label")
    outputs: list[np.ndarray] = []
    for batch in DataLoader(ordered, batch_size=batch_size, collate_fn=collator):
        with placement.autocast():
            logits = model(**{k: v.to(placement.device) for k, v in batch.items()}).logits.float().cpu()
        regression = logits.shape[-1] == 1
        outputs.append(logits.squeeze(-1).numpy() if regression else logits.argmax(-1).numpy())
    predictions = np.concatenate(outputs)
    restored = np.empty_like(predictions)
    restored[order] = predictions
    return restored


@dataclass(frozen=True)
class Evaluation:
    """Metrics of every eval split (0-100) and the per-example predictions and labels behind them."""

    metrics: dict[str, float]
    predictions: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]


def evaluate(
    model: torch.nn.Module, task: TaskSpec, eval_sets: dict[str, Dataset], collator, placement: Placement = CPU
) -> Evaluation:
    """All sub-metrics for every eval split of the task, with the predictions they come from."""
    predictions = {split: predict(model, ds, collator, placement=placement) for split, ds in eval_sets.items()}
    labels = {split: np.asarray(ds["label"]) for split, ds in eval_sets.items()}
    per_split = {split: task_metrics(task, predictions[split], labels[split]) for split in eval_sets}
    return Evaluation(split_metrics(task, per_split), predictions, labels)
