"""The headline: per budget, methods ranked by GLUE average, with which gaps the data can call.

This is the one question the suite exists to answer (at the same FLOP budget, which method keeps the
most accuracy?), stated from the records alone so that it can never drift from the tables. Neighbours
in a ranking are joined by ">" only where the difference is called (`Estimate.called`: the paired
bootstrap CI excludes 0 and, where they share 2 or more seeds, the seeds agree), "≈" where it is not;
without per-example predictions nothing is tested and the text says so.
"""

from __future__ import annotations

import itertools

from suite.leaderboard.board import Board, ranked
from suite.leaderboard.bootstrap import shown
from suite.leaderboard.estimates import Estimate
from suite.leaderboard.notes import BOOTSTRAP_ALONE, signal_flags, teacher_flags
from suite.leaderboard.rows import REFERENCE
from suite.leaderboard.tables import table_budgets
from suite.leaderboard.training_rule import violations
from suite.leaderboard.unverified import unverified_summary
from suite.records.schema import REFERENCE_BUDGET, ROLE_TEACHER, ROLE_TRIVIAL


def _seeds(difference: Estimate) -> str:
    """`, 3 of 3 seeds agree` where the seed check applies; nothing where the rows share fewer seeds."""
    check = difference.seed_check
    return f", {check.text()}" if check.applies else ""


def _gap(difference: Estimate) -> str:
    ci = difference.ci
    text = f"{shown(difference.value, 1):+.1f} points vs the reference"
    return text + (f", 95% CI {ci.text(sep='..')}{_seeds(difference)}" if ci is not None else "")


def _best(best: Estimate, reference: Estimate | None) -> str:
    """What follows the best row's average: its spread over seeds and its gap to the reference."""
    parts = [spread.text()] if (spread := best.spread) is not None else []
    if reference is not None:
        parts.append(_gap(best.minus(reference)))
    return f" ({'; '.join(parts)})" if parts else ""


def ranking_text(entries: list[tuple[str, Estimate]]) -> str:
    """`heads 61.2 ≈ ksp 60.8 (difference 0.4, 95% CI -1.1..2.0) > distill 52.9 (...)`; where the
    neighbours share 2 or more seeds, the seed check follows the CI (`..., 3 of 3 seeds agree`)."""
    text = f"{entries[0][0]} {entries[0][1].value:.1f}"
    for (_, upper), (name, lower) in itertools.pairwise(entries):
        difference = upper.minus(lower)
        ci = difference.ci
        if ci is None:
            text += f", {name} {lower.value:.1f}"
            continue
        relation = ">" if difference.called else "≈"
        gap = shown(difference.value, 1)
        text += f" {relation} {name} {lower.value:.1f} (difference {gap:.1f}, 95% CI {ci.text(sep='..')}"
        text += f"{_seeds(difference)})"
    return text


def _neighbour_gaps(board: Board) -> list[Estimate]:
    """The tested differences between neighbours of every budget's ranking."""
    gaps = []
    for budget in table_budgets(board):
        entries = [estimate for _, estimate in ranked(board, budget)] if budget != REFERENCE_BUDGET else []
        gaps += [upper.minus(lower) for upper, lower in itertools.pairwise(entries)]
    return [gap for gap in gaps if gap.ci is not None]


def seed_line(board: Board) -> list[str]:
    """Said once where a ranking's call rests on the bootstrap alone (neighbours sharing fewer than 2 seeds)."""
    gaps = _neighbour_gaps(board)
    alone = [gap for gap in gaps if not gap.seed_check.applies]
    if not alone:
        return []
    which = "Every gap in the rankings below is" if len(alone) == len(gaps) else "Gaps below without a seed count are"
    return [f"{which} between rows that share fewer than 2 seeds, so {BOOTSTRAP_ALONE}."]


def _orientation(board: Board) -> str:
    """Reference, teacher and trivial averages in one line."""
    parts = []
    for label, rows in (
        ("reference (dense, budget 1)", [REFERENCE]),
        ("teacher", [r for r in board.rows() if r.role == ROLE_TEACHER]),
        ("trivial baseline", [r for r in board.rows() if r.role == ROLE_TRIVIAL]),
    ):
        for row in rows:
            average = board.average(row)
            if average is not None:
                ci = average.ci
                parts.append(f"{label} {average.value:.1f}" + (f" (95% CI {ci.text(sep='..')})" if ci else ""))
    tasks = ", ".join(board.average_tasks) or "no task"
    return f"- GLUE average over {tasks}: " + ("; ".join(parts) if parts else "no reference yet") + "."


def headline_lines(board: Board) -> list[str]:
    lines = []
    if (summary := unverified_summary(board)) is not None:
        lines.append(f"- {summary}")
    lines += [f"- {warning}" for warning in violations(board.tasks, board.lineage)]
    lines += [f"- {note}" for note in signal_flags(board)]
    lines += [f"- {note}" for note in teacher_flags(board)]
    lines.append(_orientation(board))
    lines += [f"- {line}" for line in seed_line(board)]
    reference = board.average(REFERENCE)
    for budget in table_budgets(board):
        if budget == REFERENCE_BUDGET:
            continue
        entries = ranked(board, budget)
        present = {r.method for r in board.rows() if r.ranked and r.budget == budget}
        missing = sorted(present - {row.method for row, _ in entries})
        if not entries:
            line = f"- Budget {budget:g}: no method has a score on every task of the average yet."
        else:
            best_row, best = entries[0]
            line = f"- Budget {budget:g}: best **{best_row.method}** {best.value:.1f}{_best(best, reference)}"
            named = [(row.method, estimate) for row, estimate in entries]
            if all(e.draws is not None for _, e in named):
                line += ". Ranking: " + ranking_text(named) + "."
            else:
                line += ". Ordered by average, differences not tested (no per-example predictions): "
                line += ranking_text(named) + "."
        if missing:
            line += f" Not ranked (a task failed, over budget, not verified or not run yet): {', '.join(missing)}."
        lines.append(line)
    return lines


def render_headline(board: Board) -> list[str]:
    return [
        "## Headline",
        "",
        "GLUE average (mean over seeds) over every task not flagged for lack of signal (reference not",
        "above its trivial baseline); a method is ranked at a budget only when it has an `ok` score on",
        "every one of them, each verified. `>`: the paired-bootstrap 95% CI of the difference excludes 0",
        "and, where the two rows share 2 or more seeds, every seed's own difference has the sign of the",
        "mean difference (`3 of 3 seeds agree`); `≈`: not both (no call). With fewer shared seeds the CI",
        "alone decides, and it covers dev-set sampling only: one seed carries no training randomness.",
        "",
        *headline_lines(board),
    ]
