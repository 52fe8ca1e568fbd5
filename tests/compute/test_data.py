from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from suite.compute.data import load_task, read_tsv_split, subsample
from suite.errors import DataError, SuiteError
from suite.spec.tasks import TASKS, get_task

FIXTURE_ROWS = {"cola": 60, "sst2": 60, "mrpc": 60, "stsb": 60, "rte": 60, "wnli": 60, "qqp": 4, "mnli": 4}


@pytest.mark.parametrize("name", sorted(FIXTURE_ROWS))
def test_every_task_with_train_data_parses(name, glue_dir):
    task = get_task(name)
    data = load_task(task, glue_dir)
    assert len(data.train) == FIXTURE_ROWS[name]
    assert set(data.evals) == set(task.eval_splits)
    assert ("text_b" in data.train.column_names) == (task.text_b_field is not None)
    labels = set(data.train["label"])
    if task.is_regression:
        assert all(0.0 <= x <= 5.0 for x in labels)
    else:
        assert labels <= set(range(task.num_labels))


def test_quirks_are_handled(glue_dir):
    cola = read_tsv_split(get_task("cola"), glue_dir, "train")  # no header: first row is data
    assert cola[0]["text_a"].startswith("Our friends won't buy this analysis")
    mrpc = read_tsv_split(get_task("mrpc"), glue_dir, "validation")  # BOM header, quotes kept
    assert mrpc[0]["label"] == 1
    assert mrpc[0]["text_b"].startswith('" The foodservice pie business')
    rte = read_tsv_split(get_task("rte"), glue_dir, "validation")  # string labels -> ids
    assert rte[0]["label"] == get_task("rte").label_values.index("not_entailment") == 1
    qnli = read_tsv_split(get_task("qnli"), glue_dir, "validation")
    assert qnli[0]["label"] == 0 and qnli[0]["text_a"].startswith("What came into force")
    mnli = load_task(get_task("mnli"), glue_dir)
    assert mnli.train["label"] == [0, 1, 2, 0]  # entailment, neutral, contradiction
    assert set(mnli.evals) == {"validation_matched", "validation_mismatched"}


def test_task_names_are_forgiving_and_unknown_names_suggest(glue_dir):
    assert get_task("SST-2").name == "sst2"
    with pytest.raises(SuiteError, match=r"unknown task 'sst3'. Did you mean 'sst2'"):
        get_task("sst3")


def _copy(glue_dir: Path, tmp_path: Path, folder: str) -> Path:
    shutil.copytree(glue_dir / folder, tmp_path / folder)
    return tmp_path


def test_wrong_column_count_names_file_and_line(glue_dir, tmp_path):
    root = _copy(glue_dir, tmp_path, "RTE")
    lines = (root / "RTE" / "train.tsv").read_text().splitlines(keepends=True)
    lines[5] = "5\tonly two columns\n"
    (root / "RTE" / "train.tsv").write_text("".join(lines))
    with pytest.raises(DataError, match=r"RTE/train.tsv, line 6: expected 4 tab-separated columns, found 2"):
        read_tsv_split(get_task("rte"), root, "train")


def test_unknown_label_names_file_and_line(glue_dir, tmp_path):
    root = _copy(glue_dir, tmp_path, "SST-2")
    path = root / "SST-2" / "dev.tsv"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = "a fine film \tpositive\n"
    path.write_text("".join(lines))
    with pytest.raises(DataError, match=r"dev.tsv, line 4: unknown label 'positive' for task sst2"):
        read_tsv_split(get_task("sst2"), root, "validation")


def test_missing_directory_and_missing_file(glue_dir, tmp_path):
    with pytest.raises(DataError, match=r"GLUE directory .* does not exist; pass --glue-dir"):
        read_tsv_split(get_task("sst2"), tmp_path / "nowhere", "train")
    with pytest.raises(DataError, match=r"task 'qnli' needs .*QNLI/train.tsv, which does not exist"):
        load_task(get_task("qnli"), glue_dir)


def test_subsample_is_seeded_and_stable(glue_dir):
    ds = read_tsv_split(get_task("sst2"), glue_dir, "train")
    a = subsample(ds, 10, seed=0)["text_a"]
    assert a == subsample(ds, 10, seed=0)["text_a"]
    assert a != subsample(ds, 10, seed=1)["text_a"]
    assert len(subsample(ds, 1000, seed=0)) == len(ds)


def test_all_nine_tasks_are_defined():
    assert set(TASKS) == {"cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"}


REAL_GLUE = Path(os.environ.get("GLUE_DIR", "")) if os.environ.get("GLUE_DIR") else None
# Published GLUE row counts (train, dev) of the files shipped beside the project.
REAL_COUNTS = {
    "cola": (8551, 1043),
    "sst2": (67349, 872),
    "mrpc": (3668, 408),
    "stsb": (5749, 1500),
    "rte": (2490, 277),
    "wnli": (635, 71),
}


@pytest.mark.skipif(REAL_GLUE is None or not REAL_GLUE.is_dir(), reason="GLUE_DIR not set")
@pytest.mark.parametrize("name", sorted(REAL_COUNTS))
def test_real_glue_files_parse_with_official_row_counts(name):
    data = load_task(get_task(name), REAL_GLUE)
    assert (len(data.train), len(data.evals["validation"])) == REAL_COUNTS[name]
