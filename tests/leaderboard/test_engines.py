"""Realized speed on exported-model engines: the engine column beside PyTorch's, the CSV's columns, a row
of speedup panels per engine and the README's engine listing; old and malformed engine figures."""

from __future__ import annotations

import csv
import io
from typing import Any

import matplotlib.pyplot as plt
import pytest

from suite.leaderboard import budget_table, build_board, cells_csv, read_cells, render_markdown, render_readme
from suite.leaderboard.engine_notes import NONE
from suite.leaderboard.engines import best_config, best_engine, engine_speedups
from suite.leaderboard.plots import scores_figure
from suite.leaderboard.tables import ENGINE_COLUMN, SPEEDUP_COLUMN
from tests.builders.records import make_record, write_verified

SETTINGS = {"INFERENCE_NUM_THREADS": 2}


def timed(speedup: Any, **extra: Any) -> dict[str, Any]:
    """One precision's figures as the harness records them, with this batch-32 speedup."""
    return {
        "batch_1": 3.0,
        "batch_32": 40.0,
        "spread": {"batch_32": {"iqr": 0.5, "min": 39.0, "max": 41.0, "n": 5}},
        "reference": {"batch_1": 3.0, "batch_32": 80.0},
        "speedup": {"batch_1": 1.0, "batch_32": speedup},
        "max_abs_diff": 1e-6,
        "settings": SETTINGS,
        **extra,
    }


def engines(openvino_bf16: float, onnxruntime: float = 1.8, **more: Any) -> dict[str, Any]:
    return {
        "openvino": {"version": "2026.4.1", "fp32": timed(1.5), "bf16": timed(openvino_bf16)},
        "onnxruntime": {"version": "1.32.0", "fp32": timed(onnxruntime)},
        **more,
    }


def rec(method: str, task: str, budget: float, score: float, speedup: float, engine_figures: Any = None) -> dict:
    latency: dict[str, Any] = {"batch_32": 100.0, "speedup": {"batch_32": speedup}, "kernel": "dense"}
    if engine_figures is not None:
        latency["engines"] = engine_figures
    return make_record(
        task,
        method,
        budget,
        0,
        score,
        flops={"fraction": budget},
        params={"nonzero": 20_000_000, "total": 22_000_000},
        latency_ms=latency,
        train_steps=7,
    )


MALFORMED = {
    "openvino": {"version": "2026.4.1", "fp32": timed("3.0"), "bf16": timed(float("nan"))},
    "onnxruntime": {"version": "1.32.0", "fp32": timed(-2.0)},
    "deepsparse": {"error": "engine not installed"},  # an engine entry with only an error
    "bad|name": {"version": "1", "fp32": timed(50.0)},  # a name that would break the table
    "tvm": {"version": "0.1", "fp32": timed(True), "int8": timed(float("inf"))},
    "failing": {"fp32": timed(4.0, error="Failed: timed out")},  # a precision that says it failed
}
DEEPSPARSE = {"deepsparse": {"version": "1.8.0", "fp32": timed(9.0)}}

RECORDS = [
    rec("dense", "sst2", 1.0, 90.0, 1.0, engines(1.0, 1.0)),
    rec("dense", "rte", 1.0, 80.0, 1.0, engines(1.0, 1.0)),
    # ksp: openvino bf16 wins on both cells; deepsparse is faster but timed on one cell of two only.
    rec("ksp", "sst2", 0.1, 85.0, 1.1, engines(2.4)),
    rec("ksp", "rte", 0.1, 70.0, 1.0, engines(2.2, **DEEPSPARSE)),
    rec("distill", "sst2", 0.1, 80.0, 8.0),  # records from before engines: no key
    rec("distill", "rte", 0.1, 72.0, 8.0, {}),  # or an empty one
    rec("random", "sst2", 0.1, 60.0, 1.0, MALFORMED),
    rec("random", "rte", 0.1, 55.0, 1.0, "not a mapping"),
]


@pytest.fixture
def board(tmp_path):
    return build_board(read_cells(write_verified(tmp_path / "results", RECORDS)))


def test_the_engine_column_shows_the_best_engine_beside_pytorchs_speedup(board):
    table = budget_table(board, 0.1).set_index("method")
    columns = list(table.columns)
    assert columns.index(ENGINE_COLUMN) == columns.index(SPEEDUP_COLUMN) + 1
    # Mean of 2.4 and 2.2 with their std; deepsparse's 9.0 covers one cell of two, so it does not win.
    assert table.loc["ksp", ENGINE_COLUMN] == "**2.30x ± 0.14 openvino bf16**"
    assert table.loc["ksp", SPEEDUP_COLUMN] == "1.05x ± 0.07"  # PyTorch's column as before
    assert table.loc["dense (budget 1)", ENGINE_COLUMN] == "1.50x ± 0.00 openvino fp32"
    assert f"`{ENGINE_COLUMN}`: the row's best batch-32 speedup" in render_markdown(board)


def test_records_without_engine_figures_show_missing_and_old_boards_have_no_engine_column(board, tmp_path):
    assert budget_table(board, 0.1).set_index("method").loc["distill", ENGINE_COLUMN] == "–"
    old = [r for r in RECORDS if r["method"] == "distill"]
    old_board = build_board(read_cells(write_verified(tmp_path / "old", old)))
    table = budget_table(old_board, 0.1)
    assert ENGINE_COLUMN not in table.columns and SPEEDUP_COLUMN in table.columns
    assert ENGINE_COLUMN not in render_markdown(old_board)
    assert NONE in render_readme(old_board) and "## FLOP budget and realized speedup" in render_readme(old_board)
    assert "engine_speedup" not in cells_csv(old_board).splitlines()[0].split(",")


def test_malformed_engine_figures_are_ignored(board):
    assert budget_table(board, 0.1).set_index("method").loc["random", ENGINE_COLUMN] == "–"
    record = {"latency_ms": {"engines": MALFORMED}}
    assert engine_speedups(record) == {} and best_engine(record) is None
    assert engine_speedups({"latency_ms": {"engines": {"x": {"fp32": timed(10**400)}}}}) == {}  # overflows a float
    assert engine_speedups({"latency_ms": {"engines": ["openvino"]}}) == {}
    assert engine_speedups({"latency_ms": "broken"}) == {}
    assert "bad|name" not in render_readme(board) and "tvm" not in render_readme(board)


def test_best_config_prefers_the_widest_coverage_then_the_mean_then_the_name():
    assert best_config({("a", "fp32"): [1.0, 3.0], ("b", "fp32"): [9.0]}) == (("a", "fp32"), [1.0, 3.0])
    assert best_config({("b", "fp32"): [2.0], ("a", "fp32"): [2.0]}) == (("a", "fp32"), [2.0])
    assert best_config({}) is None


def test_frame_and_csv_carry_each_records_best_engine_and_the_raw_engine_figures(board):
    f = board.frame.set_index(["method", "task"])
    assert f.loc[("ksp", "rte"), "engine"] == "deepsparse fp32" and f.loc[("ksp", "rte"), "engine_speedup"] == 9.0
    assert f.loc[("ksp", "sst2"), "engine_speedups"][("openvino", "bf16")] == 2.4
    assert f.loc[("distill", "sst2"), "engine_speedups"] == {}
    rows = {(r["method"], r["task"]): r for r in csv.DictReader(io.StringIO(cells_csv(board)))}
    assert rows[("ksp", "sst2")]["engine"] == "openvino bf16" and float(rows[("ksp", "sst2")]["engine_speedup"]) == 2.4
    assert rows[("distill", "sst2")]["engine"] == "" and rows[("random", "sst2")]["engine_speedup"] == ""
    assert rows[("ksp", "rte")]["latency_ms.engines.onnxruntime.fp32.speedup.batch_32"] == "1.8"


def _titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_visible()]


def test_the_speedup_plot_has_a_row_of_panels_per_engine_pytorch_first(board, tmp_path):
    fig = scores_figure(board, "speedup")
    try:
        titles = _titles(fig)
        average = "average (sst2, rte)"
        engines_in_order = ("PyTorch", "onnxruntime", "openvino")
        expected = [f"{engine}: {panel}" for engine in engines_in_order for panel in ("sst2", "rte", average)]
        # deepsparse timed one rte cell: its rte panel and the average, on a row of their own.
        assert titles == [*expected[:3], "deepsparse: rte", f"deepsparse: {average}", *expected[3:]]
        assert len(fig.axes) == 12  # 4 rows of 3; the deepsparse row's third panel hidden
    finally:
        plt.close(fig)
    old = build_board(read_cells(write_verified(tmp_path / "old", [r for r in RECORDS if r["method"] == "distill"])))
    fig = scores_figure(old, "speedup")
    try:
        assert _titles(fig) == ["sst2", "rte", "average (sst2, rte)"]  # as before engines
    finally:
        plt.close(fig)


def test_the_readme_explains_the_two_axes_and_lists_engine_versions_and_settings(board):
    text = render_readme(board)
    section = text.split("## FLOP budget and realized speedup")[1].split("\n## ")[0]
    assert "different axes" in section and "95% unstructured sparsity" in section
    assert "- `openvino`, versions: `2026.4.1`" in section
    assert "- `onnxruntime`, versions: `1.32.0`" in section and "- `deepsparse`, versions: `1.8.0`" in section
    assert "  - `bf16`: cells timed 4, failed 0; largest |logit - PyTorch fp32| 1e-06; settings:" in section
    assert 'settings: `{"INFERENCE_NUM_THREADS": 2}`' in section  # the malformed NaN above is not a timing
    failing = "  - `fp32`: cells timed 0, failed 1 (the errors are in `cells.csv`); largest |logit - PyTorch fp32|"
    assert f"{failing} not recorded; settings: not recorded" in section  # a precision that recorded an error
    assert text == render_readme(build_board(list(reversed(board.cells))))
