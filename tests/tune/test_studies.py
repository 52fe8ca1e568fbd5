"""The studies' journal across restarts: each trial index is asked the same values whether or not the
tune was killed in between, and a trial that repeats an earlier one's values (asked by a sampler
whose random stream restarted) is void and asked again."""

from __future__ import annotations

from pathlib import Path

import optuna

from suite.spec.search import LogUniform, Uniform
from suite.tune.studies import INDEX, Studies, repeats

SPACE = {"learning_rate_scale": LogUniform(0.25, 4.0), "beta": Uniform(0.5, 0.95)}
DEFAULTS = {"learning_rate_scale": 1.0, "beta": 0.85}
TRIALS = 6


def _score(values: dict) -> float:
    return -((values["learning_rate_scale"] - 2.0) ** 2) - (values["beta"] - 0.7) ** 2


def _run(folder: Path, indices: range) -> list[dict]:
    """Trials `indices` of one study, in a process of their own (a fresh `Studies`)."""
    studies = Studies(folder, TRIALS, seed=0)
    study = studies.study("sst2", "platon", DEFAULTS)
    asked = []
    for index in indices:
        number, values = studies.trial(study, index, SPACE)
        Studies.tell(study, number, _score(values))
        asked.append(values)
    return asked


def test_a_resumed_tune_asks_what_an_uninterrupted_one_asks_and_never_repeats_a_trial(tmp_path):
    uninterrupted = _run(tmp_path / "once", range(TRIALS))
    # Killed after every trial: the random start (trials 1 and 2) and TPE (3 to 5) each resume cold.
    resumed = [values for index in range(TRIALS) for values in _run(tmp_path / "killed", range(index, index + 1))]
    assert resumed == uninterrupted
    assert len({tuple(sorted(v.items())) for v in resumed}) == TRIALS


def _journal_with_a_repeat(folder: Path) -> tuple[Studies, optuna.Study]:
    """Trials 0 and 1 told, then trial 2 told with trial 1's values (what a restarted sampler asked)."""
    studies = Studies(folder, TRIALS, seed=0)
    study = studies.study("cola", "dense", DEFAULTS)
    for index in (0, 1):
        number, values = studies.trial(study, index, SPACE)
        Studies.tell(study, number, _score(values))
    first = Studies.results(study)[1].params
    distributions = study.trials[1].distributions
    study.add_trial(
        optuna.trial.create_trial(params=first, distributions=distributions, value=_score(first), user_attrs={INDEX: 2})
    )
    return studies, study


def test_a_trial_repeating_an_earlier_ones_values_is_void_and_its_index_is_asked_again(tmp_path):
    studies, study = _journal_with_a_repeat(tmp_path)
    assert repeats(study.trials) == {2}
    assert [r.index for r in Studies.results(study)] == [0, 1]  # the repeat does not count
    number, values = studies.trial(study, 2, SPACE)
    assert number == 3 and values != Studies.results(study)[1].params
    Studies.tell(study, number, _score(values))
    results = Studies.results(study)
    assert [r.index for r in results] == [0, 1, 2] and results[2].params == values
    assert studies.trial(study, 2, SPACE) is None  # finished now: not asked a third time
