"""Rows of a leaderboard table: a (role, method, budget) and how each kind of row is labelled.

A record's `role` says what its row is for: "method" rows are compared and ranked, the "teacher" row
shows what the distilling methods learned from (fewer lineage steps by design), the "trivial" row is
the task's data-only baseline. Records written before roles existed are method rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METHOD, TEACHER, TRIVIAL = "method", "teacher", "trivial"
ROLES = (METHOD, TEACHER, TRIVIAL)
REFERENCE_METHOD = "dense"
REFERENCE_BUDGET = 1.0


def role_of(record: dict[str, Any]) -> str:
    """The record's role; legacy records (no `role` field) are method rows."""
    role = record.get("role") or METHOD
    if role not in ROLES:
        raise ValueError(
            f"record {record.get('task')}/{record.get('method')}: unknown role {role!r}; expected one of {ROLES}"
        )
    return role


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
        return self.role == METHOD

    def label(self, table_budget: float) -> str:
        if self.role == TRIVIAL:
            return "trivial baseline" if self.method == TRIVIAL else f"{self.method} (trivial baseline)"
        if self.role == TEACHER:
            return "teacher" if self.method == TEACHER else f"{self.method} (teacher)"
        return self.method if self.budget == table_budget else f"{self.method} (budget {self.budget:g})"


REFERENCE = Row(METHOD, REFERENCE_METHOD, REFERENCE_BUDGET)


def row_name(row: Row) -> str:
    """A row named outside any one table: `heads@0.5`, `dense@1`, `teacher`, `trivial baseline`."""
    if row.role != METHOD:
        return row.label(REFERENCE_BUDGET)
    return f"{row.method}@{row.budget:g}"
