"""The `ok` records whose score did not check out: one line atop the headline, and a section listing
each with the reason, so a reader sees what the tables leave out and why."""

from __future__ import annotations

import os

from suite.leaderboard.board import Board, Unverified
from suite.leaderboard.rows import Row, row_name

HEADING = "## Not verified"


def reason(item: Unverified) -> str:
    """The problems of one record without its folder's path: the same records give the same text
    wherever the results folder lies."""
    path = item.cell.path
    lines = []
    for line in item.problems:
        if path is not None:
            line = line.removeprefix(f"{path}: ").replace(f"{path.parent}{os.sep}", "")
        lines.append(line)
    return "; ".join(lines)


def _cell(item: Unverified) -> str:
    record = item.cell.record
    return f"{record['task']} {row_name(Row.of(record))} seed {record['seed']}"


def unverified_summary(board: Board) -> str | None:
    """The headline's line, where any record is not verified."""
    n = len(board.unverified)
    if not n:
        return None
    records = "record is" if n == 1 else "records are"
    return (
        f"**{n} `ok` {records} not verified** (their score is not reproduced by a predictions sidecar, or"
        " is not a score its metric can give): left out of every mean, ranking, difference and plot;"
        " listed under *Not verified* with the reason."
    )


def render_unverified(board: Board) -> list[str]:
    """The section: one line per distinct reason, naming every record it holds for."""
    if not board.unverified:
        return []
    by_reason: dict[str, list[str]] = {}
    for item in board.unverified:
        by_reason.setdefault(reason(item), []).append(_cell(item))
    lines = [
        HEADING,
        "",
        "Records with status `ok` whose score `python -m suite validate` would not accept (cell: task,",
        "row, seed). Their cells read `not verified` in the tables; recompute them with",
        "`python -m suite run` (a finished cell without a sidecar that checks out is computed again).",
        "",
    ]
    lines += [f"- {text}: {', '.join(sorted(cells))}." for text, cells in sorted(by_reason.items())]
    return lines
