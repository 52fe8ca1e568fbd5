"""`tune`: the same number of trials for every (task, method), scored on the held-out split, then a
tuned file that `run --tuned` applies (`--dry-run`: the trial plan and its estimated hours).

Takes `run`'s flags for the preset, methods, data, training, device and executor; the trials run at
one budget and seed and are scored on the held-out split, never on dev."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from suite.cli.args import NO_HELDOUT, _finite_number
from suite.cli.interrupts import sigterm_as_interrupt
from suite.cli.run import NO_TUNED, RunRequest, add_grid_arguments
from suite.errors import SuiteError
from suite.spec.splits import HELDOUT

if TYPE_CHECKING:
    from suite.tune.plan import Study, TunePlan

NAME = "tune"
MAX_TRIALS = 1000


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    tune = subparsers.add_parser(
        NAME, help="choose every method's knobs and learning rate on the held-out split, with equal trials"
    )
    add_grid_arguments(tune)
    tune.add_argument("--trials", type=int, help="per task and method (default: the preset's tuning budget)")
    tune.add_argument(
        "--budget",
        type=_finite_number(0.0, inclusive=False),
        help="the FLOP fraction every trial runs at (default: the preset's smallest budget)",
    )
    tune.add_argument("--seed", type=int, help="the seed every trial runs with (default: the preset's first)")
    tune.add_argument("--tune-dir", type=Path, help="trials and studies (default: results/<preset>-tune)")
    tune.add_argument("--out", type=Path, help="the tuned file to write (default: suite/tuned/<preset>.json)")
    tune.add_argument(
        "--timings",
        type=Path,
        metavar="RESULTS_DIR",
        help="--dry-run: estimate hours from this folder's cell times (default: results/<preset>, else "
        "leaderboards/<preset>/results)",
    )
    tune.add_argument("--dry-run", action="store_true", help="print the trial plan and estimated hours; run nothing")
    # What `run` would read of its own flags: a tune scores on the held-out split and sets knobs itself.
    tune.set_defaults(
        method_args=[],
        budgets=None,
        seeds=None,
        eval_split=HELDOUT,
        results_dir=None,
        save_models=False,
        tensorboard=False,
        tuned=NO_TUNED,
    )


@dataclass(frozen=True)
class TuneRequest:
    run: RunRequest  # the preset as the trials run it: held-out split scored, one budget and seed
    trials: int
    budget: float
    seed: int
    tune_dir: Path
    out: Path
    timings: Path | None
    fallback_budgets: tuple[float, ...] = ()  # the preset's other budgets, for a method out of reach of `budget`

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TuneRequest:
        from suite.records.tuned_file import default_tuned_path
        from suite.spec.presets import get_preset

        preset = get_preset(args.preset)
        trials = preset.tune_trials if args.trials is None else args.trials
        if not 1 <= trials <= MAX_TRIALS:
            raise SuiteError(f"--trials must be in [1, {MAX_TRIALS}], got {trials}")
        heldout = preset.heldout if args.heldout is None else args.heldout
        if heldout in (None, NO_HELDOUT):
            raise SuiteError(
                f"preset {preset.name} holds out no training data to tune on: pass --heldout N or FRACTION "
                "(the runs that apply the tuned file must hold out the same)"
            )
        run = RunRequest.from_args(args)
        budget = min(run.preset.budgets) if args.budget is None else args.budget
        if budget > 1:
            raise SuiteError(f"--budget is a FLOP fraction in (0, 1], got {budget:g}")
        seed = run.preset.seeds[0] if args.seed is None else args.seed
        name = run.preset.name
        return cls(
            run=replace(run, preset=replace(run.preset, budgets=(budget,), seeds=(seed,))),
            trials=trials,
            budget=budget,
            seed=seed,
            tune_dir=args.tune_dir or Path("results") / f"{name}-tune",
            out=args.out or default_tuned_path(name),
            timings=args.timings,
            fallback_budgets=tuple(b for b in run.preset.budgets if b > budget),
        )


def run(args: argparse.Namespace) -> int:
    with sigterm_as_interrupt():
        return execute(TuneRequest.from_args(args))


def execute(request: TuneRequest) -> int:
    from suite.tune.plan import plan_tune

    plan = plan_tune(
        request.run.preset,
        list(request.run.methods),
        request.trials,
        request.budget,
        request.seed,
        request.fallback_budgets,
    )
    if request.run.dry_run:
        return print_plan(plan, request)
    return tune(plan, request)


def print_plan(plan: TunePlan, request: TuneRequest) -> int:
    """One line per study on stdout (phase, task, method, trials, space); the hours on stderr."""
    from suite.tune.plan import cell_seconds, describe_space, estimate_hours

    for study in plan.studies:
        print(
            f"{study.phase:12s} {study.task:6s} {study.method:10s} {plan.trials} trials  {describe_space(study.space)}"
        )
    folder = request.timings or _default_timings(plan.preset.name)
    cells = len(plan.studies) * plan.trials
    head = (
        f"dry run: {len(plan.studies)} studies x {plan.trials} trials = {cells} cells at budget {plan.budget:g}, "
        f"seed {plan.seed}, scored on the held-out split"
    )
    if folder is None:
        print(f"{head}; no finished cells to time (pass --timings RESULTS_DIR): hours unknown", file=sys.stderr)
        return 0
    hours, missing = estimate_hours(plan, cell_seconds(folder))
    print(
        f"{head}; about {hours:.1f} h at the cell times in {folder}"
        + (f" (no times for {', '.join(missing)}: not counted)" if missing else ""),
        file=sys.stderr,
    )
    return 0


def _default_timings(preset: str) -> Path | None:
    for folder in (Path("results") / preset, Path("leaderboards") / preset / "results"):
        if folder.is_dir():
            return folder
    return None


def tune(plan: TunePlan, request: TuneRequest) -> int:
    """Run every trial not yet finished, then write the tuned file; 1 when some study has no scored trial."""
    from suite.records.tuned_file import write_tuned
    from suite.run.grid import Grid
    from suite.run.identity import Execution
    from suite.run.teachers import default_cache_dir
    from suite.tune.loop import Tuner
    from suite.tune.output import tuned_file_data

    run_request = request.run
    execution = Execution(progress=not run_request.no_progress)
    cache_dir = run_request.cache_dir or default_cache_dir()
    shared: dict[str, object] = {}

    def build(folder: Path, settings) -> Grid:
        grid = Grid.build(
            plan.preset,
            folder,
            run_request.glue_dir,
            cache_dir,
            placement=run_request.placement,
            execution=execution,
            tuned=settings,
            inputs=shared.get("inputs"),  # type: ignore[arg-type]
        )
        shared["inputs"] = grid.inputs
        return grid

    def report(study: Study, index: int, score: float | None, why: str) -> None:
        shown = f"held-out {score:.2f}" if score is not None else why
        print(f"{study.task:6s} {study.method:10s} trial {index + 1}/{plan.trials}: {shown}", file=sys.stderr)

    print(
        f"tuning {len(plan.studies)} (task, method) pairs x {plan.trials} trials at budget {plan.budget:g}, seed "
        f"{plan.seed}, on the held-out split; trials and studies in {request.tune_dir}",
        file=sys.stderr,
    )
    outcome = Tuner(plan, request.tune_dir, build, _executor(run_request), report).run()
    if not outcome.complete(plan):
        raise SuiteError(
            f"some trials did not finish (see above); rerun the same command to resume from {request.tune_dir}"
        )
    data = tuned_file_data(plan, outcome)
    write_tuned(request.out, data)
    for key, choice in data["choices"].items():
        before = choice["default_heldout_score"]
        print(
            f"{key:18s} held-out {choice['heldout_score']:.2f} (defaults: "
            + ("-" if before is None else f"{before:.2f}")
            + f"), lr {choice['learning_rate']:.3g}, knobs {choice['knobs']}"
            + ("" if choice["beats_trivial"] is not False else "; no trial beat the trivial score: defaults kept"),
            file=sys.stderr,
        )
    for key, reason in data["not_tuned"].items():
        print(f"{key:18s} not tuned: {reason}", file=sys.stderr)
    print(f"tuned file: {request.out}; apply it with python -m suite run --tuned {request.out}", file=sys.stderr)
    return 1 if data["no_trial_scored"] else 0


def _cell_line(result, progress) -> None:
    """One line per finished cell of a trial, as it finishes (a trial's grid can take many minutes)."""
    score = "-" if result.score is None else f"{result.score:.2f}"
    wall = "-" if result.wall_s is None else f"{result.wall_s:.0f}s"
    print(
        f"  {result.task:6s} {result.method:10s} {result.status:11s} held-out {score:>6s}  {wall}"
        f"  [{progress.done}/{progress.total} cells of this trial]",
        file=sys.stderr,
    )


def _executor(run_request: RunRequest):
    """The executor every trial's grid runs on: in-process, or Ray with the run's options."""
    if run_request.ray_options is None:
        from suite.run.executors.local import run_local

        return lambda grid, cells: run_local(grid, cells, on_result=_cell_line)
    from suite.run.executors.ray_driver import run_on_ray
    from suite.run.executors.ray_worker import spec_for

    options = run_request.ray_options

    def on_ray(grid, cells):
        spec = spec_for(
            grid, run_request.plugins, max(1, int(options.cpus_per_cell)), run_request.placement.device.type
        )
        return run_on_ray(grid, cells, options, spec, on_result=_cell_line)

    return on_ray
