"""Result records -> leaderboard: markdown tables with bootstrap CIs, a CSV of every cell, plots and a README.

Reads result files (and their predictions sidecars) only; never trains and never imports torch. The
same records always give byte-identical markdown and CSV.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from suite.leaderboard.board import Board, build_board
from suite.leaderboard.bootstrap import RESAMPLES
from suite.leaderboard.export import cells_csv
from suite.leaderboard.files import CSV, MARKDOWN, README
from suite.leaderboard.frame import records_frame
from suite.leaderboard.markdown import render_markdown
from suite.leaderboard.readme import render_readme
from suite.leaderboard.records import Cell, read_cells
from suite.leaderboard.sidecars import PredictionsError
from suite.leaderboard.tables import budget_table, difference_table

__all__ = [
    "Board",
    "Cell",
    "PredictionsError",
    "budget_table",
    "build_board",
    "cells_csv",
    "difference_table",
    "read_cells",
    "records_frame",
    "render_markdown",
    "render_readme",
    "write_leaderboard",
]


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_leaderboard(
    results_dir: Path, out: Path, title: str = "Leaderboard", plots: bool = True, resamples: int = RESAMPLES
) -> list[Path]:
    """Write leaderboard.md, cells.csv, README.md and the plots into `out`; returns their paths."""
    cells = read_cells(results_dir)
    if not cells:
        raise FileNotFoundError(f"no result records under {results_dir}")
    board = build_board(cells, resamples)
    # Render everything before writing anything: a bad record leaves no half-updated leaderboard.
    texts = {
        MARKDOWN: render_markdown(board, title),
        CSV: cells_csv(board),
        README: render_readme(board, title),
    }
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts.items():
        _write_text_atomic(out / name, text)
        paths.append(out / name)
    if plots:
        from suite.leaderboard.plots import write_plots  # matplotlib only when plots are asked for

        paths += write_plots(board, out)
    return paths
