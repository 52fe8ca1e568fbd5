"""`run --save-models` and `export`: a cell's finalized model is kept beside its record, reloads with
its pruned shapes and predicts exactly what the cell measured; export copies it out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from suite.cli import main
from suite.compute.evaluation import predict
from suite.records.formats import read_predictions
from suite.records.layout import cell_path
from suite.records.reader import read_record
from suite.run.executors.local import run_local
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.run.plan import expand_grid
from suite.structure import load_pruned

# STS-B: its predictions are the regression head's raw outputs, so "same predictions" is "same logits".
TASK = "stsb"


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """One in-process run of `heads` and `ksp` with --save-models (shared by the tests below)."""
    from suite.spec.presets import get_preset
    from tests.conftest import FIXTURE_GLUE

    root = tmp_path_factory.mktemp("saved")
    preset = replace(
        get_preset("smoke"), tasks=(TASK,), max_train_samples=32, max_eval_samples=32, latency_batches=(1,)
    )
    grid = Grid.build(
        preset, root / "results", FIXTURE_GLUE, root / "cache", execution=Execution(progress=False, save_models=True)
    )
    cells = expand_grid(preset, ["heads", "ksp"])
    summary = run_local(grid, cells)
    assert summary.count("ok") == len(cells), [r.error for r in summary.ran]
    return grid, cells


def assert_reloads_with_the_cells_predictions(grid: Grid, record_path: Path) -> torch.nn.Module:
    """The saved model, loaded by suite.structure.load_pruned, predicts the dev set exactly as the record's
    predictions sidecar says (and so gives the record's score); returns the loaded model."""
    record = read_record(record_path)
    folder = record_path.parent / record["saved_model"]["path"]
    model = load_pruned(folder)
    expected = read_predictions(record_path, record)
    split = expected.split
    again = predict(model, grid.inputs.task_data(record["task"]).evals[split], grid.inputs.collator)
    np.testing.assert_array_equal(again, np.asarray(expected.predictions, dtype=again.dtype))
    return model


@pytest.mark.integration
def test_heads_and_ksp_models_reload_with_their_shapes_and_give_the_same_logits(saved_run):
    grid, cells = saved_run
    paths = {c.method: cell_path(grid.store.root, c.task, c.method, c.budget, c.seed) for c in cells}
    for path in paths.values():
        record = read_record(path)
        assert record["saved_model"]["path"] == path.stem + ".model"
        folder = path.parent / record["saved_model"]["path"]
        assert (folder / "pruned_structure.json").is_file() and (folder / "tokenizer_config.json").is_file()
        model = assert_reloads_with_the_cells_predictions(grid, path)
        assert model.config.num_hidden_layers == len(model.base_model.encoder.layer)

    # heads: fewer heads and FFN neurons than the config builds; plain transformers refuses the folder
    # (size mismatch) rather than re-initialising those tensors.
    heads = read_record(paths["heads"])
    heads_folder = paths["heads"].parent / heads["saved_model"]["path"]
    assert heads["saved_model"]["plain_transformers"] is False
    structure = json.loads((heads_folder / "pruned_structure.json").read_text())
    config = load_pruned(heads_folder).config
    assert max(structure["heads"]) < config.num_attention_heads and max(structure["ffn"]) < config.intermediate_size
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        AutoModelForSequenceClassification.from_pretrained(heads_folder)

    # ksp: dense shapes with the pruned weights' zeros; plain transformers gives the same logits too.
    ksp = read_record(paths["ksp"])
    assert ksp["saved_model"]["plain_transformers"] is True
    plain = AutoModelForSequenceClassification.from_pretrained(paths["ksp"].parent / ksp["saved_model"]["path"])
    expected = read_predictions(paths["ksp"], ksp)
    again = predict(plain, grid.inputs.task_data(TASK).evals[expected.split], grid.inputs.collator)
    np.testing.assert_array_equal(again, np.asarray(expected.predictions, dtype=again.dtype))
    ffn_in = plain.bert.encoder.layer[0].intermediate.dense.weight
    assert float(torch.count_nonzero(ffn_in)) / ffn_in.numel() < 0.9


@pytest.mark.integration
def test_save_models_does_not_change_which_cells_are_finished(saved_run, tmp_path):
    grid, cells = saved_run
    again = Grid.build(
        grid.spec.preset,
        grid.store.root,
        grid.spec.glue_dir,
        grid.teachers.cache.root.parent,
        execution=Execution(progress=False),
    )
    summary = run_local(again, cells)
    assert not summary.ran and len(summary.skipped) == len(cells)


@pytest.mark.integration
def test_export_copies_one_saved_model_out_and_refuses_bad_targets(saved_run, tmp_path, capsys):
    grid, cells = saved_run
    ksp = next(c for c in cells if c.method == "ksp")
    args = ["export", str(grid.store.root), "--task", TASK, "--method", "ksp", "--budget", f"{ksp.budget:g}"]
    target = tmp_path / "out" / "ksp-model"
    assert main([*args, "--seed", "0", "--to", str(target)]) == 0
    assert "loads with transformers" in capsys.readouterr().err
    record_path = cell_path(grid.store.root, ksp.task, ksp.method, ksp.budget, ksp.seed)
    source = record_path.parent / read_record(record_path)["saved_model"]["path"]
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in source.iterdir())
    assert [p.name for p in target.parent.iterdir()] == ["ksp-model"]  # no temporary folder left
    load_pruned(target)

    def error(*extra: str) -> str:
        assert main([*args, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        return err

    assert "exists and is not empty" in error("--seed", "0", "--to", str(target))
    assert "no record of stsb/ksp/budget 0.5/seed 7" in error("--seed", "7", "--to", str(tmp_path / "x"))
    (tmp_path / "file").write_text("x")
    assert "is a file" in error("--seed", "0", "--to", str(tmp_path / "file"))
    # An empty folder is fine; the hub is unreachable here (offline): one line, the local copy kept.
    (tmp_path / "empty").mkdir()
    assert main([*args, "--seed", "0", "--to", str(tmp_path / "empty"), "--push-to-hub", "someone/ksp-model"]) == 2
    exported, failed = capsys.readouterr().err.splitlines()
    assert exported.startswith("exported stsb/ksp")
    assert failed.startswith("error: --push-to-hub someone/ksp-model: the Hugging Face Hub could not be reached")
    assert (tmp_path / "empty" / "config.json").is_file()


@pytest.mark.integration
def test_export_onnx_writes_a_model_that_gives_the_saved_models_outputs(saved_run, tmp_path, capsys):
    import onnxruntime

    grid, cells = saved_run
    heads = next(c for c in cells if c.method == "heads")  # heads and FFN neurons physically removed
    target = tmp_path / "heads-model"
    argv = ["export", str(grid.store.root), "--task", TASK, "--method", "heads", "--budget", f"{heads.budget:g}"]
    assert main([*argv, "--seed", "0", "--to", str(target), "--onnx"]) == 0
    err = capsys.readouterr().err
    assert "ONNX logits on onnxruntime fp32 differ from PyTorch's by at most" in err
    assert (target / "model.onnx").is_file() and (target / "config.json").is_file()
    model = load_pruned(target).eval()
    ids = np.random.default_rng(0).integers(1000, 2000, size=(3, 21), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 9:] = 0
    session = onnxruntime.InferenceSession(str(target / "model.onnx"), providers=["CPUExecutionProvider"])
    exported = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    with torch.no_grad():
        expected = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
    assert np.abs(exported - expected).max() < 1e-4


@pytest.mark.integration
def test_export_says_when_a_cell_has_no_saved_model(tmp_path, glue_dir, smoke_preset, capsys):
    preset = replace(smoke_preset, tasks=("mrpc",), max_train_samples=16, max_eval_samples=16, latency_batches=(1,))
    grid = Grid.build(preset, tmp_path / "results", glue_dir, tmp_path / "cache", execution=Execution(progress=False))
    run_local(grid, expand_grid(preset, ["random"]))
    args = ["export", str(tmp_path / "results"), "--task", "mrpc", "--method", "random", "--budget", "0.5"]
    code = main([*args, "--seed", "0", "--to", str(tmp_path / "out")])
    assert code == 2 and "has no saved model (status ok): run it with --save-models" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_failed_model_write_leaves_the_old_folder_and_no_temporary_one(tmp_path):
    import os

    from suite.records.atomic import clean_stale_temp_files, write_model_dir

    target = tmp_path / "cell" / "budget0.5_seed0.model"
    write_model_dir(target, {"config.json": b"{}", "model.safetensors": b"old"})
    with pytest.raises(ValueError, match="not a plain file name"):
        write_model_dir(target, {"config.json": b"{}", "../escape": b"x"})
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert (target / "model.safetensors").read_bytes() == b"old"
    write_model_dir(target, {"config.json": b"{}", "model.safetensors": b"new"})  # replaces it whole
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.safetensors"]
    assert (target / "model.safetensors").read_bytes() == b"new"
    # A run killed mid-write leaves `.<name>.<random>.tmp/`: the next run's cleaner removes it.
    stale = tmp_path / "cell" / f".{target.name}.abc123.tmp"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    os.utime(stale, (0, 0))
    assert clean_stale_temp_files(tmp_path) == [stale] and not stale.exists()
