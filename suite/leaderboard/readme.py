"""The leaderboard's README: how its numbers were made and what its statistics mean, from the records'
own fields only.

Everything here comes from the result records (their run config and provenance) or is a fixed
statement of the FLOP rule; no clock, no environment: the same records give the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from suite.leaderboard.board import Board
from suite.leaderboard.bootstrap import LEVEL
from suite.leaderboard.engine_notes import engine_section
from suite.leaderboard.files import CSV, DIFFERENCE_PLOT, FLOPS_PLOT, MARKDOWN, SPEEDUP_PLOT
from suite.leaderboard.reported import reported_markdown
from suite.leaderboard.rows import REFERENCE
from suite.leaderboard.scale import scale_section
from suite.leaderboard.signal_check import NO_SIGNAL
from suite.leaderboard.teacher_check import teacher_checks
from suite.leaderboard.training_rule import LEGACY_NOTE
from suite.leaderboard.tuning import format_rate, learning_rate, tuning_of, tuning_section
from suite.records.schema import ROLE_METHOD, ROLE_TEACHER, ROLE_TRIVIAL, role_of

FLOP_RULE = """\
- FLOPs = 2 × multiply-accumulates of one forward pass of one example at the reference sequence
  length, counting every encoder linear layer (Q, K, V, attention output, FFN in, FFN out), the
  attention score and context products (2 × n² × d_head MACs per kept head), the pooler and the
  classifier. **Not counted**: embedding lookups, biases, LayerNorm, softmax, GELU.
- `dense` FLOPs follow the shapes (removed heads, FFN neurons and layers show); `effective` FLOPs
  scale each linear layer by its fraction of nonzero weights (masks show).
- Budget b: effective FLOPs ≤ b × dense FLOPs of the unpruned model, with 1% tolerance. A cell over
  it is stored as `over_budget` and left out of every mean. Attention products are not reduced by
  weight sparsity, so on MiniLM-L6 at n = 128 budget 0.1 needs about 95% sparse linear layers.
- Speedup: median batch-32 latency of the unpruned model divided by that of the finalized model,
  on the cell's device, both timed in the same run, interleaved; sparse models also run with CSR
  sparse kernels on the CPU and the faster kernel counts (`kernel` in the CSV). Each distinct
  architecture (tensor shapes, and each encoder matrix's nonzero count where CSR kernels are tried)
  is timed once per run; later cells with the same one reuse its figures (`latency_ms.reused` in the CSV)."""


def _reuse(records: list[dict]) -> str:
    """How many cells were timed and how many reused the timing of an identical architecture."""
    timed = [r["latency_ms"] for r in records if r.get("latency_ms")]
    reused = sum(bool(latency.get("reused")) for latency in timed)
    return f"{len(timed) - reused} cells timed, {reused} reused the figures of an identical architecture in their run"


def _distinct(values: Iterable[Any]) -> list[Any]:
    """Distinct values, most frequent first (ties in a stable textual order)."""
    counts = Counter(json.dumps(v, sort_keys=True) for v in values if v is not None)
    return [json.loads(text) for text, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _data(record: dict) -> dict:
    data = (record.get("run_config") or {}).get("data")
    return data if isinstance(data, dict) else {}


def _device(record: dict) -> str:
    """Type and name of the device a cell ran on; records before devices were recorded ran on the CPU."""
    device = record.get("device") or {}
    if not device:
        return f"cpu ({(record.get('hardware') or {}).get('processor') or 'not recorded'})"
    return f"{device.get('type')} ({device.get('name')})"


def _join(values: Iterable[Any]) -> str:
    items = _distinct(values)
    return ", ".join(f"`{v}`" for v in items) if items else "–"


ROWS = f"""\
- `{REFERENCE.method} (budget 1)`: the reference, plain fine-tuning of the uncompressed model; the
  "difference to the reference" tables and plot are to this row, and the signal check compares it
  with the trivial baseline.
- `teacher` (records with role `teacher`): the model the distilling methods learned from and the
  methods that start from the teacher continued. It is shown for orientation, never ranked or bold:
  by design it has fewer lineage steps than the compared rows.
- `trivial baseline` (role `trivial`, seed 0): predicts the training labels' majority class (STS-B:
  one constant value, whose Spearman correlation is 0). It is a row of every table and a dashed line
  in every plot, never ranked: a model that does not beat it has learned nothing from the text.
- Every other row is a method at the table's budget (role `method`; records without a `role` field
  predate roles and count as method rows)."""

TRAINING_RULE = """\
Every method row of a task must have seen the same number of task optimizer steps counted from the
pre-trained checkpoint (its lineage steps): the teacher trains S steps, a method that starts from
the teacher trains S more, and a method that starts from the pre-trained checkpoint (the reference
included) trains 2S. Optimizer (AdamW, weight decay 0.01), learning-rate schedule, data and batch
size are the preset's, the same for every method. The leaderboard reads `training.lineage_steps`
from each record; where a task's method rows differ it names them under every table and in the
headline instead of ranking them silently. The teacher row keeps its S and is not checked."""

COMPUTE = """\
`train compute (× dense)`: a cell's estimated training FLOPs (`training.flops`: student forward and
backward passes plus teacher forwards, from the real token counts) plus, where it learned from a
teacher, the teacher's own training FLOPs (`training.teacher_flops`), divided by the reference row's
training FLOPs on the same task, then averaged over the row's cells. The raw numbers are in
`cells.csv`. Cells without it show `–`, and the column is left out where the reference row has none
(records written before the training rule)."""


def _statistics(board: Board) -> str:
    scored = len(board.scores)
    ok = scored + len(board.unverified)
    with_draws = sum(1 for s in board.scores.values() if s.draws is not None)
    examples = ", ".join(f"{t} {n}" for t, n in board.examples.items()) or "none loaded"
    level = f"{100 * LEVEL:g}%"
    return f"""\
- Metrics: the suite's own (CoLA Matthews correlation, MRPC and QQP F1 of class 1, STS-B Spearman
  with a constant prediction scored 0, accuracy elsewhere), on the GLUE dev split, 0-100.
- {level} confidence intervals come from a paired bootstrap over dev examples: {board.resamples} resamples
  of each task's dev set (as many examples as it has, drawn with replacement) from numpy's default
  generator seeded with a fixed constant and the task's name, so regenerating gives the same bytes.
  Every row of a task is scored on the same resamples, and a difference between two rows is taken
  resample by resample; a CI is the 2.5th to 97.5th percentile of the resampled values.
- Several seeds of a row are averaged inside each resample. The CI therefore covers the sampling
  of dev examples, not training randomness; the spread over seeds beside it (lowest..highest seed and
  sample sd, where a row has 2 or more seeds; `score_seed_*` in `{CSV}`) shows that.
- The GLUE average is bootstrapped too: per resample, the mean over tasks of each task's resampled
  score (every task on its own resamples, the same ones its column uses), so differences between
  averages are paired as well.
- A difference is called only where its CI excludes 0 and the seeds agree: over the seeds both rows
  have (paired by seed number), every per-seed difference has the sign of the mean difference (with 3
  seeds, all three). `>` in the headline and † in the difference tables; `≈` otherwise. Where the two
  rows share fewer than 2 seeds there is nothing to agree and the CI alone decides, which the board
  says under the tables and in the headline: one seed carries no training randomness.
- `{CSV}`: `score_ci_low` / `score_ci_high` are the CI of that record's own score (one seed); the
  tables show the CI of the mean over seeds. Both are empty where a record's score is not verified.
- An `ok` record's score counts only once verified as `python -m suite validate` verifies it: a
  finite number in its metric's range that its predictions sidecar (present, matching the record's
  size, sha256 and split, finite values, labels on the task's scale) reproduces. A record that fails
  (one written before predictions were saved, say) is listed under *Not verified* in `{MARKDOWN}`
  with the reason, and left out of every mean, ranking, difference and plot. Sidecars of one task
  with different dev labels stop the leaderboard with one line naming the files.
- Here: {scored} of {ok} `ok` cells verified ({with_draws} with per-example predictions); dev examples
  per task: {examples}."""


REPRODUCIBILITY = """\
- Bit for bit: regenerating this board from the same result files gives the same bytes (the
  bootstrap's seed is fixed, and nothing here reads a clock or the environment); a smoke run
  repeats exactly on one machine, and so does MiniLM-L6 training: `make run` (the quick preset, 4000
  examples) on two fresh clones, one after the other on one machine, each with a fresh teacher cache, gave
  the same dev scores in all 22 cells the two runs shared (both teachers, the references and
  every method on SST-2 and STS-B at budget 0.1, seed 0): a run-to-run spread of 0.
- Only up to training randomness: training on another machine, even one of the same kind. Its CPU's
  instruction set decides which bf16 kernels PyTorch picks (AMX on one, AVX512-BF16 on another; each
  record's `hardware` names the CPU model, its kernel-relevant ISA flags and PyTorch's CPU kernel
  level), and their rounding moves trained scores: a fresh clone on another machine gave the quick
  preset's SST-2 teacher 76.95 where the first machine gave 72.9. The bootstrap CI does not cover
  such a move; the spread over seeds is the board's measure of it, which is why a call needs every
  seed to agree, and why a call that rests on one seed can be undone by a rerun elsewhere."""


def _verified_score(board: Board, record: dict) -> str:
    score = board.cell_score(record)
    return f"{score.value:.2f}" if score is not None else "not verified"


def _trivial_rows(board: Board) -> str:
    ok = [r for r in board.records if role_of(r) == ROLE_TRIVIAL and r.get("status") == "ok"]
    rows = [
        {
            "task": r["task"],
            "rule": (r.get("method_config") or {}).get("rule") or (r.get("run_config") or {}).get("rule") or "–",
            "dev score": _verified_score(board, r),
        }
        for r in sorted(ok, key=lambda r: (board.tasks.index(r["task"]), r["method"], r["seed"]))
    ]
    if not rows:
        return "No trivial-baseline records among these results."
    return pd.DataFrame(rows).astype(str).to_markdown(index=False, disable_numparse=True)


def _signal(board: Board) -> str:
    verdicts = "\n".join(f"- {board.signal[t].note()}" for t in board.tasks)
    left_out = [t for t in board.tasks if board.signal[t].verdict == NO_SIGNAL]
    average = ", ".join(board.average_tasks) or "no task"
    return f"""\
A task whose reference row is not significantly above its trivial baseline (the paired-bootstrap CI
of reference minus baseline includes 0 or lies below it) is flagged "no signal at this training
scale" and left out of the GLUE average and the ranking, with the reason under its tables. Without
per-example predictions the check can only flag a reference that scores at or below the baseline;
otherwise it says it could not run, and the task stays in the average. Here the average spans
{average}{f" (left out: {', '.join(left_out)})" if left_out else ""}.

{_trivial_rows(board)}

{verdicts}

The teacher of each (task, seed) gets the same check against the trivial baseline, seed by seed: the
rows of that seed whose methods start from the teacher or distil from it inherit what it learned. A
weak teacher is named under the tables and in the headline with those methods; its rows stay on the
board, since which seed a teacher fails on is part of the training randomness the seed spread shows.

{_teachers(board)}"""


def _teachers(board: Board) -> str:
    checks = teacher_checks(board)
    weak = [check for check in checks if check.weak]
    if not checks:
        return "Here no teacher row has a trivial baseline to be checked against."
    if not weak:
        return f"Here all {len(checks)} teachers (task and seed) are significantly above their trivial baselines."
    return "\n".join(f"- {check.note()}" for check in weak)


def _without_rate(train: Any) -> Any:
    return {k: v for k, v in train.items() if k != "learning_rate"} if isinstance(train, dict) else train


def _configs(records: list[dict]) -> int:
    """Distinct training settings; a tuned record's own learning rate is not another configuration
    (the tuned file set it), so it counts apart only where it differs in anything else."""
    untuned = _distinct((r.get("run_config") or {}).get("train") for r in records if tuning_of(r) is None)
    plain = [_without_rate(t) for t in untuned]
    tuned = _distinct(_without_rate((r.get("run_config") or {}).get("train")) for r in records if tuning_of(r))
    return len(untuned) + sum(1 for t in tuned if t not in plain)


def _rate_column(records: list[dict]) -> str:
    rates = _distinct(learning_rate(r) for r in records)
    if len(rates) > 1 and any(tuning_of(r) for r in records):
        return "per method (see Tuning)"
    # Several untuned rates are a configuration mix (`configs` says so): name them all.
    return ", ".join(format_rate(v) for v in rates) or "–"


def _training_rows(board: Board) -> str:
    records = board.records
    rows = []
    for task in board.tasks:
        mine = [r for r in records if r["task"] == task and role_of(r) != ROLE_TRIVIAL]  # the baseline does not train
        ok = [r for r in mine if r.get("status") == "ok"]
        train = _distinct((r.get("run_config") or {}).get("train") for r in mine)
        data = _distinct((r.get("run_config") or {}).get("data") for r in mine)
        t = train[0] if train else {}
        d = data[0] if data else {}
        check = board.lineage[task]
        method_steps = sorted({s for values in check.steps.values() for s in values})
        rows.append(
            {
                "task": task,
                "examples seen": ", ".join(map(str, _distinct(r.get("train_examples") for r in ok))) or "–",
                "own steps": ", ".join(map(str, _distinct(r.get("train_steps") for r in ok))) or "–",
                "lineage (methods)": ", ".join(map(str, method_steps)) or "not recorded",
                "lineage (teacher)": ", ".join(map(str, check.teacher)) or "–",
                "epochs": t.get("epochs", "–"),
                "batch": t.get("batch_size", "–"),
                "lr": _rate_column(mine),
                "schedule": t.get("lr_schedule", "–"),
                "max length": t.get("max_seq_length", "–"),
                "train cap": d.get("max_train_samples", "–"),
                # No held-out keys: the record predates held-out splits, or its run had none (suite.spec.splits).
                "held out": ", ".join(map(str, _distinct(_data(r).get("heldout_size") for r in ok))) or "none",
                "scored on": ", ".join(_distinct(_data(r).get("eval_split", "dev") for r in ok)) or "–",
                "configs": _configs(mine),
            }
        )
    return pd.DataFrame(rows).astype(str).to_markdown(index=False, disable_numparse=True)


def _legacy_training(board: Board) -> str:
    legacy = sum(1 for r in board.records if role_of(r) != ROLE_TRIVIAL and not r.get("training"))
    if not legacy:
        return ""
    return f"{legacy} of these records predate the training rule: {LEGACY_NOTE}."


def _teacher_rows(board: Board) -> str:
    ok = [r for r in board.records if r.get("status") == "ok"]
    teachers = [r for r in ok if role_of(r) == ROLE_TEACHER]
    if teachers:
        rows = [
            {
                "task": r["task"],
                "seed": r["seed"],
                "lineage steps": (r.get("training") or {}).get("lineage_steps", "–"),
                "dev score": _verified_score(board, r),
            }
            for r in sorted(teachers, key=lambda r: (r["task"], r["seed"], r["method"]))
        ]
        return pd.DataFrame(rows).astype(str).to_markdown(index=False, disable_numparse=True)
    # Before teacher rows existed, the dense cell was itself the teacher of its task and seed.
    legacy = [r for r in ok if r["method"] == REFERENCE.method and float(r["budget"]) == 1.0 and r.get("teacher")]
    rows = [
        {"task": r["task"], "seed": r["seed"], "teacher": r["teacher"]["id"], "dev score": _verified_score(board, r)}
        for r in sorted(legacy, key=lambda r: (r["task"], r["seed"], r["method"]))
    ]
    if not rows:
        return "No teacher records among these results."
    note = "No `teacher` rows: in these records the `dense` cell was itself the teacher (same training).\n\n"
    return note + pd.DataFrame(rows).astype(str).to_markdown(index=False, disable_numparse=True)


def render_readme(board: Board, title: str = "Leaderboard", left_off: Mapping[str, str] | None = None) -> str:
    """`left_off`: the tasks the board's preset leaves off, each with its measured reason."""
    records = board.records
    statuses = Counter(r.get("status", "failed") for r in records)
    roles = Counter(role_of(r) for r in records)
    versions = _distinct(r.get("versions") for r in records)
    hardware = _distinct(r.get("hardware") for r in records)
    latency_keys = ("seq_len", "threads", "repeats")
    latency = _distinct(
        {k: (r.get("latency_ms") or {}).get(k) for k in latency_keys} for r in records if r.get("latency_ms")
    )
    legacy_training = _legacy_training(board)
    trained = [r for r in records if role_of(r) != ROLE_TRIVIAL]  # a trivial row runs on no device
    parts = [
        f"# {title}: how the numbers were made",
        "",
        "Generated by `python -m suite leaderboard --results-dir RESULTS --out OUT` from the result files",
        f"alone; do not edit by hand: regenerate. Files: `{MARKDOWN}` (headline, the paper's question",
        f"where `ksp` has rows, then one table per budget), `{CSV}` (every field of every cell, with each",
        f"score's CI), `{FLOPS_PLOT}`,",
        f"`{SPEEDUP_PLOT}` (each budget's Pareto frontier; a row of panels per engine) and",
        f"`{DIFFERENCE_PLOT}` (each row minus the reference, per task); error bars are the 95% CIs",
        "where there are any.",
        "",
        "## What ran",
        "",
        f"- Cells: {len(records)} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}"
        f"{f'; {len(board.unverified)} of the ok ones not verified' if board.unverified else ''});"
        f" by role: {', '.join(f'{n} {r}' for r, n in sorted(roles.items()))}.",
        f"- Models: {_join(r.get('model') for r in records)}.",
        f"- Tasks: {', '.join(board.tasks)}; GLUE dev splits, primary metric per task"
        " (CoLA Matthews corr., MRPC F1, STS-B Spearman, others accuracy), 0-100.",
        f"- Methods: {', '.join(sorted({r['method'] for r in records if role_of(r) == ROLE_METHOD}))}.",
        f"- Budgets: {', '.join(f'{b:g}' for b in sorted({float(r['budget']) for r in records}))}; "
        f"seeds: {', '.join(str(s) for s in sorted({int(r['seed']) for r in records}))}.",
        f"- Data: {_join((r.get('run_config') or {}).get('data', {}).get('data_source') for r in records)};"
        " the train subsample is the same for every method and seed (`data_seed`); no data augmentation.",
        f"- Devices: {_join(_device(r) for r in trained)}; precision (autocast of forward passes):"
        f" {_join(r.get('precision') or 'fp32 (not recorded)' for r in trained)}.",
        "",
        "## Scale",
        "",
        scale_section(board, left_off or {}),
        "",
        "## Rows of a table",
        "",
        ROWS,
        "",
        "## The training rule",
        "",
        TRAINING_RULE,
        *(["", legacy_training] if legacy_training else []),
        "",
        "`own steps`: optimizer steps of the cell itself; `lineage`: counted from the pre-trained",
        "checkpoint. `configs` > 1 would mean cells of one task ran with different training settings (a",
        "tuned learning rate does not count: see Tuning).",
        "",
        _training_rows(board),
        "",
        COMPUTE,
        "",
        "## Tuning",
        "",
        tuning_section(board),
        "",
        "## Teachers",
        "",
        _teacher_rows(board),
        "",
        "## Statistics",
        "",
        _statistics(board),
        "",
        "## What reproduces",
        "",
        REPRODUCIBILITY,
        "",
        "## Trivial baseline and the signal check",
        "",
        _signal(board),
        "",
        "## The FLOP rule",
        "",
        FLOP_RULE,
        "",
        "## FLOP budget and realized speedup",
        "",
        engine_section(board),
        "",
        "## Provenance",
        "",
        f"- Suite commits: {_join(r.get('git_sha') for r in records)}.",
        f"- Latency settings: {_join(latency)}; {_reuse(trained)}.",
        "- Versions:",
        *(f"  - `{json.dumps(v, sort_keys=True)}`" for v in versions),
        "- Hardware:",
        *(f"  - `{json.dumps(h, sort_keys=True)}`" for h in hardware),
        "",
        "## Reported in papers, BERT-base, not measured here",
        "",
        "Quoted for orientation only: other model (BERT-base, 110M parameters, not MiniLM-L6), full",
        "training sets and longer schedules. Not comparable cell by cell with the tables above.",
        "",
        reported_markdown(),
    ]
    return "\n".join(parts).rstrip("\n") + "\n"
