"""`leaderboard`: tables (markdown, CSV), plots and a README from the result files of one or more folders."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from suite.errors import SuiteError
from suite.spec.presets import get_preset

NAME = "leaderboard"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    board = subparsers.add_parser(NAME, help="tables (markdown, CSV), plots and a README from result files")
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
    board.add_argument(
        "--preset", help="the preset the board was made for: its README lists the tasks it leaves off, and why"
    )


@dataclass(frozen=True)
class LeaderboardRequest:
    folders: tuple[Path, ...]  # the first's board; the others' comparable records merged into it
    out: Path
    title: str
    plots: bool
    left_off: dict[str, str]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LeaderboardRequest:
        folders = tuple(args.results_dir or [Path("results")])
        for folder in folders:
            if not folder.is_dir():
                raise SuiteError(
                    f"results folder {folder} does not exist; run `python -m suite run` first or pass --results-dir"
                )
        if len(folders) > 1 and args.out is None:
            raise SuiteError("several --results-dir are merged into a new leaderboard: say where with --out DIR")
        left_off = {} if args.preset is None else dict(get_preset(args.preset).left_off)
        return cls(
            folders=folders, out=args.out or folders[0], title=args.title, plots=not args.no_plots, left_off=left_off
        )


def run(args: argparse.Namespace) -> int:
    from suite.leaderboard import write_leaderboard

    request = LeaderboardRequest.from_args(args)
    try:
        paths = write_leaderboard(
            list(request.folders), request.out, request.title, request.plots, left_off=request.left_off
        )
    except FileNotFoundError as exc:
        raise SuiteError(f"{exc}; run `python -m suite run` first or pass --results-dir") from None
    print(paths[0].read_text())
    print("written: " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0
