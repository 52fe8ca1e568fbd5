from __future__ import annotations

import sys

from suite.leaderboard import budget_table, records_frame, render_markdown


def rec(method, task, budget, seed, score, status="ok"):
    return {
        "method": method,
        "task": task,
        "budget": budget,
        "seed": seed,
        "status": status,
        "score": score if status == "ok" else None,
        "flops": {"fraction": budget},
    }


RECORDS = [
    rec("dense", "sst2", 1.0, 0, 90.0),
    rec("dense", "sst2", 1.0, 1, 92.0),
    rec("dense", "mrpc", 1.0, 0, 80.0),
    rec("dense", "mrpc", 1.0, 1, 84.0),
    rec("ksp", "sst2", 0.1, 0, 85.0),
    rec("ksp", "mrpc", 0.1, 0, 70.0),
    rec("random", "sst2", 0.1, 0, 0, status="failed"),
    rec("random", "mrpc", 0.1, 0, 0, status="over_budget"),
]


def test_table_mean_std_and_marks():
    table = budget_table(records_frame(RECORDS), 0.1).set_index("method")
    assert table.loc["dense (budget 1)", "sst2"] == "91.0 ± 1.4 (n=2)"
    assert table.loc["dense (budget 1)", "average"] == "86.5 ± 2.1 (n=2)"
    assert table.loc["ksp", "average"] == "77.5 (n=1)"
    assert table.loc["random", "sst2"] == "1 failed"
    assert table.loc["random", "mrpc"] == "1 over budget"
    assert table.loc["random", "average"] == "–"
    assert list(table.index) == ["dense (budget 1)", "ksp", "random"]


def test_markdown_is_deterministic_and_torch_free():
    sys.modules.pop("suite.leaderboard", None)
    first = render_markdown(RECORDS)
    assert first == render_markdown(list(reversed(RECORDS)))
    assert "## Budget 0.1" in first
