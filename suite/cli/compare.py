"""`compare`: two results folders side by side, every row both have, A minus B with paired CIs."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from suite.errors import SuiteError

NAME = "compare"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    compare = subparsers.add_parser(
        NAME, help="two results folders side by side (tuned vs defaults, a rerun): A minus B per row, paired CIs"
    )
    compare.add_argument("a", type=Path, help="results folder A")
    compare.add_argument("b", type=Path, help="results folder B")
    compare.add_argument("--names", default="A,B", help="column names of the two folders, comma-separated")


@dataclass(frozen=True)
class CompareRequest:
    folders: tuple[Path, Path]
    names: tuple[str, str]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CompareRequest:
        for folder in (args.a, args.b):
            if not folder.is_dir():
                raise SuiteError(f"results folder {folder} does not exist; pass two folders `run` wrote")
        names = tuple(name.strip() for name in args.names.split(","))
        if len(names) != 2 or not all(names) or names[0] == names[1]:
            raise SuiteError(f"--names takes two different names, comma-separated (got {args.names!r})")
        return cls(folders=(args.a, args.b), names=(names[0], names[1]))


def run(args: argparse.Namespace) -> int:
    from suite.leaderboard import build_board, read_cells
    from suite.leaderboard.compare import compare_boards, comparison_table

    request = CompareRequest.from_args(args)
    boards = []
    for folder in request.folders:
        cells = read_cells(folder)
        if not cells:
            raise SuiteError(f"no result records under {folder}; pass a folder `run` wrote")
        try:
            boards.append(build_board(cells))
        except ValueError as exc:
            raise SuiteError(f"{folder}: {exc}") from None
    table = comparison_table(compare_boards(*boards), request.names)
    if table.empty:
        raise SuiteError("the two folders share no scored row; compare runs of the same tasks and methods")
    print(table.to_markdown(index=False, disable_numparse=True))
    return 0
