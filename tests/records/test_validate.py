"""`python -m suite validate` on a real smoke-preset results folder: clean, then tampered one way at a time."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.cli import main
from suite.records.provenance import config_hash
from suite.records.validate import validate_results
from suite.spec.presets import get_preset
from tests.conftest import SMOKE_METHODS, run_smoke

HEADS = Path("sst2/heads/budget0.5_seed0.json")
MAGNITUDE = Path("mrpc/magnitude/budget0.5_seed0.json")
DENSE = Path("mrpc/dense/budget1_seed0.json")


def validate(capsys, folder: Path, *flags: str) -> tuple[int, list[str], str]:
    code = main(["validate", str(folder), *flags])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


@pytest.fixture
def copy(smoke_results, tmp_path) -> Path:
    return Path(shutil.copytree(smoke_results, tmp_path / "results"))


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record, indent=2))


@pytest.fixture(scope="module")
def complete(smoke_results, tmp_path_factory) -> Path:
    """`smoke_results` with its teacher rows: every reference row, and a rectangular grid of the
    methods it ran (the teacher comes from the copied cache: evaluated, not trained again)."""
    root = tmp_path_factory.mktemp("complete")
    shutil.copytree(smoke_results, root / "results")
    shutil.copytree(smoke_results.parent / "cache", root / "cache")
    return run_smoke(root, ("teacher",))


def absent_note() -> str:
    """validate's note on the built-in methods the complete folder has no record of (any method added
    to methods/ joins it)."""
    from suite.records.completeness import builtin_methods

    absent = ",".join(sorted(builtin_methods().keys() - {*SMOKE_METHODS, "teacher"}))
    return (
        f"note: no record of {absent} at any budget of preset smoke: out of their reach at every budget by design,"
        " or not run"
    )


@pytest.mark.integration
def test_a_clean_and_complete_smoke_results_folder_passes(capsys, complete):
    code, out, err = validate(capsys, complete, "--preset", "smoke")
    assert code == 0 and err.startswith(absent_note()) and err.count("\n") == 1
    assert out == [
        f"10 records in {complete}: no problems (contract, FLOP budget, training rule, predictions, scores,"
        " one configuration, preset smoke (settings, every cell))"
    ]
    code, out, err = validate(capsys, complete)  # without a preset: no grid to be complete against
    assert code == 0 and err == "" and out[0].startswith(f"10 records in {complete}: no problems")


@pytest.mark.integration
def test_a_missing_cell_of_the_presets_grid_is_named_with_the_command_that_computes_it(capsys, complete, tmp_path):
    folder = Path(shutil.copytree(complete, tmp_path / "results"))
    for path in (folder / MAGNITUDE.parent).glob("budget0.5_seed0*"):
        path.unlink()  # the record and the files beside it
    code, out, err = validate(capsys, folder, "--preset", "smoke")
    assert code == 1 and "1 problems" in err
    assert out == [
        f"{folder / MAGNITUDE}: no record for cell mrpc/magnitude budget 0.5 seed 0 of preset smoke's grid; compute"
        f" it: python -m suite run --preset smoke --tasks mrpc --methods magnitude --budgets 0.5 --seeds 0"
        f" --results-dir {folder}"
    ]
    assert validate(capsys, folder)[0] == 0  # the records there are sound: only the grid is incomplete


@pytest.mark.integration
def test_the_reference_rows_are_required_for_every_task_and_seed(capsys, smoke_results):
    code, out, _ = validate(capsys, smoke_results, "--preset", "smoke")  # ran without the teacher row
    assert code == 1 and [line.split(": ", 1)[0] for line in out] == [
        str(smoke_results / "mrpc/teacher/budget1_seed0.json"),
        str(smoke_results / "sst2/teacher/budget1_seed0.json"),
    ]
    assert out[0].endswith(f"--tasks mrpc --methods teacher --seeds 0 --results-dir {smoke_results}")


def _record(task: str, method: str, budget: float = 0.5, seed: int = 0, **fields: Any) -> dict[str, Any]:
    return {"task": task, "method": method, "budget": budget, "seed": seed, **fields}


def test_completeness_needs_the_reference_rows_and_a_rectangular_grid(tmp_path):
    from suite.records.completeness import missing_cells

    preset = get_preset("smoke")
    problems, absent = missing_cells([_record("sst2", "random")], preset, tmp_path)
    cells = [line.split("no record for cell ", 1)[1].split(" of preset")[0] for line in problems]
    assert cells == [
        "sst2/trivial budget 1 seed 0",
        "sst2/dense budget 1 seed 0",
        "sst2/teacher budget 1 seed 0",
        "mrpc/trivial budget 1 seed 0",
        "mrpc/dense budget 1 seed 0",
        "mrpc/random budget 0.5 seed 0",
        "mrpc/teacher budget 1 seed 0",
    ]
    assert "random" not in absent and {"ksp", "layers"} <= set(absent) and "dense" not in absent
    trivial = problems[0]
    assert trivial.startswith(f"{tmp_path / 'sst2/trivial/budget1_seed0.json'}: ")
    assert trivial.endswith(f"python -m suite run --preset smoke --tasks sst2 --methods dense --results-dir {tmp_path}")
    # Records outside the preset's budgets and seeds (named by the preset check) ask for no more cells,
    # a trivial row is found by its role, and a record whose cell fields are not typed names no cell.
    records = [_record(task, method, 1.0) for task in preset.tasks for method in ("dense", "teacher")]
    records += [_record(task, "x", 1.0, role="trivial") for task in preset.tasks]
    records += [_record("sst2", "random", 0.3), _record("sst2", "random", seed=5), _record("mrpc", "heads", "0.5")]
    assert missing_cells(records, preset, tmp_path)[0] == []


def test_which_builtin_methods_compress_is_read_from_their_source():
    from suite.records.completeness import builtin_methods
    from suite.registry import get_registered

    found = builtin_methods()
    assert {"dense", "teacher", "ksp", "layers"} <= set(found)
    assert found == {name: get_registered(name).info.budgeted for name in found}


@pytest.mark.integration
def test_another_preset_is_named_field_by_field(capsys, smoke_results):
    code, out, _ = validate(capsys, smoke_results, "--preset", "cpu")
    out = [line for line in out if ": no record for cell " not in line]  # its grid is incomplete as well
    assert code == 1 and len(out) == 8
    heads = next(line for line in out if line.startswith(str(smoke_results / HEADS)))
    assert 'not preset cpu: run_config.model is "tiny", the preset\'s "minilm-l6"' in heads


@pytest.mark.integration
def test_a_changed_flop_fraction_is_named(capsys, copy):
    edit(copy / HEADS, lambda r: r["flops"].update(fraction=0.4))
    code, out, _ = validate(capsys, copy)
    assert code == 1
    assert out == [f"{copy / HEADS}: flops.fraction 0.4 is not flops.effective / flops.reference_dense = 0.497564"]


@pytest.mark.integration
def test_a_cell_over_budget_cannot_claim_ok(capsys, copy):
    def inflate(record: dict[str, Any]) -> None:
        flops = record["flops"]
        flops["effective"] *= 1.2
        flops["fraction"] = flops["effective"] / flops["reference_dense"]

    edit(copy / HEADS, inflate)
    code, out, _ = validate(capsys, copy)
    assert code == 1 and out == [f"{copy / HEADS}: status ok, but its FLOP fraction 0.5971 exceeds budget 0.5 (+1%)"]


@pytest.mark.integration
def test_a_changed_score_is_named(capsys, copy):
    edit(copy / MAGNITUDE, lambda r: r.update(score=r["score"] + 0.5))
    code, out, _ = validate(capsys, copy)
    assert code == 1 and len(out) == 1
    assert out[0].startswith(f"{copy / MAGNITUDE}: score ") and "its predictions give" in out[0]


@pytest.mark.integration
def test_a_changed_sub_metric_is_named(capsys, copy):
    edit(copy / DENSE, lambda r: r["metrics"].update(accuracy=99.0))
    code, out, _ = validate(capsys, copy)
    assert code == 1 and len(out) == 1 and out[0].startswith(f"{copy / DENSE}: metrics.accuracy is 99.0")


@pytest.mark.integration
def test_a_predictions_file_that_does_not_match_its_hash_is_named(capsys, copy):
    sidecar = copy / MAGNITUDE.with_name("budget0.5_seed0.predictions.json.gz")
    data = json.loads(gzip.decompress(sidecar.read_bytes()))
    data["predictions"][0] = 1 - data["predictions"][0]
    sidecar.write_bytes(gzip.compress(json.dumps(data).encode()))
    code, out, _ = validate(capsys, copy)
    assert code == 1 and len(out) == 1
    assert out[0].startswith(f"{sidecar}: sha256 differs from the one in {MAGNITUDE.name}")


@pytest.mark.integration
def test_a_missing_predictions_file_is_named(capsys, copy):
    sidecar = copy / DENSE.with_name("budget1_seed0.predictions.json.gz")
    sidecar.unlink()
    code, out, _ = validate(capsys, copy)
    assert code == 1 and out[0].startswith(f"{sidecar}: predictions named by {DENSE.name} are missing")


@pytest.mark.integration
def test_a_predictions_file_that_leads_outside_the_folder_is_named(capsys, copy, tmp_path):
    sidecar = copy / DENSE.with_name("budget1_seed0.predictions.json.gz")
    outside = tmp_path / "elsewhere.json.gz"
    sidecar.rename(outside)  # the very bytes its record hashed: only where they lie is wrong
    sidecar.symlink_to(outside)
    code, out, _ = validate(capsys, copy)
    assert code == 1 and len(out) == 1
    assert out[0].startswith(f"{sidecar}: named by {DENSE.name}, leads outside the record's folder (to {outside})")


@pytest.mark.integration
def test_predictions_rewritten_with_their_hash_still_fail_on_the_score(capsys, copy):
    sidecar = copy / MAGNITUDE.with_name("budget0.5_seed0.predictions.json.gz")
    data = json.loads(gzip.decompress(sidecar.read_bytes()))
    data["predictions"] = [1 - p for p in data["predictions"]]
    blob = gzip.compress(json.dumps(data).encode())
    sidecar.write_bytes(blob)
    edit(copy / MAGNITUDE, lambda r: r["predictions"].update(sha256=hashlib.sha256(blob).hexdigest()))
    code, out, _ = validate(capsys, copy)
    assert code == 1 and any(line.startswith(f"{copy / MAGNITUDE}: score ") for line in out)


@pytest.mark.integration
def test_edited_settings_break_the_config_hash(capsys, copy):
    edit(copy / HEADS, lambda r: r["run_config"]["train"].update(learning_rate=0.5))
    code, out, _ = validate(capsys, copy)
    assert code == 1
    assert f"{copy / HEADS}: config_hash " in out[0] and "is not the hash of its run_config" in out[0]
    # The hash recomputed as well: the record is whole again, but not the folder's configuration.
    edit(copy / HEADS, lambda r: r.update(config_hash=config_hash(r["run_config"])))
    code, out, _ = validate(capsys, copy)
    assert code == 1 and out == [
        f"{copy / HEADS}: not the folder's configuration: run_config.train.learning_rate is 0.5,"
        " 5 other records have 0.001"
    ]


@pytest.mark.integration
def test_the_training_rule_is_checked_within_a_record_and_across_a_task(capsys, copy):
    def shorter(record: dict[str, Any]) -> None:
        record["training"].update(own_steps=6, lineage_steps=6)
        record["run_config"]["lineage"]["own_steps"] = record["train_steps"] = 6
        record["config_hash"] = config_hash(record["run_config"])

    edit(copy / MAGNITUDE, shorter)
    edit(copy / HEADS, lambda r: r["training"].update(inherited_steps=0))
    code, out, _ = validate(capsys, copy)
    assert code == 1
    assert f"{copy / MAGNITUDE}: 6 lineage steps, 2 other method rows of mrpc have 8 (the training rule)" in out
    heads = [line for line in out if line.startswith(str(copy / HEADS))]
    assert f"{copy / HEADS}: training.lineage_steps 8 is not own_steps 4 + inherited_steps 0" in heads


@pytest.mark.integration
def test_a_record_in_another_cells_place_and_bad_files_are_named(capsys, copy):
    (copy / "sst2" / "heads" / "budget0.5_seed0.json").rename(copy / "sst2" / "heads" / "budget0.5_seed1.json")
    (copy / "notes.json").write_text("{not json")
    (copy / "config.json").write_text('{"hidden_size": 4}')  # JSON that is not a record passes
    code, out, _ = validate(capsys, copy)
    assert code == 1 and len(out) == 2
    assert out[0].startswith(f"{copy / 'notes.json'}: not a readable JSON file")
    assert out[1] == f"{copy / 'sst2/heads/budget0.5_seed1.json'}: its fields name the cell whose record is {HEADS}"


@pytest.mark.integration
def test_missing_fields_are_listed(capsys, copy):
    edit(copy / DENSE, lambda r: [r.pop(k) for k in ("training", "predictions")])
    code, out, _ = validate(capsys, copy)
    assert code == 1 and out == [
        f"{copy / DENSE}: missing fields training, predictions (a record of schema 1 has them all)"
    ]


@pytest.mark.integration
def test_fields_of_the_wrong_shape_are_problems_not_tracebacks(capsys, copy):
    edit(copy / DENSE, lambda r: r.update(data=[1], training="long", flops=[0.5]))
    edit(copy / HEADS, lambda r: r.update(metrics=None, predictions=[]))
    code, out, _ = validate(capsys, copy)
    assert code == 1
    assert [line.split(": ", 1)[1][:24] for line in out] == [
        "data.sha256 None differs",
        "flops needs numbers frac",
        "training needs start (pr",
        "no predictions sidecar: ",
    ]
    assert out[-1].startswith(str(copy / HEADS))


def test_bad_input_is_one_line(capsys, tmp_path):
    code, _, err = validate(capsys, tmp_path / "none")
    assert code == 2 and err.startswith("error: results folder ") and err.count("\n") == 1
    code, _, err = validate(capsys, tmp_path)
    assert code == 2 and err.startswith("error: no result records under ")
    code, _, err = validate(capsys, tmp_path, "--preset", "smok")
    assert code == 2 and err.startswith("error: unknown preset 'smok'")


def test_other_eval_splits_are_recomputed_too(tmp_path):
    """MNLI's mismatched split has its own metric in the record, from the sidecar's other_splits."""
    from suite.records.validate_record import Entry, check_predictions
    from suite.spec.tasks import get_task

    labels = [0, 1, 2, 1, 0, 2]
    payload = {
        "split": "validation_matched",
        "predictions": labels,
        "labels": labels,
        "other_splits": {"validation_mismatched": {"predictions": [0, 1, 2, 0, 0, 0], "labels": labels}},
    }
    blob = gzip.compress(json.dumps(payload).encode())
    (tmp_path / "p.json.gz").write_bytes(blob)
    record = {
        "task": "mnli",
        "method": "dense",
        "budget": 1.0,
        "status": "ok",
        "score": 100.0,
        "metrics": {"accuracy": 100.0, "validation_mismatched/accuracy": 100.0},
        "predictions": {"file": "p.json.gz", "n": 6, "sha256": hashlib.sha256(blob).hexdigest()},
    }
    entry = Entry(tmp_path / "r.json", record)
    check_predictions(entry, get_task("mnli"))
    assert entry.problems == [
        f"{tmp_path / 'r.json'}: metrics.validation_mismatched/accuracy is 100.0, its predictions give 66.666667"
    ]


@pytest.mark.integration
def test_validate_never_imports_torch(complete):
    code = (
        "import sys; from suite.cli import main; "
        f"code = main(['validate', {str(complete)!r}, '--preset', 'smoke']); "
        "sys.exit(10 + code if 'torch' in sys.modules else code)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


@pytest.mark.integration
def test_validation_is_deterministic(smoke_results):
    first = validate_results(smoke_results, get_preset("cpu"))
    assert first.problems == validate_results(smoke_results, get_preset("cpu")).problems


def _handmade(root: Path, task: str, predictions: list[float], labels: list[float], method: str = "dense") -> Path:
    """A record that passes every check of its own (FLOPs, training, sidecar, scores), with a sidecar of
    these predictions and labels; the score is whatever they give."""
    from suite.metrics.vectorized import metric_rows
    from suite.records.layout import cell_path
    from suite.records.schema import RunResult
    from suite.spec.tasks import get_task
    from tests.builders.records import attach_predictions

    metric = get_task(task).primary_metric
    score = float(metric_rows(metric, np.asarray(predictions, float), np.asarray(labels, float))[0])
    record = RunResult(
        method=method,
        task=task,
        budget=1.0,
        seed=0,
        status="ok",
        config_hash=config_hash({}),
        score=score,
        metrics={metric: score},
        flops={"fraction": 1.0, "effective": 1.0, "reference_dense": 1.0},
        training={"start": "pretrained", "own_steps": 1, "inherited_steps": 0, "lineage_steps": 1},
        train_steps=1,
    ).to_dict()
    path = cell_path(root, task, method, 1.0, 0)
    attach_predictions(path, record, np.asarray(predictions), np.asarray(labels))
    path.write_text(json.dumps(record))
    return path


def _as_list(path: Path) -> None:
    path.write_text(json.dumps([json.loads(path.read_text())]))


def _metrics_list(path: Path) -> None:
    edit(path, lambda record: record.update(metrics=[record["score"]]))


@pytest.mark.parametrize(
    ("task", "predictions", "labels", "change", "problem"),
    [
        ("sst2", [0, 1, 1, 0], [0, 1, 0, 0], _as_list, "not a record: a JSON list of records"),
        ("sst2", [0, 1, 1, 0], [0, 1, 0, 0], _metrics_list, "metrics is [75.0], expected an object of metric name"),
        ("sst2", [float("nan")] * 4, [0, 1, 0, 0], None, "its predictions: predictions that are not all finite"),
        ("stsb", [0.5, 2.0, 3.0, 4.5], [0.0, 2.5, 7.0, 9.0], None, "its predictions: labels outside stsb's similar"),
        ("mrpc", [0, 1, 1, 0], [0, 1, 2, 0], None, "its predictions: labels outside mrpc's class ids 0..1"),
    ],
)
def test_what_no_recomputed_score_catches_is_named(tmp_path, task, predictions, labels, change, problem):
    clean = _handmade(tmp_path, "rte", [0, 1, 1, 0], [0, 1, 0, 0])  # the folder's one sound record
    assert validate_results(tmp_path).problems == []
    path = _handmade(tmp_path, task, predictions, labels, method="heads")
    if change is not None:
        change(path)
    problems = validate_results(tmp_path).problems
    assert len(problems) == 1 and problems[0].startswith(f"{path}: {problem}"), problems
    assert not any(str(clean) in line for line in problems)
