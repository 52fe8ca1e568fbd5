from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from suite.leaderboard import budget_table, build_board, cells_csv, render_markdown, render_readme, write_leaderboard
from suite.records.atomic import write_json_atomic
from tests.builders.records import make_record


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
    rec("dense", "mrpc", 1.0, 0, 80.0),
    rec("dense", "mrpc", 1.0, 1, 84.0),
    rec("ksp", "sst2", 0.1, 0, 85.0, speedup=1.5, nonzero=12_000_000),
    rec("ksp", "mrpc", 0.1, 0, 70.0, speedup=2.5, nonzero=12_000_000),
    rec("distill", "sst2", 0.1, 0, 80.0, speedup=8.0, nonzero=14_000_000),
    rec("distill", "mrpc", 0.1, 0, 72.0, speedup=8.0, nonzero=14_000_000),
    rec("random", "sst2", 0.1, 0, 0, status="failed"),
    rec("random", "mrpc", 0.1, 0, 0, status="over_budget"),
]


def test_table_mean_std_marks_best_and_order():
    table = budget_table(build_board(RECORDS), 0.1).set_index("method")
    assert list(table.index) == ["dense (budget 1)", "ksp", "distill", "random"]  # reference, then by average
    assert table.loc["dense (budget 1)", "sst2"] == "91.0 ± 1.4"  # reference rows are never bold; n said per table
    assert table.loc["dense (budget 1)", "average"] == "86.5 ± 2.1"
    assert table.loc["ksp", "sst2"] == "**85.0**" and table.loc["distill", "sst2"] == "80.0"
    assert table.loc["distill", "mrpc"] == "**72.0**"
    assert table.loc["ksp", "average"] == "**77.5**"
    assert (
        table.loc["ksp", "speedup (b32)"] == "2.00x ± 0.71"
        and table.loc["distill", "speedup (b32)"] == "**8.00x ± 0.00**"
    )
    assert table.loc["ksp", "params (M, nonzero)"] == "**12.00**"
    assert table.loc["ksp", "FLOP fraction"] == "**0.100**" == table.loc["distill", "FLOP fraction"]  # ties
    assert table.loc["random", "sst2"] == "1 failed" and table.loc["random", "mrpc"] == "1 over budget"
    assert table.loc["random", "average"] == "–" and table.loc["random", "speedup (b32)"] == "–"


def test_records_without_speedup_or_params_show_missing():
    old = [{k: v for k, v in rec("ksp", "sst2", 0.1, 0, 60.0).items() if k not in ("latency_ms", "params")}]
    table = budget_table(build_board(old), 0.1).set_index("method")
    assert table.loc["ksp", "speedup (b32)"] == "–" and table.loc["ksp", "params (M, nonzero)"] == "–"


def test_markdown_and_csv_are_deterministic_and_torch_free():
    first = render_markdown(build_board(RECORDS))
    assert first == render_markdown(build_board(list(reversed(RECORDS))))
    assert "## Budget 0.1" in first and "(n=" not in first
    assert "Seeds per cell: n = 1, except dense (budget 1): n = 2." in first  # n said once per table
    assert cells_csv(build_board(RECORDS)) == cells_csv(build_board(list(reversed(RECORDS))))
    code = "import sys, suite.leaderboard; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_csv_has_every_field_of_every_cell():
    rows = list(csv.DictReader(io.StringIO(cells_csv(build_board(RECORDS)))))
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
    assert {r["score_ci_low"] for r in rows} == {""}  # no predictions, no CI
    for field in ("latency_ms.speedup.batch_32", "params.nonzero", "run_config.train.epochs", "error", "git_sha"):
        assert field in rows[0]
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["error"] == "boom\nline 2"


def test_readme_states_rule_setup_provenance_and_reported_numbers_apart():
    text = render_readme(build_board(RECORDS))
    assert "## The FLOP rule" in text and "Not counted" in text
    assert "## Reported in papers, BERT-base, not measured here" in text
    assert text.index("SparseBERT") > text.index("not measured here")  # quoted numbers only in that section
    assert "`abc`" in text and '"cpu_count": 2' in text
    assert "t-mrpc-0" in text  # teacher table (legacy: the dense cell was the teacher)
    for section in ("## Statistics", "## The training rule", "## Trivial baseline and the signal check"):
        assert section in text
    assert "predate the training rule" in text and "no trivial-baseline record" in text
    assert text == render_readme(build_board(list(reversed(RECORDS))))


def test_write_leaderboard_writes_all_files_and_regenerates_identically(tmp_path):
    results = tmp_path / "results"
    for i, r in enumerate(RECORDS):
        write_json_atomic(results / r["task"] / r["method"] / f"{i}.json", r)
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
    # The committed tables must be what `make leaderboard` makes of the committed result files.
    write_leaderboard(PUBLISHED / "results", tmp_path, "CPU leaderboard: MiniLM-L6 on GLUE", plots=False)
    for name in ("leaderboard.md", "cells.csv", "README.md"):
        assert (tmp_path / name).read_bytes() == (PUBLISHED / name).read_bytes(), name


def test_headline_ranks_complete_methods_by_average_with_gap_to_reference():
    from suite.leaderboard.headline import headline_lines

    lines = headline_lines(build_board(RECORDS))
    assert "- Signal check not run (no trivial-baseline record): sst2, mrpc." in lines
    assert "- GLUE average over sst2, mrpc: reference (dense, budget 1) 86.5." in lines
    line = next(line for line in lines if line.startswith("- Budget 0.1"))
    assert line.startswith("- Budget 0.1: best **ksp** 77.5 (-9.0 points vs the reference).")
    # Without per-example predictions nothing is tested: an order, not ">".
    assert "differences not tested (no per-example predictions): ksp 77.5, distill 76.0." in line
    assert line.endswith("Not ranked (a task failed, over budget or not run yet): random.")


def test_headline_says_when_no_method_is_complete():
    from suite.leaderboard.headline import headline_lines

    partial = [r for r in RECORDS if r["task"] == "sst2" or r["method"] == "dense"]
    lines = headline_lines(build_board(partial))
    assert any(
        line.startswith("- Budget 0.1: no method has a score on every task of the average yet.") for line in lines
    )
