"""Training randomness on the board: the spread over seeds beside the bootstrap CI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from suite.leaderboard import build_board, cells_csv, read_cells, render_markdown
from suite.leaderboard.estimates import Estimate, format_estimate
from suite.leaderboard.headline import headline_lines
from suite.leaderboard.seeds import seed_spread
from tests.builders.records import make_record, write_verified

# SST-2 accuracy per seed (whole counts of 1000 dev examples).
SEEDS = {
    ("dense", 1.0): [90.0, 91.0, 89.5],
    ("heads", 0.5): [88.0, 88.5, 87.9],
    ("ksp", 0.5): [86.0, 89.0, 85.5],
    ("magnitude", 0.5): [70.0, 71.0, 69.0],
}


def write_board(root: Path, scores: dict[tuple[str, float], list[float]], first_seed: int = 0) -> Path:
    records = [
        make_record("sst2", method, budget, first_seed + i, score)
        for (method, budget), values in scores.items()
        for i, score in enumerate(values)
    ]
    return write_verified(root, records)


@pytest.fixture
def three_seeds(tmp_path: Path):
    return build_board(read_cells(write_board(tmp_path / "results", SEEDS)))


@pytest.fixture
def one_seed(tmp_path: Path):
    return build_board(read_cells(write_board(tmp_path / "results", {key: v[:1] for key, v in SEEDS.items()})))


def _ranking(board) -> str:
    return next(line for line in headline_lines(board) if line.startswith("- Budget 0.5"))


def test_spread_by_hand():
    spread = seed_spread([86.0, 89.0, 85.5])
    assert (spread.n, spread.low, spread.high) == (3, 85.5, 89.0)
    assert spread.std == pytest.approx(np.std([86.0, 89.0, 85.5], ddof=1))
    assert spread.text() == "seeds 85.5..89.0, sd 1.9"
    assert seed_spread([86.0]) is None
    assert format_estimate(Estimate(82.0, (81.0, 83.0), np.array([80.0, 84.0]), (0, 1))) == (
        "82.0 [80.1, 83.9] (seeds 81.0..83.0, sd 1.4)"
    )


def test_spread_columns_in_the_csv_and_the_tables(tmp_path):
    scores = {**SEEDS, ("dense", 1.0): SEEDS[("dense", 1.0)][:1]}  # a one-seed row beside three-seed ones
    board = build_board(read_cells(write_board(tmp_path / "results", scores)))
    text = cells_csv(board)
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header[7:13] == [
        "score_ci_low",
        "score_ci_high",
        "score_seeds",
        "score_seed_min",
        "score_seed_max",
        "score_seed_std",
    ]
    ksp = [r for r in rows if r["method"] == "ksp"]
    assert [r["score_seeds"] for r in ksp] == ["3", "3", "3"]
    assert {(r["score_seed_min"], r["score_seed_max"]) for r in ksp} == {("85.5", "89.0")}
    assert float(ksp[0]["score_seed_std"]) == pytest.approx(np.std([86.0, 89.0, 85.5], ddof=1), abs=1e-6)
    dense = next(r for r in rows if r["method"] == "dense")
    assert dense["score_seeds"] == dense["score_seed_min"] == dense["score_seed_std"] == ""  # one seed: nothing
    table = render_markdown(board)
    assert "| 86.8 [" in table and "] (seeds 85.5..89.0, sd 1.9)" in table
    dense_line = next(line for line in table.splitlines() if line.startswith("| dense (budget 1)"))
    assert "(seeds" not in dense_line


def test_the_headline_gives_the_best_rows_spread(three_seeds):
    best = "- Budget 0.5: best **heads** 88.1 (seeds 87.9..88.5, sd 0.3; -2.0 points vs the reference, 95% CI"
    assert _ranking(three_seeds).startswith(best)


def test_a_board_of_one_seed_per_row_has_no_spread_columns(one_seed):
    header = cells_csv(one_seed).splitlines()[0].split(",")
    assert not [name for name in header if name.startswith("score_seed")]
    assert "(seeds " not in render_markdown(one_seed)
