"""Training curves: a few scalars of a cell's training, every `every` steps and at the last step.

A row holds `step`, `loss`, `lr` (the shared schedule's learning rate at that step), `flop_fraction`
(effective FLOPs of the model as it trains over the unpruned model's dense FLOPs) and, where the
method's loss has named terms (the distillation terms), one `loss_<term>` column per term. Rows are
plain data: they travel with the cell's result to the process that writes the results folder, which
writes them as CSV beside the record (and, on request, as TensorBoard scalars).
"""

from __future__ import annotations

from suite.records.formats import CurveRow


class TrainingCurve:
    """Collects the rows during training; `due(step)` says whether `step` gets one."""

    def __init__(self, every: int, total_steps: int) -> None:
        if every < 1:
            raise ValueError(f"a training curve needs an interval of at least 1 step, got {every}")
        self.every, self.total_steps = every, total_steps
        self.rows: list[CurveRow] = []

    def due(self, step: int) -> bool:
        return step % self.every == 0 or step == self.total_steps

    def add(self, step: int, loss: float, lr: float, flop_fraction: float, parts: dict[str, float]) -> None:
        row = {"step": step, "loss": loss, "lr": lr, "flop_fraction": flop_fraction}
        row.update({f"loss_{name}": value for name, value in parts.items()})
        self.rows.append(row)
