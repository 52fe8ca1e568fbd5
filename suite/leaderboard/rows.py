"""Rows of a leaderboard table: a (role, method, budget) and how each kind of row is labelled.

A record's `role` (`suite.records.schema.ROLES`) says what its row is for: method rows are compared
and ranked, the teacher row shows what the distilling methods learned from (fewer lineage steps by
design), the trivial row is the task's data-only baseline. Records written before roles existed are
method rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from suite.records.schema import REFERENCE_BUDGET, ROLE_METHOD, ROLE_TEACHER, ROLE_TRIVIAL, role_of

REFERENCE_METHOD = "dense"


@dataclass(frozen=True, order=True)
class Row:
    role: str
    method: str
    budget: float

    @classmethod
    def of(cls, record: dict[str, Any]) -> Row:
        return cls(role_of(record), str(record["method"]), float(record["budget"]))

    @property
    def is_reference(self) -> bool:
        return self == REFERENCE

    @property
    def ranked(self) -> bool:
        """Only method rows compete; the teacher and the trivial baseline are shown for orientation."""
        return self.role == ROLE_METHOD

    def label(self, table_budget: float) -> str:
        # The run names the method of a teacher or trivial row after its role.
        if self.role == ROLE_TRIVIAL:
            return "trivial baseline" if self.method == ROLE_TRIVIAL else f"{self.method} (trivial baseline)"
        if self.role == ROLE_TEACHER:
            return "teacher" if self.method == ROLE_TEACHER else f"{self.method} (teacher)"
        return self.method if self.budget == table_budget else f"{self.method} (budget {self.budget:g})"


REFERENCE = Row(ROLE_METHOD, REFERENCE_METHOD, REFERENCE_BUDGET)


def row_name(row: Row) -> str:
    """A row named outside any one table: `heads@0.5`, `dense@1`, `teacher`, `trivial baseline`."""
    if row.role != ROLE_METHOD:
        return row.label(REFERENCE_BUDGET)
    return f"{row.method}@{row.budget:g}"
