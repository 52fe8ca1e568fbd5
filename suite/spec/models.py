"""What each model alias is, in words a reader of a board needs: which network, how big, and how far
from BERT-base (110M parameters, 12 layers, hidden 768), the model the papers report on."""

from __future__ import annotations

MODEL_NOTES: dict[str, str] = {
    "minilm-l6": "sentence-transformers/all-MiniLM-L6-v2, a sentence-embedding model (contrastively "
    "trained on sentence pairs, from MiniLM-L6-H384): 6 layers, hidden 384, 12 heads, FFN 1536, 22.7M "
    "parameters of which 11.9M are embeddings; not BERT-base",
    "tiny": "a randomly initialised 2-layer BERT (hidden 64), for tests: its scores mean nothing",
    "bert-base-random": "BERT-base's shape (12 layers, hidden 768) with random weights, for timing: its "
    "scores mean nothing",
    "bert-base-uncased": "BERT-base, uncased (12 layers, hidden 768, 110M parameters), the papers' model",
}
