"""Result records -> leaderboard: markdown tables with bootstrap CIs, a CSV of every cell, plots and a README.

Reads result files (and their predictions sidecars) only; never trains and never imports torch. The
same records always give byte-identical markdown and CSV.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from suite.errors import SuiteError
from suite.leaderboard.board import Board, build_board
from suite.leaderboard.bootstrap import RESAMPLES
from suite.leaderboard.cells_csv import cells_csv
from suite.leaderboard.frame import records_frame
from suite.leaderboard.markdown import render_markdown
from suite.leaderboard.merge import Merged, merge_results, read_cells
from suite.leaderboard.readme import CSV, MARKDOWN, README, render_readme
from suite.leaderboard.tables import budget_table, difference_table
from suite.records.atomic import current_file_mode, write_bytes_atomic

__all__ = [
    "Board",
    "Merged",
    "budget_table",
    "build_board",
    "cells_csv",
    "difference_table",
    "merge_results",
    "read_cells",
    "records_frame",
    "render_markdown",
    "render_readme",
    "write_leaderboard",
]

log = logging.getLogger(__name__)


def write_leaderboard(
    results_dir: Path | str | Sequence[Path],
    out: Path,
    title: str = "Leaderboard",
    plots: bool = True,
    resamples: int = RESAMPLES,
) -> list[Path]:
    """Write leaderboard.md, cells.csv, README.md and the plots into `out`; returns their paths.

    Several folders are merged as `merge_results` says, each record left out logged as one warning.
    Nothing is written unless every record checks out (see `checks`) and everything rendered.
    Each file is written atomically, with the mode the umask gives a new file as it is at this call."""
    if out.exists() and not out.is_dir():
        raise SuiteError(f"output folder {out} is an existing file, not a folder; pass a folder with --out")
    folders = [Path(results_dir)] if isinstance(results_dir, (str, Path)) else [Path(f) for f in results_dir]
    merged = merge_results(folders)
    for line in merged.refused:
        log.warning("left out %s", line)
    cells = merged.cells
    if not cells:
        raise FileNotFoundError(f"no result records under {', '.join(map(str, folders))}")
    board = build_board(cells, resamples)
    # Render everything before writing anything: a bad record leaves no half-updated leaderboard.
    files: dict[str, str | bytes] = {
        MARKDOWN: render_markdown(board, title),
        CSV: cells_csv(board),
        README: render_readme(board, title),
    }
    if plots:
        from suite.leaderboard.plots import render_plots  # matplotlib only when plots are asked for

        files.update(render_plots(board))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SuiteError(f"cannot create the output folder {out} ({exc.strerror or exc}); pass another --out") from None
    mode = current_file_mode()  # the umask, read once per leaderboard
    paths = []
    for name, data in files.items():
        write_bytes_atomic(out / name, data.encode("utf-8") if isinstance(data, str) else data, mode)
        paths.append(out / name)
    return paths
