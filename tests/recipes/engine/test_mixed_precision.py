"""Mixed precision, as this CPU can prove it: every recipe trains and exports under
`mixed_bfloat16`, computing in bfloat16 with float32 variables, a float32 loss and
float32 outputs; the custom layers follow the policy."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import layers
import recipes
from recipes.engine.strategy import jit_compile, mixed_precision_policy


@pytest.fixture
def bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def small_data(recipe):
    rng = np.random.default_rng(0)
    if recipe.name in ("tabular",):
        n = 120
        frame = pd.DataFrame(dict(
            town=rng.choice(["a", "b", "c"], n), rooms=rng.integers(1, 4, n),
            area=rng.uniform(30, 200, n)))
        frame["price"] = 2 * frame.area + 10 * frame.rooms + rng.normal(0, 5, n)
        return dict(frame=frame, target="price")
    if recipe.name == "regression":
        return dict(limit=400)
    shape = getattr(recipe, "input_shape", (28, 28, 1))
    return dict(x=rng.integers(0, 256, (96, *shape)).astype("uint8"), y=np.arange(96) % 10)


def test_the_policy_and_xla_follow_the_device():
    gpu = bool(tf.config.list_physical_devices("GPU"))
    assert mixed_precision_policy() == ("mixed_float16" if gpu else "mixed_bfloat16")
    assert jit_compile() == gpu  # XLA is ~3x slower for small convnets on this CPU


@pytest.mark.slow
@pytest.mark.parametrize("name", recipes.list_recipes())
def test_every_recipe_trains_and_exports_in_mixed_bfloat16(name, bfloat16, tmp_path):
    recipe = recipes.get(name)
    hp = {"activation": "maxout"} if name in ("mlp", "mlp_mnist") else {}
    hp = {"model": "piecewise"} if name == "regression" else hp
    result = recipe.train(epochs=1, batch_size=32, hp=hp, run_dir=tmp_path / "run",
                          verbose=0, diagnose=False, **small_data(recipe))
    model = result.model
    assert np.isfinite(result.history["loss"][0])
    assert {w.dtype for w in model.weights if w.trainable} == {"float32"}
    assert any(layer.compute_dtype == "bfloat16" for layer in model.layers)
    assert model.outputs[0].dtype == "float32"
    served = tf.saved_model.load(result.export(tmp_path / "saved"))
    spec = served.signatures["serve"].structured_outputs
    assert {v.dtype for v in spec.values() if v.dtype.is_floating} == {tf.float32}


@pytest.mark.parametrize(
    "make, shape",
    [(lambda: layers.Maxout(4, pieces=2), (3, 5)), (lambda: layers.PiecewiseLinear(3), (3, 2)),
     (lambda: layers.HardSigmoid(), (3, 5))],
)
def test_custom_layers_compute_in_the_policy_dtype(make, shape, bfloat16):
    layer = make()  # built under the policy
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    y = layer(x)
    assert layer.compute_dtype == "bfloat16" and y.dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in layer.weights)
