"""Where a cell's training curve goes besides its CSV: TensorBoard (a sink of the ResultStore).

Here rather than in suite.records because TensorBoard's writer is torch's."""

from __future__ import annotations

import shutil
from pathlib import Path

from suite.errors import SuiteError
from suite.records.formats import CurveRow
from suite.records.layout import TENSORBOARD_DIR, Cell, cell_path


def summary_writer_class():
    """torch's SummaryWriter, or a one-line error where TensorBoard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise SuiteError(
            "--tensorboard needs TensorBoard: pip install tensorboard (or the suite's [tensorboard] extra)"
        ) from None
    return SummaryWriter


def write_tensorboard(log_dir: Path, rows: list[CurveRow]) -> None:
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


class TensorBoardSink:
    """Each curve also as a TensorBoard run under `<results>/tensorboard/<task>/<method>/<cell>`."""

    def curve_written(self, root: Path, cell: Cell, rows: list[CurveRow]) -> None:
        runs = cell_path(root / TENSORBOARD_DIR, cell.task, cell.method, cell.budget, cell.seed)
        run = runs.with_suffix("")
        shutil.rmtree(run, ignore_errors=True)  # a rerun replaces the cell's scalars, never repeats them
        write_tensorboard(run, rows)
