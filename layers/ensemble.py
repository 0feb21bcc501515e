"""An efficient ensemble: k members that share one backbone (TabM, BatchEnsemble).

TabM (Gorishniy et al., 2025, "TabM: Advancing Tabular Deep Learning with
Parameter-Efficient Ensembling") runs k copies of a row through one multilayer
perceptron whose weights all members share; each member differs only by its own
multiplicative adapter on the input (BatchEnsemble's rank-one factor; "TabM-mini") and
its own output head, and the k predictions are averaged. The members see the same data
but start from different adapters and heads, so they disagree where the data says
little, and their average is smoother than any one of them.

`EnsembleAdapter` makes the k copies, `(batch, features) -> (batch, k, features)`, each
multiplied elementwise by its member's factor (initialized to random signs, as TabM
does, so that the members differ from the first step). Dense layers then act on the
last axis and are shared. `EnsembleDense` is the members' own heads,
`(batch, k, features) -> (batch, k, units)`, one kernel and bias per member. Averaging
over the members is `keras.layers.GlobalAveragePooling1D`. Keras has no layer for the
first two.
"""

import keras
from keras import ops


def _check_members(members):
    if not isinstance(members, int) or isinstance(members, bool) or members < 1:
        raise ValueError(
            f"members must be a positive integer (the ensemble's size). Received: "
            f"members={members!r}"
        )


@keras.saving.register_keras_serializable(package="recipes")
class RandomSigns(keras.initializers.Initializer):
    """Initializes a tensor to -1 or +1, each with probability 1/2.

    Args:
        seed: the random seed. Defaults to `None`.
    """

    def __init__(self, seed=None):
        self.seed = seed
        self._generator = keras.random.SeedGenerator(seed)

    def __call__(self, shape, dtype=None):
        coin = keras.random.uniform(shape, seed=self._generator)
        return ops.cast(ops.where(coin < 0.5, -1.0, 1.0), dtype or "float32")

    def get_config(self):
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package="recipes")
class EnsembleAdapter(keras.layers.Layer):
    """Copies each row to `members` members, each scaled by its own learned factor.

    Args:
        members: the number of members k, 1 or more. Defaults to `8`.
        initializer: the factors' initializer. Defaults to `RandomSigns()` (TabM's
            choice: the members differ from the start).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape: `(batch, features)`. Output shape: `(batch, members, features)`.

    Example:

    ```python
    adapter = EnsembleAdapter(members=4)
    adapter(np.ones((2, 3)))  # shape (2, 4, 3): row i of member m is x_i * r_m
    ```
    """

    def __init__(self, members=8, initializer=None, **kwargs):
        super().__init__(**kwargs)
        _check_members(members)
        self.members = members
        self.initializer = keras.initializers.get(initializer or RandomSigns())

    def build(self, input_shape):
        self.factors = self.add_weight(
            shape=(self.members, input_shape[-1]), initializer=self.initializer,
            name="factors",
        )

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        return ops.expand_dims(x, 1) * ops.cast(self.factors, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.members, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"members": self.members,
                       "initializer": keras.initializers.serialize(self.initializer)})
        return config


@keras.saving.register_keras_serializable(package="recipes")
class EnsembleDense(keras.layers.Layer):
    """A dense layer of its own for each member: `y[:, m] = x[:, m] @ W_m + b_m`.

    Args:
        members: the number of members k, 1 or more; the input's second axis. Defaults
            to `8`.
        units: output units per member, 1 or more. Defaults to `1`.
        activation: applied to each member's output. Defaults to `None`.
        seed: the seed of the kernels' Glorot-uniform draw. Defaults to `None`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape: `(batch, members, features)`. Output shape: `(batch, members, units)`.

    Example:

    ```python
    heads = EnsembleDense(members=4, units=3, activation="softmax")
    heads(np.ones((2, 4, 5)))  # shape (2, 4, 3): each member's probabilities
    ```
    """

    def __init__(self, members=8, units=1, activation=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        _check_members(members)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be a positive integer. Received: units={units!r}")
        self.members = members
        self.units = units
        self.activation = keras.activations.get(activation)
        self.seed = seed

    def build(self, input_shape):
        if input_shape[1] != self.members:
            raise ValueError(
                f"EnsembleDense(members={self.members}) expects inputs of shape (batch, "
                f"{self.members}, features). Received: input_shape={tuple(input_shape)}"
            )
        features = input_shape[-1]
        # Each member's kernel is drawn on its own, Glorot-uniform over a member's fan-in
        # and fan-out (not the stacked tensor's).
        limit = (6.0 / (features + self.units)) ** 0.5
        self.kernel = self.add_weight(
            shape=(self.members, features, self.units),
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self.seed),
            name="kernel",
        )
        self.bias = self.add_weight(shape=(self.members, self.units), initializer="zeros",
                                    name="bias")

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        y = ops.einsum("bmf,mfu->bmu", x, ops.cast(self.kernel, self.compute_dtype))
        return self.activation(y + ops.cast(self.bias, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.members, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({
            "members": self.members,
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "seed": self.seed,
        })
        return config
