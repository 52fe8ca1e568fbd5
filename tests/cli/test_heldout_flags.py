"""`--heldout` and `--eval-split` on the command line: one line and exit 2 for each bad form."""

from __future__ import annotations

import pytest

from suite.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--eval-split", "heldout"], "error: --eval-split heldout needs a held-out split"),
        (["--heldout", "none", "--eval-split", "heldout"], "error: --eval-split heldout needs a held-out split"),
        (["--heldout", "1.5"], "error: run: argument --heldout: 1.5: a count of examples is a whole number"),
        (["--heldout", "-3"], "error: run: argument --heldout: must be a number of examples"),
        (["--heldout", "x" * 5000], "error: run: argument --heldout: expected a number of examples"),
        (["--heldout", "59", "--tasks", "sst2"], "error: --heldout 59 holds out 59 of the 60 training examples"),
    ],
)
def test_bad_heldout_flags(capsys, tmp_path, glue_dir, argv, message):
    try:  # a bad --heldout is argparse's error (SystemExit), the others the suite's
        code = main(["run", "--preset", "smoke", "--glue-dir", str(glue_dir), "--results-dir", str(tmp_path), *argv])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(message) and len(lines[0]) < 300, err
    assert not list(tmp_path.iterdir())  # nothing written


def test_heldout_run_defaults_to_its_own_folder(capsys, glue_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--preset", "smoke", "--methods", "dense", "--glue-dir", str(glue_dir), "--dry-run"]
    assert main([*argv, "--heldout", "0.25", "--eval-split", "heldout"]) == 0
    captured = capsys.readouterr()
    assert "results in results/smoke-heldout" in captured.out + captured.err
