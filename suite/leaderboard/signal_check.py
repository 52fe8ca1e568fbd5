"""Is there anything to compare on a task? The reference row against the task's trivial baseline.

A reference that does not beat predicting the majority class (or a constant) has learned nothing the
table can rank methods by; averaging such a task into the GLUE score would only add noise, so it is
flagged and left out of the average, with the reason under its table.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite.leaderboard.bootstrap import shown
from suite.leaderboard.estimates import Estimate

SIGNAL, NO_SIGNAL, NOT_RUN = "signal", "no signal", "not run"


@dataclass(frozen=True)
class SignalCheck:
    task: str
    verdict: str  # SIGNAL | NO_SIGNAL | NOT_RUN
    reason: str  # why, in a few words, for the note under the tables and the headline

    @property
    def in_average(self) -> bool:
        # A check that could not run keeps the task: nothing shows that it lacks signal.
        return self.verdict != NO_SIGNAL

    def note(self) -> str:
        if self.verdict == NO_SIGNAL:
            return f"{self.task}: **no signal at this training scale**: {self.reason}; left out of the average."
        if self.verdict == NOT_RUN:
            return f"{self.task}: signal check not run: {self.reason}."
        return f"{self.task}: signal: {self.reason}."


def check_signal(task: str, reference: Estimate | None, trivial: Estimate | None) -> SignalCheck:
    """Paired bootstrap where both rows have predictions; else the plain scores, and only to flag."""
    if reference is None:
        return SignalCheck(task, NOT_RUN, "no reference row (dense, budget 1) with a score")
    if trivial is None:
        return SignalCheck(task, NOT_RUN, "no trivial-baseline record")
    scores = f"reference {reference.value:.1f}, trivial baseline {trivial.value:.1f}"
    difference = reference.minus(trivial)
    ci = difference.ci
    if ci is not None:
        tested = f"{scores}, difference {shown(difference.value, 1):+.1f} (95% CI {ci.text(sep='..')})"
        if ci.low > 0:
            return SignalCheck(task, SIGNAL, tested)
        return SignalCheck(task, NO_SIGNAL, f"{tested}: the reference is not significantly above the baseline")
    if reference.value <= trivial.value:
        return SignalCheck(task, NO_SIGNAL, f"{scores}: the reference does not beat the baseline (no CI)")
    return SignalCheck(task, NOT_RUN, f"{scores}; without per-example predictions the difference cannot be tested")
