"""The per-cell time limit setting: seconds, auto or off, anything else one line; never in a hash."""

from __future__ import annotations

import pytest

from suite.errors import SuiteError
from suite.spec.cell_timeout import AUTO, OFF, parse_cell_timeout
from suite.spec.presets import PRESETS


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        ("auto", AUTO),
        ("AUTO", AUTO),
        ("off", OFF),
        (" Off ", OFF),
        ("0", OFF),
        ("0.0", OFF),
        ("90", 90.0),
        ("2.5", 2.5),
        (30, 30.0),
    ],
)
def test_seconds_auto_and_off_are_the_settings(text, setting):
    assert parse_cell_timeout(text) == setting


@pytest.mark.parametrize("text", ["-1", "abc", "inf", "nan", "", "10s"])
def test_anything_else_is_one_line(text):
    with pytest.raises(SuiteError, match=r"must be a positive number of seconds, 'auto' or 'off' \(or 0\), got"):
        parse_cell_timeout(text)


def test_every_preset_has_the_generous_default():
    assert {p.cell_timeout for p in PRESETS.values()} == {AUTO}
