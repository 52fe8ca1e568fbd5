"""The lines under each table and atop the headline: seeds, missing CIs, the signal check, the training
rule, unequal tuning.

Each says what qualifies the numbers next to it, so a reader never has to find it in the README.
"""

from __future__ import annotations

from collections import Counter

from suite.leaderboard.board import Board
from suite.leaderboard.rows import Row
from suite.leaderboard.signal_check import NO_SIGNAL, NOT_RUN, SIGNAL
from suite.leaderboard.tables import compared_differences, table_rows
from suite.leaderboard.teacher_check import weak_teachers
from suite.leaderboard.training_rule import LEGACY_NOTE, violations
from suite.leaderboard.tuning import tuning_notes


def seeds_line(board: Board, budget: float) -> str:
    """n (seeds) said once per table; rows (or cells) that differ from the usual n are named."""
    counts: dict[Row, dict[str, int]] = {}
    for row in table_rows(board, budget):
        per_task = {task: len(board.seeds(row, task)) for task in board.tasks if board.seeds(row, task)}
        if per_task:
            counts[row] = per_task
    if not counts:
        return "No scores in this table yet."
    usual = Counter(n for per_task in counts.values() for n in per_task.values()).most_common(1)[0][0]
    odd = []
    for row, per_task in counts.items():
        if set(per_task.values()) == {usual}:
            continue
        if len(set(per_task.values())) == 1:
            odd.append(f"{row.label(budget)}: n = {next(iter(per_task.values()))}")
        else:
            odd += [f"{row.label(budget)} {task}: n = {n}" for task, n in per_task.items() if n != usual]
    line = f"Seeds per cell: n = {usual}"
    return line + (f", except {'; '.join(odd)}." if odd else ".")


def interval_notes(board: Board, budget: float) -> list[str]:
    """Which rows show no CI, said in as few words as the table allows."""
    rows = table_rows(board, budget)
    has: dict[Row, list[bool]] = {
        row: [s.draws is not None for task in board.tasks for s in board.seeds(row, task).values()] for row in rows
    }
    with_ci = [row for row in rows if has[row] and all(has[row])]
    without = [row for row in rows if has[row] and not any(has[row])]
    partly = [row for row in rows if has[row] and any(has[row]) and not all(has[row])]
    if not with_ci and not partly and without:
        return [
            "No 95% CIs: these records have no per-example predictions (they predate them), so scores are"
            " shown alone and no difference between rows is tested."
        ]
    notes = []
    if without and len(without) > len(with_ci):
        names = ", ".join(row.label(budget) for row in with_ci)
        notes.append(f"CIs only for {names}: the other rows' records have no per-example predictions.")
    elif without:
        names = ", ".join(row.label(budget) for row in without)
        notes.append(f"No CI for {names}: their records have no per-example predictions.")
    for row in partly:
        lacking = [t for t in board.tasks if any(s.draws is None for s in board.seeds(row, t).values())]
        notes.append(
            f"No CI for {row.label(budget)} on {', '.join(lacking)}: a seed there has no per-example predictions."
        )
    return notes


def tested_differences(board: Board, budget: float) -> bool:
    """Whether any compared row of this table has bootstrap draws: else a difference table tests nothing."""
    return any(
        s.draws is not None
        for row in table_rows(board, budget)
        if row.ranked
        for task in board.tasks
        for s in board.seeds(row, task).values()
    )


# Why a call with no seed check is weaker, said wherever one is made (under a table, in the headline).
BOOTSTRAP_ALONE = (
    "the bootstrap CI alone decides: it covers dev-set sampling, not training randomness, and one seed carries none"
)


def seed_notes(board: Board, budget: float) -> list[str]:
    """Whether some tested differences of this table had no seed check (the rows share fewer than 2 seeds)."""
    tested = [d for d in compared_differences(board, budget) if d.ci is not None]
    alone = [d for d in tested if not d.seed_check.applies]
    if not alone:
        return []
    if len(alone) == len(tested):
        return [f"Every difference below is between rows that share fewer than 2 seeds, so {BOOTSTRAP_ALONE}."]
    return [
        "Some differences below are between rows that share fewer than 2 seeds (the seed counts above say"
        f" which rows): for those {BOOTSTRAP_ALONE}."
    ]


def signal_flags(board: Board) -> list[str]:
    """Tasks flagged for no signal, then those the check could not run on (one line per shared reason)."""
    notes = [board.signal[t].note() for t in board.tasks if board.signal[t].verdict == NO_SIGNAL]
    not_run: dict[str, list[str]] = {}
    for task in board.tasks:
        check = board.signal[task]
        if check.verdict == NOT_RUN:
            not_run.setdefault(check.reason, []).append(task)
    for reason, tasks in not_run.items():
        shared = len(tasks) > 1
        notes.append(
            f"Signal check not run ({reason}): {', '.join(tasks)}." if shared else board.signal[tasks[0]].note()
        )
    return notes


def teacher_flags(board: Board) -> list[str]:
    """The (task, seed) teachers that learned nothing the trivial baseline does not: the rows of that seed
    that start from or distil from them inherit it."""
    return [weak.note() for weak in weak_teachers(board)]


def signal_notes(board: Board) -> list[str]:
    notes = signal_flags(board)
    passed = [f"{t} ({board.signal[t].reason})" for t in board.tasks if board.signal[t].verdict == SIGNAL]
    if passed:
        notes.append("Reference significantly above the trivial baseline: " + "; ".join(passed) + ".")
    left_out = [t for t in board.tasks if t not in board.average_tasks]
    if left_out:
        spans = ", ".join(board.average_tasks) or "no task"
        notes.append(f"`average` over {spans}; left out (no signal): {', '.join(left_out)}.")
    return notes


def training_notes(board: Board) -> list[str]:
    notes = []
    notes += violations(board.tasks, board.lineage)
    legacy = {task: board.lineage[task].legacy for task in board.tasks if board.lineage[task].legacy}
    if legacy and not any(board.lineage[t].steps for t in board.tasks):
        notes.append(f"Training rule: these records predate it ({LEGACY_NOTE}).")
    elif legacy:
        named = "; ".join(f"{task}: {', '.join(r.label(r.budget) for r in rows)}" for task, rows in legacy.items())
        notes.append(f"Rows written before the training rule ({LEGACY_NOTE}): {named}.")
    recorded = []
    for task in board.tasks:
        check = board.lineage[task]
        if check.consistent and check.common_steps is not None:
            teacher = f", teacher {'/'.join(map(str, check.teacher))}" if check.teacher else ""
            recorded.append(f"{task} {check.common_steps}{teacher}")
    if recorded:
        shared = "; ".join(recorded)
        notes.append(f"Lineage steps of every method row (task steps from the pre-trained model): {shared}.")
    return notes


def table_notes(board: Board, budget: float) -> list[str]:
    return [
        *interval_notes(board, budget),
        *seed_notes(board, budget),
        *signal_notes(board),
        *teacher_flags(board),
        *training_notes(board),
        *tuning_notes(board, budget),
    ]
