"""Which examples a run trains on and which it is scored on.

A preset may hold out part of each task's training data: a fixed, seeded subset (after the train
subsample, the same for every seed and method) that no row trains on, teacher and reference
included. Hyperparameters are chosen by scores on it, never on dev. A run scores its cells on dev
(the published boards) or, with `eval_split = "heldout"`, on the held-out part alone.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from suite.errors import SuiteError
from suite.spec.tasks import TaskSpec

DEV = "dev"
HELDOUT = "heldout"  # also the split's name in predictions sidecars and metrics
EVAL_SPLITS = (DEV, HELDOUT)
# Correlation metrics (CoLA's Matthews, STS-B's Spearman) need two examples, and so does training.
MIN_EXAMPLES = 2

HeldoutRule = int | float  # a number of examples (>= 1), or a fraction of the training set in (0, 1)


def check_heldout(rule: Any) -> None:
    """A held-out rule is an example count or a fraction in (0, 1); anything else is one line."""
    if rule is None:
        return
    if isinstance(rule, bool) or not isinstance(rule, (int, float)) or not math.isfinite(rule) or rule <= 0:
        raise SuiteError(
            f"--heldout must be a number of examples (e.g. 200) or a fraction in (0, 1) (e.g. 0.1), got {rule!r}"
        )
    if rule >= 1 and float(rule) != int(rule):
        raise SuiteError(f"--heldout {rule!r}: a count of examples is a whole number; a fraction lies in (0, 1)")


def check_eval_split(eval_split: str, rule: HeldoutRule | None) -> None:
    if eval_split not in EVAL_SPLITS:
        raise SuiteError(f"--eval-split {eval_split!r}: expected one of {', '.join(EVAL_SPLITS)}")
    if eval_split == HELDOUT and rule is None:
        raise SuiteError("--eval-split heldout needs a held-out split: pass --heldout N or --heldout FRACTION")


def heldout_size(rule: HeldoutRule | None, n_train: int, task: str = "") -> int:
    """How many of `n_train` training examples are held out (0 without a rule); both parts keep
    at least MIN_EXAMPLES, or the rule is refused in one line."""
    if rule is None:
        return 0
    size = int(rule) if rule >= 1 else round(rule * n_train)
    if size < MIN_EXAMPLES or n_train - size < MIN_EXAMPLES:
        where = f" of {task}" if task else ""
        raise SuiteError(
            f"--heldout {rule:g} holds out {size} of the {n_train} training examples{where}; both the held-out "
            f"part and what is left to train on need at least {MIN_EXAMPLES}: choose another --heldout"
        )
    return size


def scored_task(task: TaskSpec, eval_split: str) -> TaskSpec:
    """The task as a run scores it: its dev splits, or the held-out part of the training data alone."""
    return task if eval_split == DEV else replace(task, eval_splits=(HELDOUT,))


def split_config(rule: HeldoutRule | None, size: int, sha256: str, eval_split: str) -> dict[str, Any]:
    """The keys a held-out split adds to a cell's data settings (none without one, so the identity of
    every run without a held-out split is what it was before there were such splits)."""
    config: dict[str, Any] = {}
    if rule is not None:
        config.update(heldout=rule, heldout_size=size, heldout_sha256=sha256)
    if eval_split != DEV:
        config["eval_split"] = eval_split
    return config


# A record that carries none of these keys was made without a held-out split and scored on dev: the
# values its settings are compared with, so such a record never shares a board with one that has them.
ABSENT_MEANS = {"heldout": None, "eval_split": DEV}
