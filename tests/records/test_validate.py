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

import pytest

from suite.cli import main
from suite.records.provenance import config_hash
from suite.records.validate import validate_results
from suite.spec.presets import get_preset

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


@pytest.mark.integration
def test_a_clean_smoke_results_folder_passes(capsys, smoke_results):
    code, out, err = validate(capsys, smoke_results, "--preset", "smoke")
    assert code == 0 and err == ""
    assert out == [
        f"8 records in {smoke_results}: no problems (contract, FLOP budget, training rule, predictions, scores,"
        " one configuration, preset smoke)"
    ]


@pytest.mark.integration
def test_another_preset_is_named_field_by_field(capsys, smoke_results):
    code, out, err = validate(capsys, smoke_results, "--preset", "cpu")
    assert code == 1 and len(out) == 8 and "8 problems" in err
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
    from suite.records.validate_record import Entry, _check_predictions
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
    _check_predictions(entry, get_task("mnli"))
    assert entry.problems == [
        f"{tmp_path / 'r.json'}: metrics.validation_mismatched/accuracy is 100.0, its predictions give 66.666667"
    ]


@pytest.mark.integration
def test_validate_never_imports_torch(smoke_results):
    code = (
        "import sys; from suite.cli import main; "
        f"code = main(['validate', {str(smoke_results)!r}, '--preset', 'smoke']); "
        "sys.exit(10 + code if 'torch' in sys.modules else code)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


@pytest.mark.integration
def test_validation_is_deterministic(smoke_results):
    first = validate_results(smoke_results, get_preset("cpu"))
    assert first.problems == validate_results(smoke_results, get_preset("cpu")).problems
