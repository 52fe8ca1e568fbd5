"""A benchmark suite for pruning BERT models under equal FLOP budgets."""

__version__ = "0.1.0"
