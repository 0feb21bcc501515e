"""recipes: Keras training recipes, searches and diagnostics from two deep-learning courses.

    from recipes import cnn_mnist
    result = cnn_mnist.train(epochs=5)

The registry (as timm's model registry): every module at the top of this package, besides
`__main__`, is a recipe, registered under its module name; its one-line description is
the first line of its docstring. `list_recipes()` names them, `get(name)` returns one.
Finding and describing them reads the source files only, and importing this package or a
recipe module does no TensorFlow work: data, devices and models are touched only when a
recipe trains, searches or builds.

The machinery lives in three packages, imported one way (recipes -> engine -> data,
diagnostics -> `layers`, `callbacks`):
- `recipes.engine`: the `Recipe` base, the one fit loop, `Result`, tuning, distribution.
- `recipes.data`: sources, splits, checks, input pipelines and augmentation presets.
- `recipes.diagnostics`: the flowchart, Hessian, receptive field, plots, experiments.
"""

import ast
import importlib
import os
import pkgutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

__all__ = ["get", "list_recipes", "describe", "preset_of", "load"]
__version__ = "0.1.0"

_HERE = Path(__file__).parent


def list_recipes():
    """Returns the names of all registered recipes, sorted."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(_HERE)])
        if not m.ispkg and not m.name.startswith("_")
    )


def describe(name):
    """Returns the one-line description of a recipe (its docstring's first line, after
    the name)."""
    doc = ast.get_docstring(ast.parse((_HERE / f"{_check(name)}.py").read_text())) or ""
    summary = doc.strip().splitlines()[0] if doc.strip() else ""
    return summary.removeprefix(f"{name}:").strip().rstrip(".")


def preset_of(name):
    """The task a preset is built on (the recipe module it imports its class from), or
    `None` for a task: `preset_of("cnn_mnist") == "cnn"`."""
    tree = ast.parse((_HERE / f"{_check(name)}.py").read_text())
    recipes = set(list_recipes())
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module.removeprefix("recipes.")
            if node.module.startswith("recipes.") and base in recipes:
                return base
    return None


def get(name):
    """Returns the `Recipe` registered under `name`.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    return importlib.import_module(f"recipes.{_check(name)}").recipe


def load(path):
    """Loads an export (or a run directory's `model/`) for predictions:
    `recipes.load("out/model").predict(frame_or_images)`; see
    `recipes.engine.serving`."""
    from recipes.engine.serving import load as load_export

    return load_export(path)


def _check(name):
    if name not in list_recipes():
        raise ValueError(
            f"Unknown recipe {name!r}. Known recipes: {', '.join(list_recipes())}."
        )
    return name
