"""Finalized models kept beside their records (`run --save-models`) and copied out (`export`).

A cell's model is the `<record stem>.model/` folder beside its record: suite.structure.save_pruned's
files (save_pretrained plus `pruned_structure.json`) and the tokenizer's. It is packed into bytes
where the cell ran and written by the process that writes the results folder, like the record and
its predictions, so a Ray worker never writes there. Writes go to a temporary folder that is then
renamed: a folder under the final name is always complete.

`suite.structure.load_pruned` loads every saved model with its pruned shapes. Plain
`transformers` (`AutoModelForSequenceClassification.from_pretrained`) loads those whose every
tensor has the shape the config builds (weight sparsity, dropped layers); the record says which.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from suite.errors import SuiteError
from suite.structure import save_pruned


@dataclass(frozen=True)
class PackedModel:
    """A saved model as the bytes of its files, and whether plain transformers can load it."""

    files: dict[str, bytes]
    plain_transformers: bool


def loads_in_plain_transformers(model: nn.Module) -> bool:
    """True when every tensor of `model` has the shape its config builds, so `from_pretrained` loads
    the saved folder as it is (pruned heads or FFN neurons make it refuse with a size mismatch)."""
    with torch.device("meta"):  # shapes only, no memory
        fresh = type(model)(model.config)
    built = {name: tuple(t.shape) for name, t in fresh.state_dict().items()}
    own = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    return own == built


def pack_model(model: nn.Module, tokenizer: Any | None) -> PackedModel:
    """save_pruned's files and the tokenizer's (where there is one), as bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        save_pruned(model, folder)
        if tokenizer is not None:
            tokenizer.save_pretrained(folder)
        files = {entry.name: entry.read_bytes() for entry in sorted(folder.iterdir()) if entry.is_file()}
    return PackedModel(files, loads_in_plain_transformers(model))


def push_to_hub(folder: Path, repo_id: str) -> str:
    """Upload `folder` to the Hugging Face Hub model repository `repo_id` (created if missing); the
    URL of the commit. An unreachable hub (offline, no token, no network) is a one-line error."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo_id, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message="Upload pruned model")
    except Exception as exc:  # the hub client raises HTTP, connection and offline-mode errors of many types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SuiteError(
            f"--push-to-hub {repo_id}: the Hugging Face Hub could not be reached or refused the upload ({first}); "
            f"the model is exported to {folder}"
        ) from None
    return str(getattr(info, "commit_url", info))
