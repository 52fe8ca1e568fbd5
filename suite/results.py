"""The result record (one JSON file per cell), its paths, atomic writes and provenance."""

from __future__ import annotations

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
