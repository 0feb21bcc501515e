"""`train(auto=BUDGET)`: the recipe takes its own diagnosis's advice, step by step.

    result = cnn.train(images="photos/", auto="15m")
    python -m recipes train cnn --images photos/ --auto 15m

Each step trains one model and ends with the flowchart's diagnosis of the best model
so far (`recipes.diagnostics.diagnose`, on training and validation only). The
diagnosis picks the next step's move, each taken only on its evidence (Hung-yi Lee's
"general guidance", ML 2021):

- **high training loss**, undecided: train the model one layer deeper the same way
  (or one shallower, at the deepest), the lecture's test. If the deeper model fits the
  training data *worse*, it is an optimization failure; if better, model bias.
- **model bias**: a pretrained backbone, for a `cnn` from scratch on photos whose
  backbone weights are at hand (`recipes.engine.backbone.at_hand`: the `weights` file,
  else Keras's cache; nothing is downloaded), fine-tuned in two phases; then
  train longer when the training loss was still falling over the last
  quarter of the epochs, then wider (`filters`/`units` x2, starting from the best
  model widened by `recipes.engine.grow.widen` where it maps the recipe's layers: it
  computes what the narrower model did), then deeper, each within the recipe's own
  search space.
- **optimization failure**: the learning-rate range test
  (`callbacks.find_lr`, fastai's valley rule) sets the learning rate; then Adam (for
  another optimizer), batch normalization (where the recipe has it), a longer warm-up.
  A loss that became NaN, blew up or never fell is an optimization failure too: the
  range test, then a tenth of the learning rate with warm-up, then gradients clipped
  to norm 1.
- **overfitting**: a pretrained backbone, as for model bias (pretrained features
  are the field's answer to small photo sets); stronger
  augmentation (x2, within what keeps the data natural, `recipes.data.LIMITS`), more
  dropout (+0.2), L2 (at least 1e-3, else 10x), a narrower model. Early stopping with the best
  weights restored is always on.
- **fine**: stop.

Before the first move, and whatever the verdict, the loop checks that the validation
split comes from the training data's distribution (`recipes.diagnostics.split_shift`):
if it does not, choices made on it mislead (a shifted validation split looks like
overfitting, or, read at its best epoch, like a high training loss), so the loop stops
and says so.

A step is kept when it beats the best so far on validation (the error for
classifiers, else the recipe's first metric such as the MAE, which unlike the loss
holds no weight penalty; the validation loss breaks ties), and the moves of
the best model's diagnosis are tried in order until one is kept or none is left. The
test split is evaluated once, at the end, with the chosen model.

The budget is wall-clock seconds for the whole loop. A step starts only if its estimate
fits in what is left: the parent's median seconds per epoch times the epochs times the
move's cost per step relative to its parent's, plus the parent's time outside its
epochs, taken `DRIFT` (1.2) times over, since a machine's speed drifts within a run and
a step stopped by the budget ends before its learning rate has annealed. A move that
changes the model (deeper, shallower, wider, narrower, batch norm, members, backbone)
has that cost timed: a short probe trains the parent's model and the move's for up to
`PROBE_STEPS` steps each on the same pipeline, and takes the median of each one's step
times, which a pause of the machine does not move (a backbone's two phases on half of them
each, weighted by their steps; `AutoLoop.probe`, kept in `auto.json` under
`checks.probes` and in the step's `probe`), unless too little is left for a quarter of
what the fixed factor (`COST`) says; other moves cost what their parent did (twice the
epochs: twice the time). A move that does not fit but would with at least half its
epochs is trained with the epochs that fit (at `DRIFT` times the estimate), its warm-up
and schedule shortened with them (the table says so). A running step stops at the end of
the epoch after which one more would overrun the budget, less `RESERVE` of it kept for
the end (its stop reason is then "budget").

When two or more moves of the diagnosis fit, the first `SCREEN_MOVES` of them are
screened before one trains in full (successive halving, one round): each trains on
`SCREEN` of its epochs (its schedule shortened with them), all measured on the same
validation split, and the best goes on, if the budget holds the screens and the
costliest move in full (else the first move goes on, as without screening). The step's
`screen` in `auto.json` lists what each screened move reached, and the loop prints it.

The budget is spent, not left over: when no move of the diagnosis fits (or none is left)
while more than `FILL` of the budget remains, the chosen model is polished: it trains on
from its own weights for all the epochs that fit in what is left (less `RESERVE`, at its
own measured pace), at a tenth of its peak learning rate with the same warm-up and a
cosine decay over those epochs (a warm restart), without early stopping, and is kept if
it does better on validation; each model is polished once. Before the budget is spent,
the loop stops only when the diagnosis says "fine", the validation error is 0, the
validation split looks shifted, or every move and polish has been tried.

The loop and its state are in `recipes.engine.auto.loop`, the moves in
`recipes.engine.auto.moves` (the loop's clock is `loop.clock`).

Each step is a run directory `RUN_DIR/step-N` (an interrupted step resumes from its
backup); `RUN_DIR/auto.json` holds every finished step and the step in progress, so
the same command again resumes where it stopped, and `RUN_DIR/auto.png` plots the
steps' learning curves. `auto.json`:

    {"recipe": ..., "budget_seconds": 900, "elapsed_seconds": 412.3, "base": {...},
     "steps": [{"step": 0, "parent": null, "move": "defaults", "change": "defaults",
                "diagnosis": null, "hyperparameters": {...}, "settings": {...},
                "augment_scale": 1.0, "train_loss": ..., "val_loss": ...,
                "train_error": ..., "val_error": ..., "seconds": ..., "estimate": null,
                "kept": true, "stop_reason": null, "history": {...}}, ...],
     "current": null or the step in progress, "chosen": 0, "stopped": "fine: ...",
     "tried": [...], "checks": {...}}
"""

from recipes.diagnostics.history import best_epoch, measures
from recipes.engine.auto.loop import COLUMNS, PROBE_STEPS, PROBE_WARMUP, AutoLoop, clock, score
from recipes.engine.auto.moves import COST, FILL, PROBED, RESERVE, SCREEN, SCREEN_MOVES
from recipes.engine.budget import Deadline, parse_budget

__all__ = [
    "COLUMNS",
    "COST",
    "FILL",
    "PROBED",
    "PROBE_STEPS",
    "PROBE_WARMUP",
    "RESERVE",
    "SCREEN",
    "SCREEN_MOVES",
    "AutoLoop",
    "Deadline",
    "best_epoch",
    "clock",
    "measures",
    "parse_budget",
    "score",
]
