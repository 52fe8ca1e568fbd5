"""What the subcommands share: argument types, the parser with one-line errors, `--version`, the help
texts and checks of flags several subcommands take. Torch-free: `ls methods` and `--help` import this."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from suite.errors import SuiteError

DISTRIBUTION = "prune-suite"

PRESET_HELP = "smoke | quick | cpu | paper (default: quick)"
MODEL_HELP = "hub id, local path, or alias: minilm-l6, tiny, bert-base-random"
GLUE_DIR_HELP = "classic glue_data folder (default: $GLUE_DIR, else the hub)"
PLUGINS_METAVAR = "MODULE_OR_FILE"
PRECISIONS = ["auto", "fp32", "bf16", "fp16"]
BATCHINGS = ["random", "length"]


def _csv(kind: type) -> Callable[[str], tuple]:
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


def _finite_number(at_least: float, inclusive: bool):
    """An argparse type: a finite number >= `at_least` (or > it, when not `inclusive`)."""
    sign = ">=" if inclusive else ">"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if not math.isfinite(value) or value < at_least or (value == at_least and not inclusive):
            raise argparse.ArgumentTypeError(f"expected a finite number {sign} {at_least:g}, got '{text}'")
        return value

    return parse


_non_negative_float = _finite_number(0.0, inclusive=True)
_positive_float = _finite_number(0.0, inclusive=False)


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


NO_HELDOUT = "none"


def _heldout(text: str) -> int | float | str:
    """A held-out rule: a whole number of examples, a fraction in (0, 1), or 'none' (no held-out split)."""
    from suite.errors import SuiteError
    from suite.spec.splits import check_heldout

    if text.strip().lower() in (NO_HELDOUT, "0"):
        return NO_HELDOUT
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of examples, a fraction in (0, 1) or none, got '{text[:40]}'"
        ) from None
    try:
        check_heldout(value)
    except SuiteError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--heldout ")) from None
    return int(value) if value >= 1 else value


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


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as the suite's one line (`error: ...`, exit 2) instead of a usage
    block first."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog.removeprefix('python -m suite').strip() or 'suite'}: {message} (see --help)\n")


def check_budgets(budgets: Sequence[float], example: str = "") -> None:
    """Every budget a fraction of the dense FLOPs in (0, 1]; `example` ends the message with a hint."""
    for budget in budgets:
        if not 0.0 < budget <= 1.0:
            raise SuiteError(f"budget {budget:g} is outside (0, 1]: budgets are fractions of the dense FLOPs{example}")


def checked_glue_dir(explicit: Path | None) -> Path | None:
    """--glue-dir, else GLUE_DIR, else None (the hub); a missing folder is a one-line error."""
    from suite.compute.data import glue_dir_from_env

    glue_dir = glue_dir_from_env(explicit)
    if glue_dir is not None and not glue_dir.is_dir():
        raise SuiteError(
            f"GLUE directory {glue_dir} does not exist; pass --glue-dir DIR or set GLUE_DIR to a glue_data folder"
        )
    return glue_dir


def print_data_source(glue_dir: Path | None) -> None:
    """Which source is read: the first line of a run."""
    from suite.compute.data import describe_source

    print(f"data: {describe_source(glue_dir)}", file=sys.stderr)
