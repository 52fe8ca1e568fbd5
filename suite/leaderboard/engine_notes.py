"""The README's section on realized speed: why a FLOP budget is not a speedup, how the engine column and
panels are made, and each exported-model engine's versions, settings and failures in the records."""

from __future__ import annotations

from suite.leaderboard.board import Board
from suite.leaderboard.engines import (
    Config,
    engine_differences,
    engine_errors,
    engine_settings,
    engine_speedups,
    engine_versions,
)
from suite.leaderboard.files import CSV, MARKDOWN, SPEEDUP_PLOT
from suite.leaderboard.tables import ENGINE_COLUMN, SPEEDUP_COLUMN

AXES = """\
A FLOP budget and a realized speedup are different axes. The budget counts the arithmetic a model
still asks for (effective FLOPs: masked weights count as zeros); a speedup is what a runtime makes of
it. Budget 0.1 met by about 95% unstructured sparsity buys about 1.0x in PyTorch eager on a CPU, whose
dense kernels multiply the zeros too, but can buy more on an engine with sparse kernels. Structured
methods (heads, FFN neurons or layers removed) shrink the matrices themselves, so they realize most of
their FLOP reduction on every engine."""

HOW = f"""\
`{SPEEDUP_COLUMN}` in `{MARKDOWN}` is PyTorch's (see the FLOP rule). Where a run timed engines, it
also exported each finalized model to ONNX and timed it on exported-model engines, against the same
engine's unpruned model at the same precision (interleaved, on the same inputs), so an engine's
speedup is a ratio within one engine and one precision, never across them. `{ENGINE_COLUMN}`: the
engine and precision with the highest mean batch-32 speedup over the row's `ok` cells, among those
timed on the most of them (± the std over those cells); in `{SPEEDUP_PLOT}`, an engine's row of
panels places each row at its best precision there. The scores stay the PyTorch run's; how far an
engine's logits were from PyTorch fp32's on the first batch is the largest `max_abs_diff` below. A
figure that is not a finite positive number, an engine or precision name that is not plain text, and
a precision that recorded an error are left out; every cell's own figures are the
`latency_ms.engines.*` columns of `{CSV}`."""

NONE = """\
No record here was timed on an exported-model engine (records from before engines, or runs without
them): every speedup on this board is PyTorch's."""


def _codes(values: set[str]) -> str:
    return ", ".join(f"`{v}`" for v in sorted(values)) or "not recorded"


def engine_listing(board: Board) -> list[str]:
    """Per engine its versions, then per precision how many cells it timed and failed on, the largest
    logit difference from PyTorch and the distinct settings (all in a stable order)."""
    versions: dict[str, set[str]] = {}
    timed: dict[Config, int] = {}
    failed: dict[Config, int] = {}
    differences: dict[Config, float] = {}
    settings: dict[Config, set[str]] = {}
    for record in board.records:
        for engine, version in engine_versions(record).items():
            versions.setdefault(engine, set()).add(version)
        for config in engine_speedups(record):
            timed[config] = timed.get(config, 0) + 1
        for config in engine_errors(record):
            failed[config] = failed.get(config, 0) + 1
        for config, difference in engine_differences(record).items():
            differences[config] = max(difference, differences.get(config, 0.0))
        for config, text in engine_settings(record).items():
            settings.setdefault(config, set()).add(text)
    configs = sorted(set(timed) | set(failed))
    lines = []
    for engine in sorted({engine for engine, _ in configs}):
        lines.append(f"- `{engine}`, versions: {_codes(versions.get(engine, set()))}")
        for config in (c for c in configs if c[0] == engine):
            difference = f"{differences[config]:.2g}" if config in differences else "not recorded"
            errors = failed.get(config, 0)
            lines.append(
                f"  - `{config[1]}`: cells timed {timed.get(config, 0)}, failed {errors}"
                f"{f' (the errors are in `{CSV}`)' if errors else ''}; largest |logit - PyTorch fp32|"
                f" {difference}; settings: {_codes(settings.get(config, set()))}"
            )
    return lines


def engine_section(board: Board) -> str:
    listing = engine_listing(board)
    found = ["Engines in these records:", "", *listing] if listing else [NONE]
    return "\n".join([AXES, "", HOW, "", *found])
