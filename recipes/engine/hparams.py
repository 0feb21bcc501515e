"""Hyperparameters apart from run options.

A *hyperparameter* shapes the model or its training and is declared by the recipe as
`hp.Int/Float/Choice/Boolean(..., default=...)` (depth, filters, dropout, optimizer ...).
A *run option* says how to run (epochs, batch size, learning rate, data, where to write,
on which devices) and is a keyword argument of `train`/`search` and a flag of the CLI.
Values reach hyperparameters only through `hp={...}` (CLI: `--hp NAME=VALUE`); a run
option given there is an error naming the argument to use instead.

`batch_size` and `learning_rate` are both: run options of `train` and tunables of a
search. In `hp` they are accepted, so that a search's best hyperparameters train again
as they are (`train(hp=search.best_hyperparameters)`).
"""

import keras_tuner

# Run options of `Recipe.train` and `Recipe.search`, with the CLI flag that sets each
# (None: Python only).
RUN_OPTIONS = {
    "epochs": "--epochs",
    "data": None,
    "data_dir": "--data-dir",
    "limit": "--limit",
    "run_dir": "--run-dir",
    "strategy": "--strategy",
    "callbacks": None,
    "tensorboard": "--tensorboard",
    "verbose": "--verbose/--quiet",
    "diagnose": None,
    "compare_depth": "--compare-depth",
    "seed": None,
    "tuner": "--tuner",
    "max_trials": "--max-trials",
    "workers": "--workers",
    "export": "--export",
    "directory": "--directory",
    "overwrite": "--overwrite",
}


def hyperparameters(values=None, options=()):
    """A `keras_tuner.HyperParameters` whose tunables take `values` when registered.

    Args:
        values: a dict of hyperparameter values, `None` (every tunable takes its
            default) or a `HyperParameters`, which is returned as it is.
        options: names of further run options (a recipe's data options) that
            `values` must not hold, besides `RUN_OPTIONS`. Defaults to none.

    Raises:
        ValueError: `values` holds a run option, e.g. `{"epochs": 3}`.

    Example:

    >>> hp = hyperparameters({"depth": 2})
    >>> hp.Int("depth", 1, 3, default=1)
    2
    """
    if isinstance(values, keras_tuner.HyperParameters):
        return values
    values = dict(values or {})
    check_not_options(values, options)
    hp = keras_tuner.HyperParameters()
    hp.values.update(values)
    return hp


def check_not_options(values, options=()):
    """Raises a `ValueError` naming the argument to use for a run option in `values`."""
    for name, value in values.items():
        if name in RUN_OPTIONS or name in options:
            flag = RUN_OPTIONS.get(name) or "--" + name.replace("_", "-")
            cli = f" (CLI: {flag})" if RUN_OPTIONS.get(name, flag) else ""
            raise ValueError(
                f"{name!r} is a run option, not a hyperparameter: pass "
                f"{name}={value!r} as an argument{cli}, not in hp."
            )


def check_known(space, given, recipe):
    """Raises a `ValueError` for names in `given` that `space` (a list of KerasTuner
    hyperparameters, e.g. `hp.space`) does not register."""
    registered = {p.name for p in space}
    unknown = [name for name in given if name not in registered]
    if unknown:
        raise ValueError(
            f"Recipe {recipe!r} has no hyperparameter(s) {unknown}. "
            f"Known: {sorted(registered)}."
        )


def check_values(space, values):
    """Checks `values` against the hyperparameters of `space` (a list of KerasTuner
    hyperparameters) and returns them converted to each one's type.

    Text (from the CLI) is converted: `"2"` for an integer, `"1e-3"` for a float,
    `"true"` for a boolean, `"0.001"` for a choice among numbers. Names not in `space`
    are returned as they are (`check_known` reports them).

    Raises:
        ValueError: naming the hyperparameter, its type and its range, e.g.
            `Hyperparameter 'depth' is an integer in [1, 3]. Received: depth='abc'`.
    """
    by_name = {p.name: p for p in space}
    out = dict(values)
    for name, value in values.items():
        if name in by_name:
            out[name] = _convert(by_name[name], name, value)
    return out


def _convert(p, name, value):
    kind = type(p).__name__
    received = f"Received: {name}={value!r}"
    if kind == "Boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
        raise ValueError(f"Hyperparameter {name!r} is a boolean (true or false). {received}")
    if kind in ("Int", "Float"):
        cast = int if kind == "Int" else float
        what = "an integer" if kind == "Int" else "a number"
        try:
            if isinstance(value, bool) or (kind == "Int" and isinstance(value, float)
                                           and not value.is_integer()):
                raise ValueError
            number = cast(float(value)) if kind == "Int" and not isinstance(value, str) else cast(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Hyperparameter {name!r} is {what} in [{p.min_value}, {p.max_value}]. {received}"
            ) from None
        if not p.min_value <= number <= p.max_value:
            raise ValueError(
                f"Hyperparameter {name!r} is {what} in [{p.min_value}, {p.max_value}]. {received}"
            )
        return number
    if kind == "Choice":
        for choice in p.values:
            if value == choice or (isinstance(value, str) and not isinstance(choice, str)
                                   and _same(value, choice)):
                return choice
        raise ValueError(f"Hyperparameter {name!r} is one of {list(p.values)}. {received}")
    return value


def _same(text, choice):
    try:
        return type(choice)(float(text)) == choice if not isinstance(choice, bool) else False
    except (TypeError, ValueError):
        return False
