"""The suite's GLUE metrics over many resamples at once: one score per row of a (resamples, n) array.

scikit-learn scores one sample per call, far too slow for a thousand bootstrap resamples of every
model. These are the same formulas on whole arrays (tests hold them equal to `suite.metrics.glue`), on
the suite's 0-100 scale, with its conventions for degenerate samples: F1 with no positive
prediction or label is 0, a correlation with a constant side is 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

Scorer = Callable[[np.ndarray], np.ndarray]


def _as_rows(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values[None, :] if values.ndim == 1 else values


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return 100.0 * (predictions == labels).mean(axis=1)


def f1_positive(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """F1 of class 1 (MRPC, QQP): 2 tp / (2 tp + fp + fn), 0 where nothing is positive."""
    predicted, actual = predictions == 1, labels == 1
    tp = (predicted & actual).sum(axis=1)
    denominator = predicted.sum(axis=1) + actual.sum(axis=1)  # = 2 tp + fp + fn
    return 100.0 * np.divide(2.0 * tp, denominator, out=np.zeros(len(tp)), where=denominator > 0)


def matthews(predictions: np.ndarray, labels: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """Matthews correlation in its multiclass form (scikit-learn's), 0 where a side is constant.
    `classes` may list classes absent from a row (they add nothing); None: those present."""
    n = float(labels.shape[1])
    correct = (predictions == labels).sum(axis=1).astype(float)
    sum_tp = np.zeros(len(labels))  # sum over classes of true count x predicted count
    sum_pp = np.zeros(len(labels))
    sum_tt = np.zeros(len(labels))
    for k in np.union1d(np.unique(predictions), np.unique(labels)) if classes is None else classes:
        t = (labels == k).sum(axis=1).astype(float)
        p = (predictions == k).sum(axis=1).astype(float)
        sum_tp += t * p
        sum_pp += p * p
        sum_tt += t * t
    covariance = correct * n - sum_tp
    variance = (n * n - sum_pp) * (n * n - sum_tt)
    root = np.sqrt(variance, where=variance > 0, out=np.ones(len(labels)))
    return 100.0 * np.where(variance > 0, covariance / root, 0.0)


def _constant(values: np.ndarray) -> np.ndarray:
    # Exact test: a mean of identical floats can differ from them by an ulp and fake a correlation.
    return (values == values[:, :1]).all(axis=1)


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    degenerate = _constant(x) | _constant(y) | ~(denominator > 0)
    r = np.divide((xc * yc).sum(axis=1), denominator, out=np.zeros(len(x)), where=~degenerate)
    return 100.0 * np.clip(r, -1.0, 1.0)


def pearson(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _pearson(predictions.astype(float), labels.astype(float))


def spearman(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Pearson correlation of average ranks (ties share their mean rank), as scipy's spearmanr."""
    return _pearson(rankdata(predictions, axis=1), rankdata(labels, axis=1))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "accuracy": accuracy,
    "f1": f1_positive,
    "matthews_correlation": matthews,
    "pearson": pearson,
    "spearmanr": spearman,
}

# The values each metric can take on the suite's 0-100 scale: a score outside them was not computed by it.
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "accuracy": (0.0, 100.0),
    "f1": (0.0, 100.0),
    "matthews_correlation": (-100.0, 100.0),
    "pearson": (-100.0, 100.0),
    "spearmanr": (-100.0, 100.0),
}


def _average_ranks(codes: np.ndarray, levels: int) -> np.ndarray:
    """Average ranks within each row of `codes` (value levels 0..levels-1, in value order), as rankdata
    gives them, from per-row level counts instead of a sort: ties share the mean of their ranks."""
    rows = len(codes)
    flat = (codes + levels * np.arange(rows)[:, None]).ravel()
    counts = np.bincount(flat, minlength=rows * levels).reshape(rows, levels)
    below = np.cumsum(counts, axis=1) - counts
    return np.take_along_axis(below + (counts + 1) / 2.0, codes, axis=1)


def _resampled_ranks(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    levels, codes = np.unique(values, return_inverse=True)  # one sort of the dev set, not one per resample
    return _average_ranks(codes.reshape(-1)[index], len(levels))


def resample_scorer(metric: str, labels: np.ndarray, index: np.ndarray) -> Scorer:
    """Scores a dev-set prediction array (n,) on every resample: `index` is (resamples, n) indices.

    Label-side work is done once per index block and shared by every model scored on it."""
    if metric not in METRICS:
        raise ValueError(f"no vectorized metric {metric!r}; known: {', '.join(METRICS)}")
    labels = np.asarray(labels)
    resampled = labels[index]
    if metric == "spearmanr":
        label_ranks = _resampled_ranks(labels, index)
        return lambda predictions: _pearson(_resampled_ranks(np.asarray(predictions), index), label_ranks)
    if metric == "matthews_correlation":  # the classes of the whole dev set cover every resample
        return lambda predictions: matthews(
            np.asarray(predictions)[index], resampled, np.union1d(np.unique(predictions), np.unique(labels))
        )
    function = METRICS[metric]
    return lambda predictions: function(np.asarray(predictions)[index], resampled)


def metric_rows(metric: str, predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """One score per row: `predictions` and `labels` are (n,) or (rows, n) arrays of equal shape."""
    if metric not in METRICS:
        raise ValueError(f"no vectorized metric {metric!r}; known: {', '.join(METRICS)}")
    return METRICS[metric](_as_rows(predictions), _as_rows(labels))
