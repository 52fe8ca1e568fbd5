"""What a set of records must satisfy before it becomes one leaderboard.

Each record must pass `suite.records.checks.check_record`. Each cell (task, method, budget, seed) may
have one record only: a second one (a copied file, say) is not another seed. And every record must come
from one model and one configuration (`suite.records.checks.identity`): the leaderboard refuses a mix
rather than averaging it into one row.

Every violation is one SuiteError naming the file(s) and the field, with what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from suite.records.checks import FIX_MIX, RecordError, Scope, check_record, difference, remember, shown, where
from suite.records.layout import Cell
from suite.records.reader import RecordFile


def check_duplicates(cells: Sequence[RecordFile]) -> None:
    """One record per (task, method, budget, seed): a second file for a cell is not another seed."""
    seen: dict[Cell, int] = {}
    for i, cell in enumerate(cells):
        key = Cell.of_record(cell.record)
        if key in seen:
            first = seen[key]
            raise RecordError(
                f"two records for {key.task}/{key.method} budget {key.budget:g} seed {key.seed}: "
                f"{where(cells[first], first)}"
                f" and {where(cell, i)}; keep one (move or delete the other)"
            )
        seen[key] = i


def check_configs(cells: Sequence[RecordFile]) -> None:
    """Every setting any two records both carry is equal (per task for PER_TASK settings)."""
    seen: dict[Scope, tuple[Any, int]] = {}
    for i, cell in enumerate(cells):
        found = difference(seen, cell.record)
        if found is not None:
            first = cells[found.seen_at]
            raise RecordError(
                f"{where(first, found.seen_at)} and {where(cell, i)} differ in {found.field}"
                f" ({shown(found.seen)} in the first, {shown(found.value)} in the second); {FIX_MIX}"
            )
        remember(seen, cell.record, i)


def check_cells(cells: Sequence[RecordFile]) -> None:
    for i, cell in enumerate(cells):
        check_record(cell, i)
    check_duplicates(cells)
    check_configs(cells)
