"""The registry: every recipe builds with its defaults; names are checked; imports are cheap."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import recipes
from recipes.engine import hyperparameters


def test_list_recipes_names_every_recipe():
    assert recipes.list_recipes() == [
        "cnn", "cnn_cifar10", "cnn_mnist", "mlp", "mlp_mnist", "regression", "tabular"
    ]


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(ValueError, match="Unknown recipe 'cnn2'. Known recipes: cnn, cnn_cifar10"):
        recipes.get("cnn2")


@pytest.mark.slow
@pytest.mark.parametrize("name", recipes.list_recipes())
def test_every_recipe_builds_with_defaults_and_trains_a_step(name):
    recipe = recipes.get(name)
    assert recipe.name == name
    assert recipe.description == recipes.describe(name)
    model = recipe.build_model()  # no tuner: every tunable takes its default
    recipe.compile(model)
    before = [w.copy() for w in model.get_weights()]
    if isinstance(model.input, dict):  # a table: one batch of the demo table
        model.fit(recipe.load_data().train.batch(4).take(1), epochs=1, verbose=0, shuffle=False)
    else:
        shape = (4, *model.input_shape[1:])
        x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
        if recipe.loss == "sparse_categorical_crossentropy":
            y = np.arange(4) % model.output_shape[-1]
            assert model.output_shape[-1] == 10
        else:
            y = np.ones((4, 1), "float32")
        model.fit(x, y, epochs=1, verbose=0)
    after = model.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(before, after))


@pytest.mark.slow
def test_importing_a_recipe_does_no_tensorflow_work():
    code = (
        "import sys\n"
        "import recipes\n"
        "recipes.list_recipes()\n"
        "assert 'tensorflow' not in sys.modules, 'list_recipes imported TensorFlow'\n"
        "from recipes import cnn_mnist\n"
        "from tensorflow.python.eager import context\n"
        "assert not context.context()._initialized, 'TF runtime initialised at import'\n"
        "assert 'tensorflow_datasets' not in sys.modules, 'data loaded at import'\n"
        "assert callable(cnn_mnist.train) and callable(cnn_mnist.build_model)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hyperparameter_values_and_defaults():
    recipe = recipes.get("cnn_mnist")
    default = recipe.build_model()
    wider = recipe.build_model(hyperparameters({"filters": 8}))
    convs = [l for l in wider.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [8, 16, 32]
    assert wider.count_params() < default.count_params()
