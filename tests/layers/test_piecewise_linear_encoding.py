"""PiecewiseLinearEncoding against the paper's formula written out in numpy; FillMissing
against numpy's own NaN handling; RobustScale against its formula in numpy."""

import keras
import numpy as np
import pytest
from helpers import check_layer

import layers


def reference(x, edges):
    """Gorishniy et al. (2022), eq. 1, one component at a time."""
    edges = np.asarray(edges, float)
    bins = len(edges) - 1
    out = np.zeros((len(x), bins))
    for t in range(bins):
        left, right = edges[t], edges[t + 1]
        for i, v in enumerate(x):
            if v < left and t > 0:
                out[i, t] = 0.0
            elif v >= right and t < bins - 1:
                out[i, t] = 1.0
            else:
                out[i, t] = (v - left) / (right - left)
    return out


def test_components_follow_the_formula_inside_and_outside_the_edges():
    edges = [-1.0, 0.0, 0.5, 2.0, 10.0]
    x = np.array([-5.0, -1.0, -0.5, 0.0, 0.25, 1.0, 2.0, 7.0, 12.0], "float32")
    got = keras.ops.convert_to_numpy(layers.PiecewiseLinearEncoding(edges)(x))
    np.testing.assert_allclose(got, reference(x, edges), rtol=1e-6, atol=1e-6)
    # A dense layer over the components is a piecewise-linear curve through the knots.
    slopes = np.array([1.0, -2.0, 0.5, 3.0])
    curve = got @ (slopes * np.diff(edges))
    np.testing.assert_allclose(np.interp(0.25, edges, np.r_[0, np.cumsum(slopes * np.diff(edges))]),
                               curve[4], rtol=1e-6)


def test_atoms_add_a_flag_where_the_value_equals_each():
    edges, atoms = [0.0, 3.0, 10.0], [0.0, 3.0]
    x = np.array([0.0, 1e-3, 0.5, 3.0, 3.001, 10.0, -0.0], "float32")
    got = keras.ops.convert_to_numpy(layers.PiecewiseLinearEncoding(edges, atoms)(x))
    np.testing.assert_allclose(got[:, :2], reference(x, edges), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got[:, 2:], x[:, None] == np.array(atoms, "float32"))
    # Without it, 0 and 0.001 differ by 1/3000 of one component: as good as the same.
    assert got[0, 2] == 1 and got[1, 2] == 0 and got[6, 2] == 1


def test_round_trips_and_shapes(tmp_path):
    check_layer(layers.PiecewiseLinearEncoding, {"edges": [-1.0, 0.0, 2.0]}, (5, 1), (5, 2), tmp_path)
    check_layer(layers.PiecewiseLinearEncoding, {"edges": [-1.0, 0.0, 2.0], "atoms": [0.0]},
                (5, 1), (5, 3), tmp_path)
    check_layer(layers.FillMissing, {"value": 1.5}, (5, 1), (5, 1), tmp_path)
    check_layer(layers.RobustScale, {"center": 1.0, "scale": 2.0, "clip": 4.0}, (5, 1), (5, 1),
                tmp_path)


@pytest.mark.parametrize("edges", [[1.0], [0.0, 0.0], [2.0, 1.0, 3.0]])
def test_edges_must_increase(edges):
    with pytest.raises(ValueError, match="strictly increasing"):
        layers.PiecewiseLinearEncoding(edges)


def test_fill_missing_fills_nan_and_flags_it():
    x = np.array([1.0, np.nan, -2.0, np.nan], "float32")
    filled, missing = layers.FillMissing(7.0, indicator=True)(x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(filled)[:, 0],
                                  np.where(np.isnan(x), 7.0, x))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(missing)[:, 0], np.isnan(x))
    plain = layers.FillMissing(0.0)(x[:, None])
    assert keras.ops.convert_to_numpy(plain).shape == (4, 1)


def test_robust_scale_keeps_small_values_and_bends_outliers_towards_the_clip():
    x = np.array([-1e6, -30.0, 4.0, 10.0, 11.0, 16.0, 1e6], "float32")
    got = keras.ops.convert_to_numpy(layers.RobustScale(10.0, 2.0, clip=3.0)(x))[:, 0]
    z = (x.astype("float64") - 10.0) / 2.0
    np.testing.assert_allclose(got, z / np.sqrt(1 + (z / 3.0) ** 2), rtol=1e-6, atol=1e-7)
    assert abs(got[4] - 0.5) < 0.01  # half a scale from the center: nearly unchanged
    assert abs(got[0] + 3.0) < 1e-3 and abs(got[-1] - 3.0) < 1e-3  # outliers: near the clip
    assert np.all(np.diff(got) > 0)  # the order of the values is kept


@pytest.mark.parametrize("scale, clip", [(0.0, 3.0), (-1.0, 3.0), (1.0, 0.0)])
def test_robust_scale_needs_a_positive_scale_and_clip(scale, clip):
    with pytest.raises(ValueError, match="above 0"):
        layers.RobustScale(0.0, scale, clip=clip)
