"""`compare`: the same rows of two runs side by side, paired by dev example and by seed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from suite.cli import main
from suite.errors import SuiteError
from suite.leaderboard import build_board, read_cells
from suite.leaderboard.compare import AVERAGE, compare_boards, comparison_table
from tests.builders.records import make_record, write_verified

BEFORE = {("dense", 1.0): [90.0, 91.0, 89.5], ("ksp", 0.5): [86.0, 89.0, 85.5]}
AFTER = {("dense", 1.0): [90.0, 91.0, 89.5], ("ksp", 0.5): [88.0, 90.0, 87.5], ("heads", 0.5): [88.0, 88.5, 87.9]}


def write_run(root: Path, scores: dict[tuple[str, float], list[float]], tasks=("sst2",)) -> Path:
    records = [
        make_record(task, method, budget, seed, score)
        for task in tasks
        for (method, budget), values in scores.items()
        for seed, score in enumerate(values)
    ]
    return write_verified(root, records)


def test_rows_of_both_runs_pair_by_example_and_seed(tmp_path):
    after = build_board(read_cells(write_run(tmp_path / "after", AFTER)))
    before = build_board(read_cells(write_run(tmp_path / "before", BEFORE)))
    comparisons = compare_boards(after, before)
    assert [(c.task, c.row) for c in comparisons] == [("sst2", "dense@1"), ("sst2", "ksp@0.5")]  # heads: one side
    same, ksp = comparisons
    assert same.difference.value == 0 and not same.difference.called  # the same predictions: no difference
    assert ksp.difference.value == pytest.approx(5.0 / 3) and ksp.difference.seed_values == pytest.approx((2, 1, 2))
    assert ksp.difference.called  # every seed better, on the same dev examples
    table = comparison_table(comparisons, ("tuned", "defaults")).set_index("row")
    assert list(table.columns) == ["task", "tuned", "defaults", "tuned − defaults"]
    assert table.loc["ksp@0.5", "tuned − defaults"].startswith("+1.7 [") and table.loc[
        "ksp@0.5", "tuned − defaults"
    ].endswith("†")


def test_the_average_is_compared_over_the_tasks_both_average(tmp_path):
    after = build_board(read_cells(write_run(tmp_path / "after", AFTER, tasks=("sst2", "rte"))))
    before = build_board(read_cells(write_run(tmp_path / "before", BEFORE, tasks=("sst2", "rte"))))
    averages = [c for c in compare_boards(after, before) if c.task == AVERAGE]
    assert [c.row for c in averages] == ["dense@1", "ksp@0.5"]


def test_runs_scored_on_other_labels_are_refused(tmp_path):
    after = build_board(read_cells(write_run(tmp_path / "after", AFTER)))
    before = build_board(read_cells(write_run(tmp_path / "before", BEFORE)))
    other = dataclasses.replace(before, label_digests={"sst2": "0" * 64})
    with pytest.raises(SuiteError, match="sst2: the two folders were scored on different dev labels"):
        compare_boards(after, other)


def test_the_command_prints_the_table_and_refuses_bad_input_in_one_line(tmp_path, capsys):
    after, before = write_run(tmp_path / "after", AFTER), write_run(tmp_path / "before", BEFORE)
    assert main(["compare", str(after), str(before), "--names", "tuned,defaults"]) == 0
    out = capsys.readouterr().out
    assert "| task   | row" in out and "tuned − defaults" in out and "ksp@0.5" in out
    assert main(["compare", str(after), str(tmp_path / "missing")]) == 2
    assert main(["compare", str(after), str(before), "--names", "same,same"]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(after), str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
