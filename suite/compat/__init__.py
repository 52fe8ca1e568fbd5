"""Adapters that let third-party pruning libraries run on this suite's Python and transformers."""
