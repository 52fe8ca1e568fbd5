"""Result records -> leaderboard: markdown tables with bootstrap CIs, a CSV of every cell, plots and a README.

Reads result files (and their predictions sidecars) only; never trains and never imports torch. The
same records always give byte-identical markdown and CSV.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from suite.errors import SuiteError
from suite.leaderboard.board import Board, build_board
from suite.leaderboard.bootstrap import RESAMPLES
from suite.leaderboard.cells_csv import cells_csv
from suite.leaderboard.files import CSV, DIFFERENCE_PLOT, FLOPS_PLOT, MARKDOWN, README, SPEEDUP_PLOT
from suite.leaderboard.frame import records_frame
from suite.leaderboard.markdown import render_markdown
from suite.leaderboard.merge import Merged, merge_results, read_cells
from suite.leaderboard.readme import render_readme
from suite.leaderboard.tables import budget_table, difference_table
from suite.records.atomic import current_file_mode

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
    left_off: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write leaderboard.md, cells.csv, README.md and the plots into `out`; returns their paths.

    Several folders are merged as `merge_results` says, each record left out logged as one warning,
    and so is each `ok` record whose score is not verified (the board lists it, unranked). Nothing is
    written unless every record checks out (see `checks`) and everything rendered; then the files are
    written as one set (`_swap_in`), with the mode the umask gives a new file as it is at this call."""
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
    for item in board.unverified:
        log.warning("not verified, not ranked: %s", "; ".join(item.problems))
    # Render everything before writing anything: a bad record leaves no half-updated leaderboard.
    files: dict[str, str | bytes] = {
        MARKDOWN: render_markdown(board, title),
        CSV: cells_csv(board),
        README: render_readme(board, title, left_off),
    }
    if plots:
        from suite.leaderboard.plots import render_plots  # matplotlib only when plots are asked for

        files.update(render_plots(board))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SuiteError(f"cannot create the output folder {out} ({exc.strerror or exc}); pass another --out") from None
    blobs = {name: data.encode("utf-8") if isinstance(data, str) else data for name, data in files.items()}
    # A plot this board has nothing to draw for must not survive from an earlier board beside it.
    stale = [name for name in PLOTS if name not in blobs] if plots else []
    return _swap_in(out, blobs, stale, current_file_mode())  # the umask, read once per leaderboard


PLOTS = (FLOPS_PLOT, SPEEDUP_PLOT, DIFFERENCE_PLOT)


def _swap_in(out: Path, files: dict[str, bytes], stale: list[str], mode: int) -> list[Path]:
    """Every file written completely into a temporary folder inside `out` first (named as the results'
    temporary files are, `.<name>.<random>.tmp`, so a run's cleaner removes one a kill left), then each
    renamed over its old copy: a failure or kill while writing leaves the old board whole, and the swap
    itself is a handful of renames on one filesystem; the `stale` files of an earlier board go last.
    Nothing else in `out` (a results folder inside it, say) is touched."""
    try:
        stage = Path(tempfile.mkdtemp(dir=out, prefix=".leaderboard.", suffix=".tmp"))
    except OSError as exc:
        problem = exc.strerror or exc
        raise SuiteError(f"cannot write into the output folder {out} ({problem}); pass another --out") from None
    try:
        for name, blob in files.items():
            with open(stage / name, "wb") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())  # on disk before any old file is replaced
            os.chmod(stage / name, mode)
        for name in files:
            os.replace(stage / name, out / name)
        for name in stale:
            (out / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return [out / name for name in files]
