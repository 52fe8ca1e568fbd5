"""The runs registered on a results folder: another configuration is refused while a run is live, the
same one shares the folder, and a killed run never blocks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from suite.errors import SuiteError
from suite.records.layout import runs_dir
from suite.records.runs import RunConfiguration, register

ROOT = Path(__file__).resolve().parents[2]


def _configuration(learning_rate: float = 1e-3, cells: dict[str, str] | None = None) -> RunConfiguration:
    record = {"task": "sst2", "model": "tiny", "run_config": {"train": {"learning_rate": learning_rate, "epochs": 1}}}
    return RunConfiguration.of_records([record], cells or {"sst2/dense/b1/s0": f"hash{learning_rate}"})


def test_a_run_with_another_configuration_is_refused_while_the_first_is_live(tmp_path):
    first = register(tmp_path, _configuration(1e-3))
    with pytest.raises(SuiteError) as refused:
        register(tmp_path, _configuration(5e-4))
    message = str(refused.value)
    assert message.startswith(f"results folder {tmp_path} is being written by another run with another configuration")
    assert "run_config.train.learning_rate is 0.001 there, 0.0005 here" in message
    assert "cell " not in message  # the setting explains the cell's other hash
    assert "\n" not in message
    first.release()
    assert sorted(p.name for p in runs_dir(tmp_path).iterdir()) == []  # nothing of it stays
    register(tmp_path, _configuration(5e-4)).release()  # the folder is free again


def test_runs_of_one_configuration_share_the_folder(tmp_path):
    first = register(tmp_path, _configuration(cells={"sst2/dense/b1/s0": "a"}))
    second = register(tmp_path, _configuration(cells={"sst2/dense/b1/s0": "a", "sst2/magnitude/b0.5/s0": "b"}))
    assert len(list(runs_dir(tmp_path).glob("*.run"))) == 2
    second.release()
    first.release()


def test_one_cell_under_other_knobs_is_refused(tmp_path):
    first = register(tmp_path, _configuration(cells={"sst2/magnitude/b0.5/s0": "a"}))
    with pytest.raises(SuiteError, match=r"cell sst2/magnitude/b0.5/s0 has config hash a there, b here"):
        register(tmp_path, _configuration(cells={"sst2/magnitude/b0.5/s0": "b"}))
    first.release()


def test_a_killed_run_does_not_block_and_its_files_are_removed(tmp_path):
    # A process that registers and dies without releasing (as a killed run does).
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from tests.records.test_runs import _configuration
        from suite.records.runs import register
        register(Path({str(tmp_path)!r}), _configuration(1e-3))
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, env={"PYTHONPATH": str(ROOT)})
    assert len(list(runs_dir(tmp_path).glob("*.run"))) == 1
    registration = register(tmp_path, _configuration(5e-4))
    assert [p.name for p in runs_dir(tmp_path).glob("*.run")] == [registration.marker.name]
    registration.release()
