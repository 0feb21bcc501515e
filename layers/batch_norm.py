"""Batch normalization of images by TensorFlow's fused kernel.

`keras.layers.BatchNormalization` computes the batch mean and variance, the
normalization and their gradients as a chain of separate operations, each a pass over
the feature map. TensorFlow has one kernel that does the normalization, and one its
gradient (`FusedBatchNormV3`, the one tf.keras 2 used by default for images).
`FusedBatchNormalization` is Keras's layer with that kernel where it applies: 4-D
channels-last inputs on the TensorFlow backend, without a mask, renorm or synchronized
statistics. Everything else (weights, momentum, epsilon, config, the moving-average
update) is Keras's, and so are the results, up to float rounding; elsewhere it is
Keras's layer unchanged (see `benchmarks/batch_norm.py` for the time it saves).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recipes")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` computed by TensorFlow's fused kernel.

    Takes the arguments of `keras.layers.BatchNormalization` and holds the same
    weights; a model built with it computes what the same model with Keras's layer
    computes, in training (batch statistics, moving averages updated with `momentum`)
    and in inference (moving statistics). Inputs the fused kernel does not take (not
    4-D with channels last, a mask, `renorm`, `synchronized`, another backend) go
    through Keras's own computation.

    Example:

    ```python
    x = keras.layers.Conv2D(32, 3, use_bias=False)(inputs)
    x = layers.FusedBatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    ```
    """

    def _fused(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and not self.renorm
            and not self.synchronized
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = tf.cast(inputs, "float32")
        channels = x.shape[-1]
        gamma = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        training = bool(training and self.trainable)
        # In training the kernel takes empty statistics and returns the batch's; in
        # inference it normalizes by the moving ones.
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta,
            mean=tf.zeros([0]) if training else tf.cast(self.moving_mean, "float32"),
            variance=tf.zeros([0]) if training else tf.cast(self.moving_variance, "float32"),
            epsilon=self.epsilon, is_training=training,
        )
        if training:
            # The kernel returns the variance with Bessel's correction, n / (n - 1);
            # Keras averages the plain batch variance.
            n = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), "float32")
            variance = variance * (n - 1.0) / tf.maximum(n, 1.0)
            momentum = self.momentum
            self.moving_mean.assign(
                tf.cast(self.moving_mean, "float32") * momentum + mean * (1.0 - momentum))
            self.moving_variance.assign(
                tf.cast(self.moving_variance, "float32") * momentum
                + variance * (1.0 - momentum))
        return ops.cast(y, self.compute_dtype)
