"""leaderboard.md: the headline, then per budget the score table, its notes and the difference tables."""

from __future__ import annotations

import pandas as pd

from suite.leaderboard.board import Board
from suite.leaderboard.headline import render_headline
from suite.leaderboard.notes import seeds_line, table_notes, tested_differences
from suite.leaderboard.question import render_question
from suite.leaderboard.rows import REFERENCE
from suite.leaderboard.tables import ENGINE_COLUMN, budget_table, difference_table, has_engine_figures, table_budgets
from suite.leaderboard.unverified import render_unverified


def _markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, disable_numparse=True)


def _engine_intro(board: Board) -> list[str]:
    """What the engine column is, where the board has one."""
    if not has_engine_figures(board):
        return []
    return [
        f"`{ENGINE_COLUMN}`: the row's best batch-32 speedup on an exported-model engine, each over the same",
        "engine's unpruned model at the same precision, and which engine and precision gave it (PyTorch's",
        "figure is the column before it); the scores are PyTorch's. See *FLOP budget and realized speedup*",
        "in the README.",
    ]


def render_markdown(board: Board, title: str = "Leaderboard") -> str:
    parts = [
        f"# {title}",
        "",
        "Primary GLUE dev metric per task (0-100): mean over seeds, then the 95% paired-bootstrap CI over",
        "dev examples in brackets (only where every seed has per-example predictions), then where n > 1 the",
        "spread over seeds in parentheses (lowest..highest seed, sample sd): the CI covers dev-set sampling,",
        "the spread training randomness. `average`: per seed the mean over the average's tasks, then over",
        "seeds. FLOP fraction (effective FLOPs / dense FLOPs of the unpruned model), measured batch-32 CPU",
        "speedup over the unpruned model, nonzero parameters and training compute (own plus teacher's,",
        "relative to the reference row on the same task) are means over every `ok` cell of the row.",
        "**Bold**: best ranked row of the budget. `dense (budget 1)` is the reference; the teacher and the",
        "trivial baseline are shown for orientation and never ranked. Differences carry † where their 95% CI",
        "excludes 0 and, where the two rows share 2 or more seeds, every seed's own difference has the sign",
        "of the mean difference; where only the seeds stop a call, the cell says how many agree",
        "(`2 of 3 seeds agree`). With fewer shared seeds the CI alone decides. `failed`, `over budget` and",
        "`not verified` cells (an `ok` score no predictions sidecar reproduces: see *Not verified*) are",
        "counted in parentheses and left out of every mean; `–`: no result (not run, e.g. a budget the",
        "method cannot reach by design: see its card).",
        *_engine_intro(board),
        "How the numbers are made: [README.md](README.md).",
        "",
        *render_headline(board),
    ]
    if question := render_question(board):
        parts += ["", *question]
    for budget in table_budgets(board):
        parts += ["", f"## Budget {budget:g} (effective FLOPs ≤ {budget:g} × dense)", "", seeds_line(board, budget), ""]
        parts.append(_markdown(budget_table(board, budget)))
        notes = table_notes(board, budget)
        if notes:
            parts += ["", *(f"- {note}" for note in notes)]
        if tested_differences(board, budget):
            parts += ["", f"Difference to the reference ({REFERENCE.method}, budget 1), per task:", ""]
            parts.append(_markdown(difference_table(board, budget, to_best=False)))
            parts += ["", "Difference to the best row of this budget in each column:", ""]
            parts.append(_markdown(difference_table(board, budget, to_best=True)))
    if board.unverified:
        parts += ["", *render_unverified(board)]
    return "\n".join(parts) + "\n"
