"""Why training went wrong, and the lectures' experiments that show it.

    from recipes import diagnostics
    print(diagnostics.diagnose(history=history, human_error=0.01))
    print(diagnostics.critical_point(model, x, y))   # minimum, maximum or saddle
    print(diagnostics.receptive_field(model))        # output size and receptive field

Modules: `flowchart` (the lecture's flowchart: model bias, optimization failure,
overfitting, mismatch), `hessian` (Hessian-vector products, critical points),
`lanczos` (the eigensolver on any symmetric operator, and the spectral density),
`receptive_field` (per-layer output size and receptive field), `plots` (learning curves,
spectra, studies), `experiments` (the batch-size and optimizer studies), `shift` (do
training and validation come from one distribution?), `tables` (plain-text tables).
"""

from recipes.diagnostics import experiments, plots
from recipes.diagnostics.flowchart import (
    ADVICE,
    FINE,
    HIGH_TRAINING_LOSS,
    MISMATCH,
    MODEL_BIAS,
    OPTIMIZATION,
    OVERFITTING,
    Diagnosis,
    diagnose,
)
from recipes.diagnostics.hessian import CriticalPoint, Hessian, critical_point
from recipes.diagnostics.lanczos import Lanczos, lanczos, spectral_density
from recipes.diagnostics.receptive_field import FieldRow, FieldTable, receptive_field
from recipes.diagnostics.shift import Shift, split_shift
from recipes.diagnostics.tables import format_table

__all__ = [
    "ADVICE",
    "FINE",
    "HIGH_TRAINING_LOSS",
    "MISMATCH",
    "MODEL_BIAS",
    "OPTIMIZATION",
    "OVERFITTING",
    "CriticalPoint",
    "Diagnosis",
    "FieldRow",
    "FieldTable",
    "Hessian",
    "Lanczos",
    "Shift",
    "critical_point",
    "diagnose",
    "experiments",
    "format_table",
    "lanczos",
    "plots",
    "receptive_field",
    "split_shift",
    "spectral_density",
]
