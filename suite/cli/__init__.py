"""`python -m suite run | ls | flops | leaderboard | validate | export`.

Exit codes: 0 success, 1 some cells failed (validate: some records have problems), 2 bad input (one
line on stderr says what to do).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from suite.errors import SuiteError


def _csv(kind: type):
    def parse(text: str) -> tuple:
        try:
            values = tuple(kind(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {kind.__name__}, got '{text}'"
            ) from None
        if not values:
            # An empty list would silently mean "the preset's" (tasks) or a grid of 0 cells.
            raise argparse.ArgumentTypeError("expected at least one value, got an empty list")
        return values

    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got '{text}'")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got '{text}'")
    return value


def _epochs(text: str) -> float:
    """Epochs as a number; whole numbers become int so `--epochs 6` gives the same config hash (and
    so the same cached teacher and resumable cells) as a preset's `epochs=6`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of epochs, got '{text}'") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of epochs > 0, got '{text}'")
    return int(value) if value.is_integer() else value


class _Version(argparse.Action):
    """`--version`: the installed package's version and the checkout's commit, worked out only when asked
    (the commit takes two git calls)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args) -> NoReturn:
        print(version_line())
        parser.exit(0)


def version_line() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import suite
    from suite.records.provenance import git_sha

    try:
        number = version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        number = suite.__version__
    sha = git_sha()
    return f"{DISTRIBUTION} {number}" + (f" (git {sha})" if sha else "")


DISTRIBUTION = "prune-suite"


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as the suite's one line (`error: ...`, exit 2) instead of a usage
    block first."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog.removeprefix('python -m suite').strip() or 'suite'}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m suite",
        description="Benchmark BERT pruning methods on GLUE under equal FLOP budgets.",
    )
    parser.add_argument("--version", action=_Version, help="print the version (and git commit) and exit")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a grid of task x method x budget x seed cells")
    run.add_argument("--preset", default="quick", help="smoke | quick | cpu | paper (default: quick)")
    run.add_argument(
        "--methods",
        default="all",
        help="'all', names or patterns, comma-separated, in order; '-NAME' or '-PATTERN' removes methods "
        "(e.g. all,-random or all,-m*; write --methods=-random when the first item is one) (default: all)",
    )
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
    run.add_argument("--tasks", type=_csv(str), help="comma-separated GLUE tasks, e.g. sst2,mrpc")
    run.add_argument("--budgets", type=_csv(float), help="FLOP fractions in (0, 1], e.g. 0.5,0.1")
    run.add_argument("--seeds", type=_csv(int), help="e.g. 0,1,2")
    run.add_argument("--model", help="hub id, local path, or alias: minilm-l6, tiny, bert-base-random")
    run.add_argument("--max-train-samples", type=int, help="seeded train subsample size")
    run.add_argument("--max-eval-samples", type=int, help="seeded dev subsample size (default: all)")
    run.add_argument(
        "--epochs", type=_epochs, help="the teacher's epochs S for every task (compared rows train 2S lineage steps)"
    )
    run.add_argument(
        "--max-steps", type=int, help="the teacher's optimizer steps S (overrides epochs; compared rows train 2S)"
    )
    run.add_argument("--learning-rate", type=_positive_float)
    run.add_argument("--batch-size", type=int)
    run.add_argument("--lr-schedule", choices=["linear", "constant"], help="learning-rate schedule for every method")
    run.add_argument("--results-dir", type=Path, help="default: results/<preset>")
    run.add_argument("--glue-dir", type=Path, help="classic glue_data folder (default: $GLUE_DIR, else the hub)")
    run.add_argument(
        "--cache-dir", type=Path, help="teacher cache (default: $PRUNE_SUITE_CACHE or ~/.cache/prune_suite)"
    )
    run.add_argument(
        "--plugins",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="import extra method plugins (repeatable)",
    )
    run.add_argument(
        "--device", default="auto", help="auto (default: the GPU when there is one) | cpu | cuda | cuda:N | mps"
    )
    run.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        default="auto",
        help="autocast dtype of forward passes; auto (default): bf16 where the device computes it natively,"
        " else fp32 (weights, masks and losses stay fp32; fp16 on CUDA only)",
    )
    run.add_argument(
        "--batching",
        choices=["random", "length"],
        help="training batches: random, or grouped by length (reshuffled per epoch); default: the preset's",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
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
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local (default): the cells one after another in this process; ray: as Ray tasks",
    )
    run.add_argument("--ray-address", help="ray: join a running cluster ('auto' or ray://HOST:PORT)")
    run.add_argument("--workers", type=int, help="ray: start a local cluster for N cells at once (default: CPUs)")
    run.add_argument("--cpus-per-cell", type=_positive_float, help="ray: CPUs reserved per cell (default 1)")
    run.add_argument("--gpus-per-cell", type=_non_negative_float, help="ray: GPUs per cell, fractions allowed")
    run.add_argument("--max-retries", type=int, help="ray: retries of a cell whose worker died (default 2)")

    baselines = sub.add_parser(
        "baselines", help="write the trivial-baseline rows (majority class / constant) of a preset's tasks"
    )
    baselines.add_argument("--preset", default="quick", help="smoke | quick | cpu | paper (default: quick)")
    baselines.add_argument("--tasks", type=_csv(str), help="comma-separated GLUE tasks (default: the preset's)")
    baselines.add_argument("--max-train-samples", type=int, help="seeded train subsample size")
    baselines.add_argument("--max-eval-samples", type=int, help="seeded dev subsample size")
    baselines.add_argument("--results-dir", type=Path, help="default: results/<preset>")
    baselines.add_argument("--glue-dir", type=Path, help="classic glue_data folder (default: $GLUE_DIR, else the hub)")

    ls = sub.add_parser("ls", help="list methods, tasks or presets")
    ls.add_argument("what", choices=["methods", "tasks", "presets"])
    ls.add_argument("pattern", nargs="?", default="*", help="shell pattern for methods, e.g. '*mag*'")
    ls.add_argument("--plugins", action="append", default=[], metavar="MODULE_OR_FILE")
    ls.add_argument(
        "--verbose", "-v", action="store_true", help="methods: also each knob and its default (imports the methods)"
    )

    flops = sub.add_parser("flops", help="print FLOPs and parameters of a model as JSON")
    flops.add_argument("model", help="hub id, local path, or alias: minilm-l6, tiny, bert-base-random")
    flops.add_argument("--seq-len", type=int, default=128)
    flops.add_argument("--num-labels", type=int, default=2)

    bench = sub.add_parser("bench", help="benchmarks that print figures (step cost of each method)")
    bench.add_argument("what", choices=["step-cost", "latency", "throughput"])
    bench.add_argument("--methods", default="all", help="methods to time against dense (default: all)")
    bench.add_argument("--model", default="minilm-l6")
    bench.add_argument("--task", default="sst2")
    bench.add_argument("--steps", type=int, default=5, help="steps per method per round")
    bench.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median is reported)")
    bench.add_argument("--budget", type=float, default=0.1, help="step-cost: FLOP budget of the methods (default 0.1)")
    bench.add_argument("--budgets", type=_csv(float), default=(0.5, 0.25, 0.1), help="latency: budgets (0.5,0.25,0.1)")
    bench.add_argument("--glue-dir", type=Path, help="classic glue_data folder (default: $GLUE_DIR, else the hub)")
    bench.add_argument("--plugins", action="append", default=[], metavar="MODULE_OR_FILE")
    bench.add_argument("--tasks", type=_csv(str), help="throughput: tasks (default: the preset's)")
    bench.add_argument("--preset", default="cpu", help="throughput: whose data, schedule and model (default: cpu)")
    bench.add_argument("--device", default="auto", help="throughput: auto | cpu | cuda | cuda:N | mps")
    bench.add_argument(
        "--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto", help="throughput: candidate precision"
    )
    bench.add_argument(
        "--batching", choices=["random", "length"], default="length", help="throughput: candidate batching"
    )

    export = sub.add_parser("export", help="copy one cell's saved model (run --save-models) out of a results folder")
    export.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    export.add_argument("--task", required=True)
    export.add_argument("--method", required=True)
    export.add_argument("--budget", type=float, required=True)
    export.add_argument("--seed", type=int, required=True)
    export.add_argument("--to", type=Path, required=True, metavar="DIR", help="a new or empty folder")
    export.add_argument("--push-to-hub", metavar="REPO", help="also upload the folder to this Hugging Face Hub repo")

    board = sub.add_parser("leaderboard", help="tables (markdown, CSV), plots and a README from result files")
    board.add_argument(
        "--results-dir",
        type=Path,
        action="append",
        help="folder searched recursively for result JSON files (default: results); repeat it to merge"
        " other folders' comparable records into the first's board",
    )
    board.add_argument("--out", type=Path, help="output folder (default: the results folder, if only one)")
    board.add_argument("--title", default="Leaderboard", help="heading of the markdown files")
    board.add_argument("--no-plots", action="store_true", help="skip the PNG plots (tables, CSV and README only)")

    validate = sub.add_parser(
        "validate", help="check a results folder (records, FLOPs, training rule, predictions, scores) before merging"
    )
    validate.add_argument("results_dir", type=Path, help="folder searched recursively for result JSON files")
    validate.add_argument("--preset", help="also check every setting this preset fixes (smoke | quick | cpu | paper)")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from suite.registry import load_plugins, parse_method_args, resolve_method_names
    from suite.run.harness import Harness, expand_grid
    from suite.run.teachers import default_cache_dir
    from suite.spec.knobs import format_value
    from suite.spec.presets import get_preset
    from suite.spec.tasks import get_task

    ray_options = _ray_options(args)
    placement = _placement(args, ray_options)
    if args.tensorboard:
        from suite.records.sinks import summary_writer_class

        summary_writer_class()  # a missing TensorBoard is one line before anything trains
    preset = get_preset(args.preset)
    for budget in args.budgets or ():
        if not 0.0 < budget <= 1.0:
            raise SuiteError(
                f"budget {budget:g} is outside (0, 1]: budgets are fractions of the dense FLOPs, e.g. --budgets 0.5,0.1"
            )
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
    )
    load_plugins(args.plugins)
    methods = resolve_method_names(args.methods)
    method_args = parse_method_args(args.method_args, methods)
    glue_dir = _data_source(args.glue_dir)
    results_dir = args.results_dir or Path("results") / preset.name
    print(
        f"device: {placement.record['type']} ({placement.record['name']}), precision {placement.precision}"
        if ray_options is None
        else f"device: {placement.device.type} on the Ray workers, precision {placement.precision}",
        file=sys.stderr,
    )
    harness = Harness(
        preset,
        results_dir,
        glue_dir,
        args.cache_dir or default_cache_dir(),
        progress=not args.no_progress,
        placement=placement,
        method_args=method_args,
        read_only=args.dry_run,
        save_models=args.save_models,
        tensorboard=args.tensorboard,
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
    if args.dry_run:
        from suite.cli.dry_run import print_plan

        return print_plan(harness, cells)

    def report(result, progress) -> None:
        score = "-" if result.score is None else f"{result.score:.2f}"
        fraction = result.flops.get("fraction")
        frac = "-" if fraction is None else f"{fraction:.3f}"
        print(
            f"{result.task:6s} {result.method:12s} budget {result.budget:<5g} seed {result.seed}: "
            f"{result.status:11s} score {score:>6s}  FLOP fraction {frac}  {result.wall_s:.0f}s"
            f"  [{progress.done}/{progress.total} cells, {_left(progress.remaining_s)}]"
            + (f"  ({result.error.splitlines()[0]})" if result.error else ""),
            file=sys.stderr,
        )

    if ray_options is None:
        summary = harness.run(cells, on_result=report)
    else:
        from suite.run.executors.ray_driver import run_on_ray
        from suite.run.executors.ray_worker import spec_for

        threads = max(1, int(ray_options.cpus_per_cell))
        spec = spec_for(harness, tuple(args.plugins), threads, placement.device.type)
        summary = run_on_ray(harness, cells, ray_options, spec, on_result=report)
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


def _ray_options(args: argparse.Namespace):
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


def _placement(args: argparse.Namespace, ray_options):
    """Device and precision of the cells. On Ray the cells run on the workers: `auto` means a GPU when
    cells are given GPUs, and the driver (which may have none) does not check the device itself."""
    import torch

    from suite.compute.device import Placement, check_precision

    if ray_options is None or not ray_options.gpus_per_cell:
        if ray_options is not None and args.device not in ("auto", "cpu"):
            raise SuiteError(f"--device {args.device} on Ray needs --gpus-per-cell (Ray hands GPUs to tasks)")
        return Placement.from_flags("cpu" if ray_options is not None else args.device, args.precision)
    if args.device not in ("auto", "cuda"):
        raise SuiteError(f"--gpus-per-cell runs cells on CUDA GPUs; --device {args.device} does not match")
    device = torch.device("cuda")
    if torch.cuda.is_available():
        return Placement(device, check_precision(args.precision, device))
    # No GPU here to ask: auto means bf16 (every GPU generation since Ampere has it); a worker whose
    # GPU lacks it fails its cells with that reason.
    return Placement(device, "bf16" if args.precision == "auto" else args.precision)


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


def _data_source(explicit: Path | None) -> Path | None:
    """--glue-dir, else GLUE_DIR, else None (the hub); a missing folder is a one-line error. Says which
    source is read: the first line of a run."""
    from suite.compute.data import describe_source, glue_dir_from_env

    glue_dir = glue_dir_from_env(explicit)
    if glue_dir is not None and not glue_dir.is_dir():
        raise SuiteError(
            f"GLUE directory {glue_dir} does not exist; pass --glue-dir DIR or set GLUE_DIR to a glue_data folder"
        )
    print(f"data: {describe_source(glue_dir)}", file=sys.stderr)
    return glue_dir


def cmd_baselines(args: argparse.Namespace) -> int:
    """The `trivial` rows alone: `run` writes them too, this adds them to results made without them."""
    from suite.run.harness import Harness
    from suite.run.teachers import default_cache_dir
    from suite.spec.presets import get_preset
    from suite.spec.tasks import get_task

    preset = get_preset(args.preset).with_overrides(
        tasks=tuple(get_task(t).name for t in args.tasks) if args.tasks else None,
        max_train_samples=args.max_train_samples,
        max_eval_samples=args.max_eval_samples,
    )
    glue_dir = _data_source(args.glue_dir)
    results_dir = args.results_dir or Path("results") / preset.name
    harness = Harness(preset, results_dir, glue_dir, default_cache_dir(), progress=False)
    for task in preset.tasks:
        harness.task_data(task)  # data errors surface before anything is written
    written = {r.task: r for r in harness.write_trivial_baselines(list(preset.tasks))}
    for task in preset.tasks:
        result = written.get(task)
        state = f"{result.score:6.2f}  ({result.method_config['rule']})" if result else "unchanged (same data)"
        print(f"{task:6s} trivial: {state}", file=sys.stderr)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    if args.what == "methods":
        from suite.registry import list_methods, load_plugins, summary_of

        load_plugins(args.plugins)
        for name in list_methods(args.pattern):
            print(f"{name:16s} {summary_of(name)}")
            if args.verbose:
                _print_knobs(name)
    elif args.what == "tasks":
        from suite.spec.tasks import TASKS

        for task in TASKS.values():
            kind = "regression" if task.is_regression else f"{task.num_labels} classes"
            splits = ",".join(task.eval_splits)
            print(f"{task.name:6s} {task.dir_name:6s} {kind:10s} primary: {task.primary_metric:22s} eval: {splits}")
    else:
        from suite.spec.presets import PRESETS

        for preset in PRESETS.values():
            print(f"{preset.name:6s} {preset.description}")
    return 0


def _print_knobs(name: str) -> None:
    """A method's knobs, one a line as --method-args takes them, with their types."""
    from suite.registry import get_registered
    from suite.spec.knobs import format_value, knobs_of, type_name

    knobs = knobs_of(get_registered(name).default_config())
    if not knobs:
        print("    (no knobs)")
    for knob in knobs:
        setting = f"{knob.path}={format_value(knob.value)}"
        print(f"    {setting:32s} {type_name(knob.kind)}")


def cmd_flops(args: argparse.Namespace) -> int:
    from suite.compute.models import load_classifier
    from suite.flops import count_flops

    if args.seq_len <= 0:
        raise SuiteError(f"--seq-len must be positive, got {args.seq_len}")
    model = load_classifier(args.model, args.num_labels)
    report = count_flops(model, args.seq_len)
    out = {
        "model": args.model,
        **report.as_dict(),
        "dense_gflops": report.dense / 1e9,
        "effective_gflops": report.effective / 1e9,
    }
    print(json.dumps(out, indent=2))
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from suite.leaderboard import write_leaderboard

    folders = args.results_dir or [Path("results")]
    for folder in folders:
        if not folder.is_dir():
            raise SuiteError(
                f"results folder {folder} does not exist; run `python -m suite run` first or pass --results-dir"
            )
    if len(folders) > 1 and args.out is None:
        raise SuiteError("several --results-dir are merged into a new leaderboard: say where with --out DIR")
    try:
        paths = write_leaderboard(folders, args.out or folders[0], args.title, not args.no_plots)
    except FileNotFoundError as exc:
        raise SuiteError(f"{exc}; run `python -m suite run` first or pass --results-dir") from None
    print(paths[0].read_text())
    print("written: " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from suite.compute.packing import push_to_hub
    from suite.records.atomic import copy_model_dir
    from suite.records.layout import cell_path
    from suite.records.reader import read_record
    from suite.spec.tasks import get_task

    if not args.results_dir.is_dir():
        raise SuiteError(f"results folder {args.results_dir} does not exist; pass the --results-dir of a run")
    task = get_task(args.task).name
    label = f"{task}/{args.method}/budget {args.budget:g}/seed {args.seed}"
    path = cell_path(args.results_dir, task, args.method, args.budget, args.seed)
    record = read_record(path)
    if record is None:
        raise SuiteError(f"no record of {label} in {args.results_dir} (looked for {path}); check the cell's fields")
    saved = record.get("saved_model")
    if not saved:
        raise SuiteError(
            f"{label} has no saved model (status {record.get('status')}): run it with --save-models; a finished "
            "cell is not rerun, so move its record away first"
        )
    source = path.parent / saved["path"]
    if not source.is_dir():
        raise SuiteError(f"{label}: its record names the saved model {source}, which is missing; rerun the cell")
    copy_model_dir(source, args.to)
    loader = (
        "transformers or suite.structure.load_pruned"
        if saved.get("plain_transformers")
        else "suite.structure.load_pruned"
    )
    print(f"exported {label} to {args.to} (loads with {loader})", file=sys.stderr)
    if args.push_to_hub:
        url = push_to_hub(args.to, args.push_to_hub)
        print(f"pushed to the Hub: {url}", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from suite.records.validate import validate_results
    from suite.spec.presets import get_preset

    preset = get_preset(args.preset) if args.preset else None
    if not args.results_dir.is_dir():
        raise SuiteError(f"results folder {args.results_dir} does not exist; pass the folder a run wrote")
    result = validate_results(args.results_dir, preset)
    checked = "contract, FLOP budget, training rule, predictions, scores, one configuration"
    checked += f", preset {preset.name}" if preset else ""
    if result.ok:
        print(f"{result.records} records in {args.results_dir}: no problems ({checked})")
        return 0
    for line in result.problems:
        print(line)
    print(f"{len(result.problems)} problems in {args.results_dir} ({result.records} records)", file=sys.stderr)
    return 1


def cmd_bench(args: argparse.Namespace) -> int:
    from suite.bench.step_cost import format_step_costs, step_costs
    from suite.compute.data import glue_dir_from_env
    from suite.registry import load_plugins, resolve_method_names
    from suite.spec.tasks import get_task

    if args.steps <= 0 or args.rounds <= 0:
        raise SuiteError("--steps and --rounds must be positive")
    for budget in (args.budget, *args.budgets):
        if not 0.0 < budget <= 1.0:
            raise SuiteError(f"budget {budget:g} is outside (0, 1]: budgets are fractions of the dense FLOPs")
    load_plugins(args.plugins)
    if args.what == "throughput":
        return _bench_throughput(args)
    methods = resolve_method_names(args.methods)
    task = get_task(args.task).name
    if args.what == "latency":
        from suite.bench.latency import format_latency, latency_speedups

        rows = latency_speedups(methods, list(args.budgets), args.model, task, glue_dir_from_env(args.glue_dir))
        print(format_latency(rows, args.model))
        return 0
    costs = step_costs(
        methods,
        args.model,
        task,
        glue_dir_from_env(args.glue_dir),
        steps_per_round=args.steps,
        rounds=args.rounds,
        budget=args.budget,
    )
    print(format_step_costs(costs, args.model, task))
    return 0


def _bench_throughput(args: argparse.Namespace) -> int:
    from suite.bench.throughput import format_throughput, task_throughput
    from suite.compute.data import glue_dir_from_env
    from suite.compute.device import Placement
    from suite.spec.presets import get_preset
    from suite.spec.tasks import get_task

    candidate = Placement.from_flags(args.device, args.precision)
    preset = get_preset(args.preset)
    if args.model != "minilm-l6":
        preset = preset.with_overrides(model=args.model)
    tasks = [get_task(t).name for t in args.tasks] if args.tasks else list(preset.tasks)
    grouped = args.batching == "length"
    glue_dir = glue_dir_from_env(args.glue_dir)
    rows = []
    for task in tasks:
        rows.append(task_throughput(task, preset, glue_dir, candidate, grouped, args.steps, args.rounds))
        print(f"{task}: {rows[-1].ratio:.2f}x", file=sys.stderr)
    print(format_throughput(rows, preset, candidate, grouped))
    return 0


COMMANDS = {
    "run": cmd_run,
    "baselines": cmd_baselines,
    "ls": cmd_ls,
    "flops": cmd_flops,
    "bench": cmd_bench,
    "leaderboard": cmd_leaderboard,
    "export": cmd_export,
    "validate": cmd_validate,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("textpruner").setLevel(logging.WARNING)  # one INFO line per pruning round
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        if args.command != "ls" or args.verbose:  # plain listing imports none of them
            _quiet_libraries()
        return COMMANDS[args.command](args)
    except SuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished cells are kept; rerun the same command to resume", file=sys.stderr)
        return 130


def _quiet_libraries() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # "Writing model shards" bars drown the cell lines
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # a warning per HTTP retry would bury the suite's own one-line error
    import datasets

    datasets.disable_progress_bars()  # per-task "Map" bars, likewise
