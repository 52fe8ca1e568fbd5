"""The held-out split: never trained on by any row, the same for every seed and method, part of the
data identity; cells scored on it say so, and a board never mixes them with dev-scored ones."""

from __future__ import annotations

from dataclasses import replace

import pytest

from suite.compute import train as train_module
from suite.compute.data import load_task
from suite.errors import SuiteError
from suite.leaderboard.merge import merge_results
from suite.records.layout import cell_path
from suite.records.reader import read_record
from suite.records.validate import validate_results
from suite.registry import list_methods
from suite.run import fit as fit_module
from suite.run.executors.local import run_local
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.run.plan import expand_grid
from suite.spec.splits import HELDOUT
from suite.spec.tasks import get_task
from tests.conftest import FIXTURE_GLUE

TASK = "mrpc"
RULE = 8  # of the 32 training examples of the preset below


def _preset(**overrides):
    from suite.spec.presets import get_preset

    base = replace(
        get_preset("smoke"),
        tasks=(TASK,),
        max_train_samples=32,
        max_eval_samples=24,
        latency_batches=(1,),
        latency_repeats=1,
    )
    return replace(base, **overrides)


def _grid(root, **overrides) -> Grid:
    preset = _preset(**overrides)
    return Grid.build(preset, root / "results", FIXTURE_GLUE, root / "cache", execution=Execution(progress=False))


@pytest.fixture(scope="module")
def heldout_grid(tmp_path_factory):
    return _grid(tmp_path_factory.mktemp("heldout"), heldout=RULE, eval_split=HELDOUT)


def _rows(ds) -> list[tuple[int, ...]]:
    return [tuple(ids) for ids in ds["input_ids"]]


def test_the_split_is_carved_from_the_subsample_and_disjoint(glue_dir):
    task = get_task("sst2")
    whole = load_task(task, glue_dir, max_train_samples=40, data_seed=3)
    carved = load_task(task, glue_dir, max_train_samples=40, data_seed=3, heldout=0.25)
    assert (len(carved.train), len(carved.heldout)) == (30, 10)
    kept, held = list(carved.train["text_a"]), list(carved.heldout["text_a"])
    assert sorted(kept + held) == sorted(whole.train["text_a"])  # a partition of the same subsample
    again = load_task(task, glue_dir, max_train_samples=40, data_seed=3, heldout=0.25)
    assert list(again.heldout["text_a"]) == held and again.heldout_sha256 == carved.heldout_sha256
    other = load_task(task, glue_dir, max_train_samples=40, data_seed=4, heldout=0.25)
    assert other.heldout_sha256 != carved.heldout_sha256
    assert list(carved.evals["validation"]["text_a"]) == list(whole.evals["validation"]["text_a"])  # dev as it was


def test_too_large_a_rule_is_one_line(glue_dir):
    with pytest.raises(SuiteError, match="holds out 39 of the 40 training examples of sst2"):
        load_task(get_task("sst2"), glue_dir, max_train_samples=40, heldout=39)


def test_the_split_is_in_the_data_identity(tmp_path, heldout_grid):
    plain = _grid(tmp_path / "plain")
    dev_scored = _grid(tmp_path / "dev", heldout=RULE)
    keys = {grid.identity.teacher_key(TASK, 0) for grid in (plain, dev_scored, heldout_grid)}
    assert len(keys) == 3
    data = heldout_grid.identity.data_config(TASK)
    assert data["heldout"] == RULE and data["heldout_size"] == RULE and data["eval_split"] == HELDOUT
    assert data["heldout_sha256"] == heldout_grid.inputs.task_data(TASK).heldout_sha256
    assert "heldout" not in plain.identity.data_config(TASK)  # the hashes of such runs are unchanged
    # The same rows are held out whatever the seed: the split depends on the data seed only.
    other_seeds = _grid(tmp_path / "seeds", heldout=RULE, eval_split=HELDOUT, seeds=(1,))
    assert heldout_grid.identity.data_config(TASK) == other_seeds.identity.data_config(TASK)


@pytest.mark.integration
@pytest.mark.parametrize("name", list_methods())
def test_no_method_trains_on_the_heldout_split(name, heldout_grid, monkeypatch):
    data = heldout_grid.inputs.task_data(TASK)
    only_held = set(_rows(data.heldout)) - set(_rows(data.train))
    assert len(only_held) >= RULE - 1  # the fixture's rows are (almost all) distinct
    loaded: list = []

    def spy(make_loader):
        def wrapped(ds, *args, **kwargs):
            loaded.append(ds)
            return make_loader(ds, *args, **kwargs)

        return wrapped

    monkeypatch.setattr(train_module, "make_loader", spy(train_module.make_loader))
    monkeypatch.setattr(fit_module, "make_loader", spy(fit_module.make_loader))
    (cell,) = expand_grid(heldout_grid.spec.preset, [name])
    summary = run_local(heldout_grid, [cell])
    assert summary.count("ok") + summary.count("over_budget") == 1, [r.error for r in summary.ran]
    record = read_record(cell_path(heldout_grid.store.root, cell.task, cell.method, cell.budget, cell.seed))
    assert record["predictions"]["split"] == HELDOUT and record["predictions"]["n"] == RULE
    assert record["run_config"]["data"]["eval_split"] == HELDOUT
    seen = {row for ds in loaded for row in _rows(ds)}
    assert not seen & only_held, f"{name} trained on held-out examples"


@pytest.mark.integration
def test_heldout_records_validate_and_never_share_a_board_with_dev_ones(tmp_path):
    held = _grid(tmp_path / "held", heldout=RULE, eval_split=HELDOUT)
    dev = _grid(tmp_path / "dev")
    for grid, method in ((held, "random"), (dev, "dense")):
        assert run_local(grid, expand_grid(grid.spec.preset, [method])).count("ok") == 1
    validation = validate_results(held.store.root)
    assert validation.problems == [], validation.problems
    trivial = read_record(cell_path(held.store.root, TASK, "trivial", 1.0, 0))
    assert trivial["predictions"]["split"] == HELDOUT and trivial["predictions"]["n"] == RULE
    merged = merge_results([dev.store.root, held.store.root])
    assert merged.cells and all(c.record["run_config"]["data"].get("eval_split") is None for c in merged.cells)
    refused_random = [line for line in merged.refused if "/random/" in line]
    assert len(refused_random) == 1 and "run_config.data.eval_split is 'heldout'" in refused_random[0], merged.refused
