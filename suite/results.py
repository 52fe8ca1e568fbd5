"""The result record (one JSON file per cell), its paths, atomic writes and provenance."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import suite

STATUSES = ("ok", "failed", "over_budget")
SCHEMA_VERSION = 1


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
    device: dict[str, str] = field(default_factory=dict)  # type ("cpu", "cuda", "mps") and name
    precision: str | None = None  # "fp32" | "bf16" | "fp16": the forward passes' autocast dtype
    versions: dict[str, str] = field(default_factory=dict)
    git_sha: str | None = None
    hardware: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cell_path(results_dir: Path, task: str, method: str, budget: float, seed: int) -> Path:
    return Path(results_dir) / task / method / f"budget{budget:g}_seed{seed}.json"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write to a temporary file in the same folder, then rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and "method" in record else None


def read_records(results_dir: Path) -> list[dict[str, Any]]:
    """Every result record under `results_dir`, in a stable order."""
    records = (read_record(p) for p in sorted(Path(results_dir).rglob("*.json")))
    return [r for r in records if r is not None]


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
