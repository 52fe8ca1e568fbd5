"""`ksp-tuned`: `ksp` with a hard-label term (weight 1) beside its three distillation terms.

The one change to SparseBERT's loss that the held-out split called as a gain for the CPU board's
scale (the card gives the test). Registered as a variant of the ksp class, searched like `ksp`.
"""

from methods.ksp import GradualMagnitudeConfig, GradualMagnitudePruning
from suite.api import MethodInfo
from suite.distill import KD_SEARCH, KDWeights
from suite.registry import register_method

register_method(
    MethodInfo(
        name="ksp-tuned",
        summary="ksp plus a hard-label task loss (weight 1) beside the distillation terms",
        paper="Xu, Yen, Zhao, Xiao. NAACL 2021 (arXiv 2104.08682), with TinyBERT-style hard labels",
        needs_teacher=True,
    ),
    config=GradualMagnitudeConfig(kd=KDWeights(hard=1.0)),
    search=KD_SEARCH,
)(GradualMagnitudePruning)
