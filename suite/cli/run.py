"""`run`: a grid of task x method x budget x seed cells, here or on Ray (`--dry-run`: the plan alone).

Every flag is checked by `RunRequest.from_args` before anything is trained or written."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suite.cli.args import (
    BATCHINGS,
    GLUE_DIR_HELP,
    MODEL_HELP,
    NO_HELDOUT,
    PLUGINS_METAVAR,
    PRECISIONS,
    PRESET_HELP,
    _csv,
    _epochs,
    _heldout,
    _non_negative_float,
    _positive_float,
    check_budgets,
    checked_glue_dir,
    print_data_source,
)
from suite.cli.interrupts import sigterm_as_interrupt
from suite.errors import SuiteError
from suite.spec.cell_timeout import CELL_TIMEOUT_HELP, CellTimeout, parse_cell_timeout
from suite.spec.splits import DEV, EVAL_SPLITS, check_eval_split

if TYPE_CHECKING:
    from suite.compute.device import Placement
    from suite.records.layout import Cell
    from suite.run.executors.ray_driver import RayOptions
    from suite.run.grid import Grid
    from suite.spec.presets import Preset
    from suite.spec.tuned import TunedSettings

NAME = "run"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(NAME, help="run a grid of task x method x budget x seed cells")
    add_grid_arguments(run)
    run.add_argument(
        "--method-args",
        action="append",
        default=[],
        metavar="METHOD.KNOB=VALUE,...",
        help="set knobs of the selected methods' Configs, e.g. 'ksp.mask_updates=50,ksp.kd.attention=0' "
        "(repeatable; see ls methods --verbose); part of the cells' config hash",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="list the cells the run would compute, skip (finished) and not run (unreachable); train and write nothing",
    )
    run.add_argument("--budgets", type=_csv(float), help="FLOP fractions in (0, 1], e.g. 0.5,0.1")
    run.add_argument("--seeds", type=_csv(int), help="e.g. 0,1,2")
    run.add_argument(
        "--eval-split",
        choices=EVAL_SPLITS,
        help="score cells on dev or on the held-out part (needs --heldout; default: the preset's, dev; "
        "default results folder results/<preset>-heldout)",
    )
    run.add_argument("--results-dir", type=Path, help="default: results/<preset>")
    run.add_argument(
        "--save-models",
        action="store_true",
        help="keep each cell's finalized model beside its record (<record>.model/; cells run by this invocation)",
    )
    run.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write the training curves as TensorBoard runs under <results>/tensorboard (needs tensorboard)",
    )
    run.add_argument(
        "--engines",
        type=_csv(str),
        metavar="ENGINE,...",
        help="also time every finalized model exported to ONNX on these engines (onnxruntime, openvino, deepsparse), "
        "each against its own unpruned model; measured, not hashed (default: the preset's; none: PyTorch alone)",
    )
    run.add_argument(
        "--tuned",
        metavar="FILE|none",
        help="apply the knobs and learning rates `tune` chose (a tuned file); default: suite/tuned/<preset>.json "
        "where the preset has one; none: the preset's and methods' defaults",
    )


def add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags `run` and `tune` share: which preset, methods and data, the training settings, the
    device and the executor."""
    parser.add_argument("--preset", default="quick", help=PRESET_HELP)
    parser.add_argument(
        "--methods",
        default="all",
        help="'all', names or patterns, comma-separated, in order; '-NAME' or '-PATTERN' removes methods "
        "(e.g. all,-random or all,-m*; write --methods=-random when the first item is one) (default: all)",
    )
    parser.add_argument("--tasks", type=_csv(str), help="comma-separated GLUE tasks, e.g. sst2,mrpc")
    parser.add_argument("--model", help=MODEL_HELP)
    parser.add_argument("--max-train-samples", type=int, help="seeded train subsample size")
    parser.add_argument("--max-eval-samples", type=int, help="seeded dev subsample size (default: all)")
    parser.add_argument(
        "--epochs", type=_epochs, help="the teacher's epochs S for every task (compared rows train 2S lineage steps)"
    )
    parser.add_argument(
        "--max-steps", type=int, help="the teacher's optimizer steps S (overrides epochs; compared rows train 2S)"
    )
    parser.add_argument(
        "--heldout",
        type=_heldout,
        metavar="N|FRACTION|none",
        help="hold out N examples (or a fraction) of each task's training data that no row trains on, the same "
        "for every seed and method; part of the data identity (default: the preset's; none: no held-out split)",
    )
    parser.add_argument("--learning-rate", type=_positive_float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr-schedule", choices=["linear", "constant"], help="learning-rate schedule for every method")
    parser.add_argument("--glue-dir", type=Path, help=GLUE_DIR_HELP)
    parser.add_argument(
        "--cache-dir", type=Path, help="teacher cache (default: $PRUNE_SUITE_CACHE or ~/.cache/prune_suite)"
    )
    parser.add_argument(
        "--plugins",
        action="append",
        default=[],
        metavar=PLUGINS_METAVAR,
        help="import extra method plugins (repeatable)",
    )
    parser.add_argument(
        "--device", default="auto", help="auto (default: the GPU when there is one) | cpu | cuda | cuda:N | mps"
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="autocast dtype of forward passes; auto (default): bf16 where the device computes it natively,"
        " else fp32 (weights, masks and losses stay fp32; fp16 on CUDA only)",
    )
    parser.add_argument(
        "--batching",
        choices=BATCHINGS,
        help="training batches: random, or grouped by length (reshuffled per epoch); default: the preset's",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--cell-timeout", type=_cell_timeout, metavar="SECONDS|auto|off", help=CELL_TIMEOUT_HELP)
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local (default): the cells one after another in this process; ray: as Ray tasks",
    )
    parser.add_argument("--ray-address", help="ray: join a running cluster ('auto' or ray://HOST:PORT)")
    parser.add_argument("--workers", type=int, help="ray: start a local cluster for N cells at once (default: CPUs)")
    parser.add_argument("--cpus-per-cell", type=_positive_float, help="ray: CPUs reserved per cell (default 1)")
    parser.add_argument("--gpus-per-cell", type=_non_negative_float, help="ray: GPUs per cell, fractions allowed")
    parser.add_argument("--max-retries", type=int, help="ray: retries of a cell whose worker died (default 2)")


@dataclass(frozen=True)
class RunRequest:
    """A run's flags, every one checked, with the preset they override and the methods they select."""

    preset: Preset
    methods: tuple[str, ...]
    method_args: dict[str, dict[str, Any]]
    glue_dir: Path | None
    results_dir: Path
    cache_dir: Path | None  # None: the default teacher cache
    placement: Placement
    ray_options: RayOptions | None  # None: the cells run in this process
    plugins: tuple[str, ...]
    no_progress: bool
    dry_run: bool
    save_models: bool
    tensorboard: bool
    tuned: TunedSettings | None = None  # the knobs and learning rates `tune` chose, applied per cell

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunRequest:
        """The checks in the order a user fixes them: executor and device, then the grid, then the methods
        and the data. Each failure is one SuiteError line; loads the plugins the methods may come from."""
        from suite.registry import load_plugins, parse_method_args, resolve_method_names
        from suite.spec.presets import get_preset
        from suite.spec.tasks import get_task

        ray_options = _ray_options(args)
        placement = _placement(args, ray_options)
        if args.tensorboard:
            from suite.run.sinks import summary_writer_class

            summary_writer_class()  # a missing TensorBoard is one line before anything trains
        preset = get_preset(args.preset)
        check_budgets(args.budgets or (), example=", e.g. --budgets 0.5,0.1")
        for name, value in (
            ("--max-train-samples", args.max_train_samples),
            ("--max-eval-samples", args.max_eval_samples),
            ("--max-steps", args.max_steps),
            ("--batch-size", args.batch_size),
        ):
            if value is not None and value <= 0:
                raise SuiteError(f"{name} must be a positive integer, got {value}")
        if args.max_eval_samples is not None and args.max_eval_samples < 2:
            # Correlation metrics (STS-B, CoLA's Matthews) are undefined on a single example.
            raise SuiteError(f"--max-eval-samples must be at least 2, got {args.max_eval_samples}")
        tasks = tuple(get_task(t).name for t in args.tasks) if args.tasks else None
        preset = preset.with_overrides(
            tasks=tasks,
            budgets=args.budgets,
            seeds=args.seeds,
            model=args.model,
            max_train_samples=args.max_train_samples,
            max_eval_samples=args.max_eval_samples,
            epochs=args.epochs,
            max_steps=args.max_steps,
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            lr_schedule=args.lr_schedule,
            group_by_length=None if args.batching is None else args.batching == "length",
            eval_split=args.eval_split,
            cell_timeout=args.cell_timeout,
        )
        engines = getattr(args, "engines", None)  # `tune` shares these checks and times no engine
        if engines is not None:
            from suite.compute.engines import engines_for

            names = tuple(dict.fromkeys(name.strip() for name in engines))
            chosen = () if names == ("none",) else names
            engines_for(chosen)  # an unknown or missing engine is one line before anything trains
            preset = replace(preset, latency_engines=chosen)
        if args.heldout is not None:  # 'none' removes a preset's held-out split, which None would keep
            preset = replace(preset, heldout=None if args.heldout == NO_HELDOUT else args.heldout)
        check_eval_split(preset.eval_split, preset.heldout)
        load_plugins(args.plugins)
        methods = resolve_method_names(args.methods)
        method_args = parse_method_args(args.method_args, methods)
        tuned = resolve_tuned(args.tuned, preset)
        return cls(
            preset=preset,
            methods=tuple(methods),
            method_args=method_args,
            glue_dir=checked_glue_dir(args.glue_dir),
            results_dir=args.results_dir or default_results_dir(preset),
            cache_dir=args.cache_dir,
            placement=placement,
            ray_options=ray_options,
            plugins=tuple(args.plugins),
            no_progress=args.no_progress,
            dry_run=args.dry_run,
            save_models=args.save_models,
            tensorboard=args.tensorboard,
            tuned=tuned,
        )


NO_TUNED = "none"


def resolve_tuned(flag: str | None, preset: Preset) -> TunedSettings | None:
    """The tuned file a run applies: `--tuned FILE` (refused in one line unless it was tuned under this
    run's settings), `--tuned none`, or by default the preset's committed one where it has one and it
    applies (where the run's settings differ from its, it is left out with a warning), else the one of the
    preset it takes its tuning from."""
    from suite.records.tuned_file import default_tuned_path, read_tuned

    if flag == NO_TUNED:
        return None
    if flag is not None:
        tuned = read_tuned(Path(flag))
        tuned.check_applies(preset)
        return tuned
    path = default_tuned_path(preset.name)
    if not path.is_file() and preset.tuning_from is not None:
        path = default_tuned_path(preset.tuning_from)
    if not path.is_file():
        return None
    tuned = read_tuned(path, f"suite/tuned/{path.name}")
    try:
        tuned.check_applies(preset)
    except SuiteError as exc:
        print(f"warning: the preset's tuned settings are not applied: {exc}", file=sys.stderr)
        return None
    return tuned


def default_results_dir(preset: Preset) -> Path:
    """results/<preset>, or results/<preset>-heldout for cells scored on the held-out split (a board never
    mixes the two)."""
    suffix = "" if preset.eval_split == DEV else f"-{preset.eval_split}"
    return Path("results") / f"{preset.name}{suffix}"


def _ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The Ray executor's options, or None for the in-process executor (whose flags are refused)."""
    ray_flags = {
        "--ray-address": args.ray_address,
        "--workers": args.workers,
        "--cpus-per-cell": args.cpus_per_cell,
        "--gpus-per-cell": args.gpus_per_cell,
        "--max-retries": args.max_retries,
    }
    given = [name for name, value in ray_flags.items() if value is not None]
    if args.executor != "ray":
        if given:
            raise SuiteError(f"{', '.join(given)} apply to --executor ray only; add --executor ray or drop them")
        return None
    from suite.run.executors.ray_driver import RayOptions, import_ray

    import_ray()  # a missing Ray is one line before anything else happens
    if args.ray_address and args.workers is not None:
        raise SuiteError("--workers starts a local Ray cluster; with --ray-address the cluster's size is its own")
    if args.workers is not None and args.workers < 1:
        raise SuiteError(f"--workers must be at least 1, got {args.workers}")
    if args.max_retries is not None and args.max_retries < 0:
        raise SuiteError(f"--max-retries must be 0 or more, got {args.max_retries}")
    return RayOptions(
        address=args.ray_address,
        workers=args.workers,
        cpus_per_cell=args.cpus_per_cell or 1.0,
        gpus_per_cell=args.gpus_per_cell or 0.0,
        max_retries=2 if args.max_retries is None else args.max_retries,
    )


def _placement(args: argparse.Namespace, ray_options: RayOptions | None) -> Placement:
    """Device and precision of the cells. On Ray the cells run on the workers: `auto` means a GPU when
    cells are given GPUs, and the driver (which may have none) does not check the device itself."""
    import torch

    from suite.compute.device import AUTO, Placement, check_precision

    if ray_options is None or not ray_options.gpus_per_cell:
        if ray_options is not None and args.device not in ("auto", "cpu"):
            raise SuiteError(f"--device {args.device} on Ray needs --gpus-per-cell (Ray hands GPUs to tasks)")
        return Placement.from_flags("cpu" if ray_options is not None else args.device, args.precision)
    if args.device not in ("auto", "cuda"):
        raise SuiteError(f"--gpus-per-cell runs cells on CUDA GPUs; --device {args.device} does not match")
    device = torch.device("cuda")
    if torch.cuda.is_available():
        return Placement(device, check_precision(args.precision, device), from_auto=args.precision == AUTO)
    # No GPU here to ask: auto means bf16 (every GPU generation since Ampere has it); a worker whose
    # GPU lacks it fails its cells with that reason.
    return Placement(device, "bf16" if args.precision == AUTO else args.precision, from_auto=args.precision == AUTO)


def _cell_timeout(text: str) -> CellTimeout:
    try:
        return parse_cell_timeout(text)
    except SuiteError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    # SIGTERM stops the grid as Ctrl-C does (the caller reports it: one line, exit 143).
    with sigterm_as_interrupt():
        return execute(RunRequest.from_args(args))


def execute(request: RunRequest) -> int:
    """Run (or with dry_run, plan) the request's grid; 1 when some cell failed."""
    from suite.run.grid import Grid
    from suite.run.identity import Execution
    from suite.run.plan import expand_grid
    from suite.run.teachers import default_cache_dir
    from suite.spec.knobs import format_value

    preset, methods, method_args = request.preset, list(request.methods), request.method_args
    glue_dir, results_dir = request.glue_dir, request.results_dir
    placement, ray_options = request.placement, request.ray_options
    print_data_source(glue_dir)
    print(
        f"device: {placement.record['type']} ({placement.record['name']}), precision {placement.precision}"
        if ray_options is None
        else f"device: {placement.device.type} on the Ray workers, precision {placement.precision}",
        file=sys.stderr,
    )
    execution = Execution(
        progress=not request.no_progress, save_models=request.save_models, tensorboard=request.tensorboard
    )
    grid = Grid.build(
        preset,
        results_dir,
        glue_dir,
        request.cache_dir or default_cache_dir(),
        placement=placement,
        method_args=method_args,
        execution=execution,
        read_only=request.dry_run,
        tuned=request.tuned,
    )
    cells = expand_grid(preset, methods)
    print(
        f"{len(cells)} cells: {len(preset.tasks)} tasks x {len(methods)} methods, budgets "
        f"{','.join(f'{b:g}' for b in preset.budgets)}, seeds {','.join(map(str, preset.seeds))}; "
        f"model {preset.model}; results in {results_dir}",
        file=sys.stderr,
    )
    for method, values in method_args.items():
        print(f"{method} knobs: " + ", ".join(f"{k}={format_value(v)}" for k, v in values.items()), file=sys.stderr)
    print_tuning(request.tuned, methods, preset.tasks)
    if request.dry_run:
        return print_plan(grid, cells)

    def report(result, progress) -> None:
        score = "-" if result.score is None else f"{result.score:.2f}"
        fraction = result.flops.get("fraction")
        frac = "-" if fraction is None else f"{fraction:.3f}"
        # A failed cell may lack any measurement: its line says so with '-' rather than stopping the grid.
        wall = "-" if result.wall_s is None else f"{result.wall_s:.0f}s"
        print(
            f"{result.task:6s} {result.method:12s} budget {result.budget:<5g} seed {result.seed}: "
            f"{result.status:11s} score {score:>6s}  FLOP fraction {frac}  {wall}"
            f"  [{progress.done}/{progress.total} cells, {_left(progress.remaining_s)}]"
            + (f"  ({result.error.splitlines()[0]})" if result.error else ""),
            file=sys.stderr,
        )

    if ray_options is None:
        from suite.run.executors.local import run_local

        summary = run_local(grid, cells, on_result=report)
    else:
        from suite.run.executors.ray_driver import run_on_ray
        from suite.run.executors.ray_worker import spec_for

        threads = max(1, int(ray_options.cpus_per_cell))
        spec = spec_for(grid, request.plugins, threads, placement.device.type)
        summary = run_on_ray(grid, cells, ray_options, spec, on_result=report)
        print(f"cell logs in {results_dir / 'logs'}", file=sys.stderr)
    for cell, reason in summary.unreachable:
        print(
            f"{cell.task:6s} {cell.method:12s} budget {cell.budget:<5g} seed {cell.seed}: not run: {reason}",
            file=sys.stderr,
        )
    print(
        f"done: {summary.count('ok')} ok, {summary.count('over_budget')} over budget, "
        f"{summary.count('failed')} failed, {len(summary.skipped)} already finished (skipped), "
        + (f"{len(summary.busy)} being computed by another run (left to it), " if summary.busy else "")
        + f"{len(summary.unreachable)} unreachable by design (not run)",
        file=sys.stderr,
    )
    if summary.unreachable and not summary.ran and not summary.skipped:
        raise SuiteError("no requested cell can be run: every method/budget pair above is out of its reach")
    print(
        f"records in {results_dir}; tables and plots: python -m suite leaderboard --results-dir {results_dir}",
        file=sys.stderr,
    )
    return 1 if summary.any_failed else 0


def print_tuning(tuned: TunedSettings | None, methods: list[str], tasks: tuple[str, ...]) -> None:
    """Which cells run with tuned settings, and which with the defaults."""
    if tuned is None:
        print("tuning: none (the preset's learning rate and each method's default knobs)", file=sys.stderr)
        return
    missing = [f"{t}/{m}" for t in tasks for m in methods if tuned.choice(t, m) is None]
    print(
        f"tuning: {tuned.file} ({tuned.trials} trials per method at budget {tuned.budget:g}, on the held-out split)"
        + (f"; untuned (not in the file): {', '.join(missing)}" if missing else ""),
        file=sys.stderr,
    )


def _left(seconds: float | None) -> str:
    """The grid's remaining time in words (an estimate from the cells finished so far)."""
    if seconds is None:
        return "time left unknown"
    if seconds <= 0:
        return "grid done"
    minutes = seconds / 60
    if minutes < 90:
        return f"about {max(1, round(minutes))} min left"
    return f"about {minutes / 60:.1f} h left"


# `--dry-run`: what a run would do, from the run's own planning, with nothing trained or written.
def print_plan(grid: Grid, cells: list[Cell]) -> int:
    """One line per cell on stdout (compute, skip, not run, fails) and the teachers the cells to compute
    need (cached or to train); a summary on stderr."""
    from suite.run.identity import needs_teacher
    from suite.run.plan import preview

    plan = preview(grid.identity, grid.store, cells)
    actions: dict[Cell, tuple[str, str]] = {}
    teachers: dict[tuple[str, int], bool] = {}
    for cell, method, _config in plan.to_run:
        actions[cell] = ("compute", "")
        if needs_teacher(method):
            teachers[(cell.task, cell.seed)] = grid.teachers.cached(cell.task, cell.seed)
    for cell in plan.skipped:
        actions[cell] = ("skip", "finished (same config hash)")
    for cell, reason in plan.unreachable:
        actions[cell] = ("not run", reason)
    for cell, error in plan.broken:
        actions[cell] = ("fails", error.splitlines()[0])
    for cell in cells:
        action, note = actions[cell]
        print(
            f"{action:8s} {cell.task:6s} {cell.method:12s} budget {cell.budget:<5g} seed {cell.seed}"
            + (f"  {note}" if note else "")
        )
    for (task, seed), cached in teachers.items():
        print(f"teacher  {task:6s} seed {seed}: {'cached' if cached else 'to train'}")
    to_train = sum(not cached for cached in teachers.values())
    print(
        f"dry run: {len(plan.to_run)} to compute ({to_train} teachers to train), {len(plan.skipped)} finished "
        f"(skipped), {len(plan.unreachable)} unreachable (not run), {len(plan.broken)} failing before training; "
        "nothing was trained or written",
        file=sys.stderr,
    )
    return 0
