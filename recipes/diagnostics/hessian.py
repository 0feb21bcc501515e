"""Critical points of a model's loss: gradient norm and Hessian spectrum, matrix-free.

Where the gradient is (close to) zero, training stalls; the Hessian's eigenvalues then
tell a local minimum (all positive), a local maximum (all negative) or a saddle point
(both signs), and the eigenvector of a negative eigenvalue is a direction that lowers
the loss (Hung-yi Lee, ML 2021, "local minimum and saddle point").

The Hessian of a real model is never formed (a million parameters would make a
4-terabyte matrix). Everything is built on Hessian-vector products, computed by double
backpropagation with `tf.GradientTape`: about 1.6 gradients each as a call of its own,
1.2 in a graph loop that runs the forward and backward pass once for all of them
(benchmarks/hessian.py):

- `Hessian`: the Hessian of the loss on one batch as a linear operator, with a
  `hvp_count` counter of the products it has computed; `Hessian.run` feeds the
  products of one graph loop to a generator.
- `lanczos`: Lanczos iteration with partial reorthogonalisation. Its Ritz values
  approximate the extreme eigenvalues (both ends at once) and, weighted by the squared
  first components of their eigenvectors, form a one-probe stochastic Lanczos
  quadrature of the spectral density (Ghorbani et al., 2019); `spectral_density`
  broadens it into a curve.
- `Hessian.trace`: Hutchinson's estimate E[v^T H v] with Rademacher probes.
- `critical_point`: all of the above and a verdict, in one call.

No maintained library does this for Keras 3 models (PyHessian is PyTorch only), so it is
written here. It uses TensorFlow ops directly: the diagnostics are TensorFlow-specific.
The loss is evaluated in inference mode (`training=False`: dropout off, batch
normalisation on its moving statistics), plus the model's regularisation losses, so that
it is a deterministic function of the weights.
"""

import dataclasses
import functools
import math
import sys

import keras
import numpy as np
import scipy.linalg.blas
import tensorflow as tf
import threadpoolctl

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
        self._bases = []  # Lanczos bases of earlier calls, for `_basis`

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
            # memory used again every step: a `tf.concat` costs more (0.1 gradients a
            # product, measured), mostly page faults of its fresh output.
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

    def _basis(self, rows, dtype):
        """A `(rows, size)` array of `dtype` for a Lanczos basis, in memory this
        `Hessian` used before where it can.

        Fresh memory costs page faults on its first writes: for the 20 vectors of a
        million float32 parameters (80 MB), 4 to 10 gradients' time in
        benchmarks/hessian.py. Like TensorFlow, which keeps its tensors' memory, a
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
        its own pass back through the gradient (benchmarks/hessian.py: about a
        quarter less time per product). The vector a step receives is only valid
        until its next `yield`. An exception raised in `steps` is raised here.
        """
        with _one_blas_thread():
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
class Lanczos:
    """The outcome of `lanczos`: Ritz pairs of a symmetric operator.

    Attributes:
        values: Ritz values, ascending.
        weights: squared first components of the tridiagonal matrix's eigenvectors:
            the quadrature weights of the spectral density (they sum to 1).
        residuals: `||A y - theta y||` of each Ritz pair (0 means converged).
        basis: the orthonormal Lanczos vectors, one per row.
        coefficients: eigenvectors of the tridiagonal matrix, one per column.
        reorthogonalizations: the steps whose vector was orthogonalised against the
            whole basis (the others only against the last two; the last step's
            vector, never used, is not).
        overlap_checks: the steps that measured their vector's true overlaps with
            the whole basis (one read of it): every step from the first whose
            estimates called for it. Those above the level were then
            reorthogonalised (a second read).
    """

    values: np.ndarray
    weights: np.ndarray
    residuals: np.ndarray
    basis: np.ndarray
    coefficients: np.ndarray
    reorthogonalizations: int = 0
    overlap_checks: int = 0

    def vector(self, i):
        """Returns the Ritz vector of `values[i]` (unit length)."""
        return self.coefficients[:, i] @ self.basis


def lanczos(matvec, size, num_steps, seed=0, *, k=None, which="top", tolerance=None,
            reorthogonalize="partial", dtype="float64"):
    """Runs up to `num_steps` Lanczos steps, reorthogonalised, on a symmetric operator.

    Each step calls `matvec` once. When the Krylov space is exhausted (a zero residual),
    the iteration restarts from a fresh random vector orthogonal to the basis, so with
    `num_steps == size` the Ritz values are the exact spectrum, multiplicities included.
    Memory is `num_steps * size` values of `dtype` for the basis; given a `Hessian`,
    memory it kept from an earlier call where no result holds it any more (fresh
    memory costs page faults: 4 to 10 gradients' time for 20 steps of a million
    float32 parameters, benchmarks/hessian.py). A float32 basis
    (for an operator that computes in float32 anyway, such as a float32 model's
    `Hessian`) halves the memory and the time of the vector arithmetic; the
    coefficients and the tridiagonal matrix stay float64.

    Reorthogonalisation is partial (Simon, 1984), and measured: each new vector is
    orthogonalised against the last two by the three-term recurrence, and Simon's
    omega recurrence bounds its overlap with every earlier one. `eps` there is the
    vectors' rounding, or the error measured as the iteration goes where that is
    larger (a float32 Hessian-vector product is far less exact than its rounding).
    Once a bound passes `sqrt(eps)` (for an early stop, the level below where its
    tolerance needs less), every later step measures the true overlaps (one read of
    the basis) and orthogonalises the vector against the whole basis (a second read)
    only when one is above `eps**(3/4)`, or above what an early stop's tolerance
    needs (a basis off by omega moves a residual by about omega ||A||; in float32
    `sqrt(eps)` would be too loose for a 1e-4 tolerance). Neither threshold rises
    with the measured error: that error includes the basis's own loss of
    orthogonality. The bounds are far above the truth for a dense operator (a
    million-parameter float32 Hessian: bounds past 1e-3 where the measured overlaps
    stay below 5e-5), so most measured steps need no update.
    `reorthogonalize="full"` orthogonalises every step, for comparison. An update runs
    twice only when the first cancelled most of the vector ("twice is enough").

    Given a `Hessian` itself (not its `matvec`), the products run in one graph loop
    that computes the model's forward and backward pass once (`Hessian.run`), and
    each step calls back into NumPy for the next vector. The vectors stay in NumPy,
    which on a CPU does this arithmetic an order of magnitude faster than
    TensorFlow's eager or graph ops on a flat vector (benchmarks/README.md,
    hessian.py). The arithmetic is written in place, in
    `dtype`, on one BLAS thread (see `_one_blas_thread`), and its inner products add
    in blocks summed in float64 (see `_dot`).

    With `tolerance`, the iteration stops as soon as the `k` wanted Ritz pairs have
    converged: each residual `|beta_j s_ji|` (for a reorthogonalised basis, the true
    `||A y - theta y||`) at most `tolerance * |theta|`.

    Args:
        matvec: a function mapping a flat vector of `dtype` to `A @ v`, or a
            `Hessian` (the same products, sharing one forward and backward pass).
        size: the dimension of `A`.
        num_steps: the most Lanczos steps (at most `size`).
        seed: seed of the random start vector. Defaults to 0.
        k: how many Ritz pairs must converge for an early stop. Defaults to `None`
            (run all `num_steps`).
        which: the wanted pairs: `"top"` (largest), `"bottom"` or `"both"` ends.
            Defaults to `"top"`.
        tolerance: the relative residual of a converged pair. Defaults to `None`
            (no early stop).
        reorthogonalize: `"partial"` or `"full"`. Defaults to `"partial"`.
        dtype: the dtype of the vectors, `"float64"` or `"float32"`; `matvec` is
            called with vectors of it. Defaults to `"float64"`.

    Returns:
        A `Lanczos`.

    Example:

    >>> a = np.diag([3.0, 1.0, -2.0])
    >>> np.round(lanczos(lambda v: a @ v, 3, 3).values, 6)
    array([-2.,  1.,  3.])
    """
    if not 1 <= num_steps <= size:
        raise ValueError(
            f"num_steps must be between 1 and size={size}. "
            f"Received: num_steps={num_steps}"
        )
    if which not in ("top", "bottom", "both"):
        raise ValueError(f"which must be 'top', 'bottom' or 'both'. Received: which={which!r}")
    if tolerance is not None and (k is None or k < 1):
        raise ValueError(f"An early stop needs k >= 1 pairs to converge. Received: k={k}")
    if reorthogonalize not in ("partial", "full"):
        raise ValueError(
            f"reorthogonalize must be 'partial' or 'full'. Received: {reorthogonalize!r}"
        )
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64. Received: dtype={dtype}")
    if isinstance(matvec, Hessian):
        basis = matvec._basis(num_steps, dtype)
        return matvec.run(_lanczos_steps(basis, seed, k, which, tolerance, reorthogonalize))
    basis = np.zeros((num_steps, size), dtype)
    steps = _lanczos_steps(basis, seed, k, which, tolerance, reorthogonalize)
    try:
        with _one_blas_thread():  # the arithmetic, not the caller's own `matvec`
            v = next(steps)
        while True:
            product = matvec(v)
            with _one_blas_thread():
                v = steps.send(product)
    except StopIteration as stop:
        return stop.value


@functools.cache
def _blas_controller():
    return threadpoolctl.ThreadpoolController()


def _one_blas_thread():
    """A context in which NumPy's and SciPy's BLAS run on one thread.

    The vector arithmetic between Hessian-vector products is bound by memory
    bandwidth, so more threads do not speed it up; but OpenBLAS's idle threads spin for
    a while after each call, on the cores TensorFlow needs for the next product
    (benchmarks/hessian.py compares one BLAS thread with the default; figures in
    benchmarks/README.md).
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def _lanczos_steps(basis, seed, k, which, tolerance, reorthogonalize):
    """`lanczos` as a generator, in `basis` (`(num_steps, size)`; what it holds is
    overwritten): yields each vector to multiply, receives its product, and returns
    the `Lanczos`."""
    (num_steps, size), dtype = basis.shape, basis.dtype
    rng = np.random.default_rng(seed)
    alphas, betas = np.zeros(num_steps), np.zeros(num_steps)
    # A random sign vector, drawn as bytes (a float64 draw of a million values costs
    # a third of a gradient).
    np.multiply(rng.integers(0, 2, size=size, dtype=np.int8), 2, out=basis[0])
    basis[0] -= 1
    basis[0] /= math.sqrt(size)
    axpy = scipy.linalg.blas.get_blas_funcs("axpy", dtype=dtype)  # y += a x, in place
    steps, full, checks, overlap = num_steps, 0, 0, _Overlap(size, np.finfo(dtype).eps)
    for j in range(num_steps):
        q = basis[j]
        w = np.asarray((yield q), dtype)
        if np.may_share_memory(w, basis) or not w.flags.writeable:  # e.g. an identity
            w = w.copy()
        # Scalars as Python floats, so that the vector arithmetic stays in `dtype`
        # (a float64 scalar would make float64 temporaries of a float32 basis).
        alphas[j] = alpha = _dot(q, w)
        w = axpy(q, w, a=-alpha)
        if j:
            # q_{j-1} . A q_j is beta_{j-1} for an exact symmetric operator and an
            # orthogonal basis: the difference measures how far from both this is.
            beta = float(betas[j - 1])
            if not overlap.measuring:  # once measured, the estimates are not used
                overlap.observe(_dot(basis[j - 1], w) - beta, abs(alpha) + beta)
            w = axpy(basis[j - 1], w, a=-beta)
        # `w` before any full pass: A y - theta y is `s_ji w` for a Ritz pair (up to
        # rounding and what earlier passes removed), so `|beta_j s_ji|` is its true
        # residual. The last step needs no pass: its vector is never used.
        betas[j] = beta = _norm(w)
        if j + 1 == num_steps:
            break
        if tolerance is not None:
            converged, smallest = _converged(alphas, betas, j + 1, k, which, tolerance)
            if converged:
                steps = j + 1
                break
            # A basis off by omega moves a Ritz pair's residual by about
            # omega ||A|| (the full passes' corrections are not in T): for a relative
            # `tolerance`, omega must stay below `tolerance |theta| / ||A||`.
            overlap.needed = 0.5 * tolerance * smallest
        if reorthogonalize == "full" or overlap.lost(alphas, betas, j, beta):
            # The estimates are bounds, far above the truth for a dense operator: one
            # read of the basis measures the true overlaps, and the second (the update)
            # is made only when they call for it. Once the estimates have called,
            # every later step is measured (the true overlaps can grow tenfold a step).
            overlaps = basis[: j + 1] @ w
            checks += 1
            if (reorthogonalize == "full" or beta == 0.0
                    or np.max(np.abs(overlaps)) > overlap.level * beta):
                betas[j] = beta = _orthogonalize(w, basis[: j + 1], beta, overlaps)
                overlap.reset()
                full += 1
            else:
                overlap.measured(np.abs(overlaps) / beta)
        if betas[j] <= 1e-10 * max(1.0, np.max(np.abs(alphas[: j + 1]))):
            betas[j] = 0.0  # Invariant subspace found: restart orthogonally.
            w = rng.normal(size=size).astype(dtype)
            beta = _orthogonalize(w, basis[: j + 1], _norm(w))
            overlap.restart()
        np.divide(w, beta, out=basis[j + 1])  # `beta` is `||w||` here
    values, coefficients = _ritz(alphas[:steps], betas[:steps])
    return Lanczos(
        values=values,
        weights=coefficients[0] ** 2,
        residuals=np.abs(betas[steps - 1] * coefficients[-1]),
        basis=basis[:steps],
        coefficients=coefficients,
        reorthogonalizations=full,
        overlap_checks=checks,
    )


class _Overlap:
    """Simon's (1984) estimates `omega[k] ~ q_j . q_k` of the Lanczos vectors' loss of
    orthogonality, for partial reorthogonalisation, and the measured overlaps that
    replace them.

    Simon's analysis takes the operator exact to rounding (`eps`); a Hessian-vector
    product in float32, or by double backpropagation at all, is exact to far less. The
    estimates therefore grow at the larger of `eps` and the error measured as the
    iteration goes (`observe`). The estimates only decide when measuring starts
    (`lost`, at `trigger`); from then on the true overlaps decide (`level`). Neither
    threshold takes the measured error as a floor: it measures the basis's own loss
    of orthogonality too. In float32 the rounding of a localised vector (a few large
    entries) leaves even neighbouring vectors 1e-6 to 1e-5 from orthogonal, and a
    level floored by it (1.3e-4 on a million-entry diagonal operator) let the pairs
    of an early stop at 1e-4 reach true residuals of 2.6e-4.
    """

    def __init__(self, size, eps=np.finfo("float64").eps):
        self.size, self.norm, self.noise, self.eps = size, 0.0, eps, eps
        self.previous, self.current = np.zeros(0), np.ones(1)
        self.measuring = False
        self.needed = math.inf  # half `tolerance |theta|` of an early stop's pairs

    def observe(self, error, scale):
        """Records an error `error` (of the operator, or of the recurrence's own
        orthogonality) on a product of size about `scale`."""
        if scale > 0:
            self.noise = max(self.noise, 10 * abs(error) / scale)

    def lost(self, alphas, betas, j, beta):
        """Updates the estimates for `q_{j+1} = r / beta`; whether the true overlaps
        must be measured: the estimates passed `trigger`, or an earlier step was
        measured already."""
        self.norm = max(self.norm, abs(alphas[j]) + beta + (betas[j - 1] if j else 0.0))
        new = np.zeros(j + 2)
        if beta == 0.0:  # An invariant subspace: reorthogonalised, then restarted.
            new[: j + 1] = self.noise
        else:
            if j:
                omega, low = self.current, np.r_[0.0, self.current[: j - 1]]
                new[:j] = (betas[:j] * omega[1 : j + 1] + (alphas[:j] - alphas[j]) * omega[:j]
                           + np.r_[0.0, betas[: j - 1]] * low - betas[j - 1] * self.previous[:j])
                new[:j] /= beta
                new[:j] += np.copysign(2 * self.noise * self.norm / beta, new[:j])
            # Rounding in a product of `size` terms: sqrt(size) eps; a measured error is
            # already the size of one inner product.
            local = max(self.eps * math.sqrt(self.size), self.noise)
            new[j] = local * self.norm / beta
        new[j + 1] = 1.0
        self.previous, self.current = self.current, new
        if self.measuring or beta == 0.0:
            return True
        return bool(np.max(np.abs(new[: j + 1])) > self.trigger)

    @property
    def level(self):
        """The measured overlap above which a vector is reorthogonalised: `eps**(3/4)`
        of the vectors' rounding (PROPACK's level for the vectors to orthogonalise
        against), or what an early stop's tolerance needs where that is less."""
        return min(self.eps ** 0.75, self._needed)

    @property
    def trigger(self):
        """The estimate at which measuring starts: `sqrt(eps)` (semi-orthogonality),
        or what an early stop's tolerance needs where that is less."""
        return min(math.sqrt(self.eps), self._needed)

    @property
    def _needed(self):
        return self.needed / self.norm if self.norm > 0 else math.inf

    def measured(self, overlaps):
        """After measuring the true overlaps of the new vector, below `level`."""
        self.current[:-1] = np.maximum(overlaps, self.noise)
        self.measuring = True

    def reset(self):
        """After a full reorthogonalisation: overlaps at rounding level."""
        self.current[:-1] = self.noise
        self.measuring = True

    def restart(self):
        """After a restart from a random vector orthogonal to the basis."""
        self.current[:-1] = self.noise


def _ritz(alphas, betas):
    """Eigenvalues (ascending) and eigenvectors of the Lanczos tridiagonal matrix."""
    tridiagonal = np.diag(alphas) + np.diag(betas[:-1], 1) + np.diag(betas[:-1], -1)
    return np.linalg.eigh(tridiagonal)


def _converged(alphas, betas, steps, k, which, tolerance):
    """Whether the `k` wanted Ritz pairs after `steps` steps meet `tolerance`, and the
    smallest of their `|theta|` (infinite before there are enough of them)."""
    wanted = 2 * k if which == "both" else k
    if steps < wanted + 1:
        return False, math.inf
    values, coefficients = _ritz(alphas[:steps], betas[:steps])
    residuals = np.abs(betas[steps - 1] * coefficients[-1])
    index = {"top": np.arange(steps - k, steps), "bottom": np.arange(k),
             "both": np.r_[np.arange(k), np.arange(steps - k, steps)]}[which]
    magnitudes = np.abs(values[index])
    return (bool(np.all(residuals[index] <= tolerance * magnitudes)),
            float(np.min(magnitudes)))


def _orthogonalize(w, basis, norm, overlaps=None):
    """Removes from `w` (of norm `norm`), in place, its components along the rows of
    `basis`.

    Classical Gram-Schmidt, repeated once when it cancelled most of `w` (the criterion
    of Daniel, Gragg, Kaufman and Stewart: "twice is enough"). `overlaps` is
    `basis @ w` where the caller has measured it already. Returns `||w||`.

    Two matrix-vector products, each one read of the basis (the least a pass can
    read), the second adding into `w` (BLAS `gemv`, no temporary); `lanczos` runs
    them on one BLAS thread (see `_one_blas_thread`).
    """
    gemv = scipy.linalg.blas.get_blas_funcs("gemv", dtype=w.dtype)
    for _ in range(2):
        if overlaps is None:
            overlaps = basis @ w
        out = gemv(-1.0, basis.T, overlaps, beta=1.0, y=w, overwrite_y=True)
        if out is not w:  # not updated in place (e.g. `w` not contiguous)
            w[...] = out
        overlaps = None
        norm, before = _norm(w), norm
        if norm > before / math.sqrt(2):
            break
    return norm


_BLOCK = 1024  # terms an inner product adds in its own dtype before float64 takes over


def _dot(a, b):
    """`a . b` as a Python float: BLAS dot products of blocks of `_BLOCK` terms, summed
    in float64.

    One BLAS dot product of a million float32 terms adds them in float32, and once its
    running sums have grown, small terms are lost against them: 2e-5 relative error on
    a vector with a few large entries and a million small ones, which is what a Lanczos
    vector near a localised eigenvector looks like (the 1M float32 diagonal operator of
    the tests lost orthogonality to 4e-4 in its first four steps, and an early stop at
    1e-4 returned residuals of 3.3e-4). In blocks the error is 1e-7, for about the same
    time (one read of both vectors).
    """
    m = a.size // _BLOCK * _BLOCK
    blocks = np.vecdot(a[:m].reshape(-1, _BLOCK), b[:m].reshape(-1, _BLOCK))
    return float(blocks.sum(dtype=np.float64)) + float(a[m:] @ b[m:])


def _norm(v):
    """`||v||` as a Python float, from `_dot`."""
    return math.sqrt(_dot(v, v))


def spectral_density(values, weights, num_points=400, sigma=None):
    """Smooths Ritz values and quadrature weights into a spectral density curve.

    Each Ritz value becomes a Gaussian of width `sigma` and mass equal to its weight, so
    the curve integrates to 1 (stochastic Lanczos quadrature).

    Args:
        values: Ritz values.
        weights: their quadrature weights.
        num_points: number of grid points. Defaults to 400.
        sigma: width of each Gaussian. Defaults to 1% of the spectrum's range.

    Returns:
        `(grid, density)`, two arrays of length `num_points`.
    """
    values, weights = np.asarray(values), np.asarray(weights)
    span = float(values.max() - values.min()) or max(1.0, abs(float(values.max())))
    sigma = sigma or 0.01 * span
    grid = np.linspace(values.min() - 0.1 * span, values.max() + 0.1 * span, num_points)
    bumps = np.exp(-0.5 * ((grid[:, None] - values[None, :]) / sigma) ** 2)
    return grid, bumps @ weights / (sigma * math.sqrt(2 * math.pi))


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


def default_num_steps(k, size):
    """Lanczos steps used for `k` eigenvalues at each end: `min(size, 4 * k + 20)`.

    The large eigenvalues of a network's Hessian are outliers and converge in a few
    steps; the negative end is crowded near 0 and needs the extra ones.
    """
    return min(size, 4 * k + 20)


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

    The cost is `num_steps + num_probes` Hessian-vector products (each about 1.2
    gradients, in two graph loops: the Lanczos steps and the probes), linear in `k`
    with the default `num_steps`.

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
