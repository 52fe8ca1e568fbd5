"""Device and precision plumbing on the CPU, and length-grouped training batches."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import DataCollatorWithPadding

from suite.cli import main
from suite.compute.data import load_task, tokenize
from suite.compute.device import Placement, resolve_device
from suite.compute.models import load_tokenizer
from suite.compute.train import make_loader
from suite.errors import SuiteError
from suite.spec.tasks import get_task


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--device", "cuda"], "error: --device cuda: no CUDA GPU is visible on this machine"),
        (["--device", "cuda:1"], "error: --device cuda:1: no CUDA GPU is visible on this machine"),
        (["--device", "tpu"], "error: --device 'tpu' is not one of auto, cpu, cuda, cuda:N, mps"),
        (["--device", "cpu", "--precision", "fp16"], "error: --precision fp16 needs a CUDA GPU"),
    ],
)
def test_devices_this_machine_lacks_are_one_line_and_exit_2(capsys, tmp_path, argv, message):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(["run", "--preset", "smoke", "--results-dir", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and [line for line in err.splitlines() if line.startswith("error:")] == [err.strip()]
    assert err.startswith(message) and not (tmp_path / "r").exists()


def test_auto_is_the_cpu_here_and_autocast_runs_bf16_matmuls():
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert resolve_device("auto") == torch.device("cpu")
    placement = Placement.from_flags("cpu", "bf16")
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with placement.autocast():
        assert (a @ b).dtype == torch.bfloat16
    with Placement.from_flags("cpu", "fp32").autocast():
        assert (a @ b).dtype == torch.float32
    assert placement.grad_scaler() is None  # bf16 keeps fp32's range: no loss scaling
    with pytest.raises(SuiteError, match="not one of auto, fp32, bf16, fp16"):
        Placement.from_flags("cpu", "fp8")


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_precision_is_bf16_only_on_a_cpu_that_computes_it_natively(monkeypatch, native, expected):
    from suite.compute import device

    monkeypatch.setattr(device, "has_native_cpu_bf16", lambda: native)
    assert Placement.from_flags("cpu", "auto").precision == expected
    assert Placement.from_flags("cpu").precision == expected  # auto is the default
    assert device.default_precision(torch.device("mps")) == "fp32"
    assert Placement.from_flags("cpu", "fp32").precision == "fp32"  # an explicit choice is kept


def test_native_bf16_is_read_from_the_cpu_flags(monkeypatch, tmp_path):
    import builtins

    from suite.compute import device

    real_open = builtins.open
    for flags, expected in (("fpu avx512f avx512_bf16 sse", True), ("fpu avx2 sse", False), (None, False)):
        cpuinfo = tmp_path / "cpuinfo"
        cpuinfo.write_text("processor\t: 0\n" + (f"flags\t\t: {flags}\n" if flags else ""))

        def fake_open(path, *args, _file=cpuinfo, **kwargs):
            return real_open(_file if path == "/proc/cpuinfo" else path, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", fake_open)
        assert device.has_native_cpu_bf16() is expected, flags


def test_records_name_the_cpu_model_and_the_flags_that_change_kernels(monkeypatch, tmp_path):
    """Two machines of one kind (an AMX Xeon, an AVX512-BF16 EPYC) pick other bf16 kernels: the record
    says which CPU and which of the kernel-relevant flags it has, and nothing else of /proc/cpuinfo."""
    import builtins

    from suite.compute import device

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
        "flags\t\t: fpu sse4_2 avx2 fma avx512f avx512_vnni avx512_bf16 amx_tile amx_bf16 amx_int8 pdpe1gb\n"
    )
    real_open = builtins.open
    monkeypatch.setattr(
        builtins, "open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path, *a, **k)
    )
    facts = device.hardware()
    assert facts["cpu_model"] == "Intel(R) Xeon(R) Platinum 8480+"
    expected = ["amx_bf16", "amx_int8", "amx_tile", "avx2", "avx512_bf16", "avx512_vnni", "avx512f", "fma"]
    assert facts["cpu_isa"] == expected
    assert facts["torch_cpu_capability"]  # the level PyTorch's own CPU kernels dispatch to (e.g. AVX512)
    assert device.has_native_cpu_bf16()


@pytest.mark.integration
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_smoke_cells_on_an_explicit_cpu_record_device_and_precision(capsys, tmp_path, glue_dir, precision):
    argv = ["run", "--preset", "smoke", "--methods", "ksp", "--tasks", "mrpc", "--device", "cpu"]
    argv += ["--precision", precision, "--glue-dir", str(glue_dir), "--max-train-samples", "32"]
    argv += ["--max-eval-samples", "16", "--results-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")]
    assert main([*argv, "--no-progress"]) == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "r" / "mrpc" / "ksp" / "budget0.5_seed0.json").read_text())
    assert record["status"] == "ok" and record["precision"] == precision
    assert record["device"]["type"] == "cpu" and record["device"]["name"]
    assert record["latency_ms"]["device"] == "cpu" and record["latency_ms"]["precision"] == precision
    assert record["run_config"]["precision"] == precision and record["run_config"]["device"] == "cpu"
    assert record["run_config"]["train"]["group_by_length"] is True  # length-grouped batches by default


@pytest.mark.integration
def test_a_run_without_flags_records_the_resolved_default_precision(capsys, tmp_path, glue_dir):
    from suite.compute.device import default_precision

    argv = ["run", "--preset", "smoke", "--methods", "dense", "--tasks", "mrpc", "--glue-dir", str(glue_dir)]
    argv += ["--max-train-samples", "16", "--max-eval-samples", "8", "--batching", "random"]
    argv += ["--results-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "r" / "mrpc" / "dense" / "budget1_seed0.json").read_text())
    expected = default_precision(resolve_device("auto"))
    assert record["precision"] == expected and f"precision {expected}" in capsys.readouterr().err
    assert record["run_config"]["train"]["group_by_length"] is False  # --batching random


@pytest.fixture(scope="module")
def sst2_train():
    from tests.conftest import FIXTURE_GLUE

    data = load_task(get_task("sst2"), FIXTURE_GLUE)
    return tokenize(data.train, load_tokenizer("tiny"), 64), DataCollatorWithPadding(load_tokenizer("tiny"))


def test_length_grouped_batches_are_a_seeded_permutation_reshuffled_every_epoch(sst2_train):
    train, collator = sst2_train
    rows = sorted(tuple(ids) for ids in train["input_ids"])
    loader = make_loader(train, collator, 8, seed=3, group_by_length=True)
    first = [ids for batch in loader for ids in batch["input_ids"].tolist()]
    second = [ids for batch in loader for ids in batch["input_ids"].tolist()]
    strip = [[t for t in ids if t != 0] for ids in first]
    assert sorted(tuple(ids) for ids in strip) == rows  # every example exactly once
    assert first != second  # the next epoch is reshuffled
    again = make_loader(train, collator, 8, seed=3, group_by_length=True)
    assert [ids for batch in again for ids in batch["input_ids"].tolist()] == first  # a function of the seed
    other = make_loader(train, collator, 8, seed=4, group_by_length=True)
    assert [ids for batch in other for ids in batch["input_ids"].tolist()] != first


def test_length_grouped_batches_pad_less_than_random_ones(sst2_train):
    train, collator = sst2_train

    def padded(group: bool) -> int:
        # Batches of 2: 60 examples make megabatches of 7 batches to sort within (at 8, one batch each).
        loader = make_loader(train, collator, 2, seed=0, group_by_length=group)
        return sum(batch["input_ids"].numel() for batch in loader)

    assert padded(True) < padded(False)


def test_throughput_bench_prints_a_ratio_per_task_and_overall(capsys, glue_dir):
    from suite.compute import device

    argv = ["bench", "throughput", "--preset", "smoke", "--model", "tiny", "--tasks", "sst2,mrpc", "--device", "cpu"]
    code = main([*argv, "--steps", "2", "--rounds", "1", "--glue-dir", str(glue_dir)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    auto = device.default_precision(torch.device("cpu"))  # bf16 only on a CPU that computes it natively
    assert f"fp32 random batches vs {auto} length-grouped batches" in out[0]
    assert [line.split()[0] for line in out[2:4]] == ["sst2", "mrpc"]
    assert out[-1].startswith("overall: ") and out[-1].endswith("x")


def test_overall_ratio_weights_tasks_by_their_examples():
    from suite.bench.throughput import TaskThroughput, overall_ratio

    rows = [TaskThroughput("a", 10.0, 40.0, 1, 1, weight=300.0), TaskThroughput("b", 10.0, 10.0, 1, 1, weight=100.0)]
    # old: 30 + 10 = 40 s; new: 7.5 + 10 = 17.5 s
    assert overall_ratio(rows) == pytest.approx(40 / 17.5)
