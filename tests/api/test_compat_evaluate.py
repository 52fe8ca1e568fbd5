"""The evaluate adapter: one test per shim, each first showing the breakage, then the fix."""

from __future__ import annotations

import sys
import tempfile

import evaluate
import evaluate.config
import numpy as np
import pytest

from suite.compat import evaluate as compat
from suite.metrics.glue_metric import METRIC_DIR


@pytest.fixture
def unwritable_cache(tmp_path, monkeypatch):
    """evaluate's caches below a regular file: nothing can be created there, even by root (a
    chmod-ed folder would not stop root). The fallback's temporary folder goes to tmp_path."""
    (tmp_path / "file").write_text("")
    home = tmp_path / "file" / "hf"
    monkeypatch.setattr(evaluate.config, "HF_MODULES_CACHE", home / "modules")
    monkeypatch.setattr(evaluate.config, "HF_METRICS_CACHE", home / "metrics")
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    compat._private_cache.cache_clear()
    yield tmp_path
    compat._private_cache.cache_clear()


def test_unwritable_cache_breaks_evaluate_load_and_the_fallback_loads(unwritable_cache):
    with pytest.raises(OSError):
        evaluate.load(str(METRIC_DIR), "cola", keep_in_memory=True)

    module = compat.load_local_module(METRIC_DIR, "cola")
    values = module.compute(predictions=np.array([1, 1, 0, 0]), references=np.array([1, 1, 0, 0]))
    assert values == {"accuracy": 1.0, "matthews_correlation": 1.0}
    (private,) = (unwritable_cache / "tmp").iterdir()
    assert list((private / "modules" / compat._FALLBACK_NAMESPACE).rglob("glue_metric.py"))


def test_a_missing_script_is_reported_not_retried(tmp_path):
    with pytest.raises(FileNotFoundError, match="no evaluate module script"):
        compat.load_local_module(tmp_path, "cola")
