"""`python -m suite validate`: a results folder made elsewhere, checked before it joins a leaderboard.

Each record is checked on its own (`validate_record`), then against the other records of the folder:
one model and configuration (the settings the leaderboard compares, `checks.identity`; the data's
content hash and schedule per task), one reference model per task (its dense FLOPs), the same dev
labels in every sidecar of a task (the paired bootstrap resamples the same examples for every row),
and the training rule (every method row of a task has the same lineage steps, the teacher half of
them). Where the records disagree, the most common value is taken as the folder's and each record
that differs is named. With a preset, every setting the preset fixes and a record carries must be
the preset's, and every cell of the preset's grid needs a record (the rule for cells out of a
method's reach is in `completeness`). Records do not name the preset they were run with, so these
checks run only when asked.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from suite.errors import SuiteError
from suite.records.checks import identity, settings
from suite.records.completeness import missing_cells
from suite.records.schema import FINISHED, REFERENCE_BUDGET, ROLE_METHOD, ROLE_TEACHER, ROLE_TRIVIAL, get_field
from suite.records.validate_record import Entry, as_int, as_number, check_entry, read_entries
from suite.spec.presets import Preset
from suite.spec.rules import LINEAGE_MULTIPLE

SHOWN_FIELDS = 3  # differing settings named per line; the rest are counted


@dataclass(frozen=True)
class Validation:
    results_dir: Path
    records: int
    problems: list[str]
    # With a preset: built-in methods with no record at any of its budgets (perhaps out of their reach
    # at every one, see completeness), named but not problems.
    absent_methods: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _shown(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_line(differences: list[str]) -> str:
    more = len(differences) - SHOWN_FIELDS
    return "; ".join(differences[:SHOWN_FIELDS]) + (f"; and {more} more" if more > 0 else "")


def _odd_ones(items: Iterable[tuple[Entry, Hashable]]) -> list[tuple[Entry, Hashable, Hashable, int]]:
    """(entry, its value, the most common value, how many records have that) for every entry whose value
    is not the most common one; ties go to the value met first in path order."""
    items = list(items)
    counts = Counter(value for _, value in items)
    if len(counts) <= 1:
        return []
    common, n = counts.most_common(1)[0]
    return [(entry, value, common, n) for entry, value in items if value != common]


def _per_task(
    entries: list[Entry], value: Callable[[Entry], Hashable | None]
) -> dict[str, list[tuple[Entry, Hashable]]]:
    grouped: dict[str, list[tuple[Entry, Hashable]]] = defaultdict(list)
    for entry in entries:
        found = value(entry)
        if found is not None:
            grouped[entry.record["task"]].append((entry, found))
    return grouped


def _check_settings(entries: list[Entry]) -> None:
    """One model and configuration: each setting's most common value, and the records that differ."""
    by_scope: dict[Any, list[tuple[Entry, str]]] = defaultdict(list)
    for entry in entries:
        for scope, value in settings(entry.record).items():
            by_scope[scope].append((entry, _shown(value)))
    differences: dict[int, list[str]] = defaultdict(list)
    for scope, items in sorted(by_scope.items(), key=lambda item: (item[0][1], str(item[0][0]))):
        for entry, value, common, n in _odd_ones(items):
            where = f" of {scope[0]}" if scope[0] else ""
            differences[id(entry)].append(f"{scope[1]} is {value}, {n} other records{where} have {common}")
    for entry in entries:
        if differences.get(id(entry)):
            entry.add(f"not the folder's configuration: {_fields_line(differences[id(entry)])}")


def _reference_dense(entry: Entry) -> float | None:
    if entry.record.get("role") == ROLE_TRIVIAL or entry.record["status"] not in FINISHED:
        return None
    return as_number(get_field(entry.record, "flops", "reference_dense"))


def _lineage(entry: Entry, role: str) -> int | None:
    """Lineage steps of a finished record of `role`, else None."""
    record = entry.record
    if (record.get("role") or ROLE_METHOD) != role or record["status"] not in FINISHED:
        return None
    return as_int(get_field(record, "training", "lineage_steps"))


def _check_across(entries: list[Entry]) -> None:
    """The same reference, dev labels and lineage steps for every record of a task."""
    for items in _per_task(entries, _reference_dense).values():
        for entry, value, common, n in _odd_ones(items):
            entry.add(
                f"flops.reference_dense {value} (the unpruned model), {n} other records of its task have {common}"
            )
    for items in _per_task(entries, lambda e: e.labels).values():
        for entry, _, _, n in _odd_ones(items):
            entry.add(
                f"its predictions' labels differ from those of {n} other records of its task (another dev set or"
                " eval cap): the paired bootstrap compares rows on the same dev examples"
            )
    teachers = _per_task(entries, lambda e: _lineage(e, ROLE_TEACHER))
    for task, items in _per_task(entries, lambda e: _lineage(e, ROLE_METHOD)).items():
        for entry, value, common, n in _odd_ones(items):
            entry.add(f"{value} lineage steps, {n} other method rows of {task} have {common} (the training rule)")
        steps = Counter(value for _, value in items).most_common(1)[0][0]
        for entry, own in teachers.get(task, []):
            if own * LINEAGE_MULTIPLE != steps:
                entry.add(f"a teacher of {own} steps, the method rows of {task} train {steps} (the training rule)")


def _flat(prefix: str, value: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}.{key}": item for key, item in value.items()}


def preset_settings(preset: Preset, task: str) -> dict[str, Any]:
    """The settings `preset` fixes for `task`, named as `checks.identity` names a record's."""
    expected: dict[str, Any] = {"run_config.model": preset.model}
    expected.update(_flat("run_config.train", asdict(preset.train_for(task))))
    data = {
        "max_train_samples": preset.max_train_samples,
        "max_eval_samples": preset.max_eval_samples,
        "data_seed": preset.data_seed,
        "max_seq_length": preset.train.max_seq_length,
        # A record without these keys reads as no held-out split, scored on dev (checks.identity).
        "heldout": preset.heldout,
        "eval_split": preset.eval_split,
    }
    expected.update(_flat("run_config.data", data))
    expected["run_config.flop_seq_len"] = preset.flop_seq_len
    expected.update(_flat("run_config.pruning_schedule", asdict(preset.pruning_schedule)))
    return expected


def _check_preset(entries: list[Entry], preset: Preset) -> None:
    for entry in entries:
        record = entry.record
        if record["task"] not in preset.tasks:
            entry.add(f"task {record['task']} is not one of preset {preset.name}'s ({', '.join(preset.tasks)})")
            continue
        role = record.get("role") or ROLE_METHOD
        if role == ROLE_METHOD and record["budget"] != REFERENCE_BUDGET and record["budget"] not in preset.budgets:
            entry.add(f"budget {record['budget']:g} is not one of preset {preset.name}'s")
        if role != ROLE_TRIVIAL and record["seed"] not in preset.seeds:
            entry.add(f"seed {record['seed']} is not one of preset {preset.name}'s")
        carried = identity(record)
        expected = preset_settings(preset, record["task"])
        tuned_rate = get_field(record, "tuning", "chosen", "learning_rate")
        if tuned_rate is not None:  # a tuned file set the cell's rate (the record's `tuning` says which)
            expected["run_config.train.learning_rate"] = tuned_rate
        differences = [
            f"{name} is {_shown(carried[name])}, the preset's {_shown(value)}"
            for name, value in expected.items()
            if name in carried and carried[name] != value
        ]
        if differences:
            entry.add(f"not preset {preset.name}: {_fields_line(differences)}")


def validate_results(results_dir: Path, preset: Preset | None = None) -> Validation:
    """Every check of every record under `results_dir`; one line per problem, in path order."""
    entries, unreadable = read_entries(results_dir)
    if not entries and not unreadable:
        raise SuiteError(f"no result records under {results_dir}; pass the folder `python -m suite run` wrote")
    for entry in entries:
        check_entry(entry, Path(results_dir))
    well_formed = [e for e in entries if e.well_formed]
    _check_settings(well_formed)
    _check_across(well_formed)
    missing: list[str] = []
    absent: list[str] = []
    if preset is not None:
        _check_preset(well_formed, preset)
        missing, absent = missing_cells((e.record for e in entries), preset, Path(results_dir))
    problems = unreadable + [line for entry in entries for line in entry.problems] + missing
    return Validation(Path(results_dir), len(entries), sorted(problems), absent)
