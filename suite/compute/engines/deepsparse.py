"""Neural Magic's DeepSparse on the CPU, fp32: an engine with sparse kernels, so unstructured sparsity
can turn into speed there.

DeepSparse 1.8 (end of life, licensed for evaluation only) pins numpy<2 and onnx<1.15, and on numpy 2
it returns wrong logits, so it lives in its own environment (`make deepsparse`: `.venv-deepsparse` at
the repository root, or the python `SUITE_DEEPSPARSE_PYTHON` names) and this engine runs
`deepsparse_worker.py` there in a subprocess, with its analytics off (NM_DISABLE_ANALYTICS=1). The
exported files are first rewritten to an opset and IR version it reads (`onnx_opset`).

In-process callables (`also`, e.g. PyTorch's reference) cannot be timed inside another process's
rounds: they are not timed here, and the settings say so.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from suite.compute.engines.base import Engine, EngineRun
from suite.compute.engines.interleave import Run
from suite.compute.engines.onnx_opset import lower_opset

PYTHON_VARIABLE = "SUITE_DEEPSPARSE_PYTHON"
DEFAULT_VENV = Path(__file__).resolve().parents[3] / ".venv-deepsparse"
WORKER = Path(__file__).resolve().with_name("deepsparse_worker.py")
# LayerNormalization, which the exporter writes, is in the default domain from opset 17 on.
OPSET = 17
PROBE_TIMEOUT_S = 120.0
_PROBE = "import json, deepsparse, numpy; print(json.dumps([deepsparse.__version__, numpy.__version__]))"


def deepsparse_python() -> Path:
    """The python of DeepSparse's environment: SUITE_DEEPSPARSE_PYTHON, else the repository's venv.
    Made absolute but not resolved: a venv's python is a link to the base interpreter, and only the
    venv's own path starts it with the venv's packages."""
    configured = os.environ.get(PYTHON_VARIABLE, "").strip()
    path = Path(configured).expanduser() if configured else DEFAULT_VENV / "bin" / "python"
    return path.absolute()


def worker_environment() -> dict[str, str]:
    return {**os.environ, "NM_DISABLE_ANALYTICS": "1"}


@functools.lru_cache(maxsize=8)
def _probe(python: Path) -> tuple[str | None, str]:
    """(why DeepSparse cannot run with `python`, or None; its version)."""
    try:
        done = subprocess.run(
            [str(python), "-I", "-c", _PROBE],
            env=worker_environment(),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python} does not start: {type(exc).__name__}: {exc}", ""
    if done.returncode != 0:
        return f"deepsparse does not import with {python}: {last_line(done.stderr)}", ""
    try:
        version, numpy_version = json.loads(last_line(done.stdout))
    except ValueError:
        return f"{python} printed no deepsparse and numpy versions: {last_line(done.stdout)}", ""
    if int(numpy_version.split(".")[0]) >= 2:
        return f"numpy {numpy_version} with {python}: DeepSparse needs numpy<2 (it returns wrong logits on 2)", version
    return None, version


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


class DeepSparse(Engine):
    name = "deepsparse"
    precisions = ("fp32",)
    install = "make deepsparse"

    def __init__(self, timeout_s: float = 3600.0) -> None:
        self.timeout_s = timeout_s  # for one measure: every file compiled per batch, then timed

    def missing(self) -> str | None:
        python = deepsparse_python()
        if not (python.is_file() and os.access(python, os.X_OK)):
            return f"no python at {python} for DeepSparse's own environment (or set {PYTHON_VARIABLE} to one)"
        return _probe(python)[0]

    def version(self) -> str:
        why, version = _probe(deepsparse_python())
        if why is not None:
            raise RuntimeError(why)
        return version

    def measure(
        self,
        files: Mapping[str, Path],
        precision: str,
        inputs: Mapping[str, Mapping[str, np.ndarray]],
        warmup: int,
        repeats: int,
        threads: int,
        also: Mapping[str, Run] | None = None,
    ) -> EngineRun:
        if precision not in self.precisions:
            raise ValueError(f"deepsparse is timed in {', '.join(self.precisions)} here, not {precision}")
        with tempfile.TemporaryDirectory(prefix="suite-deepsparse-") as folder:
            work = Path(folder)
            # Numbered copies: the worker's DeepSparse also writes fixed shapes into the files it compiles.
            numbered = enumerate(files.items())
            lowered = {name: lower_opset(path, work / f"{i}.onnx", OPSET) for i, (name, path) in numbered}
            arrays: dict[str, np.ndarray] = {}
            batches: dict[str, dict[str, str]] = {}
            for key, batch in inputs.items():
                batches[key] = {}
                for input_name, value in batch.items():
                    batches[key][input_name] = array = f"a{len(arrays)}"
                    arrays[array] = np.ascontiguousarray(value)
            np.savez(work / "inputs.npz", **arrays)
            request = {
                "files": {name: str(path) for name, path in lowered.items()},
                "inputs": str(work / "inputs.npz"),
                "batches": batches,
                "warmup": warmup,
                "repeats": repeats,
                "threads": threads,
                "out": str(work / "out"),
            }
            (work / "request.json").write_text(json.dumps(request))
            self._run_worker(work / "request.json", work)
            result = json.loads((work / "out" / "result.json").read_text())
            with np.load(work / "out" / "logits.npz", allow_pickle=False) as saved:
                logits = {name: saved[name] for name in files}
        settings = {
            **result["settings"],
            "onnx": f"Gelu expanded, opset {OPSET}, IR version of that opset",
            "also": "not timed: in-process callables cannot run in DeepSparse's process",
        }
        return EngineRun(result["timings"], logits, settings)

    def _run_worker(self, request: Path, folder: Path) -> None:
        python = deepsparse_python()
        try:
            # -I: neither PYTHONPATH (the suite's environment) nor the worker's folder on its path.
            done = subprocess.run(
                [str(python), "-I", str(WORKER), str(request)],
                cwd=folder,
                env=worker_environment(),
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"the DeepSparse worker did not finish in {self.timeout_s:g} s") from exc
        if done.returncode != 0:
            raise RuntimeError(f"the DeepSparse worker failed (exit {done.returncode}): {last_line(done.stderr)}")
