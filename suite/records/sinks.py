"""Where a cell's training curve goes besides its CSV: TensorBoard."""

from __future__ import annotations

from pathlib import Path

from suite.errors import SuiteError
from suite.records.formats import Row


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
