"""The board README's "Scale" section: which model, how much data and tuning, how many hours, and which
tasks were left off and why, so that no reader takes a small-scale board for a paper-scale result.

Model, data, tuning and hours come from the records; the tasks left off come from the preset the board
was made for (they have no records), with the measured reason it states.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from suite.leaderboard.board import Board
from suite.records.schema import ROLE_TEACHER, role_of
from suite.spec.models import MODEL_NOTES


def scale_section(board: Board, left_off: Mapping[str, str]) -> str:
    records = board.records
    lines = []
    for model in sorted({str(r["model"]) for r in records if r.get("model")}):  # a trivial row has none
        note = MODEL_NOTES.get(model, "a model this suite has no note on")
        lines.append(f"- Model `{model}`: {note}.")
    for task in board.tasks:
        teachers = [r for r in records if r.get("task") == task and role_of(r) == ROLE_TEACHER]
        data = next(((r.get("run_config") or {}).get("data") or {} for r in teachers), {})
        steps = sorted({(r.get("training") or {}).get("own_steps") for r in teachers} - {None})
        examples = sorted({(r.get("training") or {}).get("examples") for r in teachers} - {None})
        if data or steps:
            lines.append(
                f"- {task}: {_listed(steps)} teacher steps S ({_listed(examples)} training examples seen) from a"
                f" sample of at most {data.get('max_train_samples', '–')} training examples,"
                f" {data.get('heldout_size', 0)} of them held out for tuning."
            )
    trials = sorted({(r.get("tuning") or {}).get("trials") for r in records} - {None})
    lines.append(
        f"- Tuning: {_listed(trials)} trials per (task, method) on the held-out split."
        if trials
        else "- Tuning: none (every row at the preset's learning rate and the method's default knobs)."
    )
    hours = defaultdict(float)
    for record in records:
        wall = record.get("wall_s")
        if isinstance(wall, int | float) and not isinstance(wall, bool) and wall >= 0:
            hours[record.get("seed")] += wall / 3600
    if hours:
        per_seed = ", ".join(f"seed {seed}: {value:.1f} h" for seed, value in sorted(hours.items(), key=str))
        lines.append(f"- Hours of cell wall time (training, evaluation and timing, summed): {per_seed}.")
    if left_off:
        lines.append("- Tasks left off this board, with the measured reason:")
        lines.extend(f"  - {task}: {reason}" for task, reason in sorted(left_off.items()))
    return "\n".join(lines)


def _listed(values: list) -> str:
    return " / ".join(str(v) for v in values) if values else "–"
