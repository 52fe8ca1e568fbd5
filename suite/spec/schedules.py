"""The schedules every method shares, as plain data: the training budget and the shape of gradual
pruning. Kept free of torch so that presets (and whatever reads them: validation of submitted
results, listings) load in a fraction of a second."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """The training budget shared by every method (and by the teacher)."""

    epochs: float = 3.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
    lr_schedule: str = "linear"  # "linear" decay to 0, or "constant"
    max_grad_norm: float = 1.0
    max_seq_length: int = 128
    max_steps: int | None = None  # overrides epochs when set
    # Batches of similar length (transformers' LengthGroupedSampler): the same examples, padded to
    # about half the length random batches need on GLUE. Every method gets the same batches;
    # `--batching random` restores shuffled batches.
    group_by_length: bool = True

    def __post_init__(self) -> None:
        if self.lr_schedule not in ("linear", "constant"):
            raise ValueError(f"lr_schedule must be 'linear' or 'constant', not {self.lr_schedule!r}")
        if self.epochs <= 0 or self.batch_size <= 0:
            raise ValueError("epochs and batch_size must be positive")

    def total_steps(self, n_examples: int) -> int:
        if self.max_steps is not None:
            return self.max_steps
        return max(1, math.ceil(self.epochs * math.ceil(n_examples / self.batch_size)))


def cubic_sparsity(step: int, total: int, final: float, initial: float = 0.0) -> float:
    """Zhu & Gupta (2017): s_t = s_f + (s_0 - s_f) (1 - t/T)^3, clamped to [0, T]."""
    progress = min(max(step / max(total, 1), 0.0), 1.0)
    return final + (initial - final) * (1.0 - progress) ** 3


@dataclass(frozen=True)
class PruningSchedule:
    """The one schedule shape every gradual pruning method follows: dense for the first `warmup`
    fraction of its steps, a cubic ramp to the final sparsity, then `cooldown` of the steps at final
    sparsity, so no method reaches its target with no steps left to recover."""

    warmup: float = 0.1
    cooldown: float = 0.2

    def __post_init__(self) -> None:
        if self.warmup < 0.0 or self.cooldown <= 0.0 or self.warmup + self.cooldown >= 1.0:
            raise ValueError(
                f"pruning schedule warmup {self.warmup:g} + cooldown {self.cooldown:g}: need warmup >= 0, "
                "cooldown > 0 and warmup + cooldown < 1 (the ramp must end before the last step)"
            )

    def ramp(self, total: int) -> tuple[int, int]:
        """(first step of the ramp, step at which final sparsity is reached); at least one step of
        ramp and one of cool-down whatever `total` is."""
        if total < 3:
            raise ValueError(f"a pruning schedule needs at least 3 steps, got {total}")
        start = min(round(self.warmup * total), total - 2)
        end = max(start + 1, min(total - round(self.cooldown * total), total - 1))
        return start, end

    def sparsity_at(self, step: int, total: int, final: float, initial: float = 0.0) -> float:
        start, end = self.ramp(total)
        if step <= start:
            return initial
        return cubic_sparsity(step - start, end - start, final, initial)
