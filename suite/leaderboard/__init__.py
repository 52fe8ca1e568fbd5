"""Result records -> leaderboard: markdown tables, a CSV of every cell, plots and a README.

Reads result files only; never trains and never imports torch. The same records always give
byte-identical markdown and CSV.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from suite.leaderboard.frame import cells_csv, records_frame
from suite.leaderboard.readme import render_readme
from suite.leaderboard.tables import budget_table, render_markdown
from suite.results import read_records

__all__ = ["budget_table", "cells_csv", "records_frame", "render_markdown", "render_readme", "write_leaderboard"]

MARKDOWN, CSV, README = "leaderboard.md", "cells.csv", "README.md"


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_leaderboard(results_dir: Path, out: Path, title: str = "Leaderboard", plots: bool = True) -> list[Path]:
    """Write leaderboard.md, cells.csv, README.md and the plots into `out`; returns their paths."""
    records = read_records(results_dir)
    if not records:
        raise FileNotFoundError(f"no result records under {results_dir}")
    frame = records_frame(records)
    # Render everything before writing anything: a bad record leaves no half-updated leaderboard.
    texts = {
        MARKDOWN: render_markdown(frame, title),
        CSV: cells_csv(records),
        README: render_readme(records, title),
    }
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts.items():
        _write_text_atomic(out / name, text)
        paths.append(out / name)
    if plots:
        from suite.leaderboard.plots import write_plots  # matplotlib only when plots are asked for

        paths += write_plots(frame, out)
    return paths
