"""Whether a trial's held-out gain over the defaults is more than noise: a paired bootstrap of the two
trials' held-out predictions, the leaderboard's own statistic applied to the held-out split.

With a few hundred held-out examples, the best of several trials beats the defaults by a point or two
by chance alone; a tuned setting that won only that way moves dev scores at random. So the tune keeps
a non-default setting only where this interval lies above zero.
"""

from __future__ import annotations

from pathlib import Path

from suite.leaderboard.bootstrap import Interval, bootstrap_draws, percentile_interval, task_indices
from suite.records.formats import PredictionsError, read_predictions
from suite.records.reader import read_record
from suite.spec.tasks import get_task


def gain_interval(task: str, defaults: Path, trial: Path) -> Interval | None:
    """The 95% paired-bootstrap interval of `trial`'s held-out score minus that of `defaults` (both record
    paths of `task`), or None where either has no readable predictions or they were scored on other
    examples: no evidence, so no gain is claimed."""
    loaded = []
    for path in (defaults, trial):
        record = read_record(path)
        if record is None or record.get("status") != "ok":
            return None
        try:
            loaded.append(read_predictions(path, record).arrays())
        except (FileNotFoundError, PredictionsError):
            return None
    (base, labels), (other, other_labels) = loaded
    if labels.shape != other_labels.shape or not (labels == other_labels).all() or len(labels) == 0:
        return None
    metric = get_task(task).primary_metric
    draws = bootstrap_draws(metric, labels, {0: base, 1: other}, task_indices(task, len(labels)))
    return percentile_interval(draws[1] - draws[0])
