"""GLUE tasks as data, and loaders from a local `glue_data/` directory or the Hugging Face hub.

Every task is turned into the same columns: `text_a`, `text_b` (None for single-sentence tasks)
and `label` (class id, or a float for STS-B).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset

from suite.compat import hub
from suite.errors import DataError
from suite.spec.splits import HELDOUT, HeldoutRule, heldout_size
from suite.spec.tasks import TaskSpec

HUB_DATASET = "nyu-mll/glue"
GLUE_DOWNLOAD_HINT = (
    "download GLUE in the classic glue_data layout (or run once online to fill the datasets cache) "
    "and pass --glue-dir DIR or set GLUE_DIR"
)


def glue_dir_from_env(explicit: str | os.PathLike | None = None) -> Path | None:
    """--glue-dir wins, then GLUE_DIR; None means: use the hub."""
    value = explicit if explicit is not None else os.environ.get("GLUE_DIR") or None
    return Path(value).expanduser() if value else None


def read_tsv_split(task: TaskSpec, glue_dir: Path, split: str) -> Dataset:
    """Parse one original GLUE TSV file, checking every row.

    Read with the csv module rather than `datasets.load_dataset("csv")`: the files need
    QUOTE_NONE, CoLA has no header, MRPC starts with a BOM, and a bad row must be reported with
    its file name and line number, which pandas' parser does not give for bad label values.
    """
    path = glue_dir / task.dir_name / task.files[split]
    if not glue_dir.is_dir():
        raise DataError(
            f"GLUE directory {glue_dir} does not exist; pass --glue-dir DIR or set GLUE_DIR to a "
            f"folder in the classic glue_data layout (DIR/{task.dir_name}/{task.files[split]})"
        )
    if not path.is_file():
        raise DataError(
            f"task '{task.name}' needs {path}, which does not exist; add the file, or choose other "
            f"tasks with --tasks, or point --glue-dir/GLUE_DIR at a complete glue_data folder"
        )
    text_a: list[str] = []
    text_b: list[str] = []
    labels: list[float | int] = []
    allowed = task.n_fields[split]
    raw = path.read_bytes()
    try:
        # utf-8-sig drops MRPC's byte-order mark; QUOTE_NONE keeps the '"' inside sentences.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}, line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8; the original GLUE files are UTF-8 "
            "(re-download the file, or convert it with iconv -t UTF-8)"
        ) from None
    with io.StringIO(text, newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if task.has_header:
            next(reader, None)
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            if not row:
                continue
            if len(row) not in allowed:
                raise DataError(
                    f"{where}: expected {' or '.join(map(str, allowed))} tab-separated columns, "
                    f"found {len(row)}; the file is not in the original GLUE format"
                )
            text_a.append(row[task.text_a_field])
            if task.text_b_field is not None:
                text_b.append(row[task.text_b_field])
            labels.append(_parse_label(task, row[task.label_field], where))
    if not labels:
        raise DataError(f"{path} has no data rows")
    columns: dict[str, list] = {"text_a": text_a, "label": labels}
    if task.text_b_field is not None:
        columns["text_b"] = text_b
    return Dataset.from_dict(columns)


def _parse_label(task: TaskSpec, raw: str, where: str) -> float | int:
    if task.label_values is None:
        try:
            value = float(raw)
        except ValueError:
            raise DataError(f"{where}: label '{raw}' is not a number (task {task.name})") from None
        if not math.isfinite(value):
            raise DataError(f"{where}: label '{raw}' is not a finite number (task {task.name})")
        return value
    try:
        return task.label_values.index(raw)
    except ValueError:
        raise DataError(
            f"{where}: unknown label '{raw}' for task {task.name}; expected one of {', '.join(task.label_values)}"
        ) from None


def read_hub_split(task: TaskSpec, split: str) -> Dataset:
    """The same split from the hub (or, with the hub unreachable, from the `datasets` cache only),
    renamed to the suite's columns."""
    from datasets import load_dataset

    online = hub.hub_online()
    try:
        with contextlib.nullcontext() if online else hub.cache_only():
            ds = load_dataset(HUB_DATASET, task.name, split=split)
    except Exception as exc:
        if online:
            where = "could not be loaded from the hub"
        else:
            where = "is not in the local datasets cache and the hub is unreachable"
        raise DataError(
            f"task '{task.name}': no GLUE folder given and '{HUB_DATASET}' {where}; {GLUE_DOWNLOAD_HINT}"
        ) from exc
    a, b = task.hub_text_columns
    columns = {"text_a": ds[a], "label": ds["label"]}
    if b is not None:
        columns["text_b"] = ds[b]
    return Dataset.from_dict(columns)


def describe_source(glue_dir: Path | None) -> str:
    """Where a run reads GLUE from, in words: the first line of every run."""
    if glue_dir is not None:
        return f"GLUE folder {glue_dir.resolve()}"
    state = "online" if hub.hub_online() else "hub unreachable: local datasets cache only"
    return f"hub dataset {HUB_DATASET} ({state})"


def source_identity(glue_dir: Path | None) -> dict[str, str]:
    """Which source, in the record: kind and location (the folder or the hub id)."""
    if glue_dir is not None:
        return {"source": "glue_dir", "location": str(glue_dir.resolve())}
    return {"source": "hub", "location": HUB_DATASET}


def load_split(task: TaskSpec, split: str, glue_dir: Path | None) -> Dataset:
    return read_hub_split(task, split) if glue_dir is None else read_tsv_split(task, glue_dir, split)


def subsample(ds: Dataset, max_samples: int | None, seed: int) -> Dataset:
    """A seeded subset that does not depend on anything but (size, seed)."""
    if max_samples is None or len(ds) <= max_samples:
        return ds
    order = np.random.default_rng(seed).permutation(len(ds))[:max_samples]
    return ds.select(sorted(order.tolist()))


# Which examples are held out is drawn from its own random stream, so it does not move the train
# subsample of a run without a held-out split.
HELDOUT_STREAM = 1


def split_off_heldout(train: Dataset, size: int, seed: int) -> tuple[Dataset, Dataset]:
    """(what is left to train on, the held-out part): a seeded choice of `size` examples that depends
    on nothing but (len(train), size, seed), so every seed and method of a run holds out the same ones."""
    order = np.random.default_rng([seed, HELDOUT_STREAM]).permutation(len(train))
    held = sorted(order[:size].tolist())
    rest = sorted(order[size:].tolist())
    return train.select(rest), train.select(held)


@dataclass
class TaskData:
    task: TaskSpec
    train: Dataset
    evals: dict[str, Dataset]
    # Content hash of every split as parsed, before subsampling: the identity of the data, so a
    # changed file (another label, another row) never reuses a cached teacher or a finished cell.
    sha256: str = ""
    # The part of the (subsampled) training data no row trains on, and its content hash.
    heldout: Dataset | None = None
    heldout_sha256: str = ""


def content_sha256(splits: dict[str, Dataset]) -> str:
    digest = hashlib.sha256()
    for name in sorted(splits):
        columns = splits[name].to_dict()
        digest.update(name.encode())
        for column in sorted(columns):
            digest.update(column.encode())
            digest.update(json.dumps(columns[column], ensure_ascii=False).encode())
    return digest.hexdigest()


def load_task(
    task: TaskSpec,
    glue_dir: Path | None,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    data_seed: int = 0,
    heldout: HeldoutRule | None = None,
) -> TaskData:
    """The task's splits, the train split subsampled, then part of it held out by the `heldout` rule."""
    splits = {split: load_split(task, split, glue_dir) for split in task.files}
    train = subsample(splits["train"], max_train_samples, data_seed)
    evals = {split: subsample(splits[split], max_eval_samples, data_seed) for split in task.eval_splits}
    size = heldout_size(heldout, len(train), task.name)
    if not size:
        return TaskData(task, train, evals, content_sha256(splits))
    train, held = split_off_heldout(train, size, data_seed)
    return TaskData(task, train, evals, content_sha256(splits), held, content_sha256({HELDOUT: held}))


def tokenize(ds: Dataset, tokenizer, max_length: int) -> Dataset:
    """Token ids without padding: batches are padded dynamically by the collator."""

    def encode(batch: dict) -> dict:
        second = batch.get("text_b")
        return tokenizer(batch["text_a"], second, truncation=True, max_length=max_length)

    keep = {"label"}
    return ds.map(encode, batched=True, remove_columns=[c for c in ds.column_names if c not in keep])
