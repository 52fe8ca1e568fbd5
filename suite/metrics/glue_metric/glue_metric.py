"""GLUE evaluation metric for `evaluate.load(path_to_this_folder, config_name=task)`.

One configuration per GLUE task. Class-id tasks report accuracy, plus the Matthews correlation for
CoLA and the F1 of the positive class for MRPC and QQP; STS-B reports the Pearson and Spearman
correlations. Values are on evaluate's 0-1 scale. scikit-learn and scipy do the arithmetic.

evaluate copies this file into its module cache and imports it from there, so it must stand alone:
no relative imports and nothing from the suite.
"""

from __future__ import annotations

import warnings

import datasets
import evaluate
import numpy as np
import pyarrow as pa
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

CLASSIFICATION_TASKS = ("cola", "sst2", "mrpc", "qqp", "mnli", "mnli_matched", "mnli_mismatched", "qnli", "rte", "wnli")
REGRESSION_TASKS = ("stsb",)
F1_TASKS = ("mrpc", "qqp")

_DESCRIPTION = "Metrics of the GLUE benchmark tasks, one configuration per task."
_CITATION = """\
@inproceedings{wang2019glue,
  title={{GLUE}: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer and Bowman, Samuel R.},
  booktitle={International Conference on Learning Representations},
  year={2019}
}
"""
_INPUTS = """
Args:
    predictions: class ids, or similarity scores for stsb.
    references: gold class ids, or gold scores for stsb.
Returns:
    accuracy (all class-id tasks), matthews_correlation (cola), f1 (mrpc, qqp),
    pearson and spearmanr (stsb; 0.0 when the predictions are constant).
"""


class GlueMetric(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        if self.config_name not in CLASSIFICATION_TASKS + REGRESSION_TASKS:
            raise KeyError(
                f"unknown GLUE task '{self.config_name}'; choose one of "
                f"{', '.join(CLASSIFICATION_TASKS + REGRESSION_TASKS)}"
            )
        # float64 holds every float32 and float64 score exactly; int64 every class id.
        value = datasets.Value("float64" if self.config_name in REGRESSION_TASKS else "int64")
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features({"predictions": value, "references": value}),
            # Not "numpy": datasets' numpy formatter hands every float column over as float32,
            # which would change the STS-B correlations. Arrow columns keep their float64.
            format="arrow",
        )

    def _compute(self, predictions: pa.ChunkedArray, references: pa.ChunkedArray) -> dict[str, float]:
        predictions, references = np.asarray(predictions), np.asarray(references)
        if self.config_name in REGRESSION_TASKS:
            return _correlations(predictions, references)
        out = {"accuracy": float(accuracy_score(references, predictions))}
        if self.config_name == "cola":
            out["matthews_correlation"] = float(matthews_corrcoef(references, predictions))
        if self.config_name in F1_TASKS:
            out["f1"] = float(f1_score(references, predictions, zero_division=0.0))
        return out


def _correlations(predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
    # Constant predictions have no correlation: scipy warns and returns NaN, GLUE scores it 0.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pearson = pearsonr(predictions, references)[0]
        spearman = spearmanr(predictions, references)[0]
    return {"pearson": _zero_if_undefined(pearson), "spearmanr": _zero_if_undefined(spearman)}


def _zero_if_undefined(value: float | None) -> float:
    return 0.0 if value is None or not np.isfinite(value) else float(value)
