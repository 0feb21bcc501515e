"""Fine-tuning a pretrained backbone in two phases, in one `fit`: the head, then all.

Keras's transfer-learning guide trains a new head on a frozen backbone, then unfreezes
the backbone and trains again at a lower rate, with two `fit` calls and a second
`compile`. Here the switch happens inside one `fit`, at the step where the
`FineTuneCosine` schedule starts its second phase, so that the run's history, its
early stopping and an interrupted run's `keras.callbacks.BackupAndRestore` span both
phases. Keras has no such callback, hence this module.
"""

import keras

from callbacks.schedules import FineTuneCosine


def fine_tune_schedule(optimizer):
    """The `FineTuneCosine` schedule `optimizer` follows, or `None`."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # a loss-scale wrapper
    schedule = getattr(optimizer, "_learning_rate", None)
    return schedule if isinstance(schedule, FineTuneCosine) else None


def backbones(model):
    """The models nested in `model` (its pretrained backbone)."""
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def set_phase(model, whole):
    """Freezes the nested models of `model` (`whole=False`), or unfreezes them, their
    batch normalization layers excepted, which stay frozen and so in inference mode
    (`whole=True`). Returns whether anything changed."""
    changed = False
    for backbone in backbones(model):
        if backbone.trainable == whole:
            continue
        backbone.trainable = whole
        if whole:
            for layer in _inner_layers(backbone):
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
        changed = True
    return changed


def _inner_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _inner_layers(layer)


class FineTune(keras.callbacks.Callback):
    """Unfreezes the backbone when the `FineTuneCosine` schedule's second phase begins.

    At each epoch's start the model's nested models (its backbone) are frozen while
    the optimizer's step is below the schedule's `head_steps`, and trainable from
    then on, their batch normalization layers excepted (their moving statistics stay
    those of pretraining, as Keras's guide advises); the training step is traced
    again when that changes. The optimizer must have been built over the variables
    of both phases (see `recipes.engine.backbone.two_phases`). Does nothing when the
    optimizer follows another schedule.

    Example:

    ```python
    model.fit(train, epochs=10, callbacks=[FineTune()])
    ```
    """

    def on_epoch_begin(self, epoch, logs=None):
        schedule = fine_tune_schedule(self.model.optimizer)
        if schedule is None:
            return
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if set_phase(self.model, whole=step >= schedule.head_steps):
            self.model.make_train_function(force=True)
