"""cells.csv: every field of every record, nested fields flattened with dots, plus each score's CI."""

from __future__ import annotations

from typing import Any

import pandas as pd

from suite.leaderboard.board import Board
from suite.leaderboard.bootstrap import percentile_interval
from suite.leaderboard.engines import best_engine
from suite.leaderboard.frame import SORT_KEYS
from suite.leaderboard.rows import Row
from suite.leaderboard.seeds import SeedSpread, seed_spread
from suite.leaderboard.unverified import reason
from suite.records.schema import role_of

FIRST = [
    "task",
    "method",
    "role",
    "budget",
    "seed",
    "status",
    "score",
    "score_ci_low",
    "score_ci_high",
    "score_seeds",
    "score_seed_min",
    "score_seed_max",
    "score_seed_std",
    "not_verified",
]
CI_DIGITS = 6  # enough for any shown rounding; fewer float-noise digits in diffs of the file
SPREAD_COLUMNS = (("score_seed_min", "low"), ("score_seed_max", "high"), ("score_seed_std", "std"))


def _row_spread(board: Board, record: dict[str, Any]) -> SeedSpread | None:
    """The spread over seeds of the verified scores of this record's row on its task, on the lines of
    those scores only (a failed or unverified seed is not part of it)."""
    if board.cell_score(record) is None:
        return None
    per_seed = board.seeds(Row.of(record), record["task"])
    return seed_spread([per_seed[seed].value for seed in sorted(per_seed)])


def cells_csv(board: Board) -> str:
    """`score_ci_low`/`score_ci_high`: the 95% bootstrap CI of that record's own score (one seed);
    empty unless the score is verified. `not_verified`: why an `ok` record's score did not check out
    (empty for the others). `score_seeds`, `score_seed_min`, `score_seed_max`, `score_seed_std`: the
    spread over seeds of the verified scores of the record's row on its task (`seeds.seed_spread`), the
    same on each of those lines; empty where the row has one, and no such columns where no row has
    more. `role` is filled for legacy records too (they are method rows).
    `engine` / `engine_speedup`: the record's best engine and precision and its batch-32 speedup, as the
    board reads them (`engines`), where any record has one; each engine's raw figures are the record's
    own `latency_ms.engines.<engine>.<precision>.*` columns."""
    records = board.records
    flat = pd.json_normalize(records, sep=".")
    flat["role"] = [role_of(r) for r in records]
    lows, highs = [], []
    for record in records:
        score = board.cell_score(record)
        ci = percentile_interval(score.draws) if score is not None and score.draws is not None else None
        lows.append(round(ci.low, CI_DIGITS) if ci else None)
        highs.append(round(ci.high, CI_DIGITS) if ci else None)
    flat["score_ci_low"], flat["score_ci_high"] = lows, highs
    spreads = [_row_spread(board, record) for record in records]
    if any(spreads):  # a board of one seed per row gets no columns it could only leave empty
        flat["score_seeds"] = pd.array([s.n if s else None for s in spreads], dtype="Int64")  # 3, not 3.0
        for column, field in SPREAD_COLUMNS:
            flat[column] = [round(getattr(s, field), CI_DIGITS) if s else None for s in spreads]
    reasons = {id(item.cell.record): reason(item) for item in board.unverified}
    flat["not_verified"] = [reasons.get(id(record), "") for record in records]
    best = [best_engine(record) for record in records]
    if any(best):
        flat["engine"] = [b[0] if b else None for b in best]
        flat["engine_speedup"] = [b[1] if b else None for b in best]
    first = [c for c in FIRST if c in flat.columns]
    flat = flat[first + sorted(c for c in flat.columns if c not in first)]
    flat = flat.sort_values([k for k in SORT_KEYS if k in flat.columns], kind="stable")
    return flat.to_csv(index=False, lineterminator="\n")
