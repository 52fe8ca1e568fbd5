"""Shared fixtures: the shipped GLUE fixture folder and a fast smoke preset (tiny random BERT)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIXTURE_GLUE = Path(__file__).parent / "fixtures" / "glue_data"


@pytest.fixture
def glue_dir() -> Path:
    return FIXTURE_GLUE


@pytest.fixture
def smoke_preset():
    from suite.spec.presets import get_preset

    preset = get_preset("smoke")
    return replace(preset, max_train_samples=32, max_eval_samples=32, latency_batches=(1, 4), latency_repeats=1)


@pytest.fixture
def isolated_registry():
    """Methods registered inside a test are removed afterwards."""
    from suite import registry

    registry.load_all()  # every discovered method imported now, so restoring the registry loses none
    before = dict(registry._REGISTRY)
    discovered = registry._declared, list(registry._opaque), set(registry._imported)
    yield registry
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)
    registry._declared, registry._opaque, registry._imported = discovered


SMOKE_METHODS = ("dense", "magnitude", "heads")  # from the pre-trained model, sparse, from the teacher


def run_smoke(root: Path, methods: tuple[str, ...] = SMOKE_METHODS, **overrides) -> Path:
    """The smoke preset (as shipped, unless `overrides` change it) on the fixture data: its results folder."""
    from suite.run.executors.local import run_local
    from suite.run.grid import Grid
    from suite.run.identity import Execution
    from suite.run.plan import expand_grid
    from suite.spec.presets import get_preset

    preset = replace(get_preset("smoke"), latency_batches=(1, 4), latency_repeats=1, **overrides)
    grid = Grid.build(preset, root / "results", FIXTURE_GLUE, root / "cache", execution=Execution(progress=False))
    summary = run_local(grid, expand_grid(preset, list(methods)))
    assert summary.count("ok") == len(summary.ran), [r.error for r in summary.ran]
    return root / "results"


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory) -> Path:
    """A finished smoke-preset results folder (dense, magnitude, heads on sst2 and mrpc). Read-only:
    a test that alters records copies it first."""
    return run_smoke(tmp_path_factory.mktemp("smoke"))
