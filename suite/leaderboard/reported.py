"""Numbers reported in papers (BERT-base, GLUE dev), shown apart from anything this suite measured.

Each table names its paper (authors, venue, arXiv id). These are facts quoted from the papers,
never inputs to a ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ReportedTable:
    source: str
    note: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def markdown(self) -> str:
        frame = pd.DataFrame(list(self.rows), columns=list(self.columns))
        return frame.to_markdown(index=False, disable_numparse=True)


REPORTED: tuple[ReportedTable, ...] = (
    ReportedTable(
        source="Xu, Yen, Zhao, Xiao. Rethinking Network Pruning — under the Pre-train and Fine-tune "
        "Paradigm (SparseBERT). NAACL 2021, arXiv 2104.08682",
        note='BERT-base teacher; SparseBERT keeps 5% of the encoder linear weights ("20x"; about 13x '
        "fewer FLOPs under this suite's rule at n=128). The authors also trained on augmented data.",
        columns=("model", "weights kept", "QNLI acc", "MRPC F1", "RTE acc", "CoLA mcc", "avg"),
        rows=(
            ("BERT-base (dense)", "100%", "91.8", "88.6", "69.3", "56.3", "76.5"),
            ("SparseBERT", "5%", "90.6", "88.5", "69.1", "52.1", "75.1"),
            ("MiniLM6 (distilled)", "50%", "91.0", "88.4", "71.5", "49.2", "75.0"),
            ("TinyBERT6 (distilled)", "50%", "90.4", "87.3", "66.0", "54.0", "74.4"),
            ("DistilBERT", "50%", "89.2", "87.5", "59.9", "51.3", "72.0"),
            ("TinyBERT4", "18%", "88.7", "86.8", "66.5", "49.7", "72.9"),
            ("BERT-Tickets (IMP)", "30-50%", "88.9", "84.9", "66.0", "53.8", "73.2"),
        ),
    ),
    ReportedTable(
        source="Sanh, Wolf, Rush. Movement Pruning: Adaptive Sparsity by Fine-Tuning. NeurIPS 2020",
        note="BERT-base with distillation; two remaining-weight levels per cell (10% / 3%).",
        columns=("task", "dense", "remaining", "magnitude", "movement", "soft movement"),
        rows=(
            ("MNLI-m acc", "84.5", "10% / 3%", "78.3 / 69.4", "80.1 / 76.5", "81.2 / 79.5"),
            ("QQP acc", "91.4", "10% / 3%", "79.8 / 72.4", "89.7 / 86.1", "90.2 / 89.1"),
        ),
    ),
    ReportedTable(
        source="Sanh, Debut, Chaumond, Wolf. DistilBERT. 2019 (6 layers, half of BERT-base)",
        note="A small dense distilled student, the kind of model `distill` builds.",
        columns=("model", "CoLA mcc", "MRPC", "QNLI acc", "RTE acc", "SST-2 acc", "STS-B"),
        rows=(("DistilBERT", "51.3", "87.5", "89.2", "59.9", "91.3", "86.9"),),
    ),
)


def reported_markdown() -> str:
    parts = []
    for table in REPORTED:
        parts += [f"*{table.source}.* {table.note}", "", table.markdown(), ""]
    return "\n".join(parts)
