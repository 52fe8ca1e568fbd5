"""What the board says about tuning: the README's table per method, the training table's `lr` and
`configs`, and the note under a budget's table whose rows were tuned unequally."""

from __future__ import annotations

from typing import Any

import pytest

from suite.leaderboard import build_board, read_cells, render_markdown, render_readme
from suite.leaderboard.notes import table_notes
from suite.leaderboard.tuning import UNTUNED_LINE, format_rate
from tests.builders.records import make_record, write_verified

PRESET_RATE = 5e-5
TUNED_FILE = "suite/tuned/quick.json"


def tuned(trials: int, budget: float, rate: float, heldout: float, file: str = TUNED_FILE) -> dict[str, Any]:
    return {
        "file": file,
        "sha256": "f" * 64,
        "trials": trials,
        "budget": budget,
        "chosen": {"learning_rate": rate},
        "heldout_score": heldout,
        "overridden": [],
    }


def rec(method: str, task: str, budget: float, tuning: dict[str, Any] | None, role: str = "method") -> dict[str, Any]:
    rate = tuning["chosen"]["learning_rate"] if tuning else PRESET_RATE
    return make_record(
        task,
        method,
        budget,
        0,
        80.0,
        role=role,
        run_config={"train": {"epochs": 2, "batch_size": 32, "learning_rate": rate}, "data": {}},
        tuning=tuning,
    )


def board_of(tmp_path, records):
    return build_board(read_cells(write_verified(tmp_path / "results", records)))


def training_row(readme: str, task: str) -> list[str]:
    """The cells of `task`'s row in the README's training table (the one with an `lr` column)."""
    lines = readme.split("## The training rule", 1)[1].split("## Tuning", 1)[0].splitlines()
    header = next(line for line in lines if "| lr " in line)
    names = [c.strip() for c in header.strip("|").split("|")]
    row = next(line for line in lines if line.startswith(f"| {task} "))
    return dict(zip(names, (c.strip() for c in row.strip("|").split("|")), strict=True))


def tuning_section(readme: str) -> str:
    return readme.split("## Tuning\n", 1)[1].split("\n## ", 1)[0].strip()


MIXED = [
    rec("dense", "sst2", 1.0, tuned(8, 1.0, 2e-5, 91.25)),
    rec("dense", "rte", 1.0, tuned(8, 1.0, 3e-5, 70.5)),
    rec("teacher", "sst2", 1.0, tuned(8, 1.0, 2e-5, 90.0), role="teacher"),
    rec("teacher", "rte", 1.0, tuned(8, 1.0, 3e-5, 69.0), role="teacher"),
    rec("ksp", "sst2", 0.1, tuned(8, 0.1, 3.1e-4, 85.0)),
    rec("ksp", "rte", 0.1, tuned(8, 0.1, 2e-4, 66.125)),
    rec("magnitude", "sst2", 0.1, None),
    rec("magnitude", "rte", 0.1, None),
]


def test_rates_read_as_mantissa_and_exponent():
    assert [format_rate(v) for v in (3.1e-4, 2e-4, 5e-5, 0.1, 1)] == ["3.1e-4", "2e-4", "5e-5", "0.1", "1"]


def test_readme_tuning_table_shows_trials_rates_and_heldout_scores_per_method(tmp_path):
    section = tuning_section(render_readme(board_of(tmp_path, MIXED)))
    prose = " ".join(section.split())
    assert "held-out part of the training data" in prose and "never on dev" in prose
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| ")}
    assert list(rows)[1:] == ["dense", "teacher", "ksp", "magnitude"]  # header first; no trivial row
    ksp = [c.strip() for c in rows["ksp"].strip("|").split("|")]
    assert ksp == ["ksp", "8", "0.1", f"`{TUNED_FILE}`", "sst2 3.1e-4, rte 2e-4", "sst2 85.00, rte 66.12"]
    dense = [c.strip() for c in rows["dense"].strip("|").split("|")]
    assert dense[1:3] == ["8", "1"] and dense[4] == "sst2 2e-5, rte 3e-5"
    magnitude = [c.strip() for c in rows["magnitude"].strip("|").split("|")]
    assert magnitude[1:4] == ["none", "–", "–"] and magnitude[4] == "sst2 5e-5, rte 5e-5"
    assert magnitude[5] == "–"  # untuned: no held-out score


def test_an_all_untuned_board_says_so_in_one_line(tmp_path):
    records = [rec("dense", "sst2", 1.0, None), rec("ksp", "sst2", 0.1, None)]
    readme = render_readme(board_of(tmp_path, records))
    assert tuning_section(readme) == UNTUNED_LINE
    assert training_row(readme, "sst2")["lr"] == "5e-5" and training_row(readme, "sst2")["configs"] == "1"


def test_training_table_says_per_method_when_tuned_rates_differ_and_counts_one_config(tmp_path):
    readme = render_readme(board_of(tmp_path, MIXED))
    row = training_row(readme, "sst2")
    assert row["lr"] == "per method (see Tuning)"
    assert row["configs"] == "1"  # tuned rates (and the untuned preset rate beside them) are one config


def test_table_note_names_rows_tuned_unequally(tmp_path):
    board = board_of(tmp_path, MIXED)
    notes = [n for n in table_notes(board, 0.1) if n.startswith("Tuning differs")]
    assert notes == [
        "Tuning differs between rows: dense (budget 1), teacher, ksp 8 trials each; magnitude untuned"
        " (preset defaults). Differences between them mix the method with its tuning."
    ]
    assert "- Tuning differs between rows:" in render_markdown(board)


def test_table_note_names_different_trial_counts_per_row(tmp_path):
    records = [r for r in MIXED if r["method"] != "magnitude"]
    records[4:] = [
        rec("ksp", "sst2", 0.1, tuned(4, 0.1, 3.1e-4, 85.0)),
        rec("ksp", "rte", 0.1, tuned(4, 0.1, 2e-4, 66.0)),
    ]
    notes = [n for n in table_notes(board_of(tmp_path, records), 0.1) if n.startswith("Tuning differs")]
    assert len(notes) == 1 and "dense (budget 1), teacher 8 trials each; ksp 4 trials." in notes[0]


@pytest.mark.parametrize("tuning", [True, False], ids=["all tuned alike", "all untuned"])
def test_no_table_note_when_every_row_shares_its_tuning(tmp_path, tuning):
    records = [r for r in MIXED if r["method"] != "magnitude"]
    if not tuning:
        records = [rec(r["method"], r["task"], r["budget"], None, role=r["role"]) for r in records]
    board = board_of(tmp_path, records)
    assert not [n for n in table_notes(board, 0.1) if "Tuning" in n]
    assert "Tuning differs" not in render_markdown(board)
