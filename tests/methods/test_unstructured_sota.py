"""oBERT's and PLATON's criteria against hand-computed cases, and their smoke cells at two budgets."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from methods.obert import pruning_events
from methods.obert.fisher import BlockFisherInverse
from methods.platon import PlatonScores
from suite.records.layout import Cell
from suite.records.reader import read_records
from suite.run.executors.local import run_local
from suite.run.grid import Grid
from suite.run.identity import Execution


def _fisher(gradients: list[torch.Tensor], block: int, damp: float) -> BlockFisherInverse:
    fisher = BlockFisherInverse(gradients[0].numel(), block, damp)
    fisher.inverse = fisher.inverse.double()  # exact arithmetic for the comparisons
    fisher.reset(len(gradients))
    for g in gradients:
        fisher.add_gradient(g)
    return fisher


def test_obert_saliency_on_a_2x2_block_with_a_known_fisher():
    # g1 = (1, 0), g2 = (0, 2), m = 2, λ = 1: F = I + (g1 g1ᵀ + g2 g2ᵀ)/2 = diag(1.5, 3), F⁻¹ = diag(2/3, 1/3).
    fisher = _fisher([torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])], block=2, damp=1.0)
    assert torch.allclose(fisher.diagonal(), torch.tensor([2 / 3, 1 / 3], dtype=torch.float64))
    # ρ = w² / (2 [F⁻¹]_ii): 9 / (4/3) = 6.75 and 1 / (2/3) = 1.5.
    saliency = fisher.saliency(torch.tensor([3.0, 1.0]))
    assert torch.allclose(saliency, torch.tensor([6.75, 1.5], dtype=torch.float64))


def test_obert_removal_moves_the_other_weight_of_the_block_by_the_obs_update():
    # g = (1, 1), m = 1, λ = 1: F = [[2, 1], [1, 2]], F⁻¹ = [[2, -1], [-1, 2]] / 3.
    fisher = _fisher([torch.tensor([1.0, 1.0])], block=2, damp=1.0)
    assert torch.allclose(fisher.inverse[0], torch.tensor([[2.0, -1.0], [-1.0, 2.0]], dtype=torch.float64) / 3)
    w = torch.tensor([3.0, 1.0])
    assert torch.allclose(fisher.saliency(w), torch.tensor([6.75, 0.75], dtype=torch.float64))
    # Removing w2: δw = -F⁻¹ e2 w2 / [F⁻¹]_22 = -(-1/3, 2/3) x 1.5 = (0.5, -1): w becomes (3.5, 0).
    updated = fisher.removal_update(w, torch.tensor([False, True]))
    assert torch.allclose(updated, torch.tensor([3.5, 0.0]))


def test_the_block_fisher_inverse_equals_a_dense_inverse_block_by_block():
    torch.manual_seed(0)
    n, block, damp, m = 23, 5, 0.3, 7  # the last block is padded
    gradients = [torch.randn(n, dtype=torch.float64) for _ in range(m)]
    fisher = _fisher(gradients, block, damp)
    padded = torch.zeros(m, 25, dtype=torch.float64)
    padded[:, :n] = torch.stack(gradients)
    for b in range(5):
        g = padded[:, b * block : (b + 1) * block]
        dense = torch.linalg.inv(damp * torch.eye(block, dtype=torch.float64) + g.T @ g / m)
        assert torch.allclose(fisher.inverse[b], dense, atol=1e-10)
    # Several weights of one block removed together: the dense OBS formula, and exact zeros.
    w = torch.randn(n, dtype=torch.float64)
    remove = torch.zeros(n, dtype=torch.bool)
    remove[[0, 3, 4, 7]] = True
    updated = fisher.removal_update(w, remove)
    f0, q = fisher.inverse[0], [0, 3, 4]
    expected = w[:5] - f0[:, q] @ torch.linalg.solve(f0[q][:, q], w[:5][q])
    assert torch.allclose(updated[:5], expected) and bool((updated[remove] == 0).all())


def test_obert_pruning_events_are_spread_over_the_ramp_and_end_at_its_end():
    assert pruning_events(10, 80, 7) == [20, 30, 40, 50, 60, 70, 80]
    assert pruning_events(0, 3, 10) == [1, 2, 3]  # fewer ramp steps than events: one per step


def test_platon_scores_after_two_ema_updates():
    scores = PlatonScores(beta1=0.5, beta2=0.5)
    scores.observe({"w": torch.tensor([2.0])})
    scores.fold()  # Ī = 0.5 x 0 + 0.5 x 2 = 1; Ū = 0.5 x 0 + 0.5 x |2 - 1| = 0.5
    assert scores.importance["w"].item() == 1.0 and scores.uncertainty["w"].item() == 0.5
    scores.observe({"w": torch.tensor([3.0])})
    scores.observe({"w": torch.tensor([5.0])})  # a window of two steps: its mean, 4, is one observation
    scores.fold()  # Ī = 0.5 x 1 + 0.5 x 4 = 2.5; Ū = 0.5 x 0.5 + 0.5 x |4 - 2.5| = 1.0
    assert scores.importance["w"].item() == 2.5 and scores.uncertainty["w"].item() == 1.0
    assert scores.scores()["w"].item() == 2.5  # Ī x Ū


def test_global_ranking_spreads_the_kept_weights_by_score_and_never_regrows(smoke_preset):
    from suite.compute.models import load_model
    from suite.sparsity import EncoderMasks
    from suite.spec.tasks import get_task

    model = load_model("tiny", get_task("mrpc"), seed=0)
    masks = EncoderMasks(model)
    names = list(masks.linears)
    scores = {name: torch.full_like(linear.weight, float(i)) for i, (name, linear) in enumerate(masks.linears.items())}
    masks.prune_by_scores(scores, 0.5, scope="global")
    kept = {name: int(masks.masks[name].sum()) for name in names}
    total = sum(linear.weight.numel() for linear in masks.linears.values())
    assert sum(kept.values()) == total // 2
    assert kept[names[0]] == 0 and kept[names[-1]] == masks.linears[names[-1]].weight.numel()  # by score
    reversed_scores = {name: -score for name, score in scores.items()}
    masks.prune_by_scores(reversed_scores, 0.6, scope="global")
    assert int(masks.masks[names[0]].sum()) == 0  # a pruned weight never wins back its slot


@pytest.mark.integration
@pytest.mark.parametrize("method", ["obert", "platon"])
def test_smoke_cells_are_within_budget_at_half_and_a_tenth(method, tmp_path, glue_dir, smoke_preset):
    # FLOPs at length 16: the tiny model's attention products are 6% of its FLOPs there (33% at 128,
    # where budget 0.1 is out of reach of any weight sparsity and is listed as not run).
    preset = replace(smoke_preset, flop_seq_len=16)
    grid = Grid.build(preset, tmp_path / "r", glue_dir, tmp_path / "c", execution=Execution(progress=False))
    cells = [Cell("mrpc", method, budget, 0) for budget in (0.5, 0.1)]
    summary = run_local(grid, cells)
    assert summary.count("ok") == 2, [r.error for r in summary.ran]
    for record in read_records(tmp_path / "r"):
        if record["method"] == method:
            assert record["flops"]["fraction"] <= record["budget"] * 1.01
            assert record["flops"]["fraction"] > record["budget"] * 0.95  # the budget is used, not wasted
