from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from suite.leaderboard import (
    budget_table,
    build_board,
    cells_csv,
    read_cells,
    render_markdown,
    render_readme,
    write_leaderboard,
)
from suite.spec.presets import get_preset
from tests.builders.records import make_record, write_verified


def rec(method, task, budget, seed, score, status="ok", speedup=None, nonzero=20_000_000):
    return make_record(
        task,
        method,
        budget,
        seed,
        score if status == "ok" else None,
        status=status,
        flops={"fraction": budget},
        params={"nonzero": nonzero, "total": 22_000_000},
        latency_ms={"batch_32": 100.0, "speedup": {"batch_32": speedup or 1.0 / budget}, "kernel": "dense"},
        run_config={"train": {"epochs": 2, "batch_size": 32}, "data": {"max_train_samples": 100}},
        teacher={"id": f"t-{task}-{seed}", "score": 0.0},
        train_steps=7,
        versions={"torch": "x"},
        git_sha="abc",
        hardware={"cpu_count": 2},
        error="boom\nline 2" if status == "failed" else None,
    )


RECORDS = [
    rec("dense", "sst2", 1.0, 0, 90.0),
    rec("dense", "sst2", 1.0, 1, 92.0),
    rec("dense", "rte", 1.0, 0, 80.0),
    rec("dense", "rte", 1.0, 1, 84.0),
    rec("ksp", "sst2", 0.1, 0, 85.0, speedup=1.5, nonzero=12_000_000),
    rec("ksp", "rte", 0.1, 0, 70.0, speedup=2.5, nonzero=12_000_000),
    rec("distill", "sst2", 0.1, 0, 80.0, speedup=8.0, nonzero=14_000_000),
    rec("distill", "rte", 0.1, 0, 72.0, speedup=8.0, nonzero=14_000_000),
    rec("random", "sst2", 0.1, 0, 0, status="failed"),
    rec("random", "rte", 0.1, 0, 0, status="over_budget"),
]


@pytest.fixture
def results(tmp_path):
    """RECORDS written with predictions sidecars that reproduce their scores: every `ok` one verified."""
    return write_verified(tmp_path / "results", RECORDS)


@pytest.fixture
def cells(results):
    return read_cells(results)


def test_table_mean_std_marks_best_and_order(cells):
    table = budget_table(build_board(cells), 0.1).set_index("method")
    assert list(table.index) == ["dense (budget 1)", "ksp", "distill", "random"]  # reference, then by average
    dense = table.loc["dense (budget 1)"]
    assert dense["sst2"].startswith("91.0 [") and dense["sst2"].endswith("] (seeds 90.0..92.0, sd 1.4)")  # never bold
    assert dense["average"].startswith("86.5 [") and dense["average"].endswith("] (seeds 85.0..88.0, sd 2.1)")
    assert "seeds" not in table.loc["ksp", "sst2"]  # one seed: no spread
    assert table.loc["ksp", "sst2"].startswith("**85.0 [") and table.loc["distill", "sst2"].startswith("80.0 [")
    assert table.loc["distill", "rte"].startswith("**72.0 [")
    assert table.loc["ksp", "average"].startswith("**77.5 [")
    assert (
        table.loc["ksp", "speedup (b32)"] == "2.00x ± 0.71"
        and table.loc["distill", "speedup (b32)"] == "**8.00x ± 0.00**"
    )
    assert table.loc["ksp", "params (M, nonzero)"] == "**12.00**"
    assert table.loc["ksp", "FLOP fraction"] == "**0.100**" == table.loc["distill", "FLOP fraction"]  # ties
    assert table.loc["random", "sst2"] == "1 failed" and table.loc["random", "rte"] == "1 over budget"
    assert table.loc["random", "average"] == "–" and table.loc["random", "speedup (b32)"] == "–"


def test_records_without_speedup_or_params_show_missing(tmp_path):
    old = [{k: v for k, v in rec("ksp", "sst2", 0.1, 0, 60.0).items() if k not in ("latency_ms", "params")}]
    table = budget_table(build_board(read_cells(write_verified(tmp_path, old))), 0.1).set_index("method")
    assert table.loc["ksp", "speedup (b32)"] == "–" and table.loc["ksp", "params (M, nonzero)"] == "–"


def test_markdown_and_csv_are_deterministic_and_torch_free(cells):
    first = render_markdown(build_board(cells))
    assert first == render_markdown(build_board(list(reversed(cells))))
    assert "## Budget 0.1" in first and "(n=" not in first
    assert "Seeds per cell: n = 1, except dense (budget 1): n = 2." in first  # n said once per table
    assert cells_csv(build_board(cells)) == cells_csv(build_board(list(reversed(cells))))
    code = "import sys, suite.leaderboard; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_csv_has_every_field_of_every_cell(cells):
    rows = list(csv.DictReader(io.StringIO(cells_csv(build_board(cells)))))
    assert len(rows) == len(RECORDS)
    assert list(rows[0])[:9] == [
        "task",
        "method",
        "role",
        "budget",
        "seed",
        "status",
        "score",
        "score_ci_low",
        "score_ci_high",
    ]
    assert {r["role"] for r in rows} == {"method"}  # legacy records: method rows
    assert all(float(r["score_ci_low"]) <= float(r["score"]) for r in rows if r["status"] == "ok")
    assert {r["not_verified"] for r in rows} == {""}
    for field in ("latency_ms.speedup.batch_32", "params.nonzero", "run_config.train.epochs", "error", "git_sha"):
        assert field in rows[0]
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["error"] == "boom\nline 2"


def test_readme_states_rule_setup_provenance_and_reported_numbers_apart(cells):
    text = render_readme(build_board(cells))
    assert "## The FLOP rule" in text and "Not counted" in text
    assert "## Reported in papers, BERT-base, not measured here" in text
    assert text.index("SparseBERT") > text.index("not measured here")  # quoted numbers only in that section
    assert "`abc`" in text and '"cpu_count": 2' in text
    assert "t-rte-0" in text  # teacher table (legacy: the dense cell was the teacher)
    for section in (
        "## Statistics",
        "## What reproduces",
        "## The training rule",
        "## Trivial baseline and the signal check",
    ):
        assert section in text
    reproduces = text.split("## What reproduces")[1].split("\n## ")[0]
    assert "Bit for bit: regenerating this board" in reproduces and "AVX512-BF16" in reproduces
    assert "predate the training rule" in text and "no trivial-baseline record" in text
    assert text == render_readme(build_board(list(reversed(cells))))


def test_write_leaderboard_writes_all_files_and_regenerates_identically(results, tmp_path):
    out = tmp_path / "board"
    paths = write_leaderboard(results, out)
    names = sorted(p.name for p in paths)
    assert names == [
        "README.md",
        "cells.csv",
        "difference_vs_reference.png",
        "leaderboard.md",
        "score_vs_flops.png",
        "score_vs_speedup.png",
    ]
    first = {p.name: p.read_bytes() for p in paths if p.suffix != ".png"}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths if p.suffix == ".png")
    write_leaderboard(results, out)
    assert {name: (out / name).read_bytes() for name in first} == first
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_empty_results_raise():
    with pytest.raises(ValueError):
        build_board([])


PUBLISHED = Path(__file__).resolve().parents[2] / "leaderboards" / "cpu"


@pytest.mark.skipif(not (PUBLISHED / "results").is_dir(), reason="no published CPU leaderboard yet")
def test_published_cpu_leaderboard_regenerates_identically(tmp_path):
    # The committed tables must be what `make leaderboard` makes of the committed result files, with the
    # cpu preset's tasks left off (and their reasons) as its `--preset cpu` gives them.
    left_off = get_preset("cpu").left_off
    write_leaderboard(
        PUBLISHED / "results", tmp_path, "CPU leaderboard: MiniLM-L6 on GLUE", plots=False, left_off=left_off
    )
    for name in ("leaderboard.md", "cells.csv", "README.md"):
        assert (tmp_path / name).read_bytes() == (PUBLISHED / name).read_bytes(), name


def test_headline_ranks_complete_methods_by_average_with_gap_to_reference(cells):
    from suite.leaderboard.headline import headline_lines

    lines = headline_lines(build_board(cells))
    assert "- Signal check not run (no trivial-baseline record): sst2, rte." in lines
    orientation = "- GLUE average over sst2, rte: reference (dense, budget 1) 86.5 (95% CI"
    assert any(line.startswith(orientation) for line in lines)
    line = next(line for line in lines if line.startswith("- Budget 0.1"))
    assert line.startswith("- Budget 0.1: best **ksp** 77.5 (-9.0 points vs the reference, 95% CI")
    assert ". Ranking: ksp 77.5 " in line and " distill 76.0 (difference 1.5, 95% CI" in line
    assert line.endswith("Not ranked (a task failed, over budget, not verified or not run yet): random.")


def test_headline_says_when_no_method_is_complete(cells):
    from suite.leaderboard.headline import headline_lines

    partial = [c for c in cells if c.record["task"] == "sst2" or c.record["method"] == "dense"]
    lines = headline_lines(build_board(partial))
    assert any(
        line.startswith("- Budget 0.1: no method has a score on every task of the average yet.") for line in lines
    )


def test_a_leaderboard_killed_while_writing_leaves_the_old_board_whole(results, tmp_path, monkeypatch):
    out = results.parent  # the board's folder holds its results folder, as leaderboards/cpu does
    write_leaderboard(results, out)
    names = ("leaderboard.md", "cells.csv", "README.md", "score_vs_flops.png")
    old = {name: (out / name).read_bytes() for name in names}
    write_verified(results, [rec("ksp", "sst2", 0.1, 1, 87.0)])  # another seed: a new board is due
    inputs = {p: p.read_bytes() for p in sorted(results.rglob("*")) if p.is_file()}
    real_chmod, calls = os.chmod, []

    def killed_at_the_third_file(path, mode, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_chmod(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "chmod", killed_at_the_third_file)
    with pytest.raises(KeyboardInterrupt):
        write_leaderboard(results, out)
    monkeypatch.undo()
    assert {name: (out / name).read_bytes() for name in names} == old  # not a mix of new and old files
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary folder left
    paths = write_leaderboard(results, out)
    assert (out / "leaderboard.md").read_bytes() != old["leaderboard.md"] and len(paths) == 6
    assert {p: p.read_bytes() for p in sorted(results.rglob("*")) if p.is_file()} == inputs  # results untouched


def test_a_plot_the_new_board_has_nothing_for_does_not_survive_from_the_old_one(results, tmp_path):
    out = tmp_path / "board"
    assert {p.suffix for p in write_leaderboard(results, out)} == {".md", ".csv", ".png"}
    for sidecar in results.rglob("*.predictions.json.gz"):
        sidecar.unlink()  # nothing verified any more: no point to plot
    paths = write_leaderboard(results, out)
    expected = ["README.md", "cells.csv", "leaderboard.md"]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths) == expected
