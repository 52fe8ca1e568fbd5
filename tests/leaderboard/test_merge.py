"""A leaderboard from several results folders: comparable records merged, the others left out by name,
cells found twice taken from the first folder given."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pytest

from suite.cli import main
from suite.leaderboard import merge_results, write_leaderboard
from tests.conftest import run_smoke

pytestmark = pytest.mark.integration
DENSE_SEED1 = Path("sst2/dense/budget1_seed1.json")
TRIVIAL = Path("sst2/trivial/budget1_seed0.json")


@pytest.fixture(scope="module")
def seed1(tmp_path_factory) -> Path:
    """Another seed of the smoke preset's dense row on sst2: comparable with `smoke_results`."""
    return run_smoke(tmp_path_factory.mktemp("seed1"), ("dense",), tasks=("sst2",), seeds=(1,))


@pytest.fixture(scope="module")
def other_data(tmp_path_factory) -> Path:
    """The same cell, trained on a smaller train subsample: not comparable."""
    return run_smoke(tmp_path_factory.mktemp("other"), ("dense",), tasks=("sst2",), seeds=(1,), max_train_samples=64)


def test_comparable_records_are_merged_and_a_cell_found_twice_comes_from_the_first_folder(smoke_results, seed1):
    merged = merge_results([smoke_results, seed1])
    paths = [c.path for c in merged.cells]
    assert paths[-1] == seed1 / DENSE_SEED1 and len(paths) == 9
    # Both runs wrote the (identical) trivial row of sst2: the first folder's is kept.
    assert smoke_results / TRIVIAL in paths and seed1 / TRIVIAL not in paths
    assert merged.refused == [
        f"{seed1 / TRIVIAL}: same cell and config hash as {smoke_results / TRIVIAL};"
        " kept that one (the first folder given)"
    ]
    swapped = merge_results([seed1, smoke_results])
    assert seed1 / TRIVIAL in [c.path for c in swapped.cells] and len(swapped.cells) == 9


def test_records_of_another_configuration_are_left_out_with_the_reason(smoke_results, other_data):
    merged = merge_results([smoke_results, other_data])
    assert [c.path for c in merged.cells] == [c.path for c in merge_results([smoke_results]).cells]
    assert merged.refused == [
        f"{other_data / DENSE_SEED1}: run_config.data.max_train_samples is 64,"
        f" {smoke_results / 'mrpc/dense/budget1_seed0.json'} has 128; not comparable, left out",
        f"{other_data / TRIVIAL}: same cell as {smoke_results / TRIVIAL} with another config hash"
        f" ({_hash(other_data / TRIVIAL)} vs {_hash(smoke_results / TRIVIAL)}); kept that one (the first folder given)",
    ]


def _hash(path: Path) -> str:
    import json

    return json.loads(path.read_text())["config_hash"]


def test_the_merged_board_has_the_other_seed(smoke_results, seed1, other_data, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="suite.leaderboard"):
        paths = write_leaderboard([smoke_results, seed1, other_data], tmp_path / "board", plots=False, resamples=50)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "board" / "cells.csv").read_text())))
    dense = sorted((r["task"], r["seed"]) for r in rows if r["method"] == "dense")
    assert dense == [("mrpc", "0"), ("sst2", "0"), ("sst2", "1")] and len(rows) == 9
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"left out {seed1 / TRIVIAL}",
        f"left out {other_data / DENSE_SEED1}",
        f"left out {other_data / TRIVIAL}",
    ]
    assert tmp_path / "board" / "leaderboard.md" in paths


def test_the_command_line_takes_several_folders(capsys, smoke_results, seed1, tmp_path, caplog):
    code = main(["leaderboard", "--results-dir", str(smoke_results), "--results-dir", str(seed1), "--no-plots"])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: several --results-dir are merged") and err.endswith("--out DIR\n")
    out_dir = tmp_path / "merged"
    argv = ["leaderboard", "--results-dir", str(smoke_results), "--results-dir", str(seed1), "--out", str(out_dir)]
    with caplog.at_level(logging.WARNING, logger="suite.leaderboard"):
        code = main([*argv, "--no-plots"])
    out, _ = capsys.readouterr()
    assert code == 0 and "## Budget 0.5" in out
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [f"left out {seed1 / TRIVIAL}"]
    assert (out_dir / "leaderboard.md").is_file() and not (smoke_results / "leaderboard.md").exists()
