"""The two rules every cell obeys: the FLOP budget (with its tolerance) and the training rule (lineage steps)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# A cell is `ok` where its effective FLOP fraction is at most budget x (1 + this), else `over_budget`.
BUDGET_TOLERANCE = 0.01


def within_budget(fraction: float, budget: float, tolerance: float = BUDGET_TOLERANCE) -> bool:
    """The FLOP rule: `fraction` (effective FLOPs over the unpruned model's dense FLOPs) meets `budget`."""
    return fraction <= budget * (1.0 + tolerance) + 1e-12


STARTS = ("pretrained", "teacher")  # where a method's training begins


LINEAGE_MULTIPLE = 2  # lineage steps of every compared row, in teacher schedules (S)


@dataclass(frozen=True)
class Lineage:
    start: str  # "pretrained" | "teacher"
    own_steps: int
    inherited_steps: int

    @property
    def lineage_steps(self) -> int:
        return self.own_steps + self.inherited_steps

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lineage_steps": self.lineage_steps}


def teacher_lineage(teacher_steps: int) -> Lineage:
    return Lineage("pretrained", teacher_steps, 0)


def method_lineage(start: str, teacher_steps: int) -> Lineage:
    """Own steps that give a method starting at `start` the lineage LINEAGE_MULTIPLE x S."""
    if start not in STARTS:
        raise ValueError(f"unknown start {start!r}; expected one of {STARTS}")
    total = LINEAGE_MULTIPLE * teacher_steps
    if start == "teacher":
        return Lineage("teacher", total - teacher_steps, teacher_steps)
    return Lineage("pretrained", total, 0)
