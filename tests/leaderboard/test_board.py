"""The leaderboard from records with predictions sidecars: roles, CIs, the signal and training-rule checks.

Fixture: two tasks written into tmp_path. On sst2 the reference learned something; on rte it predicts
the majority class, exactly as the trivial baseline does, so rte must be flagged and left out.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from suite.leaderboard import (
    budget_table,
    build_board,
    cells_csv,
    difference_table,
    read_cells,
    render_markdown,
    write_leaderboard,
)
from suite.leaderboard.headline import headline_lines
from suite.leaderboard.rows import REFERENCE, Row
from suite.leaderboard.signal_check import NO_SIGNAL, SIGNAL
from suite.leaderboard.teacher_check import teacher_checks
from suite.metrics.glue import task_metrics
from suite.records.atomic import write_json_atomic
from suite.records.formats import PredictionsError, sidecar_bound
from suite.spec.tasks import get_task
from tests.builders.records import attach_predictions, make_record, record_path

SIZES = {"sst2": 120, "rte": 80}
PFLOP = 1e15


def labels_of(task: str) -> np.ndarray:
    rng = np.random.default_rng(len(task))
    return (rng.random(SIZES[task]) < 0.6).astype(int)  # class 1 is the majority


def flipped(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    out = labels.copy()
    chosen = np.random.default_rng(seed).choice(len(labels), round(fraction * len(labels)), replace=False)
    out[chosen] = 1 - out[chosen]
    return out


def write_cell(
    root: Path,
    task: str,
    method: str,
    budget: float,
    seed: int,
    predictions: np.ndarray | None,
    *,
    role: str | None = None,
    lineage: int | None = 252,
    flops: float = 2 * PFLOP,
    teacher_flops: float | None = None,
    sidecar: bool = True,
    labels: np.ndarray | None = None,
) -> Path:
    labels = labels_of(task) if labels is None else labels
    spec = get_task(task)
    score = task_metrics(spec, predictions, labels)[spec.primary_metric]
    record = make_record(
        task,
        method,
        budget,
        seed,
        score,
        flops={"fraction": budget},
        params={"nonzero": int(20e6 * budget), "total": 22_000_000},
        latency_ms={"batch_32": 100.0, "speedup": {"batch_32": 1.0 / budget}},
        train_steps=7,
    )
    if role is not None:
        record["role"] = role
    if lineage is not None:
        record["training"] = {
            "start": "teacher" if teacher_flops else "pretrained",
            "own_steps": lineage,
            "inherited_steps": 0,
            "lineage_steps": lineage,
            "examples": 100,
            "flops": flops,
            "teacher_flops": teacher_flops,
        }
    path = record_path(root, record)
    if sidecar:
        attach_predictions(path, record, predictions, labels)
    write_json_atomic(path, record)
    return path


def write_grid(root: Path, heads_lineage: int = 252) -> Path:
    for task in SIZES:
        labels = labels_of(task)
        majority = np.ones_like(labels)
        write_cell(root, task, "trivial", 1.0, 0, majority, role="trivial", lineage=0, flops=0.0)
        for seed in (0, 1):
            reference = majority if task == "rte" else flipped(labels, 0.1, seed)
            write_cell(root, task, "dense", 1.0, seed, reference)
            teacher = flipped(labels, 0.12, 10 + seed)
            write_cell(root, task, "teacher", 1.0, seed, teacher, role="teacher", lineage=126, flops=PFLOP)
            heads = flipped(labels, 0.15, 20 + seed)
            write_cell(root, task, "heads", 0.5, seed, heads, lineage=heads_lineage, flops=PFLOP, teacher_flops=PFLOP)
            ksp = heads.copy()
            wrong = np.flatnonzero(heads == labels)[0]
            ksp[wrong] = 1 - ksp[wrong]  # one example worse than heads: a difference no CI can call
            write_cell(root, task, "ksp", 0.5, seed, ksp)
            write_cell(root, task, "magnitude", 0.5, seed, flipped(labels, 0.45, 30 + seed))
    return root


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    return write_grid(tmp_path / "results")


def test_signal_check_flags_a_reference_at_the_majority_class(grid):
    board = build_board(read_cells(grid))
    assert board.signal["rte"].verdict == NO_SIGNAL and board.signal["sst2"].verdict == SIGNAL
    assert board.average_tasks == ("sst2",)
    assert board.average(REFERENCE).value == board.score(REFERENCE, "sst2").value  # rte left out
    # Identical predictions: the paired difference is exactly 0 in every resample.
    assert "difference +0.0 (95% CI 0.0..0.0)" in board.signal["rte"].reason
    text = render_markdown(board)
    table = budget_table(board, 0.5)
    assert "rte (no signal)" in table.columns
    assert "rte: **no signal at this training scale**" in text and "left out of the average" in text
    assert "`average` over sst2; left out (no signal): rte." in text
    assert any("no signal at this training scale" in line for line in headline_lines(board))


def test_a_seed_whose_teacher_is_not_above_the_trivial_baseline_is_named_with_the_methods_built_on_it(tmp_path):
    root = tmp_path / "results"
    labels = labels_of("sst2")
    majority = np.ones_like(labels)
    write_cell(root, "sst2", "trivial", 1.0, 0, majority, role="trivial", lineage=0, flops=0.0)
    for seed in (0, 1):
        write_cell(root, "sst2", "dense", 1.0, seed, flipped(labels, 0.1, seed))
        teacher = majority if seed == 1 else flipped(labels, 0.12, 10)  # seed 1's learned nothing
        write_cell(root, "sst2", "teacher", 1.0, seed, teacher, role="teacher", lineage=126, flops=PFLOP)
        heads = write_cell(root, "sst2", "heads", 0.5, seed, flipped(labels, 0.15, 20 + seed), teacher_flops=PFLOP)
        record = json.loads(heads.read_text())
        record["teacher"] = {"id": f"t{seed}", "score": 0.0}  # heads starts from the teacher
        write_json_atomic(heads, record)
        write_cell(root, "sst2", "magnitude", 0.5, seed, flipped(labels, 0.2, 30 + seed))  # no teacher

    board = build_board(read_cells(root))
    checks = teacher_checks(board)
    assert [(c.seed, c.weak) for c in checks] == [(0, False), (1, True)]
    assert checks[1].dependents == ("heads",) and checks[1].ci.text(sep="..") == "0.0..0.0"
    note = "sst2 seed 1: **weak teacher**: its score 59.2 is not significantly above the trivial baseline's 59.2"
    assert note in checks[1].note() and "(heads) inherit it" in checks[1].note()
    assert any(note in line for line in headline_lines(board))
    assert note in render_markdown(board)
    assert "seed 0: **weak teacher**" not in render_markdown(board)


def test_records_without_predictions_are_not_verified_and_never_ranked(tmp_path):
    root = tmp_path / "results"
    labels = labels_of("sst2")
    write_cell(root, "sst2", "trivial", 1.0, 0, np.ones_like(labels), role="trivial")
    write_cell(root, "sst2", "dense", 1.0, 0, flipped(labels, 0.1, 0))
    write_cell(root, "sst2", "heads", 0.5, 0, flipped(labels, 0.15, 1))
    made_up = write_cell(root, "sst2", "random", 0.5, 0, flipped(labels, 0.4, 2), sidecar=False)
    record = json.loads(made_up.read_text())
    write_json_atomic(made_up, {**record, "score": 99.9})  # no sidecar and a score far above the reference
    board = build_board(read_cells(root))
    text = render_markdown(board)
    line = next(line for line in headline_lines(board) if line.startswith("- Budget 0.5"))
    assert line.startswith("- Budget 0.5: best **heads**") and "99.9" not in text
    assert line.endswith("Not ranked (a task failed, over budget, not verified or not run yet): random.")
    assert budget_table(board, 0.5).set_index("method").loc["random", "sst2"] == "1 not verified"
    for to_best in (False, True):
        assert set(difference_table(board, 0.5, to_best).set_index("method").loc["random"]) == {"–"}
    assert "## Not verified" in text
    no_sidecar = "no predictions sidecar: its score cannot be recomputed or compared per example"
    assert f"- {no_sidecar}: sst2 random@0.5 seed 0." in text
    assert board.signal["sst2"].verdict == SIGNAL  # the verified rows are compared as before


def test_scores_carry_cis_and_rows_are_ordered_with_roles(grid):
    board = build_board(read_cells(grid))
    table = budget_table(board, 0.5).set_index("method")
    assert list(table.index) == ["dense (budget 1)", "teacher", "trivial baseline", "heads", "ksp", "magnitude"]
    majority_accuracy = 100 * labels_of("sst2").mean()
    assert table.loc["trivial baseline", "sst2"].startswith(f"{majority_accuracy:.1f} [")  # one seed: no spread
    assert "[" in table.loc["dense (budget 1)", "sst2"] and "(seeds " in table.loc["dense (budget 1)", "sst2"]
    for fixed in ("dense (budget 1)", "teacher", "trivial baseline"):
        assert "**" not in "".join(table.loc[fixed])  # never bold, never ranked
    assert table.loc["heads", "average"].startswith("**")
    estimate = board.score(Row("method", "heads", 0.5), "sst2")
    assert estimate.ci.low < estimate.value < estimate.ci.high
    assert table.loc["heads", "train compute (× dense)"] == "1.00"  # own 1 + teacher 1 PFLOP over dense's 2
    assert table.loc["teacher", "train compute (× dense)"] == "0.50"
    assert table.loc["trivial baseline", "train compute (× dense)"] == "0.00"


def test_headline_calls_only_differences_whose_ci_excludes_zero(grid):
    board = build_board(read_cells(grid))
    line = next(line for line in headline_lines(board) if line.startswith("- Budget 0.5"))
    assert line.startswith("- Budget 0.5: best **heads**")
    assert "heads " in line and " ≈ ksp " in line  # one example apart: no call
    assert " > magnitude " in line  # far below: called
    assert "95% CI" in line
    text = render_markdown(board)
    assert "Difference to the reference (dense, budget 1), per task:" in text
    assert "Difference to the best row of this budget in each column:" in text
    assert "†" in text and "| best" in text


def test_lineage_mismatch_is_flagged_under_the_tables_and_in_the_headline(tmp_path):
    board = build_board(read_cells(write_grid(tmp_path / "results", heads_lineage=126)))
    assert not board.lineage["sst2"].consistent
    assert board.lineage["sst2"].mismatch() == "252 steps: dense@1, ksp@0.5, magnitude@0.5; 126 steps: heads@0.5"
    text = render_markdown(board)
    assert "⚠ **Training rule violated on sst2**" in text.split("## Budget")[1]  # under the table
    flagged = [line for line in headline_lines(board) if "Training rule violated on sst2" in line]
    assert flagged and "126 steps: heads@0.5" in flagged[0]


def test_consistent_lineage_is_stated_and_teacher_is_not_checked(grid):
    board = build_board(read_cells(grid))
    assert board.lineage["sst2"].consistent and board.lineage["sst2"].teacher == (126,)
    assert "sst2 252, teacher 126" in render_markdown(board)


def test_legacy_rows_beside_new_ones_are_named(grid):
    legacy = json.loads((grid / "sst2" / "ksp" / "budget0.5_seed0.json").read_text())
    for field in ("training", "predictions", "role"):
        legacy.pop(field, None)
    legacy["method"] = "random"
    write_json_atomic(grid / "sst2" / "random" / "budget0.5_seed0.json", legacy)
    board = build_board(read_cells(grid))
    text = render_markdown(board)
    assert "sst2 random@0.5 seed 0." in text.split("## Not verified")[1]  # no sidecar: not verified
    row = budget_table(board, 0.5).set_index("method").loc["random"]
    assert row["sst2"] == "1 not verified" and row["average"] == "–"


def test_cells_csv_has_ci_columns(grid):
    rows = list(csv.DictReader(io.StringIO(cells_csv(build_board(read_cells(grid))))))
    assert {r["role"] for r in rows} == {"method", "teacher", "trivial"}
    for row in rows:
        low, high, score = float(row["score_ci_low"]), float(row["score_ci_high"]), float(row["score"])
        assert low <= score <= high
    assert "predictions.sha256" in rows[0] and "training.lineage_steps" in rows[0]


def test_regeneration_is_byte_identical_with_predictions(grid, tmp_path):
    out = tmp_path / "board"
    paths = write_leaderboard(grid, out, plots=True)
    assert {p.name for p in paths} >= {"difference_vs_reference.png", "score_vs_speedup.png"}
    first = {name: (out / name).read_bytes() for name in ("leaderboard.md", "cells.csv", "README.md")}
    write_leaderboard(grid, out, plots=False)
    assert {name: (out / name).read_bytes() for name in first} == first
    readme = first["README.md"].decode()
    assert "1000 resamples" in readme and "22 of 22 `ok` cells verified (22 with per-example predictions)" in readme


def _tamper(grid: Path, change) -> None:
    record_path = grid / "sst2" / "ksp" / "budget0.5_seed0.json"
    record = json.loads(record_path.read_text())
    change(record_path.parent / record["predictions"]["file"], record)
    write_json_atomic(record_path, record)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda sidecar, record: sidecar.write_bytes(sidecar.read_bytes() + b"x"), "sha256 differs"),
        (lambda sidecar, record: sidecar.unlink(), "are missing"),
        (lambda sidecar, record: record["predictions"].update(n=3), "says n=3"),
        (lambda sidecar, record: record.update(score=1.0), "score 1.000000, its predictions give"),
    ],
)
def test_a_sidecar_that_does_not_match_its_record_leaves_it_not_verified(grid, change, message):
    _tamper(grid, change)
    _assert_only_tampered_cell_unverified(build_board(read_cells(grid)), message)


def _assert_only_tampered_cell_unverified(board, message: str) -> None:
    [item] = board.unverified
    assert item.cell.path.name == "budget0.5_seed0.json" and item.cell.record["method"] == "ksp"
    assert re.search(message, " ".join(item.problems)) and all("\n" not in line for line in item.problems)
    assert budget_table(board, 0.5).set_index("method").loc["ksp", "sst2"].endswith("(1 not verified)")
    assert board.score(Row("method", "ksp", 0.5), "sst2").n == 1  # seed 1 still counts


def _outside(sidecar: Path, record: dict) -> None:
    outside = sidecar.parents[3] / "outside.json.gz"  # beside the results folder, same bytes
    sidecar.rename(outside)
    sidecar.symlink_to(outside)


def _bomb(sidecar: Path, record: dict) -> None:
    blob = gzip.compress(b" " * (50 << 20), compresslevel=9)  # 50 MB of spaces in ~50 KB
    sidecar.write_bytes(blob)
    record["predictions"].update(n=3, sha256=hashlib.sha256(blob).hexdigest())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda sidecar, record: record["predictions"].update(file=str(sidecar)), "not the name of a file beside"),
        (lambda sidecar, record: record["predictions"].update(file="../x.gz"), "not the name of a file beside"),
        (_outside, "leads outside the record's folder"),
        (lambda sidecar, record: (sidecar.unlink(), sidecar.symlink_to("/dev/zero")), "leads outside"),
        (_bomb, f"decompresses to more than {sidecar_bound(3)} bytes"),
    ],
)
def test_a_sidecar_outside_the_folder_or_too_large_is_refused_before_it_is_read(grid, change, message):
    _tamper(grid, change)
    start = time.perf_counter()
    board = build_board(read_cells(grid))
    assert time.perf_counter() - start < 10.0  # never the 50 MB expanded, never /dev/zero read
    _assert_only_tampered_cell_unverified(board, message)


def test_predictions_on_another_dev_set_are_refused(grid):
    other = labels_of("sst2")
    other[0] = 1 - other[0]  # same size, other labels: not the dev set the other rows were scored on
    write_cell(grid, "sst2", "ksp", 0.5, 0, other.copy(), labels=other)
    with pytest.raises(PredictionsError, match="different dev labels"):
        build_board(read_cells(grid))


def test_writing_a_leaderboard_with_predictions_never_imports_torch(grid, tmp_path):
    code = (
        "import sys; from pathlib import Path; from suite.leaderboard import write_leaderboard; "
        f"write_leaderboard(Path({str(grid)!r}), Path({str(tmp_path / 'out')!r}), resamples=50); "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=300).returncode == 0


def test_a_legacy_reference_is_not_verified_so_the_signal_check_cannot_run(tmp_path):
    root = tmp_path / "results"
    labels = labels_of("rte")
    majority = np.ones_like(labels)
    write_cell(root, "rte", "trivial", 1.0, 0, majority, role="trivial", lineage=0, flops=0.0)
    write_cell(root, "rte", "dense", 1.0, 0, majority, lineage=None, sidecar=False)  # a legacy record
    write_cell(root, "rte", "heads", 0.5, 0, flipped(labels, 0.2, 1), lineage=None, sidecar=False)
    board = build_board(read_cells(root))
    assert board.signal["rte"].verdict == "not run" and "no reference row" in board.signal["rte"].reason
    text = render_markdown(board)
    assert "Difference to the reference" not in text  # nothing among the compared rows is verified
    assert "rte dense@1 seed 0, rte heads@0.5 seed 0." in text.split("## Not verified")[1]
    assert budget_table(board, 0.5).set_index("method").loc["heads", "rte"] == "1 not verified"


def _no_sidecar(record: dict) -> None:
    record.pop("predictions")


@pytest.mark.parametrize(
    ("score", "change", "reason"),
    [
        (1e308, _no_sidecar, "score 1e+308 is outside 0..100, the range of accuracy"),
        (float("nan"), lambda record: None, "status ok with score NaN, expected a finite number"),
        (100.5, lambda record: None, "score 100.5 is outside 0..100, the range of accuracy"),
    ],
)
def test_a_score_out_of_its_range_or_not_finite_is_not_verified_and_never_printed_long(
    grid, tmp_path, score, change, reason
):
    path = grid / "sst2" / "magnitude" / "budget0.5_seed0.json"
    record = json.loads(path.read_text())
    record["score"] = score
    change(record)
    write_json_atomic(path, record)
    write_leaderboard(grid, tmp_path / "board", plots=False, resamples=50)
    text = (tmp_path / "board" / "leaderboard.md").read_text()
    assert f"- {reason}: sst2 magnitude@0.5 seed 0." in text.split("## Not verified")[1]
    cell = budget_table(build_board(read_cells(grid), 50), 0.5).set_index("method").loc["magnitude", "sst2"]
    assert cell.endswith("(1 not verified)")  # seed 1 still counts
    for name in ("leaderboard.md", "cells.csv", "README.md"):
        assert not re.search(r"\d{20}", (tmp_path / "board" / name).read_text()), name  # no 310-digit number
