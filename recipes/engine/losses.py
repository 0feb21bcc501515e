"""Losses the recipes share, beyond Keras's own."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recipes")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy against integer labels smoothed toward the uniform distribution
    (Szegedy et al., 2016): the true class weighs `1 - label_smoothing` plus its share of
    `label_smoothing` spread over all classes. Keras's sparse loss has no smoothing."""

    def __init__(self, label_smoothing=0.1, name="smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), y_pred.shape[-1])
        return keras.losses.categorical_crossentropy(
            labels, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return dict(super().get_config(), label_smoothing=self.label_smoothing)


def label_smoothing(hp, default=0.0):
    """The tunable `label_smoothing` of `hp` (registered there, defaulting to
    `default`)."""
    return hp.Choice("label_smoothing", [0.0, 0.05, 0.1, 0.2], default=default)


def smoothed_crossentropy(hp, plain, default=0.0):
    """The classification loss of `hp`: cross-entropy with its labels smoothed by
    `label_smoothing(hp, default)`, or `plain` (the recipe's own, unsmoothed) where that
    is 0."""
    smoothing = label_smoothing(hp, default)
    return SmoothedSparseCrossentropy(smoothing) if smoothing else plain
