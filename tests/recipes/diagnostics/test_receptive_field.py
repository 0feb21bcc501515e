"""recipes.diagnostics.receptive_field: output size N = (W - F + 2P)/S + 1, receptive field and jump, per
layer, checked by hand, against Keras's shapes and against gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes.diagnostics.receptive_field import FieldRow, receptive_field

L = keras.layers


def test_hand_worked_example():
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(16, 5),
            L.ReLU(),
            L.MaxPooling2D(2),
            L.Conv2D(32, 3, strides=2, padding="same"),
            L.Conv2D(32, 3, dilation_rate=2),
            L.Flatten(),
            L.Dense(10),
        ]
    )
    rows = receptive_field(model)
    got = [(r.name, r.output_size, r.receptive_field, r.jump) for r in rows]
    assert [r.layer_type for r in rows] == [
        "Input", "Conv2D", "ReLU", "MaxPooling2D", "Conv2D", "Conv2D", "Flatten"
    ]
    # input: W = 32, receptive field r = 1, jump j = 1.
    assert got[0][1:] == ((32, 32), (1, 1), (1, 1))
    # conv 5x5 valid: N = (32 - 5 + 2*0)/1 + 1 = 28; r = 1 + (5-1)*1 = 5; j = 1.
    assert got[1][1:] == ((28, 28), (5, 5), (1, 1))
    # ReLU passes through.
    assert got[2][1:] == got[1][1:]
    # max pool 2: N = (28 - 2)/2 + 1 = 14; r = 5 + (2-1)*1 = 6; j = 1*2 = 2.
    assert got[3][1:] == ((14, 14), (6, 6), (2, 2))
    # conv 3x3 stride 2 'same': total padding (ceil(14/2) - 1)*2 + 3 - 14 = 1, P = 0.5;
    # N = floor((14 - 3 + 2*0.5)/2) + 1 = 7; r = 6 + (3-1)*2 = 10; j = 2*2 = 4.
    assert got[4][1:] == ((7, 7), (10, 10), (4, 4))
    assert rows[4].padding == (0.5, 0.5)
    # conv 3x3 dilation 2: F = 2*(3-1) + 1 = 5; N = (7 - 5)/1 + 1 = 3;
    # r = 10 + (5-1)*4 = 26; j = 4.
    assert got[5][1:] == ((3, 3), (26, 26), (4, 4))
    assert rows[5].kernel == (5, 5)
    # Flatten ends the spatial part (and the table: Dense is not listed).
    assert not rows[6].spatial and rows[6].output_size is None


ZOO = [
    [L.Conv1D(4, 5, strides=2, padding="causal"), L.Conv1D(4, 3, dilation_rate=3),
     L.ZeroPadding1D((1, 2)), L.AveragePooling1D(3, strides=2, padding="same"),
     L.Cropping1D((2, 1)), L.SeparableConv1D(4, 4, strides=3, padding="same")],
    [L.Conv2D(4, (3, 5), strides=(1, 2)), L.BatchNormalization(), L.Dropout(0.1),
     L.ZeroPadding2D(((1, 0), (2, 3))), L.DepthwiseConv2D(3, strides=2, padding="same"),
     L.MaxPooling2D((3, 2), strides=(2, 3), padding="same"),
     L.Cropping2D(((1, 0), (0, 1))),
     L.SeparableConv2D(4, 2, dilation_rate=2), L.Dense(3), L.GlobalAveragePooling2D()],
    [L.Conv3D(2, 3, strides=2, padding="same"), L.MaxPooling3D(2),
     L.Conv3D(2, (1, 2, 3))],
]
INPUTS = [(101, 3), (45, 37, 3), (17, 18, 19, 1)]


@pytest.mark.parametrize("layers, input_shape", list(zip(ZOO, INPUTS)))
def test_output_sizes_agree_with_keras(layers, input_shape):
    model = keras.Sequential([keras.Input(input_shape), *layers])
    rows = receptive_field(model)
    shape = (None, *input_shape)
    for layer, row in zip(layers, rows[1:]):
        shape = layer.compute_output_shape(shape)
        assert row.name == layer.name
        if row.spatial:
            assert row.output_size == tuple(shape[1:-1]), row
            # N = floor((W - F + 2P)/S) + 1 holds with the reported P.
    for before, row in zip(rows, rows[1:]):
        if row.spatial:
            for w, f, p, s, n in zip(
                before.output_size, row.kernel, row.padding, row.stride, row.output_size
            ):
                assert n == (w - f + 2 * p) // s + 1


def test_receptive_field_matches_the_gradient_support():
    # With positive weights, the gradient of one output with respect to the input is
    # non-zero exactly on that output's receptive field.
    ones = "ones"
    model = keras.Sequential(
        [
            keras.Input((64, 64, 1)),
            L.Conv2D(1, 3, kernel_initializer=ones),
            L.AveragePooling2D(2),
            L.Conv2D(1, (3, 5), strides=2, kernel_initializer=ones),
            L.Conv2D(1, 3, dilation_rate=2, kernel_initializer=ones),
        ]
    )
    last = receptive_field(model)[-1]
    x = tf.random.uniform((1, 64, 64, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = model(x)[0, 2, 1, 0]
    support = np.argwhere(tape.gradient(out, x).numpy()[0, :, :, 0] != 0)
    extent = tuple(support.max(axis=0) - support.min(axis=0) + 1)
    # r: 1 -> 3 (conv 3) -> 4 (pool 2, j = 2) -> 8 x 12 (conv 3x5, j = 4)
    #    -> 24 x 28 (dilated conv: F = 5, + 4 * 4).
    assert extent == last.receptive_field == (24, 28)
    # Output (2, 1) starts at input pixel (2 * jump, 1 * jump).
    assert tuple(support.min(axis=0)) == (2 * last.jump[0], 1 * last.jump[1])


def test_functional_model_nested_augmentation_and_unknown_sizes():
    augment = keras.Sequential([L.RandomFlip("horizontal"), L.RandomZoom(0.1)])
    inputs = keras.Input((None, None, 3))
    x = augment(inputs)
    x = L.Rescaling(1 / 255)(x)
    x = L.Conv2D(8, 3, strides=2)(x)
    outputs = L.GlobalMaxPooling2D()(x)
    rows = receptive_field(keras.Model(inputs, outputs))
    assert [r.layer_type for r in rows] == [
        "Input", "RandomFlip", "RandomZoom", "Rescaling", "Conv2D", "GlobalMaxPooling2D"
    ]
    assert rows[4].output_size == (None, None)
    assert rows[4].receptive_field == (3, 3) and rows[4].jump == (2, 2)


def test_table_prints():
    model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(4, 3), L.Flatten()])
    text = str(receptive_field(model))
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["layer", "type", "F", "S", "P"]
    assert "26x26" in lines[2] and "3x3" in lines[2]
    assert "not spatial" in lines[3]
    assert isinstance(receptive_field(model)[1], FieldRow)


def test_errors_name_the_layer():
    model = keras.Sequential([keras.Input((8, 8, 1)), L.UpSampling2D(name="up")])
    with pytest.raises(ValueError, match="'up' of class UpSampling2D"):
        receptive_field(model)
    # Unless declared pointwise... which UpSampling2D is not: Keras's shape disagrees.
    with pytest.raises(ValueError, match="Keras built"):
        receptive_field(model, passthrough=(L.UpSampling2D,))
    with pytest.raises(ValueError, match="no spatial input axes"):
        receptive_field(keras.Sequential([keras.Input((784,)), L.Dense(10)]))
    with pytest.raises(ValueError, match="not built"):
        receptive_field(keras.Sequential([L.Conv2D(4, 3)]))
    channels_first = keras.Sequential(
        [keras.Input((1, 8, 8)), L.Conv2D(4, 3, data_format="channels_first")]
    )
    with pytest.raises(ValueError, match="channels_first"):
        receptive_field(channels_first)


def test_passthrough_custom_layer():
    class Square(L.Layer):
        def call(self, x):
            return x * x

    model = keras.Sequential([keras.Input((8, 8, 1)), Square(), L.Conv2D(1, 3)])
    with pytest.raises(ValueError, match="Square"):
        receptive_field(model)
    assert receptive_field(model, passthrough=(Square,))[-1].receptive_field == (3, 3)
