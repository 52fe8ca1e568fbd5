from __future__ import annotations

import itertools

import pytest
import torch

from suite.errors import SuiteError
from suite.flops import budget_fraction, count_flops
from suite.sparsity import EncoderMasks, cubic_sparsity, kept_fraction_for_budget, magnitude_mask
from tests.builders.models import minilm_shaped


def test_budget_0_1_on_minilm_needs_about_95_percent_sparsity():
    model = minilm_shaped()
    reference = count_flops(model, 128)
    sparsity = 1.0 - kept_fraction_for_budget(reference, 0.1)
    # dense 2,869,200,384 FLOPs of which 2,717,908,992 in encoder linears (attention + pooler +
    # classifier = 151,291,392): keep (0.1 * 2869200384 - 151291392) / 2717908992 = 0.049902
    assert sparsity == pytest.approx(1 - 0.049902, abs=1e-6)
    masks = EncoderMasks(model)
    masks.prune_by_magnitude(sparsity)
    fraction = budget_fraction(count_flops(model, 128), reference)
    assert 0.099 < fraction <= 0.1


def test_unreachable_budget_is_refused():
    reference = count_flops(minilm_shaped(), 128)
    with pytest.raises(SuiteError, match="cannot be met by weight sparsity"):
        kept_fraction_for_budget(reference, 0.05)


def test_cubic_schedule():
    assert cubic_sparsity(0, 100, 0.9) == 0.0
    assert cubic_sparsity(100, 100, 0.9) == pytest.approx(0.9)
    assert cubic_sparsity(50, 100, 0.9) == pytest.approx(0.9 * (1 - 0.5**3))
    values = [cubic_sparsity(t, 100, 0.9) for t in range(101)]
    assert values == sorted(values)


def test_magnitude_masks_never_regrow():
    torch.manual_seed(0)
    weight = torch.randn(16, 16)
    first = magnitude_mask(weight, 128)
    assert int(first.sum()) == 128
    assert weight.abs()[first].min() >= weight.abs()[~first].max()
    grown = weight.clone()
    grown[~first] = 100.0  # pruned weights that would win on magnitude alone
    second = magnitude_mask(grown, 64, current=first)
    assert int(second.sum()) == 64 and not (second & ~first).any()


def test_masks_zero_weights_and_random_masks_are_seeded():
    model = minilm_shaped()
    masks = EncoderMasks(model)
    masks.prune_randomly(0.75, seed=3)
    for linear in masks.linears.values():
        density = float((linear.weight != 0).float().mean())
        assert density == pytest.approx(0.25, abs=1e-3)
    again = EncoderMasks(minilm_shaped())
    again.prune_randomly(0.75, seed=3)
    assert all(torch.equal(masks.masks[k], again.masks[k]) for k in masks.masks)


def test_shared_schedule_warms_up_ramps_and_cools_down():
    from suite.sparsity import PruningSchedule

    schedule = PruningSchedule(warmup=0.1, cooldown=0.2)
    assert schedule.ramp(100) == (10, 80)
    values = [schedule.sparsity_at(t, 100, 0.9) for t in range(101)]
    assert values[:11] == [0.0] * 11  # dense warm-up
    assert values[80:] == [pytest.approx(0.9)] * 21  # final sparsity with 20 steps left to recover
    assert all(a < b for a, b in itertools.pairwise(values[10:81]))  # the ramp rises
    assert values[45] == pytest.approx(cubic_sparsity(35, 70, 0.9))
    # Tiny runs still get one step of ramp and one of cool-down.
    assert PruningSchedule().ramp(3) == (0, 2) and PruningSchedule(warmup=0.5, cooldown=0.4).ramp(4) == (2, 3)


@pytest.mark.parametrize(("warmup", "cooldown"), [(0.5, 0.5), (-0.1, 0.2), (0.1, 0.0), (0.9, 0.2)])
def test_shared_schedule_must_leave_steps_to_recover(warmup, cooldown):
    from suite.sparsity import PruningSchedule

    with pytest.raises(ValueError, match="the ramp must end before the last step"):
        PruningSchedule(warmup=warmup, cooldown=cooldown)
