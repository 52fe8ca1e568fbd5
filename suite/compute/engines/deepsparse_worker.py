"""DeepSparse's side of the `deepsparse` engine, run by the python of DeepSparse's own environment
(numpy<2, onnx<1.15), where neither the suite nor torch is installed:

    python -I deepsparse_worker.py REQUEST.json

The request names the ONNX files, the inputs (an .npz file and, per batch key, which of its arrays
feed which graph input), warm-up and repeats, the cores and an output folder. DeepSparse compiles a
graph for one batch size and sequence length, so each file is compiled once per batch key, all on
one shared thread pool; the engines of one batch key are timed interleaved (`interleave.py`, loaded
from this file's folder) and dropped before the next. The output folder receives `result.json`
(timings in the shape `time_interleaved` returns, and settings) and `logits.npz` (each file's
logits on the first batch).
A failure ends with one line on stderr, the one the engine reports.

Only the standard library, numpy, deepsparse and `interleave.py` are imported.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent

# A script's folder is put first on sys.path, and this folder holds modules named like packages
# DeepSparse imports (deepsparse.py, onnxruntime.py): they must not shadow them.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import numpy as np  # noqa: E402  (after the path is cleaned)


def _interleave() -> ModuleType:
    """`interleave.py` by its path: importing it by name would need this folder on sys.path."""
    spec = importlib.util.spec_from_file_location("deepsparse_worker_interleave", HERE / "interleave.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {HERE / 'interleave.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _check_numpy() -> None:
    # DeepSparse 1.8 runs on numpy 2 without an error and returns wrong logits (every one equal).
    if int(np.__version__.split(".")[0]) >= 2:
        raise RuntimeError(f"numpy {np.__version__} in DeepSparse's environment: DeepSparse 1.8 needs numpy<2")


def measure(request: dict[str, Any]) -> None:
    _check_numpy()
    import deepsparse
    from deepsparse.utils.onnx import get_input_names

    interleave = _interleave()
    files: dict[str, str] = request["files"]
    threads, warmup, repeats = int(request["threads"]), int(request["warmup"]), int(request["repeats"])
    with np.load(request["inputs"], allow_pickle=False) as arrays:
        batches = {
            key: {name: np.ascontiguousarray(arrays[array]) for name, array in names.items()}
            for key, names in request["batches"].items()
        }
    order = {name: get_input_names(path) for name, path in files.items()}
    timings: dict[str, dict[str, dict[str, float]]] = {name: {} for name in files}
    supported: dict[str, dict[str, float]] = {name: {} for name in files}
    logits: dict[str, np.ndarray] = {}
    # One thread pool for every engine: engines with pools of their own keep their threads spinning
    # on the same cores while another runs, and each then runs hundreds of times slower.
    context = deepsparse.Context(num_cores=threads, num_streams=1)
    engine: Any = None
    for key, batch in batches.items():
        runs: dict[str, Any] = {}
        for name, path in files.items():
            shapes = [list(batch[input_name].shape) for input_name in order[name]]
            # DeepSparse writes the fixed shapes into the file it is given: the caller's own copy.
            engine = deepsparse.MultiModelEngine(path, shapes[0][0], context, input_shapes=shapes)
            supported[name][key] = engine.fraction_of_supported_ops
            runs[name] = _run(engine, order[name])
        if not logits:
            logits = {name: np.asarray(run(batch)) for name, run in runs.items()}
        for name, per_batch in interleave.time_interleaved(runs, {key: batch}, warmup, repeats).items():
            timings[name].update(per_batch)
        runs, engine = {}, None  # the next batch's engines are compiled without these in memory
    out = Path(request["out"])
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "logits.npz", **logits)
    settings = {
        "num_cores": context.num_cores,
        "num_streams": context.num_streams,
        "scheduler": context.scheduler.name,
        "thread_pool": "one context shared by every engine",
        "input_shapes": "fixed: compiled once per file and batch",
        "fraction_of_supported_ops": supported,
        "deepsparse": deepsparse.__version__,
        "numpy": np.__version__,
    }
    (out / "result.json").write_text(json.dumps({"timings": timings, "settings": settings}))


def _run(engine: Any, order: list[str]) -> Any:
    def run(batch: dict[str, np.ndarray]) -> np.ndarray:
        return engine.run([batch[name] for name in order], val_inp=False)[0]

    return run


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -I deepsparse_worker.py REQUEST.json", file=sys.stderr)
        return 2
    try:
        measure(json.loads(Path(argv[1]).read_text()))
    except Exception as exc:  # the caller keeps the last stderr line: make it the cause, on one line
        traceback.print_exc()
        message = str(exc).strip().splitlines()
        print(f"{type(exc).__name__}: {message[0] if message else ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
