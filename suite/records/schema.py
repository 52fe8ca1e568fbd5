"""The result record: one typed place for every field a record holds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATUSES = ("ok", "failed", "over_budget")
FINISHED = ("ok", "over_budget")  # cells that trained and were measured

# What a record's row is for: "method" rows are compared and ranked, the "teacher" row is the
# distillation teacher (S steps), the "trivial" row the task's data-only baseline.
ROLE_METHOD, ROLE_TEACHER, ROLE_TRIVIAL = "method", "teacher", "trivial"
ROLES = (ROLE_METHOD, ROLE_TEACHER, ROLE_TRIVIAL)

# The budget of the unpruned model: the dense reference, the teacher and the trivial rows.
REFERENCE_BUDGET = 1.0


SCHEMA_VERSION = 1


@dataclass
class RunResult:
    method: str
    task: str
    budget: float
    seed: int
    status: str
    config_hash: str
    score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    flops: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    latency_ms: dict[str, Any] = field(default_factory=dict)
    train_steps: int | None = None
    train_examples: int | None = None
    wall_s: float | None = None
    teacher: dict[str, Any] | None = None
    model: str | None = None
    method_config: dict[str, Any] = field(default_factory=dict)
    run_config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)  # source, location (folder or hub id), sha256
    role: str = ROLE_METHOD  # one of ROLES
    # The training rule, as met: start, own_steps, inherited_steps, lineage_steps, examples, flops,
    # teacher_flops (estimated training compute of this cell, and of its teacher when it used one).
    training: dict[str, Any] = field(default_factory=dict)
    predictions: dict[str, Any] | None = None  # file (beside the record), n, sha256, split
    # Written beside the record, outside the config hash: the training curve (`file`, `rows`) and,
    # with `run --save-models`, the finalized model (`path`, a folder; `plain_transformers`).
    curve: dict[str, Any] | None = None
    saved_model: dict[str, Any] | None = None
    device: dict[str, str] = field(default_factory=dict)  # type ("cpu", "cuda", "mps") and name
    precision: str | None = None  # "fp32" | "bf16" | "fp16": the forward passes' autocast dtype
    # Which executor ran the cell ("local": in the `run` process; "ray": a Ray worker) and on which
    # host. Not part of the config hash: cells of both executors mix in one results folder.
    executor: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    git_sha: str | None = None
    hardware: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # Where the cell's knobs and learning rate came from when a tuned file set them (suite.spec.tuned):
    # file, sha256, trials, budget, chosen, heldout_score, overridden. None: the preset's and the
    # method's defaults. Written by every run; a record without the field predates tuning (untuned).
    tuning: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Every field a record of SCHEMA_VERSION holds (validate requires them all).
# Fields added within schema 1 that an older record may lack, with the meaning of their absence.
ADDED_FIELDS = {"tuning": None}
RECORD_FIELDS = tuple(f.name for f in fields(RunResult) if f.name not in ADDED_FIELDS)


def role_of(record: dict[str, Any]) -> str:
    """The record's role; records written before roles existed (no `role` field) are method rows."""
    role = record.get("role") or ROLE_METHOD
    if role not in ROLES:
        raise ValueError(
            f"record {record.get('task')}/{record.get('method')}: unknown role {role!r}; expected one of {ROLES}"
        )
    return role


def get_field(record: dict[str, Any], *path: str) -> Any:
    """The nested field `record[path[0]][path[1]]...`, or None where any level is missing or not a dict."""
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
