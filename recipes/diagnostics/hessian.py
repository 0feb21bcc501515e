"""Critical points of a model's loss: gradient norm and Hessian spectrum, matrix-free.

Where the gradient is (close to) zero, training stalls; the Hessian's eigenvalues then
tell a local minimum (all positive), a local maximum (all negative) or a saddle point
(both signs), and the eigenvector of a negative eigenvalue is a direction that lowers
the loss (Hung-yi Lee, ML 2021, "local minimum and saddle point").

The Hessian of a real model is never formed (a million parameters would make a
4-terabyte matrix). Everything is built on Hessian-vector products, computed by double
backpropagation with `tf.GradientTape`, either as a call of their own or, cheaper, in
a graph loop that runs the forward and backward pass once for all of them (for the
costs in gradients, see `benchmarks/hessian.py`):

- `Hessian`: the Hessian of the loss on one batch as a linear operator, with a
  `hvp_count` counter of the products it has computed; `Hessian.run` feeds the
  products of one graph loop to a generator.
- `Hessian.trace`: Hutchinson's estimate E[v^T H v] with Rademacher probes.
- `critical_point`: the gradient norm, the extreme eigenvalues (`lanczos` on the
  `Hessian`), the trace, the spectral density and a verdict, in one call.

The eigensolver itself, `lanczos` with its `Lanczos` result, `spectral_density` and
`default_num_steps`, is model-independent and lives in `recipes.diagnostics.lanczos`;
it stays importable from here.

No maintained library does this for Keras 3 models (PyHessian is PyTorch only), so it is
written here. It uses TensorFlow ops directly: the diagnostics are TensorFlow-specific.
The loss is evaluated in inference mode (`training=False`: dropout off, batch
normalisation on its moving statistics), plus the model's regularisation losses, so that
it is a deterministic function of the weights.

Example:

>>> result = critical_point(model, x_batch, y_batch, k=5)
>>> print(result.verdict)  # "local minimum", "saddle point", ...
>>> h = Hessian(model, x_batch, y_batch)
>>> run = lanczos(h, h.size, num_steps=40, dtype=h.dtype)  # top and bottom at once
>>> estimate, error = h.trace(num_probes=100)
"""

import dataclasses
import functools
import math
import sys

import keras
import numpy as np
import tensorflow as tf

from recipes.diagnostics.lanczos import (
    Lanczos,
    default_num_steps,
    lanczos,
    one_blas_thread,
    spectral_density,
)

__all__ = [
    "FLAT",
    "MAXIMUM",
    "MINIMUM",
    "NOT_CRITICAL",
    "SADDLE",
    "CriticalPoint",
    "Hessian",
    "Lanczos",
    "critical_point",
    "default_num_steps",
    "lanczos",
    "one_blas_thread",
    "spectral_density",
]

MINIMUM = "local minimum"
MAXIMUM = "local maximum"
SADDLE = "saddle point"
FLAT = "flat"
NOT_CRITICAL = "not a critical point"


class Hessian:
    """The Hessian of a model's loss on one batch, as a matrix-free linear operator.

    Vectors are flat NumPy arrays of length `size` (float64, or float32: a product
    comes back in its vector's dtype), laid out as the model's trainable weights
    concatenated in order (`to_weights` splits one back). `dtype` is the weights'
    dtype, the precision the products are computed in.

    Args:
        model: a built `keras.Model`.
        x: the batch's inputs (arrays or tensors).
        y: the batch's targets.
        loss_fn: a Keras loss (name, function or `keras.losses.Loss`) called as
            `loss_fn(y, model(x))`. Defaults to the loss the model was compiled with.

    Example:

    >>> h = Hessian(model, x, y)
    >>> hv = h.matvec(np.ones(h.size))
    >>> h.hvp_count
    1
    """

    def __init__(self, model, x, y, loss_fn=None):
        if loss_fn is None:
            loss_fn = getattr(model, "loss", None)
            if loss_fn is None:
                raise ValueError(
                    "The model is not compiled, so it has no loss: pass `loss_fn`, "
                    "e.g. loss_fn='mse'. Received: loss_fn=None"
                )
        self._loss_fn = keras.losses.get(loss_fn)
        self._model = model
        self._weights = list(model.trainable_weights)
        if not self._weights:
            raise ValueError(f"The model {model.name!r} has no trainable weights.")
        self._shapes = [tuple(w.shape) for w in self._weights]
        self._sizes = [int(np.prod(s)) for s in self._shapes]
        self.size = sum(self._sizes)
        self.hvp_count = 0
        self._x = tf.convert_to_tensor(x)
        self._y = tf.convert_to_tensor(y)
        self.dtype = np.dtype(self._weights[0].dtype)
        # Partials, not bound methods: TensorFlow keys its "excessive retracing"
        # warning on the code object, and every new `Hessian` traces once. The product
        # takes and returns one flat vector, split and joined inside the graph.
        self._hvp = tf.function(functools.partial(Hessian._hvp_flat_graph, self))
        self._loss_and_gradient = tf.function(
            functools.partial(Hessian._loss_and_gradient_graph, self)
        )
        self._loop = tf.function(functools.partial(Hessian._loop_graph, self))
        self._steps = self._outcome = self._joined = None
        self._bases = []  # Lanczos bases of earlier calls, for `lend_basis`

    def _loss(self):
        y_pred = self._model(self._x, training=False)
        loss = tf.reduce_mean(self._loss_fn(tf.cast(self._y, y_pred.dtype), y_pred))
        for penalty in self._model.losses:
            loss += tf.cast(penalty, loss.dtype)
        return loss

    def _loss_and_gradient_graph(self):
        with tf.GradientTape() as tape:
            loss = self._loss()
        grads = tape.gradient(
            loss, self._weights, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        return loss, grads

    def _recorded_gradient(self):
        """The gradient, and a tape that recorded its computation (the forward and
        backward pass), so that products can be taken through it."""
        with tf.GradientTape(persistent=True) as outer:
            _, grads = self._loss_and_gradient_graph()
        return outer, grads

    def _product(self, outer, grads, flat):
        """`H @ flat`, one array per weight (in `flat`'s dtype)."""
        parts = tf.split(flat, self._sizes)
        vectors = [
            tf.cast(tf.reshape(p, s), w.dtype)
            for p, s, w in zip(parts, self._shapes, self._weights)
        ]
        products = outer.gradient(
            grads,
            self._weights,
            output_gradients=vectors,
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        return [tf.cast(h, flat.dtype) for h in products]

    def _hvp_flat_graph(self, flat):
        products = self._product(*self._recorded_gradient(), flat)
        return tf.concat([tf.reshape(h, [-1]) for h in products], 0)

    def _loop_graph(self, first):
        # The forward and backward pass run once, before the loop; each iteration is a
        # product through them and a call back into `_send` for the next vector.
        outer, grads = self._recorded_gradient()

        def body(v, done):
            # The product goes to NumPy one array per weight and is joined there, into
            # memory used again every step: a `tf.concat` costs more, mostly page
            # faults of its fresh output.
            v, done = tf.numpy_function(
                functools.partial(Hessian._send, self), self._product(outer, grads, v),
                [v.dtype, tf.bool], stateful=True,
            )
            v.set_shape(first.shape)
            done.set_shape(())
            return v, done

        return tf.while_loop(
            lambda v, done: tf.logical_not(done), body, (first, tf.constant(False))
        )

    def lend_basis(self, rows, dtype):
        """A `(rows, size)` array of `dtype` for a Lanczos basis, in memory this
        `Hessian` used before where it can.

        Fresh memory costs page faults on its first writes (see the first-call row of
        `benchmarks/hessian.py`). Like TensorFlow, which keeps its tensors' memory, a
        `Hessian` keeps the last two bases it made, and hands one out again once
        nothing else holds it (no `Lanczos` result, and no view of its basis).
        """
        for basis in self._bases:
            # References: the list, the loop's name and `getrefcount`'s own argument.
            # Every view of the array (a result's basis) holds one more.
            if (basis.dtype == dtype and basis.shape[0] >= rows
                    and sys.getrefcount(basis) <= 3):
                return basis[:rows]
        basis = np.empty((rows, self.size), dtype)
        self._bases = [*self._bases, basis][-2:]
        return basis

    def _send(self, *parts):
        if self._joined is None or self._joined.dtype != parts[0].dtype:
            self._joined = np.empty(self.size, parts[0].dtype)
        product = self._joined
        np.concatenate([np.ravel(p) for p in parts], out=product)
        self.hvp_count += 1
        try:
            return self._vector(self._steps.send(product), product.dtype), np.bool_(False)
        except BaseException as e:  # the generator's return (StopIteration), or an error
            self._outcome = e
            return np.zeros(self.size, product.dtype), np.bool_(True)

    def _vector(self, v, dtype=None):
        v = np.asarray(v)
        if dtype is None:
            dtype = v.dtype if v.dtype in (np.float32, np.float64) else np.float64
        if v.shape != (self.size,):
            raise ValueError(
                f"Expected a flat vector of {self.size} values. "
                f"Received: shape={v.shape}"
            )
        return v.astype(dtype, copy=False)

    def loss_and_gradient(self):
        """Returns the loss (a float) and its gradient (a flat float64 array)."""
        loss, grads = self._loss_and_gradient()
        return float(loss), self._flatten(grads)

    def matvec(self, v):
        """Returns the Hessian-vector product `H @ v` for a flat vector `v`, in `v`'s
        dtype (float32 or float64; anything else as float64)."""
        v = self._vector(v)
        self.hvp_count += 1
        product = self._hvp(tf.constant(v, dtype=self.dtype))
        return product.numpy().astype(v.dtype, copy=False)

    def run(self, steps):
        """Feeds Hessian-vector products to a generator until it returns; returns what
        it returns.

        `steps` yields flat vectors (float32 or float64) and receives `H @ v` for each
        (in the dtype of the first vector), as `lanczos` and `trace` do. Unlike calls
        to `matvec`, the products run in one graph loop that computes the forward and
        backward pass once and takes every product through them, so each costs only
        its own pass back through the gradient (see `benchmarks/hessian.py`). The
        vector a step receives is only valid until its next `yield`. An exception
        raised in `steps` is raised here.
        """
        with one_blas_thread():
            try:
                first = next(steps)
            except StopIteration as stop:
                return stop.value
            first = self._vector(first)
            self._steps, self._outcome = steps, None
            try:
                self._loop(tf.constant(first))
                outcome = self._outcome
            finally:
                self._steps = self._outcome = None
        if isinstance(outcome, StopIteration):
            return outcome.value
        raise outcome

    def trace(self, num_probes=100, seed=0):
        """Estimates the trace with Hutchinson's method (Rademacher probes).

        Args:
            num_probes: number of probe vectors, one Hessian-vector product each.
                Defaults to 100.
            seed: seed of the probes. Defaults to 0.

        Returns:
            `(estimate, standard_error)`.
        """
        if num_probes < 2:
            raise ValueError(
                f"num_probes must be at least 2. Received: num_probes={num_probes}"
            )
        rng = np.random.default_rng(seed)

        def probes():
            samples = []
            for _ in range(num_probes):
                v = (2 * rng.integers(0, 2, size=self.size, dtype=np.int8) - 1)
                v = v.astype(self.dtype)
                samples.append(float(v @ (yield v)))
            return samples

        samples = self.run(probes())
        error = np.std(samples, ddof=1) / math.sqrt(num_probes)
        return float(np.mean(samples)), float(error)

    def to_weights(self, v):
        """Splits a flat vector into arrays shaped like the trainable weights."""
        parts = np.split(np.asarray(v), np.cumsum(self._sizes)[:-1])
        return [p.reshape(s) for p, s in zip(parts, self._shapes)]

    def _flatten(self, tensors):
        return np.concatenate([np.ravel(t.numpy()).astype("float64") for t in tensors])


@dataclasses.dataclass(frozen=True)
class CriticalPoint:
    """What `critical_point` found.

    Attributes:
        verdict: `"local minimum"`, `"local maximum"`, `"saddle point"`, `"flat"` (every
            eigenvalue within the tolerance of 0) or `"not a critical point"`.
        loss: the loss at the current weights.
        gradient_norm: the Euclidean norm of the gradient.
        top_eigenvalues: the `k` largest eigenvalues, largest first.
        bottom_eigenvalues: the `k` smallest eigenvalues, smallest first.
        max_residual: the largest Lanczos residual `||H y - theta y||` among those
            eigenvalues; small compared with them means converged.
        trace: Hutchinson's estimate of the trace of the Hessian (NaN if skipped).
        trace_error: its standard error.
        escape_direction: unit eigenvector of the most negative eigenvalue, as a list
            of arrays shaped like `model.trainable_weights`, or `None` when no
            eigenvalue is below `-tolerance`. Near a critical point a step along it
            (either sign) lowers the loss by about `0.5 * step**2 * |eigenvalue|`.
        ritz_values: all Ritz values of the Lanczos run, ascending.
        ritz_weights: their quadrature weights (see `spectral_density`).
        tolerance: the eigenvalue tolerance used for the verdict.
        hvp_count: Hessian-vector products computed (Lanczos steps + trace probes).
        num_parameters: number of trainable parameters.
    """

    verdict: str
    loss: float
    gradient_norm: float
    top_eigenvalues: np.ndarray
    bottom_eigenvalues: np.ndarray
    max_residual: float
    trace: float
    trace_error: float
    escape_direction: list | None
    ritz_values: np.ndarray
    ritz_weights: np.ndarray
    tolerance: float
    hvp_count: int
    num_parameters: int

    def density(self, num_points=400, sigma=None):
        """Returns `(grid, density)` of the Hessian spectrum; see `spectral_density`."""
        return spectral_density(self.ritz_values, self.ritz_weights, num_points, sigma)

    def __str__(self):
        def fmt(values):
            return ", ".join(f"{v:.4g}" for v in values)

        return "\n".join(
            [
                f"Critical point analysis: {self.verdict}",
                f"  loss                 {self.loss:.6g}",
                f"  gradient norm        {self.gradient_norm:.3g}",
                f"  top eigenvalues      {fmt(self.top_eigenvalues)}",
                f"  bottom eigenvalues   {fmt(self.bottom_eigenvalues)}",
                f"  trace (Hutchinson)   {self.trace:.4g} +- {self.trace_error:.2g}",
                f"  parameters           {self.num_parameters}",
                f"  Hessian-vector products {self.hvp_count}",
            ]
        )


def critical_point(
    model,
    x,
    y,
    loss_fn=None,
    k=5,
    *,
    num_steps=None,
    num_probes=20,
    gradient_tolerance=1e-3,
    tolerance=1e-4,
    seed=0,
):
    """Tells a local minimum, a local maximum and a saddle point apart, on one batch.

    Computes the gradient norm, the `k` largest and `k` smallest Hessian eigenvalues
    (Lanczos on Hessian-vector products, never forming the Hessian), a Hutchinson
    estimate of the trace, the escape direction and the spectral density.

    The verdict: "not a critical point" when the gradient norm exceeds
    `gradient_tolerance`. Otherwise eigenvalues within `tolerance * max|eigenvalue|` of
    0 count as flat (over-parameterised networks have many) and the others decide: all
    positive -> "local minimum", all negative -> "local maximum", both signs ->
    "saddle point", none -> "flat".

    The cost is `num_steps + num_probes` Hessian-vector products (in two graph loops:
    the Lanczos steps and the probes; for their cost in gradients, see
    `benchmarks/hessian.py`), linear in `k` with the default `num_steps`.

    Args:
        model: a built `keras.Model`.
        x: a batch of inputs (use a large batch: the Hessian is of this batch's loss).
        y: its targets.
        loss_fn: a Keras loss. Defaults to the model's compiled loss.
        k: number of eigenvalues reported at each end. Defaults to 5.
        num_steps: Lanczos steps. Defaults to `default_num_steps(k, size)`
            (`4 * k + 20`, at most the number of parameters).
        num_probes: Hutchinson probes for the trace; 0 skips it (the trace is then
            NaN). Defaults to 20.
        gradient_tolerance: largest gradient norm still called critical.
            Defaults to `1e-3`.
        tolerance: eigenvalues with `|eigenvalue| <= tolerance * max|eigenvalue|` are
            flat. Defaults to `1e-4`.
        seed: seed of the Lanczos start vector and the probes. Defaults to 0.

    Returns:
        A `CriticalPoint`.

    Example:

    >>> result = critical_point(model, x_batch, y_batch, k=5)
    >>> print(result)
    >>> if result.verdict == "saddle point":
    ...     for w, d in zip(model.trainable_weights, result.escape_direction):
    ...         w.assign(w + 0.1 * d)
    """
    if k < 1:
        raise ValueError(f"k must be a positive integer. Received: k={k}")
    hessian = Hessian(model, x, y, loss_fn)
    num_steps = num_steps or default_num_steps(k, hessian.size)
    loss, gradient = hessian.loss_and_gradient()
    run = lanczos(hessian, hessian.size, num_steps, seed=seed, dtype=hessian.dtype)
    trace, trace_error = (
        hessian.trace(num_probes, seed=seed + 1) if num_probes else (math.nan, math.nan)
    )

    k = min(k, len(run.values))
    top, bottom = run.values[::-1][:k], run.values[:k]
    reported = np.r_[np.arange(k), np.arange(len(run.values) - k, len(run.values))]
    gradient_norm = float(np.linalg.norm(gradient))
    tol = tolerance * float(np.max(np.abs(run.values)))
    if gradient_norm > gradient_tolerance:
        verdict = NOT_CRITICAL
    else:
        negative, positive = bottom[0] < -tol, top[0] > tol
        verdict = {
            (True, True): SADDLE,
            (True, False): MAXIMUM,
            (False, True): MINIMUM,
            (False, False): FLAT,
        }[(bool(negative), bool(positive))]
    escape = hessian.to_weights(run.vector(0)) if bottom[0] < -tol else None
    return CriticalPoint(
        verdict=verdict,
        loss=loss,
        gradient_norm=gradient_norm,
        top_eigenvalues=top,
        bottom_eigenvalues=bottom,
        max_residual=float(np.max(run.residuals[reported])),
        trace=trace,
        trace_error=trace_error,
        escape_direction=escape,
        ritz_values=run.values,
        ritz_weights=run.weights,
        tolerance=tol,
        hvp_count=hessian.hvp_count,
        num_parameters=hessian.size,
    )
