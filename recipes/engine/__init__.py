"""The engine: the `Recipe` base, the one fit loop, `Result`, tuning and distribution.

    from recipes.engine import Recipe, hyperparameters

Modules: `recipe` (`Recipe`: declarations, checks, `train`, `search`), `fit` (the one
fit loop every training goes through), `result` (`Result`, the run directory,
`diagnose_run`), `hparams` (hyperparameters apart from run options), `tuning`
(KerasTuner searches), `strategy` (`tf.distribute`), `processes` (local worker
processes), `blocks` (model pieces the recipes share), `grow` (a trained model
widened without changing what it computes), `fingerprint` (the data a run or search
resumes on).
"""

from recipes.engine import blocks
from recipes.engine.fit import Fitted, fit, steps_per_epoch
from recipes.engine.hparams import RUN_OPTIONS, hyperparameters
from recipes.engine.recipe import OPTIMIZERS, DataOption, Recipe, make_optimizer
from recipes.engine.result import Result, diagnose_run
from recipes.engine.strategy import STRATEGIES, MultiWorkerMirroredStrategy, get_strategy
from recipes.engine.tuning import TUNERS, RecipeHyperModel, SearchResult, search

__all__ = [
    "OPTIMIZERS",
    "RUN_OPTIONS",
    "STRATEGIES",
    "TUNERS",
    "DataOption",
    "Fitted",
    "MultiWorkerMirroredStrategy",
    "Recipe",
    "RecipeHyperModel",
    "Result",
    "SearchResult",
    "blocks",
    "diagnose_run",
    "fit",
    "get_strategy",
    "hyperparameters",
    "make_optimizer",
    "search",
    "steps_per_epoch",
]
