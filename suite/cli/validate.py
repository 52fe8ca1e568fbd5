"""`validate`: check a results folder (records, FLOPs, training rule, predictions, scores) before merging it.

Exit 1 when some record has problems, one a line on stdout."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from suite.errors import SuiteError

if TYPE_CHECKING:
    from suite.spec.presets import Preset

NAME = "validate"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    validate = subparsers.add_parser(
        NAME, help="check a results folder (records, FLOPs, training rule, predictions, scores) before merging"
    )
    validate.add_argument("results_dir", type=Path, help="folder searched recursively for result JSON files")
    validate.add_argument("--preset", help="also check every setting this preset fixes (smoke | quick | cpu | paper)")


@dataclass(frozen=True)
class ValidateRequest:
    results_dir: Path
    preset: Preset | None  # None: no preset's settings are checked

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ValidateRequest:
        from suite.spec.presets import get_preset

        preset = get_preset(args.preset) if args.preset else None
        if not args.results_dir.is_dir():
            raise SuiteError(f"results folder {args.results_dir} does not exist; pass the folder a run wrote")
        return cls(results_dir=args.results_dir, preset=preset)


def run(args: argparse.Namespace) -> int:
    from suite.records.validate import validate_results

    request = ValidateRequest.from_args(args)
    preset = request.preset
    result = validate_results(request.results_dir, preset)
    checked = "contract, FLOP budget, training rule, predictions, scores, one configuration"
    checked += f", preset {preset.name} (settings, every cell)" if preset else ""
    if result.absent_methods:
        names = ",".join(result.absent_methods)
        print(
            f"note: no record of {names} at any budget of preset {preset.name}: out of their reach at every "
            f"budget by design, or not run (python -m suite run --preset {preset.name} --methods {names} "
            f"--results-dir {request.results_dir} computes what they can reach)",
            file=sys.stderr,
        )
    if result.ok:
        print(f"{result.records} records in {request.results_dir}: no problems ({checked})")
        return 0
    for line in result.problems:
        print(line)
    print(f"{len(result.problems)} problems in {request.results_dir} ({result.records} records)", file=sys.stderr)
    return 1
