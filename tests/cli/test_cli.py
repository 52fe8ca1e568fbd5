"""Bad input: one clear line on stderr and a non-zero exit. Good input: commands work."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from suite.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--methods", "dens"], "error: unknown method 'dens'. Did you mean 'dense'?"),
        (["--tasks", "sst3"], "error: unknown task 'sst3'. Did you mean 'sst2'?"),
        (["--budgets", "1.5"], "error: budget 1.5 is outside (0, 1]"),
        (["--budgets", "0"], "error: budget 0 is outside (0, 1]"),
        (["--glue-dir", "/nonexistent/glue"], "error: GLUE directory /nonexistent/glue does not exist"),
        (["--preset", "huge"], "error: unknown preset 'huge'"),
        (["--max-train-samples", "0"], "error: --max-train-samples must be a positive integer"),
        (["--methods", "all,-randm"], "error: unknown method 'randm'. Did you mean 'random'?"),
        (["--methods", "dense,-random"], "error: '-random' excludes nothing"),
        (["--engines", "tensorrt"], "error: unknown engine 'tensorrt'; known engines: torch, onnxruntime, openvino"),
        (
            ["--methods", "ksp", "--method-args", "ksp.mask_update=5"],
            "error: --method-args: ksp has no knob 'mask_update'. Did you mean 'mask_updates'? Its knobs: distill,",
        ),
        (["--methods", "ksp", "--method-args", "ksp.mask_updates=x"], "error: --method-args: ksp.mask_updates expects"),
        (["--methods", "dense", "--method-args", "ksp.mask_updates=5"], "error: --method-args sets ksp.mask_updates,"),
        (["--methods", "dense", "--method-args", "nope.x=5"], "error: unknown method 'nope'."),
        (
            ["--methods", "ksp", "--method-args", "ksp.kd.temperature=-1"],
            "error: --method-args: GradualMagnitudeConfig of ksp refuses ksp.kd.temperature=-1.0: "
            "temperature must be finite and > 0, got -1.0",
        ),
        (
            ["--methods", "ksp", "--method-args", "ksp.initial_sparsity=1.5"],
            "error: --method-args: GradualMagnitudeConfig of ksp refuses ksp.initial_sparsity=1.5: "
            "initial_sparsity must be in [0, 1), got 1.5",
        ),
        (
            ["--methods", "ksp", "--method-args", "ksp.mask_updates=-5"],
            "error: --method-args: GradualMagnitudeConfig of ksp refuses ksp.mask_updates=-5: "
            "mask_updates must be in [1, 1000000], got -5",
        ),
        (["--methods", "ksp", "--method-args", "ksp.mask_updates=0"], "error: --method-args: GradualMagnitudeConfig"),
        (
            ["--methods", "ksp", "--method-args", "ksp.mask_updates=" + "9" * 5000],
            "error: --method-args: 'ksp.mask_updates=" + "9" * 23 + "...' is 5017 characters long",
        ),
        (
            ["--methods", "ksp", "--method-args", "ksp.mask_updates=" + "9" * 900],
            "error: --method-args: GradualMagnitudeConfig of ksp refuses ksp.mask_updates=" + "9" * 40 + "...: ",
        ),
    ],
)
def test_bad_run_input(capsys, tmp_path, argv, message):
    code, _, err = run_cli(capsys, "run", "--preset", "smoke", "--results-dir", str(tmp_path), *argv)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(message), err
    assert len(lines[0]) < 300, lines[0]  # a long value is echoed only in part
    assert not list(tmp_path.iterdir())  # nothing written


def test_malformed_tsv_is_reported_before_any_cell(capsys, tmp_path, glue_dir):
    glue = tmp_path / "glue"
    shutil.copytree(glue_dir / "SST-2", glue / "SST-2")
    with (glue / "SST-2" / "train.tsv").open("a") as handle:
        handle.write("a broken row without a label\n")
    code, _, err = run_cli(
        capsys,
        "run",
        "--preset",
        "smoke",
        "--tasks",
        "sst2",
        "--methods",
        "dense",
        "--glue-dir",
        str(glue),
        "--results-dir",
        str(tmp_path / "r"),
    )
    assert code == 2
    assert "train.tsv, line 62: expected 2 tab-separated columns, found 1" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.integration
def test_smoke_run_then_leaderboard(capsys, tmp_path, glue_dir, monkeypatch):
    monkeypatch.setenv("PRUNE_SUITE_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    code, _, err = run_cli(
        capsys,
        "run",
        "--preset",
        "smoke",
        "--methods",
        "dense",
        "--tasks",
        "mrpc",
        "--glue-dir",
        str(glue_dir),
        "--max-train-samples",
        "16",
        "--max-eval-samples",
        "16",
        "--results-dir",
        str(results),
        "--no-progress",
    )
    assert code == 0, err
    assert "1 ok, 0 over budget, 0 failed" in err
    code, out, _ = run_cli(capsys, "leaderboard", "--results-dir", str(results))
    assert code == 0
    assert "## Budget 1 " in out and "| dense " in out and "| trivial baseline " in out
    assert "Seeds per cell: n = 1." in out and "(n=1)" not in out
    assert (results / "leaderboard.md").read_text() == out.rstrip("\n") + "\n"


def test_leaderboard_without_results(capsys, tmp_path):
    code, _, err = run_cli(capsys, "leaderboard", "--results-dir", str(tmp_path / "none"))
    assert code == 2 and "does not exist" in err


def test_ls_and_flops(capsys):
    code, out, _ = run_cli(capsys, "ls", "methods")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and names == sorted(names) and {"dense", "cofi", "ksp"} <= set(names)
    code, out, _ = run_cli(capsys, "ls", "tasks")
    assert code == 0 and len(out.splitlines()) == 9
    code, out, _ = run_cli(capsys, "flops", "tiny", "--seq-len", "128")
    report = json.loads(out)
    assert code == 0 and report["dense"] == 25_174_272


def test_ls_methods_verbose_shows_knobs_defaults_and_ranges(capsys):
    code, out, _ = run_cli(capsys, "ls", "methods", "--verbose")
    sections = {}
    for line in out.splitlines():
        if not line.startswith(" "):
            name = line.split()[0]
            sections[name] = []
        else:
            sections[name].append(line.split(maxsplit=2))  # setting, type, what it admits
    assert code == 0 and sections["dense"] == [
        ["(no", "knobs)"],
        ["tuned", "on:", "learning_rate_scale log-uniform [0.25, 4]"],
    ]
    assert [
        "tuned",
        "on:",
        "learning_rate_scale log-uniform [0.25, 4]; damp log-uniform [1e-08, 1e-05]; block_size one of 8, 16, 32",
    ] in sections["obert"]
    assert ["kd.attention=1.0", "float", "finite and >= 0"] in sections["ksp"]
    assert ["mask_updates=100", "int", "in [1, 1000000]"] in sections["ksp"]
    assert ["initial_sparsity=0.0", "float", "in [0, 1)"] in sections["ksp"]
    assert ["scope=global", "str", "one of 'global', 'matrix'"] in sections["platon"]
    assert ["kd.attention=0.0", "float", "finite and >= 0"] in sections["heads"]  # the method's own nested default
    assert ["distill=False", "bool"] in sections["magnitude"]  # a variant's defaults


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert re.fullmatch(r"prune-suite \d+\.\d+\.\d+\S* \(git [0-9a-f]{40}(-dirty)?\)\n", out), out


def _tree(*roots: Path) -> dict[str, tuple[int, bytes]]:
    """Every path under the roots with its mtime and content: what "writes nothing" is checked against."""
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")] if root.exists() else []:
            found[str(path)] = (path.stat().st_mtime_ns, path.read_bytes() if path.is_file() else b"")
    return found


def test_dry_run_lists_compute_skip_and_not_run_and_writes_nothing(capsys, tmp_path, glue_dir, monkeypatch):
    cache, results = tmp_path / "cache", tmp_path / "results"
    monkeypatch.setenv("PRUNE_SUITE_CACHE", str(cache))
    # The tiny model at budget 0.3: layer dropping cannot keep a whole layer of 2, and weight sparsity
    # cannot go below the attention products.
    base = ["run", "--preset", "smoke", "--tasks", "mrpc", "--glue-dir", str(glue_dir), "--results-dir", str(results)]
    base += ["--max-train-samples", "16", "--max-eval-samples", "16", "--no-progress", "--budgets", "0.5,0.3"]
    dry = [*base, "--methods", "dense,ksp,layers", "--method-args", "ksp.mask_updates=5", "--dry-run"]

    code, out, err = run_cli(capsys, *dry)
    assert code == 0, err
    assert not results.exists() and not cache.exists()  # not even the folders
    assert "compute  mrpc   dense        budget 1     seed 0\n" in out
    assert "compute  mrpc   ksp          budget 0.5   seed 0\n" in out
    assert "not run  mrpc   layers       budget 0.3   seed 0  budget 0.3 is below one whole encoder layer" in out
    assert "teacher  mrpc   seed 0: to train" in out
    assert "not run  mrpc   ksp          budget 0.3   seed 0  budget 0.3 cannot be met by weight sparsity" in out
    assert "dry run: 3 to compute (1 teachers to train), 0 finished (skipped), 2 unreachable" in err

    code, _, err = run_cli(capsys, *base, "--methods", "dense")  # a real run finishes the dense cell
    assert code == 0, err
    before = _tree(results, cache)
    code, out, err = run_cli(capsys, *dry)
    assert code == 0, err
    assert "skip     mrpc   dense        budget 1     seed 0  finished (same config hash)\n" in out
    assert "compute  mrpc   ksp          budget 0.5   seed 0\n" in out
    assert "dry run: 2 to compute (1 teachers to train), 1 finished (skipped), 2 unreachable" in err
    assert _tree(results, cache) == before


@pytest.mark.parametrize("command", [[], ["run"], ["ls"], ["flops"], ["leaderboard"]])
def test_help_everywhere(command):
    proc = subprocess.run([sys.executable, "-m", "suite", *command, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "usage: python -m suite" in proc.stdout


def test_step_cost_bench_prints_a_ratio_per_method(capsys, glue_dir):
    code, out, _ = run_cli(
        capsys,
        "bench",
        "step-cost",
        "--model",
        "tiny",
        "--methods",
        "ksp,random",
        "--steps",
        "1",
        "--rounds",
        "1",
        "--budget",
        "0.5",
        "--glue-dir",
        str(glue_dir),
    )
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert set(rows) == {"dense", "ksp", "random"} and "1.00x" in rows["dense"] and "<= 1.6x" in rows["ksp"]


def test_latency_bench_prints_speedups_of_finalized_models(capsys, glue_dir):
    code, out, _ = run_cli(
        capsys,
        "bench",
        "latency",
        "--model",
        "tiny",
        "--methods",
        "layers,random",
        "--budgets",
        "0.5",
        "--glue-dir",
        str(glue_dir),
    )
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(rows) == {"dense", "layers", "random"}
    assert rows["dense"][3] == "1.00x" and rows["layers"][1] == "0.5"


def test_latency_bench_on_engines_prints_each_engines_speedups_and_logit_differences(capsys, glue_dir):
    argv = ["bench", "latency", "--model", "tiny", "--methods", "layers,magnitude", "--budgets", "0.5"]
    argv += ["--engine", "torch,onnxruntime,openvino", "--rounds", "1", "--batch-sizes", "1,3", "--glue-dir"]
    code, out, _ = run_cli(capsys, *argv, str(glue_dir))
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["dense"], ["layers"], ["magnitude"])]
    engines = {(row[0], row[3], row[4]) for row in rows}
    timed = (("torch", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16"))
    for method in ("dense", "layers", "magnitude"):
        for engine, precision in timed:
            assert (method, engine, precision) in engines, (method, engine, precision)
    for row in rows:
        if row[3] != "torch" and row[4] == "fp32":
            assert float(row[-1]) < 1e-4, row  # the exported model computes PyTorch's logits
    assert "best engine per model" in out and "layers     0.5:" in out


def test_latency_bench_refuses_an_unknown_engine_in_one_line(capsys):
    code, _, err = run_cli(capsys, "bench", "latency", "--model", "tiny", "--engine", "tvm")
    assert code == 2 and err.strip().splitlines()[-1].startswith("error: unknown engine 'tvm'")


@pytest.mark.integration
def test_cells_out_of_a_methods_reach_are_listed_not_run(capsys, tmp_path, glue_dir):
    # The tiny model has 2 layers: at budget 0.3 layer dropping cannot keep a whole one.
    base = ["run", "--preset", "smoke", "--tasks", "sst2", "--budgets", "0.3", "--glue-dir", str(glue_dir)]
    code, _, err = run_cli(capsys, *base, "--methods", "layers", "--results-dir", str(tmp_path / "a"))
    assert code == 2 and "error: no requested cell can be run" in err
    assert "layers       budget 0.3   seed 0: not run: budget 0.3 is below one whole encoder layer of 2" in err
    assert not list((tmp_path / "a").rglob("*.json"))
    code, _, err = run_cli(capsys, *base, "--methods", "dense,layers", "--results-dir", str(tmp_path / "b"))
    assert code == 0 and "1 unreachable by design (not run)" in err
    assert sorted(p.parent.name for p in (tmp_path / "b").rglob("*.json")) == ["dense", "trivial"]


@pytest.mark.parametrize("text", ["2", "2.0"])
def test_whole_epochs_from_the_command_line_hash_like_the_presets(text):
    from dataclasses import asdict

    from suite.cli import build_parser
    from suite.records.provenance import config_hash
    from suite.spec.presets import get_preset

    cpu = get_preset("cpu")
    overridden = cpu.with_overrides(epochs=build_parser().parse_args(["run", "--epochs", text]).epochs)
    # The cpu preset trains CoLA 2 epochs: `--epochs 2` must reuse its teacher and finished cells.
    assert config_hash(asdict(overridden.train_for("cola"))) == config_hash(asdict(cpu.train_for("cola")))


def test_fractional_epochs_stay_fractional():
    from suite.cli import build_parser

    assert build_parser().parse_args(["run", "--epochs", "1.5"]).epochs == 1.5
