"""Bad input: one clear line on stderr and a non-zero exit. Good input: commands work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

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
    ],
)
def test_bad_run_input(capsys, tmp_path, argv, message):
    code, _, err = run_cli(capsys, "run", "--preset", "smoke", "--results-dir", str(tmp_path), *argv)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(message), err
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
    assert code == 0 and out.startswith("dense")
    code, out, _ = run_cli(capsys, "ls", "tasks")
    assert code == 0 and len(out.splitlines()) == 9
    code, out, _ = run_cli(capsys, "flops", "tiny", "--seq-len", "128")
    report = json.loads(out)
    assert code == 0 and report["dense"] == 25_174_272


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


@pytest.mark.parametrize("text", ["6", "6.0"])
def test_whole_epochs_from_the_command_line_hash_like_the_presets(text):
    from dataclasses import asdict

    from suite.cli import build_parser
    from suite.presets import get_preset
    from suite.results import config_hash

    cpu = get_preset("cpu")
    overridden = cpu.with_overrides(epochs=build_parser().parse_args(["run", "--epochs", text]).epochs)
    # The cpu preset trains CoLA 6 epochs: `--epochs 6` must reuse its teacher and finished cells.
    assert config_hash(asdict(overridden.train_for("cola"))) == config_hash(asdict(cpu.train_for("cola")))


def test_fractional_epochs_stay_fractional():
    from suite.cli import build_parser

    assert build_parser().parse_args(["run", "--epochs", "1.5"]).epochs == 1.5
