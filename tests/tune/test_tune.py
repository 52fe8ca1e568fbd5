"""`tune`: equal trials per (task, method) on the held-out split, resumable, and a tuned file `run` applies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suite.cli import main
from suite.records.layout import cell_path
from suite.records.reader import read_record, read_records
from suite.registry import list_methods
from suite.run.cell import CellRunner
from suite.spec.presets import get_preset
from suite.tune.studies import Studies

TRIALS = 2
# Tiny data and eval caps keep 2 trials of every method on two tasks to seconds per cell. No cell time
# limit: `auto` is wall-clock, and on a starved machine (a test process under `nice` beside a training
# run) a smoke cell has taken 262 s, and one past the 10-minute floor would be recorded failed.
COMMON = ["--preset", "smoke", "--heldout", "16", "--max-eval-samples", "16", "--no-progress", "--cell-timeout", "off"]


def _tune(tmp_path: Path, glue_dir: Path, *extra: str) -> list[str]:
    return [
        "tune",
        *COMMON,
        "--trials",
        str(TRIALS),
        "--glue-dir",
        str(glue_dir),
        "--tune-dir",
        str(tmp_path / "tune"),
        "--out",
        str(tmp_path / "smoke.json"),
        *extra,
    ]


def _count_cells(monkeypatch) -> list[str]:
    """The labels of the cells that actually train from now on (a finished one skipped is not counted)."""
    trained: list[str] = []
    original = CellRunner.train_and_measure

    def counting(self, cell, method, result):
        trained.append(f"{cell.task}/{cell.method}")
        return original(self, cell, method, result)

    monkeypatch.setattr(CellRunner, "train_and_measure", counting)
    return trained


@pytest.mark.integration
def test_tune_gives_every_method_the_same_trials_on_the_held_out_split_and_resumes_after_a_kill(
    capsys, tmp_path, glue_dir, monkeypatch
):
    monkeypatch.setenv("PRUNE_SUITE_CACHE", str(tmp_path / "cache"))
    told = {"n": 0}
    original_tell = Studies.tell

    def killed_after_five(study, number, value):  # the process dies in the middle of the second trial grid
        if told["n"] == 5:
            raise KeyboardInterrupt
        told["n"] += 1
        original_tell(study, number, value)

    monkeypatch.setattr(Studies, "tell", staticmethod(killed_after_five))
    assert main(_tune(tmp_path, glue_dir)) == 130
    assert not (tmp_path / "smoke.json").exists()  # no tuned file from an unfinished tune
    first = read_records(tmp_path / "tune")
    finished_before = sum(1 for r in first if r.get("role") != "trivial")
    capsys.readouterr()

    monkeypatch.setattr(Studies, "tell", staticmethod(original_tell))
    trained = _count_cells(monkeypatch)
    assert main(_tune(tmp_path, glue_dir)) == 0, capsys.readouterr().err

    studies = 2 * len(list_methods())
    assert len(trained) == studies * TRIALS - finished_before  # no finished trial ran again
    data = json.loads((tmp_path / "smoke.json").read_text())
    assert data["trials"] == TRIALS and data["selected_on"] == "heldout"
    assert sorted(data["choices"]) == sorted(f"{t}/{m}" for t in ("sst2", "mrpc") for m in list_methods())
    for key, choice in data["choices"].items():
        assert choice["trials"] == TRIALS, key
        assert [t["index"] for t in choice["trial_scores"]] == list(range(TRIALS)), key
        scores = [t["heldout_score"] for t in choice["trial_scores"] if t["state"] == "complete"]
        trivial = data["trivial_heldout_score"][key.split("/")[0]]
        above = [s for s in scores if s > trivial]
        assert choice["beats_trivial"] is bool(above), key
        chosen = choice["trial_scores"][choice["chosen_trial"]]["heldout_score"]
        best, gain = choice["best_trial"], choice["gain_over_defaults"]
        if not above:
            assert choice["chosen_trial"] == 0 and best is None, key
        elif best == 0 or (default := choice["trial_scores"][0]["heldout_score"]) is None or default <= trivial:
            assert choice["chosen_trial"] == best, key
        else:  # the best replaces the defaults only on a called gain, from the two trials' predictions
            assert gain is not None and gain[0] <= gain[1], key
            assert choice["chosen_trial"] == (best if gain[0] > 0 else 0), key
        assert choice["heldout_score"] == chosen, key
        assert above == [] or choice["trial_scores"][best]["heldout_score"] == max(above), key
        assert choice["default_heldout_score"] == choice["trial_scores"][0]["heldout_score"], key
    # Trial 0 of each study is the method's defaults at the preset's learning rate.
    assert data["choices"]["mrpc/ksp"]["trial_scores"][0]["values"]["learning_rate_scale"] == 1.0
    for record in read_records(tmp_path / "tune"):
        assert record["run_config"]["data"]["eval_split"] == "heldout", record["method"]
        if record["status"] == "ok":
            assert record["predictions"]["split"] == "heldout"


def _tuned_file(tmp_path: Path, glue_dir: Path, choices: dict) -> Path:
    """A tuned file with hand-set choices, under the settings of `COMMON` (taken from a real 1-trial tune of
    the teacher alone, so its `tuned_under` is what `tune` writes)."""
    args = _tune(tmp_path, glue_dir, "--methods", "teacher", "--tasks", "mrpc", "--trials", "1")
    assert main(args) == 0
    data = json.loads((tmp_path / "smoke.json").read_text())
    data["choices"] = choices
    path = tmp_path / "hand.json"
    path.write_text(json.dumps(data))
    return path


def _choice(knobs: dict, learning_rate: float) -> dict:
    return {"knobs": knobs, "learning_rate": learning_rate, "trials": 8, "heldout_score": 70.0}


@pytest.mark.integration
def test_run_tuned_applies_the_chosen_knobs_and_rate_in_the_config_hash_and_records_the_tuning(
    capsys, tmp_path, glue_dir, monkeypatch
):
    monkeypatch.setenv("PRUNE_SUITE_CACHE", str(tmp_path / "cache"))
    tuned = _tuned_file(tmp_path, glue_dir, {"mrpc/ksp": _choice({"kd.temperature": 3}, 5e-4)})
    run = ["run", *COMMON, "--tasks", "mrpc", "--methods", "ksp", "--glue-dir", str(glue_dir)]
    assert main([*run, "--results-dir", str(tmp_path / "plain"), "--tuned", "none"]) == 0
    assert main([*run, "--results-dir", str(tmp_path / "tuned"), "--tuned", str(tuned)]) == 0
    assert "tuning: " in capsys.readouterr().err
    plain = read_record(cell_path(tmp_path / "plain", "mrpc", "ksp", 0.5, 0))
    record = read_record(cell_path(tmp_path / "tuned", "mrpc", "ksp", 0.5, 0))
    assert plain["tuning"] is None
    assert record["method_config"]["kd"]["temperature"] == 3.0  # typed as the knob (a float)
    assert record["run_config"]["train"]["learning_rate"] == 5e-4
    assert record["config_hash"] != plain["config_hash"]
    assert record["tuning"]["chosen"] == {"kd.temperature": 3, "learning_rate": 5e-4}
    assert record["tuning"]["trials"] == 8 and record["tuning"]["file"] == str(tuned)
    assert record["tuning"]["overridden"] == []
    # The teacher has no choice in this file: it trains at the preset's rate, as in the untuned run.
    assert record["run_config"]["teacher"] == plain["run_config"]["teacher"]

    # The command line wins over the file, and the record says which knob it overrode.
    override = [*run, "--results-dir", str(tmp_path / "over"), "--tuned", str(tuned)]
    assert main([*override, "--method-args", "ksp.kd.temperature=2"]) == 0
    over = read_record(cell_path(tmp_path / "over", "mrpc", "ksp", 0.5, 0))
    assert over["method_config"]["kd"]["temperature"] == 2.0
    assert over["tuning"]["overridden"] == ["kd.temperature"]


@pytest.mark.integration
def test_a_tuned_file_is_refused_by_a_run_with_other_settings(capsys, tmp_path, glue_dir, monkeypatch):
    monkeypatch.setenv("PRUNE_SUITE_CACHE", str(tmp_path / "cache"))
    tuned = _tuned_file(tmp_path, glue_dir, {"mrpc/dense": _choice({}, 5e-4)})
    capsys.readouterr()
    run = ["run", *COMMON, "--tasks", "mrpc", "--methods", "dense", "--glue-dir", str(glue_dir), "--tuned", str(tuned)]
    assert main([*run, "--learning-rate", "1e-4", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tuned under other settings (mrpc training differ" in err[0] and "--tuned none" in err[0]
    assert main([*run, "--heldout", "none", "--dry-run"]) == 2  # it was not tuned on this data
    assert "heldout" in capsys.readouterr().err


def test_tune_needs_a_held_out_split(capsys):
    assert main(["tune", "--preset", "smoke", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "holds out no training data" in err and "--heldout" in err


def test_tune_dry_run_prints_the_trial_plan_and_the_hours_from_finished_cells(capsys, tmp_path):
    from tests.builders.records import make_record, write_records

    records = [
        make_record(task="mrpc", method=m, budget=b, seed=0, wall_s=w)
        for m, b, w in (("dense", 1.0, 360.0), ("teacher", 1.0, 180.0), ("ksp", 0.5, 720.0))
    ]
    write_records(tmp_path / "times", records)
    args = ["tune", "--preset", "cpu", "--tasks", "mrpc", "--methods", "dense,ksp", "--heldout", "100"]
    assert main([*args, "--timings", str(tmp_path / "times"), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    # The teacher is tuned first whenever a method distils from it; every study gets the preset's trials.
    trials = get_preset("cpu").tune_trials
    assert [line.split()[:4] for line in lines] == [
        ["independent", "mrpc", "teacher", str(trials)],
        ["independent", "mrpc", "dense", str(trials)],
        ["with-teacher", "mrpc", "ksp", str(trials)],
    ]
    assert "kd.temperature log-uniform [1, 8]" in lines[2] and "learning_rate_scale" in lines[0]
    assert "at budget 0.1" in err
    assert f"about {trials * (360 + 180 + 720) / 3600:.1f} h" in err


@pytest.mark.integration
def test_a_method_out_of_reach_of_the_tunes_budget_is_tuned_at_the_next_budget_it_reaches(
    capsys, tmp_path, glue_dir, monkeypatch
):
    monkeypatch.setenv("PRUNE_SUITE_CACHE", str(tmp_path / "cache"))
    # The tiny model has 2 layers: `layers` cannot keep 0.3 of its FLOPs, but reaches the preset's 0.5.
    args = _tune(tmp_path, glue_dir, "--methods", "layers", "--tasks", "sst2", "--budget", "0.3")
    assert main(args) == 0, capsys.readouterr().err
    assert "budget 0.3 out of reach: tuned at 0.5" in capsys.readouterr().err
    data = json.loads((tmp_path / "smoke.json").read_text())
    assert data["budget"] == 0.3 and data["fallback_budgets"] == [0.5] and data["not_tuned"] == {}
    layers, teacher = data["choices"]["sst2/layers"], data["choices"]["sst2/teacher"]
    assert layers["budget"] == 0.5 and teacher["budget"] == 1.0  # the teacher does not compress: it runs at 1
    assert [t["state"] for t in layers["trial_scores"]] == ["complete"] * TRIALS
    trial = read_record(cell_path(tmp_path / "tune" / "trials" / "with-teacher-001", "sst2", "layers", 0.5, 0))
    assert trial is not None and trial["tuning"]["budget"] == 0.5
    # A run applies it at every budget, and its records say at which budget it was tuned.
    out = tmp_path / "run"
    run = ["run", *COMMON, "--glue-dir", str(glue_dir), "--methods", "layers", "--tasks", "sst2"]
    assert main([*run, "--tuned", str(tmp_path / "smoke.json"), "--results-dir", str(out)]) == 0
    record = read_record(cell_path(out, "sst2", "layers", 0.5, 0))
    assert record["tuning"]["budget"] == 0.5 and record["tuning"]["trials"] == TRIALS
