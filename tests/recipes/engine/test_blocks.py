"""recipes.engine.blocks: the dense body's L1 and L2 penalties, and what each does."""

import keras
import numpy as np
import pytest

from recipes.engine import blocks, hyperparameters


def test_dense_body_registers_l1_beside_l2():
    hp = hyperparameters({"l1": 1e-4, "l2": 1e-5, "depth": 2, "units": 32})
    inputs = keras.Input((6,))
    model = keras.Model(inputs, blocks.dense_body(inputs, hp))
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 2
    for layer in dense:
        config = layer.kernel_regularizer.get_config()
        assert config["l1"] == pytest.approx(1e-4) and config["l2"] == pytest.approx(1e-5)
    assert {"l1", "l2"} <= {p.name for p in hp.space}
    # By default neither penalty is on: the body is unchanged for existing recipes.
    default = hyperparameters()
    inputs = keras.Input((6,))
    plain = keras.Model(inputs, blocks.dense_body(inputs, default))
    assert default.get("l1") == 0.0 and default.get("l2") == 0.0
    assert all(
        layer.kernel_regularizer is None
        for layer in plain.layers
        if isinstance(layer, keras.layers.Dense)
    )


def test_regularizer_arguments():
    assert blocks.regularizer() is None
    assert blocks.regularizer(l1=0.0, l2=0.0) is None
    assert isinstance(blocks.regularizer(l1=1e-3), keras.regularizers.L1L2)
    with pytest.raises(ValueError, match=r"Received: l1=-0.1"):
        blocks.regularizer(l1=-0.1)


def fit_sparse_problem(l1=0.0, l2=0.0, steps=1500):
    """A linear model on 8 examples of 10 inputs where y = 2 x0 - 3 x1.

    With fewer examples than inputs the data alone cannot tell which inputs matter:
    without a penalty, gradient descent leaves the 8 irrelevant weights near where they
    started. Plain SGD, so that the penalty's own gradient is what moves them (Adam
    rescales every step to about the learning rate, which blurs L1 and L2).
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 10)).astype("float32")
    y = (2 * x[:, 0] - 3 * x[:, 1])[:, None].astype("float32")
    layer = keras.layers.Dense(
        1,
        use_bias=False,
        kernel_regularizer=blocks.regularizer(l1=l1, l2=l2),
        kernel_initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=1),
    )
    model = keras.Sequential([keras.Input((10,)), layer])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    # One full batch per step: the data repeated `steps` times, in one epoch.
    model.fit(np.tile(x, (steps, 1)), np.tile(y, (steps, 1)), batch_size=8, epochs=1,
              shuffle=False, verbose=0)
    w = keras.ops.convert_to_numpy(layer.kernel)[:, 0]
    return w[:2], w[2:]


@pytest.mark.slow
def test_l1_zeroes_irrelevant_weights_and_l2_only_shrinks_them():
    _, free = fit_sparse_problem()
    _, shrunk = fit_sparse_problem(l2=0.05)
    relevant, sparse = fit_sparse_problem(l1=0.05)
    near_zero = lambda w: int(np.sum(np.abs(w) < 1e-2))

    # Without a penalty the irrelevant weights stay where they started.
    assert near_zero(free) <= 2 and np.linalg.norm(free) > 0.5
    # L1 drives (nearly) all of them to zero, and keeps the two that matter.
    assert near_zero(sparse) >= 6
    assert np.linalg.norm(sparse) < 0.1 * np.linalg.norm(free)
    np.testing.assert_allclose(relevant, [2.0, -3.0], atol=0.2)
    # L2 shrinks them, but leaves them non-zero.
    assert near_zero(shrunk) <= 2
    assert np.linalg.norm(sparse) < np.linalg.norm(shrunk) < np.linalg.norm(free)
