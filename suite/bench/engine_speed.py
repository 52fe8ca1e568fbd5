"""Realized speed of finalized models on PyTorch and on exported-model engines, per method and budget.

For every model: each engine's (and precision's) median latency per batch, its speedup over the same
engine's unpruned model, its speedup over PyTorch fp32's unpruned model, and the largest difference
of its logits from PyTorch fp32's. Within an in-process engine the PyTorch fp32 reference runs inside
the same interleaved rounds, so that ratio is side by side too; PyTorch bf16 and out-of-process
engines (DeepSparse) are compared with the PyTorch fp32 reference of another loop of the same run.
`share`: the speedup over the same engine's unpruned model divided by the FLOP reduction, i.e. how
much of a method's FLOP cut the engine turns into time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from suite.bench.step_cost import BASELINE
from suite.compute.device import CPU, Placement, has_native_cpu_bf16
from suite.compute.engine_latency import time_on_engines
from suite.compute.engines import TORCH, Engine
from suite.compute.latency import measure_latency
from suite.compute.onnx_export import export_onnx, torch_logits
from suite.flops import budget_fraction, count_flops


@dataclass(frozen=True)
class EngineRow:
    method: str
    budget: float
    flop_reduction: float  # unpruned FLOPs / the model's effective FLOPs
    engine: str  # "torch" or an exported-model engine
    precision: str
    ms: dict[str, float]  # batch key -> median ms
    speedup: dict[str, float]  # over the same engine's unpruned model
    vs_torch_fp32: dict[str, float]  # over PyTorch fp32's unpruned model
    max_abs_diff: float | None  # logits vs PyTorch fp32 (None for PyTorch fp32 itself)
    kernel: str = ""  # PyTorch: dense or csr
    error: str | None = None

    def share(self, key: str) -> float | None:
        return self.speedup[key] / self.flop_reduction if key in self.speedup else None


def engine_speedups(
    models: dict[tuple[str, float], torch.nn.Module],
    engines: Sequence[Engine],
    seq_len: int = 128,
    batch_sizes: Sequence[int] = (1, 32),
    rounds: int = 5,
) -> list[EngineRow]:
    """Every model of `models` (the unpruned one under (`dense`, 1.0)) on PyTorch fp32 and bf16 and on
    each engine, against the unpruned model."""
    dense = models[(BASELINE, 1.0)].float().eval()
    reference = count_flops(dense, seq_len)
    threads = torch.get_num_threads()
    rows: list[EngineRow] = []
    torch_fp32_reference: dict[tuple[str, float], dict[str, float]] = {}
    placements = [CPU] + ([Placement(torch.device("cpu"), "bf16")] if has_native_cpu_bf16() else [])
    for (name, budget), model in models.items():
        reduction = 1.0 / budget_fraction(count_flops(model, seq_len), reference)
        for placement in placements:
            timed = measure_latency(model, seq_len, batch_sizes, 1, rounds, reference=dense, placement=placement)
            keys = [f"batch_{b}" for b in batch_sizes]
            if placement.precision == "fp32":
                torch_fp32_reference[(name, budget)] = timed["reference"]
            base = torch_fp32_reference[(name, budget)]
            diff = None
            if placement.precision != "fp32":
                inputs = _inputs(model, seq_len)
                with torch.inference_mode(), placement.autocast():
                    logits = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.float().numpy()
                diff = float(np.abs(logits - torch_logits(model, inputs)).max())
            rows.append(
                EngineRow(
                    name,
                    budget,
                    reduction,
                    TORCH,
                    placement.precision,
                    {k: timed[k] for k in keys},
                    dict(timed["speedup"]),
                    {k: base[k] / timed[k] for k in keys},
                    diff,
                    kernel=timed["kernel"],
                )
            )
    if not engines:
        return rows

    @torch.inference_mode()
    def torch_reference(inputs) -> np.ndarray:
        return dense(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()

    with tempfile.TemporaryDirectory(prefix="suite-bench-onnx-") as folder:
        reference_file = export_onnx(dense, Path(folder) / "reference.onnx")
        for (name, budget), model in models.items():
            reduction = 1.0 / budget_fraction(count_flops(model, seq_len), reference)
            figures = time_on_engines(
                model,
                reference_file,
                engines,
                seq_len,
                batch_sizes,
                1,
                rounds,
                threads,
                {"torch_fp32": torch_reference},
            )
            for engine in engines:
                for precision in engine.precisions:
                    f = figures[engine.name][precision]
                    if "error" in f:
                        rows.append(
                            EngineRow(
                                name, budget, reduction, engine.name, precision, {}, {}, {}, None, error=f["error"]
                            )
                        )
                        continue
                    keys = list(f["speedup"])
                    base = f.get("also", {}).get("torch_fp32") or torch_fp32_reference[(name, budget)]
                    rows.append(
                        EngineRow(
                            name,
                            budget,
                            reduction,
                            engine.name,
                            precision,
                            {k: f[k] for k in keys},
                            dict(f["speedup"]),
                            {k: base[k] / f[k] for k in keys},
                            f["max_abs_diff"],
                        )
                    )
    return rows


def _inputs(model: torch.nn.Module, seq_len: int) -> dict[str, np.ndarray]:
    from suite.compute.engine_latency import engine_inputs

    return engine_inputs(seq_len, [2], model.config.vocab_size)["batch_2"]


def format_engine_speedups(
    rows: list[EngineRow], model_name: str, batch_sizes: Sequence[int], seq_len: int = 128
) -> str:
    keys = [f"batch_{b}" for b in batch_sizes]
    head = f"{'method':10s} {'budget':>6s} {'FLOPx':>6s} {'engine':>11s} {'prec':>4s}"
    for b in batch_sizes:
        head += f" | b{b}: {'ms':>8s} {'own':>6s} {'pt32':>6s}"
    head += f" | {'share':>5s} {'maxdiff':>8s}"
    lines = [
        f"latency at length {seq_len} on {torch.get_num_threads()} threads, {model_name}: own = speedup over "
        "the same engine's unpruned model, pt32 = over PyTorch fp32's, share = own / FLOP reduction "
        f"(at batch {batch_sizes[-1]})",
        head,
    ]
    for r in sorted(rows, key=lambda r: (-r.budget, r.method, r.engine != TORCH, r.engine, r.precision)):
        line = f"{r.method:10s} {r.budget:6g} {r.flop_reduction:6.2f} {r.engine:>11s} {r.precision:>4s}"
        if r.error:
            lines.append(f"{line} | error: {r.error}")
            continue
        for k in keys:
            line += f" | {'':>{len(k) - 5}s}{r.ms[k]:8.1f} {r.speedup[k]:5.2f}x {r.vs_torch_fp32[k]:5.2f}x"
        share = r.share(keys[-1])
        diff = "-" if r.max_abs_diff is None else f"{r.max_abs_diff:.1e}"
        lines.append(f"{line} | {share:5.2f} {diff:>8s}")
    lines.append("")
    lines.append(f"best engine per model (most of its FLOP reduction realized at batch {batch_sizes[-1]}):")
    best: dict[tuple[str, float], EngineRow] = {}
    for r in rows:
        if r.error is None and r.method != BASELINE:
            key = (r.method, r.budget)
            if key not in best or r.speedup[keys[-1]] > best[key].speedup[keys[-1]]:
                best[key] = r
    for (method, budget), r in sorted(best.items(), key=lambda item: (-item[0][1], item[0][0])):
        lines.append(
            f"  {method:10s} {budget:g}: {r.engine} {r.precision} {r.speedup[keys[-1]]:.2f}x of "
            f"{r.flop_reduction:.2f}x FLOPs ({100 * r.share(keys[-1]):.0f}%), "
            f"{r.vs_torch_fp32[keys[-1]]:.2f}x over PyTorch fp32"
        )
    return "\n".join(lines)
