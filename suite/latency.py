"""CPU latency of a model's forward pass: warm-up, then the median of repeated runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import torch


@torch.inference_mode()
def measure_latency(
    model: torch.nn.Module,
    seq_len: int,
    batch_sizes: Sequence[int] = (1, 32),
    warmup: int = 2,
    repeats: int = 5,
    vocab_size: int | None = None,
) -> dict:
    """Median milliseconds per forward pass at full length (no padding), one entry per batch."""
    model.eval()
    vocab = vocab_size or model.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    out: dict = {
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "seq_len": seq_len,
        "kernel": "dense",
        "repeats": repeats,
    }
    for batch in batch_sizes:
        ids = torch.randint(1000, vocab, (batch, seq_len), generator=generator)
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        for _ in range(warmup):
            model(**inputs)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(**inputs)
            times.append((time.perf_counter() - start) * 1000.0)
        out[f"batch_{batch}"] = statistics.median(times)
    return out
