"""Training randomness on the board: the spread over seeds beside the bootstrap CI, and a difference
called only where the CI excludes 0 and every seed shared by the two rows agrees with it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from suite.leaderboard import build_board, cells_csv, difference_table, read_cells, render_markdown
from suite.leaderboard.estimates import Estimate, format_difference, format_estimate
from suite.leaderboard.headline import headline_lines
from suite.leaderboard.rows import REFERENCE, Row
from suite.leaderboard.seeds import seed_check, seed_spread
from tests.builders.records import make_record, write_verified

HEADS, KSP, MAGNITUDE = Row("method", "heads", 0.5), Row("method", "ksp", 0.5), Row("method", "magnitude", 0.5)

# SST-2 accuracy per seed (whole counts of 1000 dev examples). The builder's predictions are wrong on a
# prefix of the dev set, so two rows differ on the examples between their prefixes only: the paired
# bootstrap separates gaps of a point or so, and the seeds alone can disagree with it.
SEEDS = {
    ("dense", 1.0): [90.0, 91.0, 89.5],
    ("heads", 0.5): [88.0, 88.5, 87.9],
    ("ksp", 0.5): [86.0, 89.0, 85.5],  # below heads on average and on seeds 0 and 2, above it on seed 1
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


def test_spread_and_seed_check_by_hand():
    spread = seed_spread([86.0, 89.0, 85.5])
    assert (spread.n, spread.low, spread.high) == (3, 85.5, 89.0)
    assert spread.std == pytest.approx(np.std([86.0, 89.0, 85.5], ddof=1))
    assert spread.text() == "seeds 85.5..89.0, sd 1.9"
    assert seed_spread([86.0]) is None
    assert seed_check(1.3, [2.0, -0.5, 2.4]).text() == "2 of 3 seeds agree"
    assert not seed_check(1.3, [2.0, -0.5, 2.4]).allows
    assert seed_check(-1.0, [-2.0, -0.5, -0.1]).allows
    assert not seed_check(1.0, [1.0, 0.0, 2.0]).allows  # a tie on one seed shows no direction
    assert not seed_check(1.0, [1.0]).applies and seed_check(1.0, [-1.0]).allows  # one seed: the CI decides


def test_differences_pair_seeds_by_number_and_keep_the_means():
    mine = Estimate(2.0, (1.0, 2.0, 3.0), np.array([1.0, 3.0]), (0, 1, 2))
    theirs = Estimate(1.5, (0.5, 3.5, 1.0), np.array([0.0, 1.0]), (1, 2, 3))
    difference = mine.minus(theirs)
    assert difference.value == 0.5  # the difference of the means the tables show, not of the shared seeds
    assert difference.seeds == (1, 2) and difference.seed_values == (1.5, -0.5)  # seed 1: 2-0.5, seed 2: 3-3.5
    np.testing.assert_array_equal(difference.draws, [1.0, 2.0])  # the bootstrap is untouched
    assert difference.ci.excludes_zero and not difference.called  # seed 2 goes the other way
    assert format_difference(difference) == "+0.5 [1.0, 2.0] (1 of 2 seeds agree)"
    alone = Estimate(2.0, (2.0,), np.array([1.0, 3.0]), (0,)).minus(Estimate(1.0, (1.0,), np.array([0.0, 1.0]), (0,)))
    assert alone.called and format_difference(alone) == "+1.0 [1.0, 2.0]†"  # one seed: bootstrap alone
    assert format_estimate(Estimate(82.0, (81.0, 83.0), np.array([80.0, 84.0]), (0, 1))) == (
        "82.0 [80.1, 83.9] (seeds 81.0..83.0, sd 1.4)"
    )


def test_a_ci_that_excludes_zero_is_not_called_where_one_seed_disagrees(three_seeds):
    board = three_seeds
    difference = board.score(HEADS, "sst2").minus(board.score(KSP, "sst2"))
    assert difference.ci.excludes_zero  # the bootstrap alone would call it
    assert difference.seed_values == pytest.approx((2.0, -0.5, 2.4))
    assert not difference.called
    to_best = difference_table(board, 0.5, to_best=True).set_index("method")
    assert to_best.loc["ksp", "sst2"] == "-1.3 [-2.0, -0.7] (2 of 3 seeds agree)"
    assert "†" not in "".join(to_best.loc["ksp"])
    ranking = _ranking(board)
    assert " ≈ ksp 86.8 (difference 1.3, 95% CI 0.7..2.0, 2 of 3 seeds agree)" in ranking


def test_a_ci_that_excludes_zero_is_called_where_every_seed_agrees(three_seeds):
    board = three_seeds
    difference = board.score(HEADS, "sst2").minus(board.score(REFERENCE, "sst2"))
    assert difference.ci.excludes_zero and difference.called and difference.seed_check.text() == "3 of 3 seeds agree"
    to_reference = difference_table(board, 0.5, to_best=False).set_index("method")
    assert to_reference.loc["heads", "sst2"].endswith("]†")
    ranking = _ranking(board)
    assert ranking.startswith("- Budget 0.5: best **heads** 88.1 (seeds 87.9..88.5, sd 0.3; -2.0 points vs")
    assert "3 of 3 seeds agree). Ranking:" in ranking
    assert " > magnitude 70.0 (difference 16.8, 95% CI " in ranking and ranking.endswith("3 of 3 seeds agree).")
    text = render_markdown(board)
    assert "share fewer than 2 seeds" not in text  # every compared pair has three


def test_one_seed_lets_the_bootstrap_decide_and_says_so(one_seed):
    board = one_seed
    difference = board.score(HEADS, "sst2").minus(board.score(KSP, "sst2"))
    assert not difference.seed_check.applies and difference.called  # 88.0 vs 86.0 on 20 examples, all one way
    assert difference_table(board, 0.5, to_best=True).set_index("method").loc["ksp", "sst2"].endswith("†")
    ranking = _ranking(board)
    assert " > ksp 86.0 (difference 2.0, 95% CI " in ranking and "seeds agree" not in ranking
    lines = headline_lines(board)
    assert "- Every gap in the rankings below is between rows that share fewer than 2 seeds, so" in "\n".join(lines)
    text = render_markdown(board)
    under = text.split("## Budget 0.5")[1]
    assert "- Every difference below is between rows that share fewer than 2 seeds, so the bootstrap CI" in under
    assert "one seed carries none" in under
    assert "(seeds " not in text  # one seed: no spread


def test_rows_with_fewer_seeds_than_the_others_are_said_apart(tmp_path):
    scores = {**SEEDS, ("dense", 1.0): SEEDS[("dense", 1.0)][:1]}
    board = build_board(read_cells(write_board(tmp_path / "results", scores)))
    under = render_markdown(board).split("## Budget 0.5")[1]
    assert "Seeds per cell: n = 3, except dense (budget 1): n = 1." in under
    assert "- Some differences below are between rows that share fewer than 2 seeds" in under
    assert not any("share fewer than 2 seeds" in line for line in headline_lines(board))  # the ranking has 3


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


def test_a_board_of_one_seed_per_row_has_no_spread_columns(one_seed):
    header = cells_csv(one_seed).splitlines()[0].split(",")
    assert not [name for name in header if name.startswith("score_seed")]


def test_the_papers_question_pairs_ksp_with_its_rivals_and_the_best_method(three_seeds):
    from suite.leaderboard.question import question_lines

    (line,) = question_lines(three_seeds)
    assert line.startswith("- Budget 0.5: ksp − magnitude +16.8 points (95% CI ")
    assert "3 of 3 seeds agree): ksp is better" in line  # distill has no row here: not named
    assert "ksp − heads -1.3 points (95% CI -2.0..-0.7, 2 of 3 seeds agree): no call (the best method)." in line
    assert "## The paper's question" in render_markdown(three_seeds)


def test_the_papers_question_is_left_out_without_the_focus_method(tmp_path):
    from suite.leaderboard.question import question_lines

    scores = {key: values for key, values in SEEDS.items() if key[0] != "ksp"}
    board = build_board(read_cells(write_board(tmp_path / "results", scores)))
    assert question_lines(board) == []
    assert "## The paper's question" not in render_markdown(board)
    (line,) = question_lines(board, focus="magnitude", rivals=("heads",))
    assert line.startswith("- Budget 0.5: magnitude − heads -18.1 points")
    assert line.endswith("heads is better (the best method).")


def test_the_papers_question_asks_ksp_tuned_too_with_ksp_among_its_rivals(tmp_path):
    from suite.leaderboard.question import render_question

    scores = {**SEEDS, ("ksp-tuned", 0.5): [87.0, 89.5, 86.0]}
    board = build_board(read_cells(write_board(tmp_path / "results", scores)))
    section = render_question(board)
    assert "The same question for `ksp-tuned`, with `ksp` among its rivals:" in section
    (line,) = [line for line in section if line.startswith("- Budget 0.5: ksp-tuned")]
    assert line.startswith("- Budget 0.5: ksp-tuned − ksp +")  # ksp first, then distill (absent), magnitude
    assert "ksp-tuned − magnitude" in line and "(the best method)" in line
    assert render_question(board, variant=None) == render_question(
        build_board(read_cells(write_board(tmp_path / "plain", SEEDS)))
    )
