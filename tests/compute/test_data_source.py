"""Where GLUE comes from: a folder when one is given or found, else the hub; offline with neither,
one clear line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from suite.compat import hub
from suite.compute.data import content_sha256, describe_source, load_task, read_tsv_split
from suite.errors import DataError
from suite.spec.tasks import get_task

ROOT = Path(__file__).resolve().parents[2]
# A closed port on this machine: the hub "answers" with connection refused, at once and offline.
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture
def hub_unreachable(monkeypatch, tmp_path):
    """Offline mode not requested, the endpoint refusing connections, an empty datasets cache."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "GLUE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", UNREACHABLE_ENDPOINT)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_home" / "datasets"))
    hub._answers.cache_clear()
    yield
    hub._answers.cache_clear()


def test_probe_says_offline_without_waiting(hub_unreachable):
    assert not hub.hub_online()
    assert describe_source(None) == "hub dataset nyu-mll/glue (hub unreachable: local datasets cache only)"


def test_requested_offline_mode_skips_the_probe(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_answers", lambda *a: pytest.fail("probed the network in offline mode"))
    assert not hub.hub_online()


def test_hub_unreachable_and_nothing_cached_is_one_data_error(hub_unreachable):
    with pytest.raises(DataError) as info:
        load_task(get_task("rte"), None)
    message = str(info.value)
    assert "\n" not in message
    assert "'nyu-mll/glue' is not in the local datasets cache and the hub is unreachable" in message
    assert "--glue-dir DIR or set GLUE_DIR" in message


def test_cache_only_reaches_the_libraries_and_is_restored():
    # The breakage: the libraries read HF_HUB_OFFLINE once, at import; setting it later changes nothing.
    code = (
        "import os, datasets.config, huggingface_hub.constants as c\n"
        "os.environ['HF_HUB_OFFLINE'] = '1'\n"
        "print(datasets.config.HF_HUB_OFFLINE, c.is_offline_mode())\n"
        "from suite.compat.hub import cache_only\n"
        "with cache_only():\n"
        "    print(datasets.config.HF_HUB_OFFLINE, c.is_offline_mode())\n"
        "print(datasets.config.HF_HUB_OFFLINE, c.is_offline_mode())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.split("\n")[:3] == ["False False", "True True", "False False"]


def test_a_glue_folder_is_used_and_named(glue_dir):
    assert describe_source(glue_dir) == f"GLUE folder {glue_dir.resolve()}"
    data = load_task(get_task("sst2"), glue_dir)
    assert len(data.sha256) == 64


def test_content_hash_sees_a_changed_dev_label(glue_dir, tmp_path):
    shutil.copytree(glue_dir / "SST-2", tmp_path / "SST-2")
    dev = tmp_path / "SST-2" / "dev.tsv"
    before = load_task(get_task("sst2"), tmp_path).sha256
    lines = dev.read_text().splitlines(keepends=True)
    sentence, label = lines[1].rstrip("\n").split("\t")
    lines[1] = f"{sentence}\t{1 - int(label)}\n"
    dev.write_text("".join(lines))
    assert load_task(get_task("sst2"), tmp_path).sha256 != before
    # The path is not part of the identity: the same content elsewhere is the same data.
    split = {"train": read_tsv_split(get_task("sst2"), glue_dir, "train")}
    assert content_sha256(split) == content_sha256(dict(split))


def _suite_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "GLUE_DIR")}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


def test_run_offline_without_a_folder_is_one_line_and_exit_2(tmp_path):
    env = _suite_env(
        HF_ENDPOINT=UNREACHABLE_ENDPOINT,
        HF_HOME=str(tmp_path / "hf"),
        HF_DATASETS_CACHE=str(tmp_path / "hf" / "datasets"),
        PRUNE_SUITE_CACHE=str(tmp_path / "cache"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "suite", "run", "--preset", "smoke", "--methods", "dense", "--results-dir", "r"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert lines[0] == "data: hub dataset nyu-mll/glue (hub unreachable: local datasets cache only)"
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "--glue-dir DIR or set GLUE_DIR" in errors[0]
    assert not any("WARNING" in line or "Retry" in line or "Traceback" in line for line in lines), proc.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.integration
def test_run_names_its_folder_first_and_records_it(capsys, tmp_path, glue_dir, monkeypatch):
    from suite.cli import main

    monkeypatch.setenv("GLUE_DIR", str(glue_dir))
    monkeypatch.setenv("PRUNE_SUITE_CACHE", str(tmp_path / "cache"))
    argv = ["run", "--preset", "smoke", "--methods", "dense", "--tasks", "mrpc", "--max-train-samples", "16"]
    code = main([*argv, "--max-eval-samples", "16", "--results-dir", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.splitlines()[0] == f"data: GLUE folder {glue_dir.resolve()}"
    assert "[1/1 cells, grid done]" in err
    (record_file,) = (tmp_path / "r" / "mrpc" / "dense").glob("*.json")
    record = json.loads(record_file.read_text())
    assert record["data"]["source"] == "glue_dir" and record["data"]["location"] == str(glue_dir.resolve())
    assert record["data"]["sha256"] == record["run_config"]["data"]["data_sha256"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("with_shared", [False, True])
def test_makefile_sets_glue_dir_only_where_the_folder_exists(tmp_path, with_shared):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, checkout / name)
    if with_shared:
        (tmp_path / "shared" / "glue_data").mkdir(parents=True)
    show = 'show-glue-dir: ; @echo "GLUE_DIR=[$${GLUE_DIR-unset}]"'
    env = {k: v for k, v in os.environ.items() if k != "GLUE_DIR"}
    out = subprocess.run(
        ["make", "-s", f"--eval={show}", "show-glue-dir"], capture_output=True, text=True, cwd=checkout, env=env
    )
    expected = f"[{tmp_path / 'shared' / 'glue_data'}]" if with_shared else "[unset]"
    assert out.stdout.strip() == f"GLUE_DIR={expected}", out.stderr
    # `make -n run` (what the quickstart runs) plans the run without GLUE_DIR on its command line.
    dry = subprocess.run(["make", "-n", "run"], capture_output=True, text=True, cwd=checkout, env=env)
    assert "-m suite run --methods all" in dry.stdout and "GLUE_DIR" not in dry.stdout
