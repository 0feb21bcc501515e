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
