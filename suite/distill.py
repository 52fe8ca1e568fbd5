"""Knowledge-distillation losses (the SparseBERT / TinyBERT-style three-term loss).

- hidden: MSE between every hidden state (embedding output + every layer output);
- attention: MSE between every layer's pre-softmax attention scores, padding entries zeroed;
- logits: soft cross-entropy of student logits against teacher probabilities (temperature T);
  for regression (STS-B) the logit term is replaced by MSE to the gold label;
- hard (off by default): the task loss against the gold labels (cross-entropy; MSE on STS-B).

Pre-softmax scores are not returned by transformers (`output_attentions` gives probabilities, and
SDPA attention returns nothing), so forward hooks on the query and key projections keep their
outputs and the scores are recomputed as q k^T / sqrt(d_head). This works with any attention
implementation and with masked or shrunk projection layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from suite.api import POSITIVE, WEIGHT, Range, RunContext, check_ranges, knob
from suite.flops import head_size
from suite.spec.ranges import MAX_COUNT
from suite.spec.search import LogUniform, SearchSpace

# The distillation knobs `tune` searches, defined once for every method that distils, so their
# comparison stays even: the temperature from SparseBERT's 1 up past CoFi's 2 and oBERT's 5, the
# hidden-state weight a factor 10 either way of 1, both on log scales.
KD_TEMPERATURE = LogUniform(1.0, 8.0)
KD_HIDDEN = LogUniform(0.1, 10.0)
KD_SEARCH = SearchSpace({"kd.temperature": KD_TEMPERATURE, "kd.hidden": KD_HIDDEN})


@dataclass(frozen=True)
class KDWeights:
    hidden: float = knob(1.0, WEIGHT)
    attention: float = knob(1.0, WEIGHT)
    logits: float = knob(1.0, WEIGHT)
    temperature: float = knob(1.0, POSITIVE)
    # The task loss with the gold labels beside the teacher's terms. SparseBERT's loss has none (0);
    # TinyBERT-style recipes that add it weigh it against the soft term.
    hard: float = knob(0.0, WEIGHT)
    # The attention term as if every batch were padded to this many tokens (0: as batched). The mean
    # over a batch's n x n score entries weighs each entry by 1/n^2, so with length-grouped batches of
    # short sentences the term weighs (L/n)^2 times what it does in code that pads every batch to L
    # (the SparseBERT authors used L = 128); scaling by (n/L)^2 restores that weight. Entries beyond n
    # are zero-padded keys and queries there, which that code also counts (padded query rows are not
    # masked in it), so only the normalisation differs.
    attention_pad_to: int = knob(0, Range(0, MAX_COUNT))

    def __post_init__(self) -> None:
        check_ranges(self)


class AttentionScores:
    """Records query/key projections of every layer during a forward pass."""

    def __init__(self, model: nn.Module) -> None:
        self.d_head = head_size(model)
        self._q: dict[int, torch.Tensor] = {}
        self._k: dict[int, torch.Tensor] = {}
        self._handles = []
        for i, layer in enumerate(model.base_model.encoder.layer):
            attn = layer.attention.self
            self._handles.append(attn.query.register_forward_hook(self._keep(self._q, i)))
            self._handles.append(attn.key.register_forward_hook(self._keep(self._k, i)))

    @staticmethod
    def _keep(store: dict[int, torch.Tensor], index: int):
        def hook(_module, _inputs, output):
            store[index] = output

        return hook

    def clear(self) -> None:
        self._q.clear()
        self._k.clear()

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def scores(self, attention_mask: torch.Tensor) -> list[torch.Tensor]:
        """Per layer [batch, heads, n, n] pre-softmax scores; padded key positions set to 0."""
        keep = attention_mask[:, None, None, :].to(torch.bool)
        out = []
        for i in sorted(self._q):
            q, k = self._split(self._q[i]), self._split(self._k[i])
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d_head)
            out.append(s.masked_fill(~keep, 0.0))
        return out

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, width = x.shape
        return x.view(b, n, width // self.d_head, self.d_head).transpose(1, 2)


def uniform_layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """TinyBERT's mapping: student layer m (1-based) learns from teacher layer m x (L_t / L_s).

    Returned as teacher layer indices (1-based, so hidden state m) for student layers 1..L_s.
    """
    if not 0 < student_layers <= teacher_layers:
        raise ValueError(f"cannot map {student_layers} student layers onto {teacher_layers} teacher layers")
    return [round(m * teacher_layers / student_layers) for m in range(1, student_layers + 1)]


def hidden_state_loss(student: tuple[torch.Tensor, ...], teacher: tuple[torch.Tensor, ...]) -> torch.Tensor:
    if len(student) != len(teacher):
        raise ValueError(f"student has {len(student)} hidden states, teacher {len(teacher)}; map layers first")
    return sum(F.mse_loss(s.float(), t.float()) for s, t in zip(student, teacher, strict=True))


def attention_loss(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    if len(student) != len(teacher):
        raise ValueError(f"student has {len(student)} attention layers, teacher {len(teacher)}")
    return sum(F.mse_loss(s.float(), t.float()) for s, t in zip(student, teacher, strict=True))


def soft_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0):
    # Losses are fp32 whatever precision the forward passes ran in (a no-op in fp32).
    targets = F.softmax(teacher_logits.float() / temperature, dim=-1)
    return -(targets * F.log_softmax(student_logits.float() / temperature, dim=-1)).sum(-1).mean()


def prediction_loss(student_logits, teacher_logits, labels, regression: bool, temperature: float) -> torch.Tensor:
    if regression:
        return task_loss(student_logits, labels, regression)
    return soft_cross_entropy(student_logits, teacher_logits, temperature)


def task_loss(logits: torch.Tensor, labels: torch.Tensor, regression: bool) -> torch.Tensor:
    """The loss against the gold labels: cross-entropy, or MSE for a regression task."""
    if regression:
        return F.mse_loss(logits.squeeze(-1).float(), labels.float())
    return F.cross_entropy(logits.float(), labels)


class Distiller:
    """The three-term loss between a student and a frozen teacher.

    A shallower student learns from the teacher layers in `layer_map` (1-based teacher layer per
    student layer; default: the uniform map, which is the identity for equal depth). The embedding
    output always learns from the teacher's embedding output.
    """

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        weights: KDWeights,
        regression: bool,
        layer_map: list[int] | None = None,
    ) -> None:
        self.teacher = teacher
        self.weights = weights
        self.regression = regression
        n_student = len(student.base_model.encoder.layer)
        n_teacher = len(teacher.base_model.encoder.layer)
        self.layer_map = layer_map or uniform_layer_map(n_student, n_teacher)
        if len(self.layer_map) != n_student or not all(1 <= t <= n_teacher for t in self.layer_map):
            raise ValueError(f"layer_map {self.layer_map} does not map {n_student} onto {n_teacher} layers")
        self.student_scores = AttentionScores(student) if weights.attention else None
        self.teacher_scores = AttentionScores(teacher) if weights.attention else None
        # The weighted terms of the last loss() call: what a method reports for the training curve.
        self.last_parts: dict[str, float] = {}

    def loss(self, batch: dict[str, torch.Tensor], student_outputs) -> tuple[torch.Tensor, dict[str, float]]:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        with torch.no_grad():
            teacher_outputs = self.teacher(**inputs, output_hidden_states=True)
        parts: dict[str, torch.Tensor] = {}
        w = self.weights
        if w.hidden:
            teacher_hidden = teacher_outputs.hidden_states
            mapped = (teacher_hidden[0], *(teacher_hidden[t] for t in self.layer_map))
            parts["hidden"] = w.hidden * hidden_state_loss(student_outputs.hidden_states, mapped)
        if w.attention:
            mask = batch["attention_mask"]
            teacher_scores = self.teacher_scores.scores(mask)
            mapped_scores = [teacher_scores[t - 1].detach() for t in self.layer_map]
            scale = (mask.shape[-1] / w.attention_pad_to) ** 2 if w.attention_pad_to else 1.0
            parts["attention"] = w.attention * scale * attention_loss(self.student_scores.scores(mask), mapped_scores)
            self.student_scores.clear()
            self.teacher_scores.clear()
        if w.logits:
            parts["logits"] = w.logits * prediction_loss(
                student_outputs.logits, teacher_outputs.logits, batch["labels"], self.regression, w.temperature
            )
        if w.hard:
            parts["hard"] = w.hard * task_loss(student_outputs.logits, batch["labels"], self.regression)
        total = sum(parts.values())
        self.last_parts = {k: float(v.detach()) for k, v in parts.items()}
        return total, dict(self.last_parts)

    def close(self) -> None:
        for recorder in (self.student_scores, self.teacher_scores):
            if recorder is not None:
                recorder.remove()


class DistillsFromTeacher:
    """Mixin for methods that learn from the teacher through one Distiller: the forward keyword
    arguments it needs, the loss (the task loss when distillation is off), and removing its hooks.
    Put it before the PruningMethod base: `class M(DistillsFromTeacher, PruningMethod)`; call
    `start_distilling` in prepare() (after any change to the modules the score hooks sit on) and
    `stop_distilling` in finalize()."""

    distiller: Distiller | None = None

    def start_distilling(self, model: nn.Module, ctx: RunContext, weights: KDWeights, enabled: bool = True) -> None:
        self.distiller = None
        if not enabled:
            return
        if ctx.teacher is None:
            raise ValueError(f"{self.info.name} distils from the teacher: ctx.teacher is missing")
        self.distiller = Distiller(model, ctx.teacher, weights, ctx.task.is_regression)

    def forward_kwargs(self) -> dict:
        wants_hidden = self.distiller is not None and bool(self.distiller.weights.hidden)
        return {"output_hidden_states": True} if wants_hidden else {}

    def training_loss(self, model: nn.Module, batch: dict, outputs, ctx: RunContext) -> torch.Tensor:
        return outputs.loss if self.distiller is None else self.distiller.loss(batch, outputs)[0]

    def loss_parts(self) -> dict[str, float]:
        return {} if self.distiller is None else dict(self.distiller.last_parts)

    def stop_distilling(self) -> None:
        if self.distiller is not None:
            self.distiller.close()
            self.distiller = None
