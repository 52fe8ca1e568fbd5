"""The training rule: every model in a task's table has seen the same number of task optimizer
steps counted from the pre-trained checkpoint (its lineage steps).

The teacher trains S steps (the preset's schedule). A method that starts from the teacher trains S
more; a method that starts from the pre-trained checkpoint, the uncompressed reference included,
trains 2S. The teacher's own row keeps its S.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
