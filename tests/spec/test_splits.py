"""The held-out rule: its sizes, its one-line refusals, and what it adds to a cell's identity."""

from __future__ import annotations

import pytest

from suite.errors import SuiteError
from suite.records.checks import identity
from suite.spec.splits import (
    DEV,
    HELDOUT,
    check_eval_split,
    check_heldout,
    heldout_size,
    scored_task,
    split_config,
)
from suite.spec.tasks import get_task


@pytest.mark.parametrize(("rule", "n", "size"), [(None, 100, 0), (0.1, 1000, 100), (0.25, 10, 2), (300, 1000, 300)])
def test_sizes(rule, n, size):
    assert heldout_size(rule, n) == size


@pytest.mark.parametrize(("rule", "n"), [(0.01, 100), (1, 100), (99, 100), (0.999, 100)])
def test_either_part_too_small_is_one_line(rule, n):
    with pytest.raises(SuiteError, match="need at least 2"):
        heldout_size(rule, n, "sst2")


@pytest.mark.parametrize("rule", [0, -3, 1.5, float("nan"), float("inf"), True, "10"])
def test_bad_rules_are_refused(rule):
    with pytest.raises(SuiteError, match="--heldout"):
        check_heldout(rule)


def test_the_heldout_split_needs_a_rule():
    check_eval_split(DEV, None)
    check_eval_split(HELDOUT, 0.1)
    with pytest.raises(SuiteError, match="needs a held-out split"):
        check_eval_split(HELDOUT, None)
    with pytest.raises(SuiteError, match="expected one of dev, heldout"):
        check_eval_split("test", 0.1)


def test_scored_task():
    task = get_task("mnli")
    assert scored_task(task, DEV) is task
    assert scored_task(task, HELDOUT).eval_splits == (HELDOUT,)
    assert scored_task(task, HELDOUT).primary_metric == task.primary_metric


def test_no_rule_adds_nothing_to_the_identity():
    """Runs without a held-out split keep every config hash they had."""
    assert split_config(None, 0, "", DEV) == {}
    assert split_config(0.1, 12, "abc", HELDOUT) == {
        "heldout": 0.1,
        "heldout_size": 12,
        "heldout_sha256": "abc",
        "eval_split": HELDOUT,
    }


def test_a_record_without_the_keys_is_dev_without_heldout():
    """So a board or a folder never mixes such a record with a held-out-scored one."""
    old = {"run_config": {"data": {"data_seed": 0}}}
    new = {"run_config": {"data": {"data_seed": 0, **split_config(0.1, 12, "abc", HELDOUT)}}}
    assert identity(old)["run_config.data.eval_split"] == DEV
    assert identity(old)["run_config.data.heldout"] is None
    assert identity(new)["run_config.data.eval_split"] == HELDOUT
