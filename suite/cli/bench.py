"""`bench`: benchmarks that print figures: step cost and inference latency of each method against dense,
and the training throughput of a device/precision/batching candidate against the preset's."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from suite.cli.args import BATCHINGS, GLUE_DIR_HELP, PLUGINS_METAVAR, PRECISIONS, _csv, check_budgets
from suite.errors import SuiteError

if TYPE_CHECKING:
    from suite.compute.device import Placement
    from suite.spec.presets import Preset

NAME = "bench"
DEFAULT_MODEL = "minilm-l6"  # throughput: the preset's model unless another is named


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser(NAME, help="benchmarks that print figures (step cost of each method)")
    bench.add_argument("what", choices=["step-cost", "latency", "throughput"])
    bench.add_argument("--methods", default="all", help="methods to time against dense (default: all)")
    bench.add_argument("--model", default=DEFAULT_MODEL)
    bench.add_argument("--task", default="sst2")
    bench.add_argument("--steps", type=int, default=5, help="steps per method per round")
    bench.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median is reported)")
    bench.add_argument("--budget", type=float, default=0.1, help="step-cost: FLOP budget of the methods (default 0.1)")
    bench.add_argument("--budgets", type=_csv(float), default=(0.5, 0.25, 0.1), help="latency: budgets (0.5,0.25,0.1)")
    bench.add_argument(
        "--engine",
        type=_csv(str),
        help="latency: also export each finalized model to ONNX and time it on these engines "
        "(torch,onnxruntime,openvino,deepsparse), each against its own unpruned model",
    )
    bench.add_argument("--batch-sizes", type=_csv(int), default=(1, 32), help="latency --engine: batches (1,32)")
    bench.add_argument("--glue-dir", type=Path, help=GLUE_DIR_HELP)
    bench.add_argument("--plugins", action="append", default=[], metavar=PLUGINS_METAVAR)
    bench.add_argument("--tasks", type=_csv(str), help="throughput: tasks (default: the preset's)")
    bench.add_argument("--preset", default="cpu", help="throughput: whose data, schedule and model (default: cpu)")
    bench.add_argument("--device", default="auto", help="throughput: auto | cpu | cuda | cuda:N | mps")
    bench.add_argument("--precision", choices=PRECISIONS, default="auto", help="throughput: candidate precision")
    bench.add_argument("--batching", choices=BATCHINGS, default="length", help="throughput: candidate batching")


@dataclass(frozen=True)
class BenchRequest:
    """The checked flags of one benchmark; those another benchmark takes are None."""

    what: str
    model: str
    steps: int
    rounds: int
    budget: float
    budgets: tuple[float, ...]
    glue_dir: Path | None
    methods: tuple[str, ...] | None  # step-cost, latency: timed against dense
    task: str | None  # step-cost, latency
    preset: Preset | None  # throughput: with --model as its model
    tasks: tuple[str, ...] | None  # throughput
    candidate: Placement | None  # throughput: compared against the preset's placement
    grouped: bool  # throughput: the candidate batches by length
    engines: tuple[str, ...] | None = None  # latency: None times PyTorch alone (batch 32, both kernels)
    batch_sizes: tuple[int, ...] = (1, 32)  # latency --engine

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BenchRequest:
        """Checks every flag; loads the plugins the methods may come from."""
        from suite.compute.data import glue_dir_from_env
        from suite.registry import load_plugins, resolve_method_names
        from suite.spec.tasks import get_task

        if args.steps <= 0 or args.rounds <= 0:
            raise SuiteError("--steps and --rounds must be positive")
        check_budgets((args.budget, *args.budgets))
        if any(b <= 0 for b in args.batch_sizes):
            raise SuiteError(f"--batch-sizes must be positive, got {','.join(map(str, args.batch_sizes))}")
        engines = None
        if args.engine is not None:
            from suite.compute.engines import engines_for

            engines = tuple(dict.fromkeys(name.strip() for name in args.engine))
            engines_for(engines)  # an unknown or missing engine is one line before any model is built
        load_plugins(args.plugins)
        methods = task = preset = tasks = candidate = None
        if args.what == "throughput":
            from suite.compute.device import Placement
            from suite.spec.presets import get_preset

            candidate = Placement.from_flags(args.device, args.precision)
            preset = get_preset(args.preset)
            if args.model != DEFAULT_MODEL:
                preset = preset.with_overrides(model=args.model)
            tasks = tuple(get_task(t).name for t in args.tasks) if args.tasks else tuple(preset.tasks)
        else:
            methods = tuple(resolve_method_names(args.methods))
            task = get_task(args.task).name
        return cls(
            what=args.what,
            model=args.model,
            steps=args.steps,
            rounds=args.rounds,
            budget=args.budget,
            budgets=tuple(args.budgets),
            glue_dir=glue_dir_from_env(args.glue_dir),
            methods=methods,
            task=task,
            preset=preset,
            tasks=tasks,
            candidate=candidate,
            grouped=args.batching == "length",
            engines=engines,
            batch_sizes=tuple(args.batch_sizes),
        )


def run(args: argparse.Namespace) -> int:
    request = BenchRequest.from_args(args)
    if request.what == "throughput":
        return _throughput(request)
    if request.what == "latency" and request.engines is not None:
        return _engine_latency(request)
    if request.what == "latency":
        from suite.bench.latency import format_latency, latency_speedups

        rows = latency_speedups(
            list(request.methods), list(request.budgets), request.model, request.task, request.glue_dir
        )
        print(format_latency(rows, request.model))
        return 0
    from suite.bench.step_cost import format_step_costs, step_costs

    costs = step_costs(
        list(request.methods),
        request.model,
        request.task,
        request.glue_dir,
        steps_per_round=request.steps,
        rounds=request.rounds,
        budget=request.budget,
    )
    print(format_step_costs(costs, request.model, request.task))
    return 0


def _throughput(request: BenchRequest) -> int:
    from suite.bench.throughput import format_throughput, task_throughput

    preset, candidate, grouped = request.preset, request.candidate, request.grouped
    rows = []
    for task in request.tasks:
        rows.append(task_throughput(task, preset, request.glue_dir, candidate, grouped, request.steps, request.rounds))
        print(f"{task}: {rows[-1].ratio:.2f}x", file=sys.stderr)
    print(format_throughput(rows, preset, candidate, grouped))
    return 0


def _engine_latency(request: BenchRequest) -> int:
    from suite.bench.engine_speed import engine_speedups, format_engine_speedups
    from suite.bench.latency import finalized_models
    from suite.compute.engines import engines_for

    models = finalized_models(
        list(request.methods), list(request.budgets), request.model, request.task, request.glue_dir
    )
    rows = engine_speedups(models, engines_for(request.engines), batch_sizes=request.batch_sizes, rounds=request.rounds)
    print(format_engine_speedups(rows, request.model, request.batch_sizes))
    return 0
