"""The board README's Scale section: model, data, tuning and hours from the records; the tasks the preset
leaves off, with their measured reasons, from the preset."""

from __future__ import annotations

import pytest

from suite.cli import main
from suite.leaderboard import build_board, read_cells, render_readme
from suite.spec.presets import get_preset
from tests.builders.records import make_record, write_verified


def _records(tuning: dict | None) -> list[dict]:
    records = []
    for seed, wall in ((0, 1800.0), (1, 5400.0)):
        for method, role, budget in (("teacher", "teacher", 1.0), ("dense", "method", 1.0), ("ksp", "method", 0.1)):
            records.append(
                make_record(
                    "sst2",
                    method,
                    budget,
                    seed,
                    80.0,
                    role=role,
                    model="minilm-l6",
                    wall_s=wall,
                    run_config={"data": {"max_train_samples": 4400, "heldout_size": 400}},
                    training={"own_steps": 80 if role == "teacher" else 160, "examples": 2560},
                    tuning=tuning,
                )
            )
    return records


def _scale(readme: str) -> str:
    return readme.split("## Scale\n", 1)[1].split("\n## ", 1)[0]


def test_the_scale_section_names_the_model_data_tuning_and_hours(tmp_path):
    tuning = {"file": "suite/tuned/cpu.json", "sha256": "f" * 64, "trials": 6, "budget": 0.1, "chosen": {}}
    board = build_board(read_cells(write_verified(tmp_path / "results", _records(tuning))))
    scale = _scale(render_readme(board))
    assert "all-MiniLM-L6-v2, a sentence-embedding model" in scale and "not BERT-base" in scale
    assert "- sst2: 80 teacher steps S (2560 training examples seen)" in scale
    assert "at most 4400 training examples, 400 of them held out for tuning" in scale
    assert "- Tuning: 6 trials per (task, method) on the held-out split." in scale
    assert "seed 0: 1.5 h, seed 1: 4.5 h" in scale  # three cells of 1800 s and of 5400 s
    assert "left off" not in scale


def test_an_untuned_board_says_so(tmp_path):
    board = build_board(read_cells(write_verified(tmp_path / "results", _records(None))))
    assert "- Tuning: none" in _scale(render_readme(board))


def test_the_boards_preset_lists_the_tasks_it_leaves_off_with_their_reasons(tmp_path, capsys):
    results = write_verified(tmp_path / "results", _records(None))
    args = ["leaderboard", "--results-dir", str(results), "--out", str(tmp_path / "board"), "--no-plots"]
    assert main([*args, "--preset", "cpu"]) == 0
    scale = _scale((tmp_path / "board" / "README.md").read_text())
    left_off = get_preset("cpu").left_off
    assert left_off, "the cpu preset leaves MRPC and RTE off"
    for task, reason in left_off.items():
        assert f"  - {task}: {reason}" in scale
    capsys.readouterr()
    assert main([*args, "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["tiny", "a-model-with-no-note"])
def test_every_model_gets_a_line(tmp_path, model):
    records = [dict(r, model=model) for r in _records(None)]
    board = build_board(read_cells(write_verified(tmp_path / "results", records)))
    assert f"- Model `{model}`: " in _scale(render_readme(board))
