"""`ls`: the methods (with `--verbose` their knobs), tasks or presets. A plain `ls methods` imports no
method and no torch: the registry knows the methods from their source."""

from __future__ import annotations

import argparse

from suite.cli.args import PLUGINS_METAVAR

NAME = "ls"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    ls = subparsers.add_parser(NAME, help="list methods, tasks or presets")
    ls.add_argument("what", choices=["methods", "tasks", "presets"])
    ls.add_argument("pattern", nargs="?", default="*", help="shell pattern for methods, e.g. '*mag*'")
    ls.add_argument("--plugins", action="append", default=[], metavar=PLUGINS_METAVAR)
    ls.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="methods: also each knob, its default and what it admits (imports the methods)",
    )


def run(args: argparse.Namespace) -> int:
    # Nothing to check: argparse's choices are every flag's rule.
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
    """A method's knobs, one a line as --method-args takes them, with their types and what they admit."""
    from suite.registry import get_registered
    from suite.spec.knobs import format_value, knobs_of, type_name

    registered = get_registered(name)
    knobs = knobs_of(registered.default_config())
    if not knobs:
        print("    (no knobs)")
    for knob in knobs:
        setting = f"{knob.path}={format_value(knob.value)}"
        allowed = "" if knob.allowed is None else f" {knob.allowed}"
        print(f"    {setting:32s} {type_name(knob.kind):6s}{allowed}".rstrip())
    print(f"    tuned on: {registered.search.describe()}")
