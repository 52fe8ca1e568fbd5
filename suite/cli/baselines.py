"""`baselines`: the trivial-baseline rows (majority class / constant) of a preset's tasks alone. `run`
writes them too; this adds them to results made without them."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from suite.cli.args import GLUE_DIR_HELP, PRESET_HELP, _csv, checked_glue_dir, print_data_source

if TYPE_CHECKING:
    from suite.spec.presets import Preset

NAME = "baselines"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    baselines = subparsers.add_parser(
        NAME, help="write the trivial-baseline rows (majority class / constant) of a preset's tasks"
    )
    baselines.add_argument("--preset", default="quick", help=PRESET_HELP)
    baselines.add_argument("--tasks", type=_csv(str), help="comma-separated GLUE tasks (default: the preset's)")
    baselines.add_argument("--max-train-samples", type=int, help="seeded train subsample size")
    baselines.add_argument("--max-eval-samples", type=int, help="seeded dev subsample size")
    baselines.add_argument("--results-dir", type=Path, help="default: results/<preset>")
    baselines.add_argument("--glue-dir", type=Path, help=GLUE_DIR_HELP)


@dataclass(frozen=True)
class BaselinesRequest:
    preset: Preset
    glue_dir: Path | None
    results_dir: Path

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BaselinesRequest:
        from suite.spec.presets import get_preset
        from suite.spec.tasks import get_task

        preset = get_preset(args.preset).with_overrides(
            tasks=tuple(get_task(t).name for t in args.tasks) if args.tasks else None,
            max_train_samples=args.max_train_samples,
            max_eval_samples=args.max_eval_samples,
        )
        return cls(
            preset=preset,
            glue_dir=checked_glue_dir(args.glue_dir),
            results_dir=args.results_dir or Path("results") / preset.name,
        )


def run(args: argparse.Namespace) -> int:
    from suite.run.grid import Grid
    from suite.run.teachers import default_cache_dir
    from suite.run.trivial import write_trivial_rows

    request = BaselinesRequest.from_args(args)
    preset, glue_dir, results_dir = request.preset, request.glue_dir, request.results_dir
    print_data_source(glue_dir)
    grid = Grid.build(preset, results_dir, glue_dir, default_cache_dir())
    for task in preset.tasks:
        grid.inputs.task_data(task)  # data errors surface before anything is written
    written = {r.task: r for r in write_trivial_rows(grid.identity, grid.store, list(preset.tasks))}
    for task in preset.tasks:
        result = written.get(task)
        state = f"{result.score:6.2f}  ({result.method_config['rule']})" if result else "unchanged (same data)"
        print(f"{task:6s} trivial: {state}", file=sys.stderr)
    return 0
