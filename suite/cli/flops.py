"""`flops`: FLOPs and parameters of a model as JSON."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from suite.cli.args import MODEL_HELP
from suite.errors import SuiteError

NAME = "flops"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    flops = subparsers.add_parser(NAME, help="print FLOPs and parameters of a model as JSON")
    flops.add_argument("model", help=MODEL_HELP)
    flops.add_argument("--seq-len", type=int, default=128)
    flops.add_argument("--num-labels", type=int, default=2)


@dataclass(frozen=True)
class FlopsRequest:
    model: str
    seq_len: int
    num_labels: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> FlopsRequest:
        if args.seq_len <= 0:
            raise SuiteError(f"--seq-len must be positive, got {args.seq_len}")
        return cls(model=args.model, seq_len=args.seq_len, num_labels=args.num_labels)


def run(args: argparse.Namespace) -> int:
    from suite.compute.models import load_classifier
    from suite.flops import count_flops

    request = FlopsRequest.from_args(args)
    model = load_classifier(request.model, request.num_labels)
    report = count_flops(model, request.seq_len)
    out = {
        "model": request.model,
        **report.as_dict(),
        "dense_gflops": report.dense / 1e9,
        "effective_gflops": report.effective / 1e9,
    }
    print(json.dumps(out, indent=2))
    return 0
