"""`export`: copy one cell's saved model (`run --save-models`) out of a results folder, optionally with its
ONNX export beside it (`--onnx`) and to the Hub."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from suite.errors import SuiteError

NAME = "export"
ONNX_FILE = "model.onnx"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser(NAME, help="copy one cell's saved model (run --save-models) out of a results folder")
    export.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    export.add_argument("--task", required=True)
    export.add_argument("--method", required=True)
    export.add_argument("--budget", type=float, required=True)
    export.add_argument("--seed", type=int, required=True)
    export.add_argument("--to", type=Path, required=True, metavar="DIR", help="a new or empty folder")
    export.add_argument("--push-to-hub", metavar="REPO", help="also upload the folder to this Hugging Face Hub repo")
    export.add_argument(
        "--onnx",
        action="store_true",
        help="also write model.onnx (dynamic batch and length; needs the [onnx] extra) and check its logits",
    )


@dataclass(frozen=True)
class ExportRequest:
    results_dir: Path
    task: str  # the task's canonical name
    method: str
    budget: float
    seed: int
    to: Path
    push_to_hub: str | None  # a Hub repo id
    onnx: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ExportRequest:
        from suite.spec.tasks import get_task

        if not args.results_dir.is_dir():
            raise SuiteError(f"results folder {args.results_dir} does not exist; pass the --results-dir of a run")
        return cls(
            results_dir=args.results_dir,
            task=get_task(args.task).name,
            method=args.method,
            budget=args.budget,
            seed=args.seed,
            to=args.to,
            push_to_hub=args.push_to_hub,
            onnx=args.onnx,
        )

    @property
    def label(self) -> str:
        return f"{self.task}/{self.method}/budget {self.budget:g}/seed {self.seed}"


def run(args: argparse.Namespace) -> int:
    from suite.compute.packing import push_to_hub
    from suite.records.atomic import copy_model_dir
    from suite.records.layout import NamedFileError, cell_path, file_beside
    from suite.records.reader import read_record

    request = ExportRequest.from_args(args)
    label = request.label
    path = cell_path(request.results_dir, request.task, request.method, request.budget, request.seed)
    record = read_record(path)
    if record is None:
        raise SuiteError(f"no record of {label} in {request.results_dir} (looked for {path}); check the cell's fields")
    saved = record.get("saved_model")
    if not saved:
        raise SuiteError(
            f"{label} has no saved model (status {record.get('status')}): run it with --save-models; a finished "
            "cell is not rerun, so move its record away first"
        )
    try:  # only a folder of plain files beside the record is copied: never a path the record leads elsewhere
        source = file_beside(path, saved.get("path") if isinstance(saved, dict) else None, folder=True)
    except NamedFileError as exc:
        raise SuiteError(f"{label}: {exc}; rerun the cell with --save-models") from None
    with tempfile.TemporaryDirectory(prefix="suite-export-") as staging:
        # The ONNX file is made before anything is copied: a model the exporter refuses leaves nothing behind.
        onnx = _onnx_export(source, Path(staging)) if request.onnx else None
        copy_model_dir(source, request.to)
        if onnx is not None:
            shutil.move(onnx, request.to / ONNX_FILE)
    loader = (
        "transformers or suite.structure.load_pruned"
        if saved.get("plain_transformers")
        else "suite.structure.load_pruned"
    )
    print(f"exported {label} to {request.to} (loads with {loader})", file=sys.stderr)
    if request.onnx:
        print(f"and {request.to / ONNX_FILE} (inputs input_ids, attention_mask; output logits)", file=sys.stderr)
    if request.push_to_hub:
        url = push_to_hub(request.to, request.push_to_hub)
        print(f"pushed to the Hub: {url}", file=sys.stderr)
    return 0


def _onnx_export(source: Path, staging: Path) -> Path:
    """The saved model as ONNX in `staging`, its logits checked against PyTorch's on ONNX Runtime (or
    OpenVINO) where one is installed."""
    import importlib.util

    import numpy as np

    from suite.compute.engine_latency import engine_inputs
    from suite.compute.engines import engines_for
    from suite.compute.onnx_export import export_onnx, torch_logits
    from suite.structure import load_pruned

    for module in ("onnx", "onnxscript"):
        if importlib.util.find_spec(module) is None:
            raise SuiteError(f"--onnx needs the {module} package: pip install -e '.[onnx]' (or make install)")
    model = load_pruned(source).eval()
    path = export_onnx(model, staging / ONNX_FILE)
    for name in ("onnxruntime", "openvino"):
        try:
            engine = engines_for([name])[0]
        except SuiteError:
            continue
        inputs = engine_inputs(32, [2], model.config.vocab_size)["batch_2"]
        run, _ = engine.load(path, "fp32", threads=1)
        difference = float(np.abs(np.asarray(run(inputs)) - torch_logits(model, inputs)).max())
        print(f"ONNX logits on {name} fp32 differ from PyTorch's by at most {difference:.1e}", file=sys.stderr)
        break
    return path
