"""Tuned files: read with bounds and checks, applied only under the settings they were tuned under."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from suite.errors import SuiteError
from suite.records.tuned_file import MAX_TUNED_FILE_BYTES, read_tuned, write_tuned
from suite.spec.presets import PRESETS, get_preset
from suite.spec.tuned import FORMAT, parse_tuned, tuned_under

PRESET = replace(get_preset("smoke"), heldout=16)
GOOD = {
    "format": FORMAT,
    "preset": "smoke",
    "tuned_under": tuned_under(PRESET),
    "budget": 0.5,
    "seed": 0,
    "trials": 8,
    "choices": {
        "mrpc/ksp": {
            "knobs": {"kd.temperature": 2.0},
            "learning_rate": 3e-4,
            "trials": 8,
            "heldout_score": 71.0,
            "best_trial": 3,
            "gain_over_defaults": [0.5, 4.25],
        }
    },
}


def test_a_written_tuned_file_reads_back_and_applies_to_its_own_settings(tmp_path):
    write_tuned(tmp_path / "t.json", GOOD)
    tuned = read_tuned(tmp_path / "t.json")
    tuned.check_applies(PRESET)
    choice = tuned.choice("mrpc", "ksp")
    assert choice.knobs == {"kd.temperature": 2.0} and choice.learning_rate == 3e-4
    assert (choice.best_trial, choice.gain_over_defaults) == (3, (0.5, 4.25))
    assert tuned.choice("sst2", "ksp") is None
    assert tuned.record("mrpc", "ksp", [])["chosen"] == {"kd.temperature": 2.0, "learning_rate": 3e-4}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format=99), "not a tuned file of format"),
        (lambda d: d.update(budget=1.5), "not a FLOP fraction"),
        (lambda d: d.update(trials=0), "trials must be whole numbers"),
        (lambda d: d["choices"].update({"ksp": {}}), "is not 'task/method'"),
        (lambda d: d["choices"]["mrpc/ksp"].update(learning_rate=-1), "not a positive number"),
        (lambda d: d["choices"]["mrpc/ksp"].update(heldout_score=float("nan")), "not a finite number"),
        (lambda d: d["choices"]["mrpc/ksp"]["knobs"].update({"x": [1]}), "not a finite number, a string"),
        (lambda d: d["choices"]["mrpc/ksp"].update(chosen_trial=-1), "chosen_trial must be a whole number"),
        (lambda d: d["choices"]["mrpc/ksp"].update(beats_trivial="yes"), "beats_trivial a boolean"),
        (lambda d: d["choices"]["mrpc/ksp"].update(best_trial=1.5), "best_trial must be a whole number"),
        (lambda d: d["choices"]["mrpc/ksp"].update(gain_over_defaults=[1.0]), r"must be \[low, high\]"),
        (lambda d: d["choices"]["mrpc/ksp"].update(gain_over_defaults=[0, "x"]), r"must be \[low, high\]"),
    ],
)
def test_a_malformed_tuned_file_is_one_line_naming_it(change, message):
    data = copy.deepcopy(GOOD)
    change(data)
    with pytest.raises(SuiteError, match=message) as error:
        parse_tuned(data, "t.json", "")
    assert "t.json" in str(error.value) and "\n" not in str(error.value)


def test_a_tuned_file_is_refused_under_other_settings():
    tuned = parse_tuned(GOOD, "t.json", "")
    other = replace(PRESET, train=replace(PRESET.train, learning_rate=1e-5))
    with pytest.raises(SuiteError, match=r"tuned under other settings \(mrpc training, sst2 training differ"):
        tuned.check_applies(other)
    # Only the tasks both tuned and run are compared: another rate for a task the file never tuned is no bar.
    part = parse_tuned({**GOOD, "tuned_under": tuned_under(replace(PRESET, tasks=("mrpc",)))}, "t.json", "")
    part.check_applies(replace(PRESET, task_learning_rates={"sst2": 1e-5}))
    with pytest.raises(SuiteError, match=r"\(mrpc training differ"):
        part.check_applies(replace(PRESET, task_epochs={"mrpc": 3}))
    with pytest.raises(SuiteError, match="heldout"):
        tuned.check_applies(replace(PRESET, heldout=None))
    tuned.check_applies(replace(PRESET, tasks=("mrpc",), budgets=(0.1,), seeds=(3,)))  # a part of the grid


def test_a_tuned_file_is_read_only_if_a_regular_file_within_its_size_bound(tmp_path):
    with pytest.raises(SuiteError, match="not a regular file"):
        read_tuned(tmp_path)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_TUNED_FILE_BYTES + 1))
    with pytest.raises(SuiteError, match="over the"):
        read_tuned(big)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SuiteError, match="is not JSON"):
        read_tuned(bad)
    with pytest.raises(SuiteError, match="cannot read it"):
        read_tuned(tmp_path / "missing.json")
    json.dumps(GOOD)  # the fixture itself is plain JSON


def test_a_preset_that_takes_its_tuning_from_another_trains_as_that_one():
    shared = [p for p in PRESETS.values() if p.tuning_from is not None]
    assert shared, "the quick preset is the CPU leaderboard's slice"
    for preset in shared:
        source = get_preset(preset.tuning_from)
        assert set(preset.tasks) <= set(source.tasks)
        tuned = parse_tuned({**GOOD, "tuned_under": tuned_under(source)}, f"{source.name}.json", "")
        tuned.check_applies(preset)


def test_a_run_applies_the_tuned_file_of_the_preset_it_takes_its_tuning_from(tmp_path, monkeypatch):
    import suite.records.tuned_file as tuned_file
    from suite.cli.run import resolve_tuned

    monkeypatch.setattr(tuned_file, "TUNED_DIR", tmp_path)
    grid, part = replace(PRESET, name="grid"), replace(PRESET, name="part", tasks=("mrpc",), tuning_from="grid")
    assert resolve_tuned(None, part) is None  # neither has a tuned file
    write_tuned(tmp_path / "grid.json", {**GOOD, "preset": "grid"})
    assert resolve_tuned(None, part).file == "suite/tuned/grid.json"
    assert resolve_tuned(None, grid).file == "suite/tuned/grid.json"
    write_tuned(tmp_path / "part.json", {**GOOD, "preset": "part"})  # a file of its own comes first
    assert resolve_tuned(None, part).file == "suite/tuned/part.json"
    assert resolve_tuned("none", part) is None
