"""`python -m suite run | tune | baselines | ls | flops | bench | export | leaderboard | compare | validate`.

One module per subcommand: its parser (`add_parser`), its checked request and its `run`. Exit codes: 0
success, 1 some cells failed (validate: some records have problems), 2 bad input (one line on stderr
says what to do), 130 interrupted (Ctrl-C), 143 `run` stopped by SIGTERM (finished cells kept).

Importing this package imports no torch, transformers, datasets or method: `ls methods` and `--help`
stay fast, so the subcommands import those inside their functions.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from suite.cli import baselines, bench, compare, export, flops, leaderboard, ls, run, tune, validate
from suite.cli.args import _Parser, _Version
from suite.cli.interrupts import TERMINATED_EXIT, Terminated
from suite.errors import SuiteError

# In the order `--help` lists them.
SUBCOMMANDS = (run, tune, baselines, ls, flops, bench, export, leaderboard, compare, validate)
COMMANDS = {module.NAME: module.run for module in SUBCOMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m suite",
        description="Benchmark BERT pruning methods on GLUE under equal FLOP budgets.",
    )
    parser.add_argument("--version", action=_Version, help="print the version (and git commit) and exit")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


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
    except KeyboardInterrupt as exc:
        stopped = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"{stopped}: finished cells are kept; rerun the same command to resume", file=sys.stderr)
        return TERMINATED_EXIT if isinstance(exc, Terminated) else 130


def _quiet_libraries() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # "Writing model shards" bars drown the cell lines
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # a warning per HTTP retry would bury the suite's own one-line error
    import datasets

    datasets.disable_progress_bars()  # per-task "Map" bars, likewise
