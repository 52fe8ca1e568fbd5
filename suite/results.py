"""The result record (one JSON file per cell), its paths, atomic writes and provenance."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import suite

STATUSES = ("ok", "failed", "over_budget")
SCHEMA_VERSION = 1
# A cell is `ok` where its effective FLOP fraction is at most budget x (1 + this), else `over_budget`.
BUDGET_TOLERANCE = 0.01


def within_budget(fraction: float, budget: float, tolerance: float = BUDGET_TOLERANCE) -> bool:
    """The FLOP rule: `fraction` (effective FLOPs over the unpruned model's dense FLOPs) meets `budget`."""
    return fraction <= budget * (1.0 + tolerance) + 1e-12


@dataclass
class RunResult:
    method: str
    task: str
    budget: float
    seed: int
    status: str
    config_hash: str
    score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    flops: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    latency_ms: dict[str, Any] = field(default_factory=dict)
    train_steps: int | None = None
    train_examples: int | None = None
    wall_s: float | None = None
    teacher: dict[str, Any] | None = None
    model: str | None = None
    method_config: dict[str, Any] = field(default_factory=dict)
    run_config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)  # source, location (folder or hub id), sha256
    # "method" (a ranked row), "teacher" (the distillation teacher, S steps) or "trivial" (a data baseline)
    role: str = "method"
    # The training rule, as met: start, own_steps, inherited_steps, lineage_steps, examples, flops,
    # teacher_flops (estimated training compute of this cell, and of its teacher when it used one).
    training: dict[str, Any] = field(default_factory=dict)
    predictions: dict[str, Any] | None = None  # file (beside the record), n, sha256, split
    # Written beside the record, outside the config hash: the training curve (`file`, `rows`) and,
    # with `run --save-models`, the finalized model (`path`, a folder; `plain_transformers`).
    curve: dict[str, Any] | None = None
    saved_model: dict[str, Any] | None = None
    device: dict[str, str] = field(default_factory=dict)  # type ("cpu", "cuda", "mps") and name
    precision: str | None = None  # "fp32" | "bf16" | "fp16": the forward passes' autocast dtype
    # Which executor ran the cell ("local": in the `run` process; "ray": a Ray worker) and on which
    # host. Not part of the config hash: cells of both executors mix in one results folder.
    executor: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    git_sha: str | None = None
    hardware: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cell_path(results_dir: Path, task: str, method: str, budget: float, seed: int) -> Path:
    return Path(results_dir) / task / method / f"budget{budget:g}_seed{seed}.json"


def _read_umask() -> int:
    """The process umask: it can only be read by setting it, so set it back at once (done once, at import,
    before any thread of ours could create a file under the briefly cleared mask)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def file_mode() -> int:
    """The mode a plain `open()` would give a new file: `mkstemp` makes 0600, unreadable to the group."""
    return 0o666 & ~_UMASK


def dir_mode() -> int:
    """The mode `mkdir` would give a new folder: `mkdtemp` makes 0700."""
    return 0o777 & ~_UMASK


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write to a temporary file in the same folder, then rename: never half a file."""
    blob = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
    _write_bytes_atomic(path, blob)


def write_text_atomic(path: Path, text: str) -> None:
    """A text file (a cell's log) written like a record: complete or not at all."""
    _write_bytes_atomic(path, text.encode("utf-8"))


PREDICTIONS_SUFFIX = ".predictions.json.gz"


@dataclass(frozen=True)
class Predictions:
    """Per-example outputs of one cell: class ids (or regression scores) and labels in dev-set order,
    for the split that gives the score; other eval splits (MNLI mismatched) under `other_splits`."""

    split: str
    predictions: list[float] | list[int]
    labels: list[float] | list[int]
    other_splits: dict[str, dict[str, list]] = field(default_factory=dict)


def predictions_path(record_path: Path) -> Path:
    return record_path.with_name(record_path.stem + PREDICTIONS_SUFFIX)


def _write_bytes_atomic(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(path: Path, result: RunResult, predictions: Predictions | None) -> None:
    """The predictions sidecar first, then the record that names it (both atomic), so a record never
    points at a missing or older sidecar; a record without predictions removes a stale one."""
    sidecar = predictions_path(path)
    if predictions is None:
        sidecar.unlink(missing_ok=True)
        result.predictions = None
    else:
        payload = json.dumps(asdict(predictions), sort_keys=True, separators=(",", ":")).encode()
        blob = gzip.compress(payload, mtime=0)  # mtime 0: the same predictions give the same bytes
        _write_bytes_atomic(sidecar, blob)
        result.predictions = {
            "file": sidecar.name,
            "n": len(predictions.predictions),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "split": predictions.split,
        }
    write_json_atomic(path, result.to_dict())


def read_predictions(record_path: Path, record: dict[str, Any]) -> Predictions:
    """The sidecar a record names, checked against the record's `n` and `sha256`."""
    meta = record.get("predictions") or {}
    if not meta.get("file"):
        raise FileNotFoundError(f"{record_path} has no predictions (the record predates per-example outputs)")
    sidecar = Path(record_path).parent / meta["file"]
    blob = sidecar.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise ValueError(f"{sidecar}: sha256 differs from its record's; rerun the cell or restore the file")
    data = json.loads(gzip.decompress(blob))
    loaded = Predictions(**data)
    if len(loaded.predictions) != meta.get("n") or len(loaded.labels) != meta.get("n"):
        raise ValueError(f"{sidecar}: {len(loaded.predictions)} predictions, its record says {meta.get('n')}")
    return loaded


def _read_json(path: Path) -> Any:
    """Raises OSError or ValueError (bad JSON, or bytes that are not UTF-8) for an unreadable file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _is_record(data: Any) -> bool:
    return isinstance(data, dict) and "method" in data


def read_record(path: Path) -> dict[str, Any] | None:
    """The record at `path`, or None where it is missing, unreadable or not a record: a damaged file
    must not stop a resume or a leaderboard."""
    try:
        data = _read_json(path)
    except (OSError, ValueError):
        return None
    return data if _is_record(data) else None


# A cell's saved model is the folder `<record stem>.model/` beside its record (suite.saved_models).
SAVED_MODEL_SUFFIX = ".model"


def record_files(results_dir: Path) -> list[Path]:
    """The JSON files under `results_dir` that may be records, in path order. Saved-model folders are
    not entered: their config and tokenizer files are JSON too, and a tokenizer is megabytes to parse."""
    found = []
    for folder, subfolders, files in os.walk(results_dir):
        subfolders[:] = [name for name in subfolders if not name.endswith(SAVED_MODEL_SUFFIX)]
        found.extend(Path(folder) / name for name in files if name.endswith(".json"))
    return sorted(found)


def read_records(results_dir: Path, skipped: list[Path] | None = None) -> list[dict[str, Any]]:
    """Every result record under `results_dir`, in a stable order. Files that cannot be read or decoded
    are left out and, when `skipped` is given, appended to it so the caller can name them; JSON files
    that are simply not records (no `method`) are left out silently."""
    records = []
    for path in record_files(results_dir):
        try:
            data = _read_json(path)
        except (OSError, ValueError):
            if skipped is not None:
                skipped.append(path)
            continue
        if _is_record(data):
            records.append(data)
    return records


def _is_temp_file(path: Path) -> bool:
    # The names `_write_bytes_atomic` gives its temporary files (and suite.saved_models its temporary
    # folders): `.<target name>.<random>.tmp`.
    return path.name.startswith(".") and path.name.endswith(".tmp") and (path.is_file() or path.is_dir())


def clean_stale_temp_files(results_dir: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Remove the temporary files a killed run left beside its records, and return their paths.

    Only files untouched for `older_than_s` go: a concurrent run's write in progress is seconds old."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    cutoff = time.time() - older_than_s
    removed = []
    for path in sorted(root.rglob(".*.tmp")):
        try:
            if _is_temp_file(path) and path.stat().st_mtime < cutoff:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
        except OSError:  # removed meanwhile by its writer or another cleaner, or not ours to remove
            continue
    return removed


def config_hash(config: dict[str, Any]) -> str:
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "suite": suite.__version__}
    for package in ("torch", "transformers", "datasets", "numpy", "scikit-learn"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def git_sha() -> str | None:
    """The checkout's commit, with '-dirty' when tracked files differ from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def hardware() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
