"""CoFi: hard-concrete gates, the expected-FLOP formula against the FLOP counter, exact folding and
physical removal (heads, whole blocks, FFN neurons, hidden dimensions), the dynamic layer map, and
smoke cells at three budgets."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest
import torch

from methods.cofi import hard_concrete, shapes_of
from methods.cofi.gates import CoFiGates
from methods.cofi.layer_distill import align, teacher_layers
from methods.cofi.masking import GateHooks, fold_and_remove
from suite.compute.models import load_model
from suite.flops import count_flops
from suite.records.layout import Cell
from suite.records.reader import read_records
from suite.run.executors.local import run_local
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.spec.tasks import get_task
from suite.structure import load_pruned, save_pruned, structure_of


def test_open_probability_matches_sampled_gates():
    torch.manual_seed(0)
    log_alpha = torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0])
    samples = torch.stack([hard_concrete.sample(log_alpha) for _ in range(20000)])
    assert samples.min() == 0.0 and samples.max() == 1.0  # exact zeros and ones occur
    sampled = (samples > 0).float().mean(0)
    assert torch.allclose(sampled, hard_concrete.open_probability(log_alpha), atol=0.015)


def test_deterministic_gates_close_the_expected_number_with_the_smallest_log_alpha():
    log_alpha = torch.tensor([4.0, -4.0, 3.0, -3.5, 2.0])
    expected_closed = round(float((1 - hard_concrete.open_probability(log_alpha)).sum()))
    gates = hard_concrete.deterministic(log_alpha)
    assert expected_closed == 2
    assert gates.tolist()[1] == 0.0 and gates.tolist()[3] == 0.0
    assert all(0.0 < g <= 1.0 for i, g in enumerate(gates.tolist()) if i not in (1, 3))


def _tiny(seed: int = 1):
    torch.manual_seed(seed)
    return load_model("tiny", get_task("sst2"), seed=seed).eval()


def test_expected_flops_with_every_gate_open_are_the_counter_s_dense_flops():
    model = _tiny()
    gates = CoFiGates(shapes_of(model, 128))
    with torch.no_grad():
        for log_alpha in gates.log_alphas().values():
            log_alpha.fill_(30.0)  # open with probability 1 - 1e-6
    assert float(gates.expected_flops().detach()) == pytest.approx(count_flops(model, 128).dense, rel=1e-4)


def _closing_gates(model, seq_len: int = 128) -> CoFiGates:
    """Fixed gates that close a head, a whole attention block, neurons, a whole FFN block and hidden
    dimensions, with soft values elsewhere."""
    gates = CoFiGates(shapes_of(model, seq_len))
    torch.manual_seed(3)
    values = {name: torch.rand_like(p).mul(0.5).add(0.5) for name, p in gates.log_alphas().items()}
    values["head"][0, 1] = 0.0
    values["mha"][1] = 0.0  # layer 1 loses its attention block
    values["intermediate"][0, :100] = 0.0
    values["ffn"][1] = 0.0  # and its FFN block
    values["hidden"][::3] = 0.0
    gates.values = values
    return gates


def _batch():
    torch.manual_seed(5)
    ids = torch.randint(5, 1000, (3, 9))
    mask = torch.ones_like(ids)
    mask[2, 6:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def test_folding_and_removal_compute_what_the_gated_model_computed(tmp_path):
    model = _tiny()
    gates = _closing_gates(model)
    hooks = GateHooks(model, gates)
    with torch.no_grad():
        gated = model(**_batch()).logits
    hooks.remove()
    dense_params = sum(p.numel() for p in model.parameters())
    fold_and_remove(model, gates)
    with torch.no_grad():
        assert torch.allclose(model(**_batch()).logits, gated, atol=1e-5)
    structure = structure_of(model)
    assert structure["hidden"] == 64 - len(range(0, 64, 3))
    assert structure["heads"] == [3, 0] and structure["ffn"] == [28, 0]
    assert sum(p.numel() for p in model.parameters()) < dense_params
    # the FLOP counter on the smaller model agrees with the gates' exact count
    assert count_flops(model, 128).dense == pytest.approx(gates.kept_flops(), rel=1e-12)
    save_pruned(model, tmp_path / "m")
    reloaded = load_pruned(tmp_path / "m")
    with torch.no_grad():
        assert torch.allclose(reloaded(**_batch()).logits, gated, atol=1e-5)


def test_fit_to_meets_the_target_from_above_and_from_below():
    model = _tiny()
    gates = _closing_gates(model)
    dense = count_flops(model, 128).dense
    gates.fit_to(0.2 * dense)
    assert 0.15 * dense < gates.kept_flops() <= 0.2 * dense
    gates.fit_to(0.35 * dense)  # reopens gates while one more still fits
    assert 0.3 * dense < gates.kept_flops() <= 0.35 * dense


def test_teacher_layers_and_the_monotone_dynamic_map():
    assert teacher_layers(12, 4) == [2, 5, 8, 11]
    assert teacher_layers(6, 4) == [1, 2, 4, 5]
    assert teacher_layers(2, 4) == [0, 1]
    losses = torch.tensor(
        [
            [0.1, 0.5, 0.9, 0.9],  # teacher layer a: closest to student 0
            [0.9, 0.3, 0.1, 0.2],  # teacher layer b: closest to student 2, which the top one takes
            [0.9, 0.9, 0.1, 0.3],  # top teacher layer: student 2
        ]
    )
    assert align(losses, torch.tensor([True, True, True, True])) == [0, 1, 2]
    # student layer 2's attention block is closed: the top teacher layer takes 3, the next one 1
    assert align(losses, torch.tensor([True, True, False, True])) == [0, 1, 3]


@pytest.mark.integration
@pytest.mark.parametrize("budget", [0.5, 0.25, 0.1])
def test_smoke_cells_are_within_budget_and_physically_smaller(budget, tmp_path, glue_dir, smoke_preset):
    preset = replace(smoke_preset, flop_seq_len=16, max_train_samples=64, curve_every=1)
    grid = Grid.build(preset, tmp_path / "r", glue_dir, tmp_path / "c", execution=Execution(progress=False))
    summary = run_local(grid, [Cell("mrpc", "cofi", budget, 0)])
    assert summary.count("ok") == 1, [r.error for r in summary.ran]
    (record,) = [r for r in read_records(tmp_path / "r") if r["method"] == "cofi"]
    assert budget * 0.9 < record["flops"]["fraction"] <= budget * 1.01
    reference = count_flops(load_model("tiny", get_task("mrpc"), seed=0), 16)
    assert record["params"]["total"] < reference.params_total
    assert record["training"]["start"] == "teacher"
    # The curve: the loss is its terms; the Lagrangian term while the gates learn; the FLOP fraction
    # is the gates' expected one, then the fixed structure's, which the record's is.
    with open(tmp_path / "r" / "mrpc" / "cofi" / record["curve"]["file"], newline="") as handle:
        rows = [{k: float(v) if v else None for k, v in row.items()} for row in csv.DictReader(handle)]
    assert len(rows) == record["training"]["own_steps"]
    for row in rows:
        terms = [row[name] for name in ("loss_layer", "loss_logits", "loss_lagrangian") if row[name] is not None]
        assert row["loss"] == pytest.approx(sum(terms), rel=1e-4, abs=1e-6)
    assert rows[0]["loss_lagrangian"] is not None and rows[-1]["loss_lagrangian"] is None
    assert rows[-1]["flop_fraction"] == pytest.approx(record["flops"]["fraction"], rel=1e-9)


def test_open_gates_leave_the_model_s_function_unchanged():
    """Gates at 1 everywhere (every hidden dimension open): the hooked model is the model."""
    model = _tiny()
    with torch.no_grad():
        plain = model(**_batch()).logits
    gates = CoFiGates(shapes_of(model, 128))
    gates.values = {name: torch.ones_like(p).detach() for name, p in gates.log_alphas().items()}
    hooks = GateHooks(model, gates)
    with torch.no_grad():
        assert torch.allclose(model(**_batch()).logits, plain, atol=1e-6)
    gates.values["hidden"][0] = 0.0  # one closed hidden dimension changes it
    with torch.no_grad():
        assert not torch.allclose(model(**_batch()).logits, plain, atol=1e-4)
    hooks.remove()
