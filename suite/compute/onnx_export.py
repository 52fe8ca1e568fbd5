"""Export of a finalized model to ONNX, through the exporter torch ships (torch.export based).

The exported graph takes `input_ids` and `attention_mask` (int64, dynamic batch and sequence axes)
and returns `logits`. Whatever a method removed stays removed: heads, FFN neurons, layers and hidden
dimensions are the modules' own shapes, and masks are already zeros in the finalized weights. Blocks
with no width left are replaced by the constant they compute first (`bypass_empty_blocks`), on a
copy, so the caller's model is untouched.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from suite.structure import bypass_empty_blocks

INPUT_NAMES = ("input_ids", "attention_mask")
MAX_BATCH = 4096


class _Logits(nn.Module):
    """The model with positional inputs and the logits tensor as its one output."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export_onnx(model: nn.Module, path: Path, seq_len: int = 16) -> Path:
    """Write `model` (eval mode, fp32) to `path` as ONNX with dynamic batch and sequence axes."""
    exported = copy.deepcopy(model).to("cpu", torch.float32).eval()
    bypass_empty_blocks(exported)
    max_len = int(getattr(exported.config, "max_position_embeddings", 512))
    # Example inputs of batch 2 and a length above 1: torch.export specializes axes of size 0 and 1.
    ids = torch.ones(2, max(seq_len, 2), dtype=torch.long)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    length = torch.export.Dim("sequence", min=2, max=max_len)
    axes = {name: {0: batch, 1: length} for name in INPUT_NAMES}
    path.parent.mkdir(parents=True, exist_ok=True)
    # The exporter reports every step on stdout and through warnings; what matters is the file.
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        _quiet("torch.onnx", "torch.export", "onnx_ir", "onnxscript"),
    ):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _Logits(exported),
            (ids, torch.ones_like(ids)),
            dynamo=True,
            input_names=list(INPUT_NAMES),
            output_names=["logits"],
            dynamic_shapes=axes,
            verbose=False,
        )
        program.save(str(path))
    return path


@contextlib.contextmanager
def _quiet(*names: str):
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@torch.inference_mode()
def torch_logits(model: nn.Module, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """PyTorch's fp32 logits on numpy inputs: what an engine's logits are compared with."""
    first = next(model.parameters())
    on_cpu = first.dtype == torch.float32 and first.device.type == "cpu"
    fp32 = model if on_cpu else copy.deepcopy(model).to("cpu", torch.float32)
    tensors = {name: torch.from_numpy(value) for name, value in inputs.items()}
    return fp32.eval()(**tensors).logits.numpy()
