"""The tuned file a finished tune writes (read back by suite.spec.tuned)."""

from __future__ import annotations

from typing import Any

import optuna

from suite.spec.tuned import FORMAT, entry_key, tuned_under
from suite.tune.loop import TuneOutcome, best_choice
from suite.tune.plan import TunePlan, plan_summary


def tuned_file_data(plan: TunePlan, outcome: TuneOutcome) -> dict[str, Any]:
    """Per (task, method): the chosen knobs and learning rate, every trial's values and held-out score;
    with the tuning budget, the spaces and the settings the trials ran under."""
    choices: dict[str, Any] = {}
    for study in plan.studies:
        key = entry_key(study.task, study.method)
        results = outcome.results.get(key, [])
        gains = outcome.gains.get(key, {})
        trivial, budget = outcome.trivial.get(study.task), outcome.tuned_budgets.get(key)
        choice = best_choice(plan, study, results, trivial, gains, budget)
        if choice is None:
            continue
        choices[key] = {
            "knobs": choice.knobs,
            "learning_rate": choice.learning_rate,
            "trials": choice.trials,
            "heldout_score": choice.heldout_score,
            "default_heldout_score": choice.default_heldout_score,
            "chosen_trial": choice.chosen_trial,
            "beats_trivial": choice.beats_trivial,
            "best_trial": choice.best_trial,
            "gain_over_defaults": None if choice.gain_over_defaults is None else list(choice.gain_over_defaults),
            **({} if choice.budget is None else {"budget": choice.budget}),
            "trial_scores": [
                {"index": r.index, "values": r.params, "heldout_score": r.value, "state": r.state} for r in results
            ],
        }
    return {
        "format": FORMAT,
        "preset": plan.preset.name,
        "tuned_under": tuned_under(plan.preset),
        **plan_summary(plan),
        "sampler": f"optuna {optuna.__version__} TPE, {max(1, plan.trials // 2)} trials before it models "
        "(trial 0: the method's defaults at the preset's learning rate); no pruner",
        "selected_on": "heldout",
        "selection": "the best held-out score among the trials that beat the task's trivial (majority-class) "
        "held-out score, where its gain over the defaults (trial 0) has a 95% paired-bootstrap interval above "
        "zero or the defaults did not beat the trivial score; else the defaults (trial 0)",
        "trivial_heldout_score": dict(sorted(outcome.trivial.items())),
        "choices": choices,
        "not_tuned": dict(sorted(outcome.unreachable.items())),
        "no_trial_scored": sorted(
            entry_key(s.task, s.method)
            for s in plan.studies
            if entry_key(s.task, s.method) not in choices and entry_key(s.task, s.method) not in outcome.unreachable
        ),
    }
