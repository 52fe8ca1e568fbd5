"""`magnitude`: the same gradual magnitude pruning as `ksp`, with the task loss only (no teacher).

SparseBERT's own ablation: does the knowledge matter? Registered as a variant of the ksp class.
"""

from methods.ksp import GradualMagnitudeConfig, GradualMagnitudePruning
from suite.api import MethodInfo
from suite.registry import register_method
from suite.spec.search import SearchSpace, Uniform

register_method(
    MethodInfo(
        name="magnitude",
        summary="gradual magnitude pruning during fine-tuning, task loss only (ksp without the teacher)",
        paper="Zhu & Gupta 2017 schedule; the no-distillation ablation of Xu et al. NAACL 2021",
    ),
    config=GradualMagnitudeConfig(distill=False),
    search=SearchSpace({"initial_sparsity": Uniform(0.0, 0.5)}),
)(GradualMagnitudePruning)
