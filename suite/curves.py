"""Training curves: a few scalars of a cell's training, every `every` steps and at the last step.

A row holds `step`, `loss`, `lr` (the shared schedule's learning rate at that step), `flop_fraction`
(effective FLOPs of the model as it trains over the unpruned model's dense FLOPs) and, where the
method's loss has named terms (the distillation terms), one `loss_<term>` column per term. Rows are
plain data: they travel with the cell's result to the process that writes the results folder, which
writes them as CSV beside the record (and, on request, as TensorBoard scalars).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from suite.errors import SuiteError

CURVE_SUFFIX = ".curve.csv"
FIRST_COLUMNS = ("step", "loss", "lr", "flop_fraction")
DEFAULT_EVERY = 10

Row = dict[str, float]


class TrainingCurve:
    """Collects the rows during training; `due(step)` says whether `step` gets one."""

    def __init__(self, every: int, total_steps: int) -> None:
        if every < 1:
            raise ValueError(f"a training curve needs an interval of at least 1 step, got {every}")
        self.every, self.total_steps = every, total_steps
        self.rows: list[Row] = []

    def due(self, step: int) -> bool:
        return step % self.every == 0 or step == self.total_steps

    def add(self, step: int, loss: float, lr: float, flop_fraction: float, parts: dict[str, float]) -> None:
        row = {"step": step, "loss": loss, "lr": lr, "flop_fraction": flop_fraction}
        row.update({f"loss_{name}": value for name, value in parts.items()})
        self.rows.append(row)


def columns(rows: list[Row]) -> list[str]:
    """The fixed columns, then every loss term any row has, in order of appearance."""
    extra = dict.fromkeys(name for row in rows for name in row if name not in FIRST_COLUMNS)
    return [*FIRST_COLUMNS, *extra]


def to_csv(rows: list[Row]) -> str:
    """The rows as CSV text (a term missing from a row is an empty cell)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def curve_path(record_path: Path) -> Path:
    return record_path.with_name(record_path.stem + CURVE_SUFFIX)


def summary_writer_class():
    """torch's SummaryWriter, or a one-line error where TensorBoard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise SuiteError(
            "--tensorboard needs TensorBoard: pip install tensorboard (or the suite's [tensorboard] extra)"
        ) from None
    return SummaryWriter


def write_tensorboard(log_dir: Path, rows: list[Row]) -> None:
    """The same scalars as the CSV, one TensorBoard run per cell (tags `train/<column>`)."""
    writer = summary_writer_class()(log_dir=str(log_dir))
    try:
        for row in rows:
            step = int(row["step"])
            for name, value in row.items():
                if name != "step":
                    writer.add_scalar(f"train/{name}", value, step)
    finally:
        writer.close()
