"""The learning-rate range test against the one rate known exactly: gradient descent on
a least-squares loss diverges above 2 / (the Hessian's largest eigenvalue)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes.diagnostics import find_learning_rate


def least_squares(seed=0, n=512, d=6):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, d)) * np.linspace(0.5, 3, d)  # an ill-conditioned problem
    y = x @ rng.normal(0, 1, d) + rng.normal(0, 0.1, n)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    ds = tf.data.Dataset.from_tensor_slices((x.astype("float32"), y.astype("float32")))
    # Loss mean((x w + b - y)^2): its Hessian is 2/n [x 1]^T [x 1].
    design = np.hstack([x, np.ones((n, 1))])
    top = np.linalg.eigvalsh(2 / n * design.T @ design)[-1]
    return model, ds.batch(n), 2 / top


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_suggestion_is_below_the_divergence_bound_and_not_timid(seed):
    model, ds, limit = least_squares(seed)
    finding = find_learning_rate(model, ds, min_lr=1e-4, max_lr=10.0, steps=120)
    assert finding.diverged
    # The lowest loss comes a little past the bound (only the sharpest direction grows
    # there, slowly, and the average lags); a tenth of it is stable and not timid.
    assert limit / 20 < finding.suggestion < limit
    # Past the bound, the loss grows: the sweep stopped there, not at the end.
    assert finding.learning_rates[-1] > limit
    assert len(finding.losses) < 120


def test_the_model_is_left_as_it_was():
    model, ds, _ = least_squares(1)
    before = [w.numpy().copy() for w in model.weights]
    find_learning_rate(model, ds, steps=30)
    for a, b in zip(before, model.weights):
        np.testing.assert_array_equal(a, b.numpy())
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_a_schedule_is_an_error():
    model, ds, _ = least_squares()
    model.compile(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)), "mse")
    with pytest.raises(ValueError, match="constant learning rate"):
        find_learning_rate(model, ds)
