"""Search spaces: every method's is made of its own knobs, inside what they admit, with its defaults inside."""

from __future__ import annotations

import pytest

from suite.errors import SuiteError
from suite.registry import get_registered, list_methods, register_method
from suite.spec.knobs import knobs_of
from suite.spec.search import LEARNING_RATE, Choice, IntRange, LogUniform, SearchSpace, Uniform, split_trial


@pytest.mark.parametrize("name", list_methods())
def test_every_method_is_tuned_on_the_learning_rate_and_its_defaults_lie_in_its_space(name):
    registered = get_registered(name)
    space = registered.search.with_learning_rate()
    assert next(iter(space)) == LEARNING_RATE and space[LEARNING_RATE].contains(1.0)
    defaults = {k.path: k.value for k in knobs_of(registered.default_config())}
    for path, param in registered.search.params.items():
        assert path in defaults, path
        # Trial 0 runs the defaults: inside the space, so the sampler models it like any other trial.
        assert param.contains(defaults[path]), (path, defaults[path], str(param))


def test_dimensions_refuse_empty_or_reversed_ranges():
    for make in (
        lambda: Uniform(1.0, 1.0),
        lambda: LogUniform(0.0, 1.0),
        lambda: IntRange(5, 2),
        lambda: Choice(("a",)),
    ):
        with pytest.raises(ValueError):
            make()
    with pytest.raises(ValueError, match="tuned for every method"):
        SearchSpace({LEARNING_RATE: LogUniform(0.1, 1.0)})


def test_a_trial_splits_into_the_rate_factor_and_the_knobs():
    assert split_trial({LEARNING_RATE: 2.0, "kd.temperature": 3.0}) == (2.0, {"kd.temperature": 3.0})
    assert split_trial({}) == (1.0, {})


def test_a_space_outside_a_knobs_range_or_naming_no_knob_is_refused_at_registration(isolated_registry):
    from methods.ksp import GradualMagnitudePruning
    from suite.api import MethodInfo

    bad = SearchSpace({"initial_sparsity": Uniform(0.0, 1.5)})
    with pytest.raises(SuiteError, match=r"reaches 1\.5; initial_sparsity must be in \[0, 1\)"):
        register_method(MethodInfo(name="t-bad-space", summary="x"), search=bad)(GradualMagnitudePruning)
    unknown = SearchSpace({"kd.temprature": LogUniform(1.0, 2.0)})
    with pytest.raises(SuiteError, match="not one of its knobs"):
        register_method(MethodInfo(name="t-bad-space", summary="x"), search=unknown)(GradualMagnitudePruning)
