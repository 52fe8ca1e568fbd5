"""Method knobs from the command line: typed from the Config's fields, refused with the known ones, in the hash."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Literal

import pytest

from suite.api import MethodInfo, PruningMethod
from suite.errors import SuiteError
from suite.records.provenance import config_hash
from suite.registry import get_method, get_registered, list_methods, parse_method_args
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.run.plan import expand_grid, plan_grid
from suite.spec.knobs import Knob, knobs_of
from suite.spec.ranges import OneOf, Range


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
            "kd.hidden, kd.attention, kd.logits, kd.temperature, kd.hard, kd.attention_pad_to, mask_updates, "
            "initial_sparsity",
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


def _builtin_knobs() -> list[tuple[str, Knob]]:
    """Every knob of every built-in method but the true/false ones (typed: nothing else gets through)."""
    return [
        (name, knob)
        for name in list_methods()
        for knob in knobs_of(get_registered(name).default_config())
        if knob.kind is not bool
    ]


def _refused_values(knob: Knob) -> list[str]:
    """Values outside what `knob` declares it admits, as --method-args text: past each bound (the bound
    itself where it is open), and for a number also what is not finite."""
    allowed = knob.allowed
    if isinstance(allowed, OneOf):
        return ["no-such-option"]
    values: list[float] = [math.nan, math.inf, -math.inf] if knob.kind is float else [-1]
    if allowed.low is not None:
        values.append(allowed.low if allowed.low_open else allowed.low - 1)
    if allowed.high is not None:
        values.append(allowed.high if allowed.high_open else allowed.high + 1)
    return [str(int(v)) if knob.kind is int else repr(float(v)) for v in values]


@pytest.mark.parametrize(("method", "knob"), _builtin_knobs(), ids=lambda p: p if isinstance(p, str) else p.path)
def test_every_builtin_knob_declares_a_range_and_refuses_what_is_outside_it(method, knob):
    assert knob.kind in (int, float, str), f"{method}.{knob.path}: a new knob type needs a refusal check here"
    # A count, a fraction or a weight: every numeric knob says what it admits, every string knob its options.
    assert isinstance(knob.allowed, OneOf if knob.kind is str else Range), f"{method}.{knob.path} declares no range"
    assert knob.allowed.admits(knob.value)  # the default (and so every config hash) is unchanged
    others = [m for m in list_methods() if m != method]
    for text in _refused_values(knob):
        with pytest.raises(SuiteError) as caught:
            parse_method_args([f"{method}.{knob.path}={text}"], [method, *others])
        message = str(caught.value)
        assert message.startswith(f"--method-args: {type(get_registered(method).default_config()).__name__} "), message
        assert f"{method}.{knob.path}=" in message and f"must be {knob.allowed}, got " in message, message
        assert "\n" not in message and len(message) < 300, message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("ksp.kd.temperature=-1", "refuses ksp.kd.temperature=-1.0: temperature must be finite and > 0, got -1.0"),
        ("ksp.initial_sparsity=1.5", "refuses ksp.initial_sparsity=1.5: initial_sparsity must be in [0, 1), got 1.5"),
        ("ksp.mask_updates=-5", "refuses ksp.mask_updates=-5: mask_updates must be in [1, 1000000], got -5"),
        ("ksp.mask_updates=0", "refuses ksp.mask_updates=0: mask_updates must be in [1, 1000000], got 0"),
        ("obert.scope=local", "refuses obert.scope=local: scope must be one of 'global', 'matrix', got 'local'"),
        ("cofi.intermediate_init=9", "refuses cofi.intermediate_init=9.0: intermediate_init must be in [-4.60517, "),
    ],
)
def test_out_of_range_knobs_are_refused_before_anything_runs(args, message):
    with pytest.raises(SuiteError, match=re.escape(message)):
        parse_method_args([args], ["ksp", "obert", "cofi"])


def test_refusals_echo_a_long_value_only_in_part():
    digits = "9" * 5000
    with pytest.raises(SuiteError) as caught:
        parse_method_args([f"ksp.mask_updates={digits}"], ["ksp"])
    assert str(caught.value) == (
        f"--method-args: 'ksp.mask_updates={'9' * 23}...' is 5017 characters long; "
        "a METHOD.KNOB=VALUE item is at most 1000"
    )
    for value, refusal in [
        ("9" * 900, "mask_updates must be in [1, 1000000], got " + "9" * 40 + "..."),  # an int, but out of range
        ("x" * 900, "ksp.mask_updates expects an integer, got '" + "x" * 40 + "...'"),  # not an int
    ]:
        with pytest.raises(SuiteError) as caught:
            parse_method_args([f"ksp.mask_updates={value}"], ["ksp"])
        assert str(caught.value).endswith(refusal) and len(str(caught.value)) < 250, str(caught.value)
    with pytest.raises(SuiteError) as caught:
        parse_method_args([f"ksp.{'y' * 900}=1"], ["ksp"])
    assert f"ksp has no knob '{'y' * 40}...'." in str(caught.value) and len(str(caught.value)) < 300
