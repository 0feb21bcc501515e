"""Test-time augmentation by mirror images, inside the model.

A network trained on images flipped left-right at random has learned both an image and
its mirror image; averaging its two predictions is a better prediction than either
(test-time augmentation). `MirrorBatch` and `MirrorMean` do it inside one functional
chain of layers, so that validation, `evaluate`, `predict` and the exported model all
predict the same way:

    x = layers.MirrorBatch()(x)         # inference: [x; x flipped], twice the batch
    ...                                 # layers that treat each example alone
    outputs = layers.MirrorMean()(y)    # inference: the mean of each example's two

In training both layers pass their input through, so training costs what it did. In
inference the layers between see twice the batch: they must treat each example alone
(convolutions, pooling, dense layers, batch normalization with its moving statistics,
dropout, which is off).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recipes")
class MirrorBatch(keras.layers.Layer):
    """In inference, the batch followed by its mirror images (flipped left-right:
    along the second-to-last axis of channels-last images), twice the batch; in
    training, the batch unchanged. Pair it with `MirrorMean` at the output.

    Example:

    >>> x = np.arange(4.0).reshape(1, 1, 2, 2)
    >>> layers.MirrorBatch()(x)[:, 0, :, 0]     # the image, then its mirror image
    [[0., 2.], [2., 0.]]
    """

    def call(self, inputs, training=None):
        if training:
            return inputs
        return ops.concatenate([inputs, ops.flip(inputs, axis=-2)], axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="recipes")
class MirrorMean(keras.layers.Layer):
    """In inference, the mean of the two halves of the batch (each example's output
    for the image and for its mirror image, from `MirrorBatch`); in training, the
    batch unchanged.

    Example:

    >>> layers.MirrorMean()(np.array([[0.2, 0.8], [0.4, 0.6]]))
    [[0.3, 0.7]]
    """

    def call(self, inputs, training=None):
        if training:
            return inputs
        half = ops.shape(inputs)[0] // 2
        return (inputs[:half] + inputs[half:]) / 2

    def compute_output_shape(self, input_shape):
        return input_shape
