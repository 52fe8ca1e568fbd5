"""GLUE tasks as data: where each task's files are, how their columns map, which metric ranks it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from suite.errors import SuiteError

# The gold similarity scale of the regression task (STS-B): labels lie from 0 to 5.
SIMILARITY_RANGE = (0.0, 5.0)


@dataclass(frozen=True)
class TaskSpec:
    """One GLUE task: where its files are, how their columns map, which metric ranks it."""

    name: str
    dir_name: str
    # TSV file per split; the first eval split is the one that gives the primary score.
    files: dict[str, str]
    eval_splits: tuple[str, ...]
    # Column indexes in the original TSV (label may be -1: the last column, as in MNLI).
    text_a_field: int
    text_b_field: int | None
    label_field: int
    # Allowed number of columns per split (MNLI train and dev differ).
    n_fields: dict[str, tuple[int, ...]]
    has_header: bool
    # Raw TSV label strings in class-id order (hub order); None for regression.
    label_values: tuple[str, ...] | None
    label_names: tuple[str, ...] | None
    hub_text_columns: tuple[str, str | None]
    primary_metric: str

    @property
    def is_regression(self) -> bool:
        return self.label_values is None

    @property
    def num_labels(self) -> int:
        return 1 if self.label_values is None else len(self.label_values)


def _task(
    name: str,
    dir_name: str,
    fields: tuple[int, int | None, int],
    n_fields: int | dict[str, tuple[int, ...]],
    labels: tuple[tuple[str, ...], tuple[str, ...]] | None,
    hub_columns: tuple[str, str | None],
    primary: str,
    header: bool = True,
    files: dict[str, str] | None = None,
) -> TaskSpec:
    files = files or {"train": "train.tsv", "validation": "dev.tsv"}
    if isinstance(n_fields, int):
        n_fields = {split: (n_fields,) for split in files}
    return TaskSpec(
        name=name,
        dir_name=dir_name,
        files=files,
        eval_splits=tuple(s for s in files if s != "train"),
        text_a_field=fields[0],
        text_b_field=fields[1],
        label_field=fields[2],
        n_fields=n_fields,
        has_header=header,
        label_values=labels[0] if labels else None,
        label_names=labels[1] if labels else None,
        hub_text_columns=hub_columns,
        primary_metric=primary,
    )


_BINARY = ("0", "1")


_ENTAIL = ("entailment", "not_entailment")


# Primary metrics follow the BERT paper's convention: F1 for MRPC and QQP, Spearman for STS-B,
# Matthews correlation for CoLA, accuracy elsewhere. Every sub-metric is stored as well.
TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        _task(
            "cola",
            "CoLA",
            (3, None, 1),
            4,
            (_BINARY, ("unacceptable", "acceptable")),
            ("sentence", None),
            "matthews_correlation",
            header=False,
        ),
        _task("sst2", "SST-2", (0, None, 1), 2, (_BINARY, ("negative", "positive")), ("sentence", None), "accuracy"),
        _task(
            "mrpc", "MRPC", (3, 4, 0), 5, (_BINARY, ("not_equivalent", "equivalent")), ("sentence1", "sentence2"), "f1"
        ),
        _task("stsb", "STS-B", (7, 8, 9), 10, None, ("sentence1", "sentence2"), "spearmanr"),
        _task("qqp", "QQP", (3, 4, 5), 6, (_BINARY, ("not_duplicate", "duplicate")), ("question1", "question2"), "f1"),
        _task(
            "mnli",
            "MNLI",
            (8, 9, -1),
            {"train": (12,), "validation_matched": (16,), "validation_mismatched": (16,)},
            (("entailment", "neutral", "contradiction"),) * 2,
            ("premise", "hypothesis"),
            "accuracy",
            files={
                "train": "train.tsv",
                "validation_matched": "dev_matched.tsv",
                "validation_mismatched": "dev_mismatched.tsv",
            },
        ),
        _task("qnli", "QNLI", (1, 2, 3), 4, (_ENTAIL, _ENTAIL), ("question", "sentence"), "accuracy"),
        _task("rte", "RTE", (1, 2, 3), 4, (_ENTAIL, _ENTAIL), ("sentence1", "sentence2"), "accuracy"),
        _task(
            "wnli",
            "WNLI",
            (1, 2, 3),
            4,
            (_BINARY, ("not_entailment", "entailment")),
            ("sentence1", "sentence2"),
            "accuracy",
        ),
    ]
}


def get_task(name: str) -> TaskSpec:
    key = name.lower().replace("-", "")
    if key not in TASKS:
        close = difflib.get_close_matches(key, list(TASKS), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise SuiteError(f"unknown task '{name}'.{hint} Known tasks: {', '.join(TASKS)}")
    return TASKS[key]
