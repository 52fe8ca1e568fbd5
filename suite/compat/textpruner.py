"""The one adapter for textpruner 1.1.post2 (TransformerPruner) on Python 3.11 + transformers 5.

No textpruner source is copied; `iterative_prune` drives `TransformerPruner` and wraps it in the
shims below. Everything else the `heads` method needs (importance from gradients of the loss,
iterative masking, physical removal of heads and FFN neurons) is textpruner's own code.

What is broken or unwanted, and what is done about it:

1. Final head removal calls `base_model.prune_heads(...)`, which transformers 5 removed. Shim:
   `suite.structure.install_prune_heads` for the duration of the call (transformers 4 semantics:
   original head numbering), removed again afterwards so the returned model is plain.
2. Final FFN removal (`reorder_ffn_weights` with keep_shape=False) assigns smaller weight
   Parameters to `intermediate.dense` and `output.dense` but leaves `nn.Linear.in_features` /
   `out_features` at the old width. The forward is right (it reads the weight), but everything
   that reads the attributes is wrong: the suite's FLOP counter, `suite.structure`, repr. Shim:
   `sync_linear_features` sets both attributes from the weight's shape afterwards.
3. Progress bars: `get_importance_score` wraps the calibration batches in `tqdm`, one bar per
   iteration, written between the suite's own log lines. Shim: `quiet_progress` swaps the module's
   `tqdm` for a disabled one for the duration of the call.
4. Not shimmed, because the suite does not use them: `save_model` (writes `pytorch_model.bin`
   with torch.save; the suite uses `suite.structure.save_pruned`), `use_logits=True` (keeps a
   `.half()` copy of the model), the vocabulary and pipeline pruners.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from suite.errors import SuiteError
from suite.structure import install_prune_heads, uninstall_prune_heads

SUPPORTED_VERSION = "1.1.post2"


def installed_version() -> str:
    try:
        return importlib.metadata.version("textpruner")
    except importlib.metadata.PackageNotFoundError:
        raise SuiteError(
            f"the heads method needs textpruner {SUPPORTED_VERSION}: run `make install` "
            f"(it installs `textpruner=={SUPPORTED_VERSION}` with --no-deps)"
        ) from None


def _import() -> Any:
    version = installed_version()
    if version != SUPPORTED_VERSION:
        raise SuiteError(
            f"textpruner {version} is installed; suite/compat/textpruner.py is written and tested for "
            f"{SUPPORTED_VERSION} (the Makefile pins it)"
        )
    return importlib.import_module("textpruner")


def sync_linear_features(model: nn.Module) -> list[str]:
    """Shim 2: make every nn.Linear's in/out_features agree with its weight; returns what changed."""
    fixed = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            out_features, in_features = module.weight.shape
            if (module.out_features, module.in_features) != (out_features, in_features):
                module.out_features, module.in_features = int(out_features), int(in_features)
                fixed.append(name)
    return fixed


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """Shim 3: textpruner's per-iteration tqdm bars are disabled while the context is open."""
    module = importlib.import_module("textpruner.pruners.transformer_pruner")
    original = module.tqdm
    module.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        module.tqdm = original


@dataclass(frozen=True)
class PruneResult:
    head_mask: torch.Tensor  # (layers, heads) of the unpruned model, 1 = kept
    ffn_mask: torch.Tensor  # (layers, intermediate_size), 1 = kept
    resynced: list[str]  # Linear layers whose feature counts shim 2 corrected


def iterative_prune(
    model: nn.Module,
    batches: Sequence[dict[str, torch.Tensor]],
    heads_per_layer: int,
    ffn_per_layer: int,
    n_iters: int,
) -> PruneResult:
    """TransformerPruner's iterative pruning, in place: every layer ends with the same head count
    and FFN width. Importance = |sum of weight x grad of the loss| over `batches` (which carry
    labels, so `outputs.loss` is the task loss); textpruner recomputes it after each of `n_iters`
    rounds, zeroing the pruned units between rounds and removing them after the last one."""
    textpruner = _import()
    if not batches:
        raise SuiteError("textpruner needs calibration batches to score heads and neurons; none were given")
    device = next(model.parameters()).device
    config = textpruner.TransformerPruningConfig(
        target_ffn_size=ffn_per_layer,
        target_num_of_heads=heads_per_layer,
        pruning_method="iterative",
        head_even_masking=True,
        ffn_even_masking=True,
        n_iters=n_iters,
    )
    with tempfile.TemporaryDirectory(prefix="textpruner.") as scratch:  # it caches importance files there
        general = textpruner.GeneralConfig(use_device=str(device), output_dir=scratch)
        install_prune_heads(model)  # shim 1
        try:
            pruner = textpruner.TransformerPruner(model, transformer_pruning_config=config, general_config=general)
            with quiet_progress():  # shim 3
                pruner.prune(dataloader=list(batches), save_model=False)
        finally:
            uninstall_prune_heads(model)
    resynced = sync_linear_features(model)  # shim 2
    return PruneResult(pruner.head_mask.cpu(), pruner.ffn_mask.cpu(), resynced)


def shim_report() -> dict[str, Any]:
    """For run records: which textpruner and which shims."""
    return {
        "textpruner": installed_version(),
        "shims": [
            "prune_heads installed from suite.structure",
            "nn.Linear feature counts resynced after FFN removal",
            "progress bars disabled",
        ],
    }
