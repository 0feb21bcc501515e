"""EnsembleAdapter and EnsembleDense against the members written out in numpy."""

import keras
import numpy as np
import pytest
from helpers import check_layer

import layers


def test_the_adapter_scales_each_member_by_its_own_signs(tmp_path):
    out = check_layer(layers.EnsembleAdapter, {"members": 4}, (3, 5), (3, 4, 5), tmp_path)
    adapter = layers.EnsembleAdapter(members=4)
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    y = keras.ops.convert_to_numpy(adapter(x))
    factors = keras.ops.convert_to_numpy(adapter.factors)
    assert set(np.unique(factors)) <= {-1.0, 1.0}
    assert len({tuple(f) for f in factors}) > 1  # the members start apart
    np.testing.assert_allclose(y, x[:, None, :] * factors[None], rtol=1e-6)
    assert out.shape == (3, 4, 5)


def test_the_heads_are_each_members_own_dense_layer(tmp_path):
    check_layer(layers.EnsembleDense, {"members": 3, "units": 2, "activation": "softmax"},
                (4, 3, 5), (4, 3, 2), tmp_path)
    heads = layers.EnsembleDense(members=3, units=2)
    x = np.random.default_rng(1).normal(size=(4, 3, 5)).astype("float32")
    y = keras.ops.convert_to_numpy(heads(x))
    kernel = keras.ops.convert_to_numpy(heads.kernel)
    bias = np.random.default_rng(2).normal(size=(3, 2)).astype("float32")
    heads.bias.assign(bias)
    y = keras.ops.convert_to_numpy(heads(x))
    expected = np.stack([x[:, m] @ kernel[m] + bias[m] for m in range(3)], 1)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(kernel[0], kernel[1])  # each member drawn on its own


@pytest.mark.parametrize("cls, kwargs, message", [
    (layers.EnsembleAdapter, {"members": 0}, "Received: members=0"),
    (layers.EnsembleDense, {"members": 2.5}, "Received: members=2.5"),
    (layers.EnsembleDense, {"units": 0}, "Received: units=0"),
])
def test_bad_arguments_name_the_value(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_heads_reject_a_member_axis_of_another_size():
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, 3, features\)"):
        layers.EnsembleDense(members=3)(np.zeros((2, 4, 5), "float32"))
