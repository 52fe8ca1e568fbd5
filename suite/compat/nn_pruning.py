"""The one adapter for nn_pruning 0.1.2 (Hugging Face's pruning library) on Python 3.11 + transformers 5.

Every work-around the suite needs to import and use nn_pruning lives here. No nn_pruning source is
copied: the shims patch attributes around the import, or subclass. Call `import_nn_pruning()` and
never import nn_pruning's modules directly (the first import must go through the shims).

What is broken in 0.1.2, and what is done about it:

1. `nn_pruning.modules.masked_nn` fails at import on Python >= 3.11: `LinearPruningArgs` declares
   `mask_init: InitDirective = InitDirective()`, and 3.11 refuses a dataclass default whose class
   is unhashable (every eq=True dataclass is). Shim: `_identity_hash_during_import`.
2. `nn_pruning.patch_coordinator.ModelPatchingCoordinator.compile_model` ends by removing attention
   heads with `model.prune_heads`, which transformers 5 removed. Shim: `_keep_heads_pruner`.
3. Speed (not broken, but the movement step must stay within 2x a plain step): every forward pass
   of every MaskedLinear fully sorts its scores (`TopKBinarizer`) and copies its mask twice
   (`MaskModule.expand_mask` with 1 x 1 blocks). Shims: `_topk_by_selection`, `_mask_module_no_copy`;
   both give the same mask, the same count and the same gradients.
4. Not shimmed, because the suite never imports them: `nn_pruning.sparse_trainer` (the Trainer
   mixin; it imports `AdamW` from `transformers.optimization`, gone in transformers 5; the suite
   drives the coordinator from its own training loop and optimizer) and
   `inference_model_patcher.optimize_model` (hard-codes 12 layers and calls `model.prune_heads`;
   it only shrinks block-pruned layers, which unstructured pruning does not produce).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import torch

from suite.errors import SuiteError

SUPPORTED_VERSION = "0.1.2"
# The nn_pruning modules the suite uses, imported in this order inside the shims.
MODULES = ("nn_pruning.modules.binarizer", "nn_pruning.modules.masked_nn", "nn_pruning.patch_coordinator")

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _identity_hash_during_import() -> Iterator[None]:
    """Shim 1: while nn_pruning's modules are imported, its dataclasses get an identity hash.

    Broken: Python 3.11's dataclass check rejects a default value whose class has `__hash__ = None`
    (its proxy for "mutable"), so `LinearPruningArgs.mask_init = InitDirective()` raises
    `ValueError: mutable default ... use default_factory` and masked_nn cannot be imported.
    Python 3.10 only rejected list, dict and set defaults, so nn_pruning's behaviour was: one shared
    `InitDirective()` instance as the default of every `LinearPruningArgs`.

    Why this is safe: `dataclasses.dataclass` is wrapped only for the duration of the import; a class
    defined in an `nn_pruning.*` module that comes out unhashable gets `object.__hash__` for that
    window, which satisfies the check and yields exactly the 3.10 behaviour (the same shared default
    instance; nn_pruning only reads it, in `init_masks`). Afterwards every such class gets back
    `__hash__ = None` and every module global bound to the wrapper is rebound to the original, so
    nothing of the shim survives the import. Classes of other modules go through unchanged.
    """
    original = dataclasses.dataclass
    patched: list[type] = []

    def identity_hash_dataclass(cls=None, /, **kwargs):
        def wrap(klass: type) -> type:
            klass = original(klass, **kwargs)
            if klass.__module__.startswith("nn_pruning.") and klass.__hash__ is None:
                klass.__hash__ = object.__hash__
                patched.append(klass)
            return klass

        return wrap if cls is None else wrap(cls)

    dataclasses.dataclass = identity_hash_dataclass
    try:
        yield
    finally:
        dataclasses.dataclass = original
        for klass in patched:
            klass.__hash__ = None
        for module in list(sys.modules.values()):  # `from dataclasses import dataclass` inside the window
            namespace = getattr(module, "__dict__", None)
            if namespace is not None and namespace.get("dataclass") is identity_hash_dataclass:
                namespace["dataclass"] = original


def _keep_heads_pruner(base: type) -> type:
    class _KeepHeadsPruner(base):
        """Shim 2: `compile_model`'s head pruner, reporting heads instead of removing them.

        Broken: `BertHeadsPruner.run` ends with `model.prune_heads(...)`; transformers 5 removed
        `PreTrainedModel.prune_heads`, so `ModelPatchingCoordinator.compile_model` raises
        AttributeError after it has already baked the masks into nn.Linear layers.

        Why this is safe: keeping every head is exact (the model computes what it computed with the
        masks), whereas removal would not always be: nn_pruning removes a head as soon as its Q, K
        or V rows are all zero, and a head with zero query rows still attends uniformly. The suite's
        FLOP rule counts the kept heads' attention products (a conservative count). With
        unstructured top-k masks such heads hardly occur: all d_head x hidden scores of one head's
        projection would have to lose. nn_pruning's analysis (`get_pruned_heads`) still runs; heads
        it would have removed are logged.
        """

        def run(self) -> tuple[int, int]:
            to_prune, heads_count = self.get_pruned_heads()
            empty = sum(len(heads) for heads in to_prune.values())
            if empty:
                log.warning(
                    "%d of %d attention heads are all zero; kept (no prune_heads in transformers 5)", empty, heads_count
                )
            return 0, heads_count

    return _KeepHeadsPruner


def _topk_by_selection(base: type) -> type:
    class TopKBinarizerBySelection(base):
        """Shim 3: nn_pruning's TopKBinarizer with `torch.topk` in place of a full sort.

        Not broken, slow: `TopKBinarizer.forward` sorts all n scores of the matrix on every forward
        pass to keep the top `j = int(threshold x n)`; on CPU that sort costs about as much as the
        layer's forward matmul at batch 32 x 128 tokens. Selecting the j largest (or the n - j
        smallest, whichever is fewer) gives the same mask: the same j entries when the scores are
        distinct, and exactly j ones in every case (ties at the cut are broken arbitrarily by both).
        `backward` (the straight-through estimator) is nn_pruning's, inherited.
        """

        @staticmethod
        def forward(ctx, inputs: torch.Tensor, threshold: float) -> torch.Tensor:
            flat = inputs.flatten()
            n = flat.numel()
            j = int(threshold * inputs.numel())  # nn_pruning's count, the same expression
            if 2 * j <= n:
                mask = torch.zeros_like(flat)
                mask[flat.topk(j, sorted=False).indices] = 1.0
            else:
                mask = torch.ones_like(flat)
                mask[flat.topk(n - j, largest=False, sorted=False).indices] = 0.0
            return mask.view_as(inputs)

    return TopKBinarizerBySelection


def _mask_module_no_copy(base: type) -> type:
    class MaskModuleNoCopy(base):
        """Shim 4: `MaskModule.expand_mask` returns the mask itself for 1 x 1 blocks.

        Not broken, slow: expanding a block mask to element level is two `repeat_interleave` calls,
        which for unstructured pruning (1 x 1 blocks) copy the whole mask twice per forward pass and
        change nothing (repeat 1; the backward of a repeat-1 interleave is the identity). Other block
        sizes go to nn_pruning's method. `MaskModule.mask` looks `MaskModule` up in masked_nn's
        globals at call time, so rebinding that global to this subclass is enough.
        """

        @staticmethod
        def expand_mask(mask: torch.Tensor, block_rows: int, block_cols: int) -> torch.Tensor:
            if block_rows == 1 and block_cols == 1:
                return mask
            return base.expand_mask(mask, block_rows, block_cols)

    return MaskModuleNoCopy


@dataclass(frozen=True)
class NNPruning:
    """What the suite uses from nn_pruning, after the shims."""

    version: str
    SparseTrainingArguments: type
    ModelPatchingCoordinator: type
    MaskedLinear: type
    TopKBinarizer: type  # the binarizer MaskedLinear uses (shim 3)
    modules: dict[str, ModuleType]


_cached: NNPruning | None = None


def installed_version() -> str:
    try:
        return importlib.metadata.version("nn_pruning")
    except importlib.metadata.PackageNotFoundError:
        raise SuiteError(
            f"the movement method needs nn_pruning {SUPPORTED_VERSION}: run `make install` "
            f"(it installs `nn_pruning=={SUPPORTED_VERSION}` with --no-deps)"
        ) from None


def import_nn_pruning() -> NNPruning:
    """Apply the shims once and return nn_pruning's classes the suite uses."""
    global _cached
    if _cached is not None:
        return _cached
    version = installed_version()
    if version != SUPPORTED_VERSION:
        raise SuiteError(
            f"nn_pruning {version} is installed; suite/compat/nn_pruning.py is written and tested for "
            f"{SUPPORTED_VERSION} (the Makefile pins it)"
        )
    # Resolve transformers' lazy attributes before the dataclass window, so that its modules are
    # imported (and define their own dataclasses) outside of it.
    transformers = importlib.import_module("transformers")
    for name in ("AutoConfig", "AutoModelForQuestionAnswering"):  # what patch_coordinator imports
        getattr(transformers, name)
    with _identity_hash_during_import():
        modules = {name: importlib.import_module(name) for name in MODULES}
    coordinator_module = modules["nn_pruning.patch_coordinator"]
    masked_nn = modules["nn_pruning.modules.masked_nn"]
    # Shims 2-4 rebind module globals to subclasses; nn_pruning's own classes stay as they are.
    coordinator_module.BertHeadsPruner = _keep_heads_pruner(coordinator_module.BertHeadsPruner)
    masked_nn.TopKBinarizer = _topk_by_selection(masked_nn.TopKBinarizer)
    masked_nn.MaskModule = _mask_module_no_copy(masked_nn.MaskModule)
    _cached = NNPruning(
        version=version,
        SparseTrainingArguments=coordinator_module.SparseTrainingArguments,
        ModelPatchingCoordinator=coordinator_module.ModelPatchingCoordinator,
        MaskedLinear=masked_nn.MaskedLinear,
        TopKBinarizer=masked_nn.TopKBinarizer,
        modules=modules,
    )
    return _cached
