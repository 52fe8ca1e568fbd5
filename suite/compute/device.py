"""Where and in which precision a cell runs: `--device auto|cpu|cuda|cuda:N|mps` and
`--precision auto|fp32|bf16|fp16`.

Weights, optimizer state, masks, scores, top-k selections and losses stay fp32 in every precision;
bf16 and fp16 apply to forward passes through autocast only. fp16 needs a gradient scaler and is
offered on CUDA only, where it is the fast path of older GPUs.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from suite.errors import SuiteError

PRECISIONS = ("fp32", "bf16", "fp16")
AUTO = "auto"
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(spec: str = "auto") -> torch.device:
    """The torch device for a --device value; a device this machine lacks is one clear SuiteError."""
    spec = spec.strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not torch.backends.mps.is_available():
            raise SuiteError("--device mps: this machine has no Apple GPU (MPS); use --device cpu or auto")
        return torch.device("mps")
    match = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if match is None:
        raise SuiteError(f"--device {spec!r} is not one of auto, cpu, cuda, cuda:N, mps")
    if not torch.cuda.is_available():
        raise SuiteError(f"--device {spec}: no CUDA GPU is visible on this machine; use --device cpu or auto")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise SuiteError(f"--device {spec}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0")
    return torch.device("cuda", index)


# The CPU flags that change which kernels oneDNN and PyTorch pick (so, in bf16, the rounding a training
# run sees): AMX tiles, AVX-512 with its bf16/fp16/VNNI extensions, AVX2/FMA; Arm's bf16 and SVE.
KERNEL_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "bf16",
    "sve",
)


def _cpu_flags() -> set[str]:
    """This CPU's feature flags from /proc/cpuinfo (Linux); empty elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:
        return set()
    return set()


def has_native_cpu_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (x86 AVX512-BF16 or AMX, Arm BF16).

    Without it, autocast emulates bf16 and runs slower than fp32; off Linux the answer is no.
    """
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & _cpu_flags())


def default_precision(device: torch.device) -> str:
    """`--precision auto`: bf16 where the device computes it natively, else fp32.

    Measured on the quick preset (MiniLM-L6, SST-2 and MRPC, dense and ksp, seeds 0-2, fp32 vs bf16
    autocast): no score moved beyond seed noise (Welch p 0.32 to 0.60 over seeds; the table is in the
    README), and training ran 1.46x faster on a CPU with AVX512-BF16. bf16 keeps fp32's exponent
    range, so no loss scaling is needed on any device.
    fp16 is never chosen automatically (it needs loss scaling and was not measured here); Apple
    GPUs stay in fp32 (their autocast was not measured here).
    """
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if has_native_cpu_bf16() else "fp32"
    return "fp32"


def check_precision(precision: str, device: torch.device) -> str:
    """The precision a cell runs in: `auto` resolved for `device`, an explicit one checked against it."""
    if precision == AUTO:
        return default_precision(device)
    if precision not in PRECISIONS:
        raise SuiteError(f"--precision {precision!r} is not one of {AUTO}, {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise SuiteError(f"--precision fp16 needs a CUDA GPU (gradient scaling); on {device.type} use bf16 or fp32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise SuiteError(f"--precision bf16: {torch.cuda.get_device_name(device)} has no bf16; use fp16 or fp32")
    return precision


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        # A Ray driver plans GPU cells on a head node that may have no GPU: the workers name theirs.
        return torch.cuda.get_device_name(device) if torch.cuda.is_available() else "not visible to this process"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return _cpu_model() or platform.processor() or platform.machine()


def _cpu_model() -> str | None:
    """The CPU's model name on Linux (platform.processor() is empty there)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


@dataclass(frozen=True)
class Placement:
    """A resolved device and precision: what a cell records and what its training loop uses."""

    device: torch.device
    precision: str = "fp32"
    # Whether `precision` is what `auto` chose for this machine rather than the user's own choice: a run
    # that resumes a results folder on a machine where `auto` means another precision must not silently
    # recompute its finished cells in it (see `suite.run.plan.check_precision_matches`).
    from_auto: bool = field(default=False, compare=False)

    @classmethod
    def from_flags(cls, device: str = "auto", precision: str = AUTO) -> Placement:
        resolved = resolve_device(device)
        return cls(resolved, check_precision(precision, resolved), from_auto=precision == AUTO)

    @property
    def record(self) -> dict[str, str]:
        """The record's `device`: type and name."""
        return {"type": self.device.type, "name": device_name(self.device)}

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Forward passes in the cell's precision; a no-op in fp32."""
        if self.precision == "fp32":
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=_DTYPES[self.precision]):
            yield

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """fp16 gradients underflow without loss scaling; bf16 has fp32's exponent range and needs none."""
        return torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None

    def synchronize(self) -> None:
        """Wait for queued GPU work, so a wall-clock interval covers it."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()


CPU = Placement(torch.device("cpu"))


def hardware() -> dict[str, Any]:
    """What a record says of the machine. Two machines of one kind can differ in CPU model and ISA
    (an AMX Xeon and an AVX512-BF16 EPYC pick other bf16 kernels), which moves trained scores beyond
    bit-for-bit repeats: the CPU model, the kernel-relevant flags it has and the kernel level PyTorch
    dispatches to say which."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": _cpu_model() or platform.machine(),
        "cpu_isa": sorted(set(KERNEL_FLAGS) & _cpu_flags()),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
