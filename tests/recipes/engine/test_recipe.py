"""`Recipe.build` and `Recipe.compile`: the batch-norm momentum a model leaves unset
follows the training's length; one it sets, Keras's 0.99 included, stays."""

import keras
import pytest
import tensorflow as tf

import layers
from helpers import TinyRecipe, tiny_data
from recipes.engine.recipe import UNSET, batch_norm_momentum, momentum_unset


class Normed(TinyRecipe):
    """Four batch norms: unset, Keras's default value given, another value given, and
    the project's fused layer unset."""

    def build_model(self, hp=None, data=None):
        x = inputs = keras.Input((8,))
        for layer in (keras.layers.BatchNormalization(),
                      keras.layers.BatchNormalization(momentum=0.99),
                      keras.layers.BatchNormalization(momentum=0.95),
                      layers.FusedBatchNormalization()):
            x = layer(x)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def momenta(model):
    return [layer.momentum for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.mark.parametrize("epochs, expected", [(2, 0.9), (50, 1 - 10 / 300)])
def test_build_sets_only_the_momentum_left_unset(epochs, expected):
    data = tiny_data()  # 96 examples, 6 steps of 16 an epoch
    model = Normed().build(None, data, tf.distribute.get_strategy(), epochs, 16)
    assert batch_norm_momentum(6 * epochs) == pytest.approx(expected)
    assert momenta(model) == [pytest.approx(expected), 0.99, 0.95, pytest.approx(expected)]
    # Outside the block, Keras's layer is Keras's own again.
    assert keras.layers.BatchNormalization().momentum == 0.99


def test_compile_without_a_step_count_gives_the_unset_momentum_keras_default():
    with momentum_unset():
        model = Normed().build_model()
    assert momenta(model) == [UNSET, 0.99, 0.95, UNSET]
    assert UNSET != 0.99 and UNSET == pytest.approx(0.99, abs=1e-15)
    Normed().compile(model)
    assert momenta(model) == [0.99, 0.99, 0.95, 0.99]
    # What compile chose is what the model saves.
    config = keras.layers.BatchNormalization.from_config(model.layers[1].get_config())
    assert config.momentum == 0.99
