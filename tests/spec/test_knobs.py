"""Method knobs from the command line: typed from the Config's fields, refused with the known ones, in the hash."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import pytest

from suite.api import MethodInfo, PruningMethod
from suite.errors import SuiteError
from suite.records.provenance import config_hash
from suite.registry import get_method, parse_method_args
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.run.plan import expand_grid, plan_grid
from suite.spec.knobs import knobs_of


def test_knobs_are_typed_from_the_config_nested_ones_too():
    knobs = parse_method_args(["ksp.mask_updates=50,ksp.kd.attention=0", "ksp.distill=false"], ["dense", "ksp"])
    assert knobs == {"ksp": {"mask_updates": 50, "kd.attention": 0.0, "distill": False}}
    assert [type(v) for v in knobs["ksp"].values()] == [int, float, bool]
    config = get_method("ksp", knobs["ksp"]).config
    assert (config.mask_updates, config.kd.attention, config.distill) == (50, 0.0, False)
    assert config.kd.hidden == 1.0 and config.initial_sparsity == 0.0  # the others keep their defaults
    assert get_method("magnitude", {"mask_updates": 7}).config.distill is False  # a variant's own defaults stay


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            "ksp.mask_update=5",
            "--method-args: ksp has no knob 'mask_update'. Did you mean 'mask_updates'? Its knobs: distill, "
            "kd.hidden, kd.attention, kd.logits, kd.temperature, mask_updates, initial_sparsity",
        ),
        ("ksp.mask_updates=1.5", "--method-args: ksp.mask_updates expects an integer, got '1.5'"),
        ("ksp.distill=maybe", "--method-args: ksp.distill expects true or false, got 'maybe'"),
        ("ksp.kd=0", "--method-args: ksp.kd is a group of knobs; set its fields: kd.hidden, kd.attention, kd.logits"),
        ("dense.lr=1", "--method-args: dense has no knobs (its Config has no fields), so 'lr' cannot be set"),
        ("kps.mask_updates=5", "unknown method 'kps'. Did you mean 'ksp'?"),
        (
            "heads.n_iters=3",
            "--method-args sets heads.n_iters, but 'heads' is not among the selected methods (ksp, distill, dense)",
        ),
        ("ksp.mask_updates=5,ksp.mask_updates=6", "--method-args sets ksp.mask_updates twice"),
        ("ksp", "--method-args: 'ksp' is not METHOD.KNOB=VALUE"),
        ("distill.init=middle", "--method-args: SmallDenseConfig of distill refuses distill.init=middle: init must be"),
    ],
)
def test_bad_knobs_are_one_line_naming_method_and_knob(args, message):
    with pytest.raises(SuiteError) as caught:
        parse_method_args([args], ["ksp", "distill", "dense"])
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value), str(caught.value)


@dataclass(frozen=True)
class Inner:
    scale: float = 1.0


@dataclass(frozen=True)
class ProbeConfig:
    sizes: tuple[int, ...] = (1,)
    pair: tuple[int, str] = (0, "a")
    limit: int | None = None
    mode: Literal["fast", "slow"] = "fast"
    inner: Inner = field(default_factory=Inner)


def test_tuples_optionals_and_literals(isolated_registry):
    @isolated_registry.register_method(MethodInfo(name="knob-probe", summary="knobs of many types"))
    class Probe(PruningMethod):
        Config = ProbeConfig

        def prepare(self, model, ctx):
            return model

        def finalize(self, model, ctx):
            return model

    knobs = parse_method_args(
        ["knob-probe.sizes=3,4,knob-probe.pair=(2,b),knob-probe.limit=none,knob-probe.mode=slow"], ["knob-probe"]
    )
    assert knobs == {"knob-probe": {"sizes": (3, 4), "pair": (2, "b"), "limit": None, "mode": "slow"}}
    assert parse_method_args(["knob-probe.limit=12,knob-probe.inner.scale=2"], ["knob-probe"])["knob-probe"] == {
        "limit": 12,
        "inner.scale": 2.0,
    }
    with pytest.raises(SuiteError, match=r"knob-probe.mode expects one of fast, slow, got 'medium'"):
        parse_method_args(["knob-probe.mode=medium"], ["knob-probe"])
    with pytest.raises(SuiteError, match=r"knob-probe.pair expects comma-separated values \(tuple\[int, str\]\)"):
        parse_method_args(["knob-probe.pair=1,b,c"], ["knob-probe"])
    assert [k.path for k in knobs_of(ProbeConfig())] == ["sizes", "pair", "limit", "mode", "inner.scale"]


def test_knobs_are_in_the_config_hash_and_defaults_are_not(tmp_path, glue_dir, smoke_preset):
    preset = replace(smoke_preset, tasks=("mrpc",), budgets=(0.5,))
    cells = expand_grid(preset, ["ksp", "dense"])

    def hashes(method_args=None) -> dict[str, str]:
        grid = Grid.build(
            preset,
            tmp_path / "r",
            glue_dir,
            tmp_path / "c",
            method_args=method_args,
            execution=Execution(progress=False),
        )
        plan = plan_grid(grid.identity, grid.store, cells)
        return {cell.method: config_hash(config) for cell, _, config in plan.to_run}

    plain = hashes()
    assert hashes({}) == plain
    assert hashes(parse_method_args(["ksp.mask_updates=100,ksp.kd.attention=1"], ["ksp"])) == plain  # the defaults
    changed = hashes(parse_method_args(["ksp.mask_updates=50"], ["ksp"]))
    assert changed["ksp"] != plain["ksp"] and changed["dense"] == plain["dense"]
    assert not (tmp_path / "r").exists() and not (tmp_path / "c").exists()  # planning writes nothing
