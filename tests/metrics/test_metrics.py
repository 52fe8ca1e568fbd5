import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import datasets
import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from suite.compat.evaluate import load_local_module
from suite.metrics import glue as metrics
from suite.metrics.glue import glue_average, primary_score, split_metrics, task_metrics
from suite.metrics.glue_metric import METRIC_DIR
from suite.spec.tasks import get_task


def test_classification_metrics_by_hand():
    labels = np.array([1, 1, 0, 0, 1])
    preds = np.array([1, 0, 0, 1, 1])
    m = task_metrics(get_task("mrpc"), preds, labels)
    # tp=2, fp=1, fn=1 -> F1 = 2*2/(2*2+1+1) = 2/3; accuracy 3/5
    assert m["f1"] == pytest.approx(200 / 3)
    assert m["accuracy"] == pytest.approx(60.0)
    assert primary_score(get_task("mrpc"), m) == pytest.approx(200 / 3)


def test_matthews_for_cola():
    labels = np.array([1, 1, 0, 0])
    m = task_metrics(get_task("cola"), np.array([1, 1, 0, 0]), labels)
    assert m["matthews_correlation"] == pytest.approx(100.0)
    m = task_metrics(get_task("cola"), np.array([0, 0, 1, 1]), labels)
    assert m["matthews_correlation"] == pytest.approx(-100.0)
    # constant predictions: MCC is 0, not NaN
    assert task_metrics(get_task("cola"), np.ones(4, int), labels)["matthews_correlation"] == 0.0


def test_stsb_correlations():
    labels = np.array([0.0, 1.0, 2.0, 3.0, 5.0])
    m = task_metrics(get_task("stsb"), labels * 2 + 1, labels)
    assert m["pearson"] == pytest.approx(100.0) and m["spearmanr"] == pytest.approx(100.0)
    monotone = np.array([0.0, 0.1, 0.2, 4.0, 4.1])
    m = task_metrics(get_task("stsb"), monotone, labels)
    assert m["spearmanr"] == pytest.approx(100.0) and m["pearson"] < 100.0
    assert task_metrics(get_task("stsb"), np.ones(5), labels)["pearson"] == 0.0


def test_mnli_splits_flatten_with_prefix_and_average():
    mnli = get_task("mnli")
    flat = split_metrics(mnli, {"validation_matched": {"accuracy": 80.0}, "validation_mismatched": {"accuracy": 81.0}})
    assert flat == {"accuracy": 80.0, "validation_mismatched/accuracy": 81.0}
    assert glue_average({"a": 80.0, "b": 60.0}) == 70.0
    with pytest.raises(ValueError):
        glue_average({})


# --- computed through the local `evaluate` module: same values as scikit-learn/scipy called directly ---

CLASSIFICATION = ("cola", "sst2", "mrpc", "qqp", "mnli", "qnli", "rte", "wnli")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_hf_home(tmp_path, monkeypatch):
    """An empty HF cache per test. evaluate reads its cache paths once, on import, so they are
    pointed there as well; the per-process module cache is emptied so each test loads afresh."""
    import evaluate.config

    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setattr(evaluate.config, "HF_MODULES_CACHE", home / "modules")
    monkeypatch.setattr(evaluate.config, "HF_METRICS_CACHE", home / "metrics")
    monkeypatch.setattr(sys, "path", list(sys.path))  # evaluate appends its modules cache
    metrics._glue_metric.cache_clear()
    yield home
    metrics._glue_metric.cache_clear()


def direct(task_name: str, predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The metrics from scikit-learn and scipy called directly (0-100, NaN correlation scored 0)."""
    if task_name == "stsb":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = {"pearson": pearsonr(predictions, labels)[0], "spearmanr": spearmanr(predictions, labels)[0]}
        return {k: 100.0 * (float(v) if np.isfinite(v) else 0.0) for k, v in values.items()}
    out = {"accuracy": 100.0 * accuracy_score(labels, predictions)}
    if task_name == "cola":
        out["matthews_correlation"] = 100.0 * matthews_corrcoef(labels, predictions)
    if task_name in ("mrpc", "qqp"):
        out["f1"] = 100.0 * f1_score(labels, predictions, zero_division=0.0)
    return out


@pytest.mark.parametrize("task_name", CLASSIFICATION)
def test_classification_matches_sklearn_exactly(task_name):
    rng = np.random.default_rng(sum(map(ord, task_name)))
    n_classes = len(get_task(task_name).label_values)
    labels = rng.integers(0, n_classes, 300)
    cases = [
        rng.integers(0, n_classes, 300),
        np.where(rng.random(300) < 0.8, labels, 1 - labels.clip(0, 1)).astype(np.int32),  # mostly right
        np.zeros(300, dtype=np.int64),  # constant: MCC 0, F1 0
        np.ones(300, dtype=np.int64),
    ]
    for predictions in cases:
        got = task_metrics(get_task(task_name), predictions, labels)
        assert got == direct(task_name, predictions, labels)
        assert list(got) == list(direct(task_name, predictions, labels))


@pytest.mark.parametrize(
    ("pred_dtype", "label_dtype"), [(np.float32, np.float64), (np.float64, np.float64), (np.float64, np.float32)]
)
def test_stsb_matches_scipy_exactly(pred_dtype, label_dtype):
    # Model scores are float32, labels read from glue_data float64: scipy computes in float64.
    rng = np.random.default_rng(7)
    labels = rng.uniform(0, 5, 1500).astype(label_dtype)
    noisy = (labels + rng.normal(0, 1.5, 1500)).astype(pred_dtype)
    for predictions in (noisy, np.full(1500, 2.5, dtype=pred_dtype), noisy.round()):
        got = task_metrics(get_task("stsb"), predictions, labels)
        assert got == direct("stsb", predictions, labels)
    assert task_metrics(get_task("stsb"), np.full(1500, 2.5, dtype=pred_dtype), labels) == {
        "pearson": 0.0,
        "spearmanr": 0.0,
    }


def test_stsb_float32_pairs_are_computed_in_float64():
    # Both float32 (STS-B labels from the hub cache): scipy on the raw arrays would work in float32;
    # the module stores float64 and gives the float64 correlation (differs below 1e-4 points).
    rng = np.random.default_rng(3)
    labels = rng.uniform(0, 5, 500).astype(np.float32)
    predictions = (labels + rng.normal(0, 1, 500)).astype(np.float32)
    got = task_metrics(get_task("stsb"), predictions, labels)
    assert got == direct("stsb", predictions.astype(np.float64), labels.astype(np.float64))
    assert got == pytest.approx(direct("stsb", predictions, labels), abs=1e-4)


def test_numpy_format_narrows_floats_so_the_module_reads_arrow():
    # datasets' numpy formatter hands a float64 column over as float32; with it, STS-B values would
    # change in the 7th digit. The module therefore asks for arrow columns.
    features = datasets.Features({"x": datasets.Value("float64")})
    ds = datasets.Dataset.from_dict({"x": np.array([1 / 3])}, features=features)
    assert ds.with_format("numpy")["x"][:].dtype == np.float32
    module = metrics._glue_metric("stsb")
    assert module.info.format == "arrow"
    labels = np.linspace(0, 5, 101)
    predictions = np.sqrt(labels) + 1 / 3
    assert task_metrics(get_task("stsb"), predictions, labels) == direct("stsb", predictions, labels)


def test_bad_inputs_raise_before_evaluate():
    with pytest.raises(ValueError, match="non-empty"):
        task_metrics(get_task("sst2"), np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(ValueError, match="equal"):
        task_metrics(get_task("sst2"), np.array([1, 0]), np.array([1]))


def test_module_is_loaded_once_per_task(monkeypatch, fresh_hf_home):
    calls = []

    def counting(folder, config_name):
        calls.append(config_name)
        return load_local_module(folder, config_name)

    monkeypatch.setattr(metrics, "load_local_module", counting)
    for _ in range(3):
        task_metrics(get_task("sst2"), np.array([1, 0]), np.array([1, 1]))
    task_metrics(get_task("stsb"), np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    assert calls == ["sst2", "stsb"]
    # evaluate copied the script into the (fresh) HF cache, not next to the package.
    assert list((fresh_hf_home / "modules" / "evaluate_modules" / "metrics" / "glue_metric").glob("*/glue_metric.py"))
    assert sorted(p.name for p in METRIC_DIR.iterdir() if p.name != "__pycache__") == ["__init__.py", "glue_metric.py"]


def test_import_does_not_load_torch_or_evaluate():
    code = 'import suite.metrics.glue, sys; assert "torch" not in sys.modules and "evaluate" not in sys.modules'
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


# Any connection attempt (DNS included) is recorded and refused, so a hub request would show up
# here instead of waiting on retries.
_FRESH_PROCESS = """
import json, os, socket
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args)[:80])
    raise OSError("network blocked by the test")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
import numpy as np
from suite.spec.tasks import get_task
from suite.metrics.glue_metric import METRIC_DIR
from suite.metrics.glue import task_metrics
before = sorted(os.listdir(METRIC_DIR))
out = {
    "mrpc": task_metrics(get_task("mrpc"), np.array([1, 0, 0, 1, 1]), np.array([1, 1, 0, 0, 1])),
    "stsb": task_metrics(get_task("stsb"), np.ones(5, np.float32), np.arange(5.0)),
}
after = sorted(os.listdir(METRIC_DIR))
print(json.dumps({"attempts": attempts, "metrics": out, "before": before, "after": after}))
"""


@pytest.mark.parametrize("setting", ["offline-env-fresh-cache", "no-offline-env-unwritable-cache"])
def test_fresh_process_never_touches_the_network_or_the_repository(tmp_path, setting):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    if setting == "offline-env-fresh-cache":
        env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    else:
        # A path below a regular file cannot be created, even by root: an unwritable cache.
        (tmp_path / "file").write_text("")
        env.update(HF_HOME=str(tmp_path / "file" / "hf"), HF_ENDPOINT="http://127.0.0.1:9")
    env["PYTHONPATH"] = str(REPO)
    run = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert result["metrics"]["mrpc"] == pytest.approx({"accuracy": 60.0, "f1": 200 / 3})
    assert result["metrics"]["stsb"] == {"pearson": 0.0, "spearmanr": 0.0}
    assert [p for p in result["after"] if p != "__pycache__"] == [p for p in result["before"] if p != "__pycache__"]
    assert list(cwd.iterdir()) == []
    if setting == "offline-env-fresh-cache":
        assert list((tmp_path / "hf" / "modules").rglob("glue_metric.py"))
