"""Presets: a whole experiment as data. Any field can be overridden from the command line."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from suite.errors import SuiteError
from suite.spec.cell_timeout import AUTO, CellTimeout
from suite.spec.schedules import PruningSchedule, TrainConfig
from suite.spec.splits import DEV, HeldoutRule

# Steps between two rows of a cell's training curve (not part of the config hash).
DEFAULT_EVERY = 10


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: str
    tasks: tuple[str, ...]
    budgets: tuple[float, ...]
    seeds: tuple[int, ...]
    train: TrainConfig
    max_train_samples: int | None = None
    max_eval_samples: int | None = None  # None: the whole dev split
    data_seed: int = 0  # the train subsample is the same for every seed and method
    # Part of the training data no row trains on (suite.spec.splits): examples, or a fraction in (0, 1).
    heldout: HeldoutRule | None = None
    eval_split: str = DEV  # what cells are scored on: dev, or the held-out part ("heldout")
    flop_seq_len: int = 128
    latency_batches: tuple[int, ...] = (1, 32)
    latency_repeats: int = 5
    # Exported-model engines every cell is also timed on (suite.compute.engines), beside PyTorch; what is
    # measured, not what a cell computes, so out of the config hash.
    latency_engines: tuple[str, ...] = ()
    # Per-task epochs (the paper trains small tasks longer); overrides train.epochs.
    task_epochs: dict[str, float] = field(default_factory=dict)
    # The shape of every gradual pruning schedule: dense warm-up, cubic ramp, cool-down (fractions
    # of a cell's own steps). 10% / 70% / 20% is movement pruning's published split.
    pruning_schedule: PruningSchedule = field(default_factory=PruningSchedule)
    # A training-curve row every this many steps (and at the last): what is logged, not what is
    # trained, so it stays out of the config hash.
    curve_every: int = DEFAULT_EVERY
    # How long a cell may run before it is recorded failed (suite.spec.cell_timeout): when a hung cell
    # is given up on, not what a cell computes, so it stays out of the config hash too.
    cell_timeout: CellTimeout = AUTO

    def train_for(self, task: str) -> TrainConfig:
        if task in self.task_epochs:
            return replace(self.train, epochs=self.task_epochs[task])
        return self.train

    def with_overrides(self, **overrides) -> Preset:
        """Apply CLI overrides; None means 'keep the preset value'."""
        train_fields = {"epochs", "learning_rate", "batch_size", "max_steps", "lr_schedule", "group_by_length"}
        train_over = {k: v for k, v in overrides.items() if k in train_fields and v is not None}
        top = {k: v for k, v in overrides.items() if k not in train_fields and v is not None}
        preset = replace(self, **top)
        if train_over:
            # An explicit --epochs applies to every task, so per-task epochs are dropped.
            task_epochs = {} if "epochs" in train_over else preset.task_epochs
            preset = replace(preset, train=replace(preset.train, **train_over), task_epochs=task_epochs)
        return preset


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            name="smoke",
            description="random tiny BERT, 128 train examples, a few steps: seconds per cell (tests, CI)",
            model="tiny",
            tasks=("sst2", "mrpc"),
            budgets=(0.5,),
            seeds=(0,),
            train=TrainConfig(epochs=1, learning_rate=1e-3, batch_size=16, max_seq_length=64),
            max_train_samples=128,
            max_eval_samples=128,
            latency_repeats=2,
        ),
        Preset(
            name="quick",
            description="MiniLM-L6 on SST-2 and MRPC, 1000 train examples (+200 held out), budget 0.1 "
            "(minutes per method)",
            model="minilm-l6",
            tasks=("sst2", "mrpc"),
            budgets=(0.1,),
            seeds=(0,),
            # 1000 MRPC examples x 2 epochs at lr 1e-4 left the teacher near the majority class
            # (acc 70.8, F1 81.6); 3 epochs at 2e-4 gave acc 73.5, F1 82.6. Constant lr, as in the
            # SparseBERT recipe: with linear decay to 0, 96 steps left no time to recover from 95%
            # sparsity (SST-2: ksp 56.1 linear vs 67.8 constant; dense 81.5 vs 76.5).
            train=TrainConfig(epochs=3, learning_rate=2e-4, batch_size=32, max_seq_length=128, lr_schedule="constant"),
            # 1200 sampled, 200 of them held out for tuning: every row still trains on 1000 (S = 96).
            max_train_samples=1200,
            heldout=200,
        ),
        Preset(
            name="cpu",
            description="MiniLM-L6, five GLUE tasks, budgets 0.5/0.25/0.1, seeds 0-2 (the leaderboard)",
            model="minilm-l6",
            tasks=("cola", "sst2", "mrpc", "stsb", "rte"),
            budgets=(0.5, 0.25, 0.1),
            seeds=(0, 1, 2),
            # S = 125 steps of batch 32 (CoLA 375). One seed of the whole grid took 8.7 h on 2 CPU
            # cores when every method trained S steps (a distilling step on MiniLM-L6 costs about 1-3 s
            # there, by task length); under the training rule the methods that start from the
            # pre-trained model train 2S. The quick preset's constant lr 2e-4, the one setting measured
            # to let both the teacher and 95%-sparse students learn in a hundred steps; not tuned further.
            train=TrainConfig(epochs=2, learning_rate=2e-4, batch_size=32, max_seq_length=128, lr_schedule="constant"),
            # 2400 sampled, 400 of them held out for tuning: every row still trains on 2000.
            max_train_samples=2400,
            heldout=400,
            # CoLA steps are cheap (short sentences, 0.5 s) and its teacher needs more of them: dense
            # MCC 0.0 after 2 epochs at 2e-4 (4.7 at 5e-5, 7.1 at 1e-4); 6 epochs: 11.5 (13.2 at 1e-4).
            task_epochs={"cola": 6},
        ),
        Preset(
            name="paper",
            description="bert-base-uncased from the hub, all GLUE tasks, full data, paper schedule (GPU)",
            model="bert-base-uncased",
            tasks=("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte"),
            budgets=(0.5, 0.25, 0.1),
            seeds=(0, 1, 2),
            # SparseBERT: Adam, lr 3e-5 constant, no warmup, weight decay 0.01, batch 32, len 128.
            train=TrainConfig(epochs=3, learning_rate=3e-5, batch_size=32, lr_schedule="constant"),
            task_epochs={"mrpc": 12, "qnli": 5},  # the two schedules the paper states
        ),
    ]
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise SuiteError(f"unknown preset '{name}'; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]


