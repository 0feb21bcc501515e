"""Lanczos iteration on a symmetric operator given only as products `v -> A @ v`.

Finds the extreme eigenvalues of a symmetric operator (both ends at once) from matrix-
vector products alone, so the matrix is never formed: what a model's Hessian needs
(`recipes.diagnostics.hessian`), but nothing here knows about models, it takes any
function `v -> A @ v` on flat NumPy vectors.

- `lanczos`: Lanczos iteration with partial reorthogonalisation (Simon, 1984), in
  float64 or float32, with an optional early stop once the wanted Ritz pairs have
  converged. Returns a `Lanczos`: the Ritz values, their residuals and vectors, and the
  squared first components of the tridiagonal matrix's eigenvectors, which form a
  one-probe stochastic Lanczos quadrature of the spectral density (Ghorbani et al.,
  2019).
- `spectral_density`: broadens those Ritz values and weights into a density curve.
- `default_num_steps`: the steps `critical_point` runs for `k` eigenvalues at each end.

An operator with a `run(steps)` method (a `Hessian`) is given the whole iteration as a
generator instead of being called once a step, so that it can compute its products in
one loop of its own. The arithmetic between products is NumPy's, on one BLAS thread.

Example:

>>> a = np.diag([3.0, 1.0, -2.0])
>>> run = lanczos(lambda v: a @ v, size=3, num_steps=3)
>>> np.round(run.values, 6)
array([-2.,  1.,  3.])
>>> grid, density = spectral_density(run.values, run.weights)
"""

import dataclasses
import functools
import math

import numpy as np
import scipy.linalg.blas
import threadpoolctl


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
    Memory is `num_steps * size` values of `dtype` for the basis; given an operator
    that offers one (a `Hessian`), memory it kept from an earlier call where no result
    holds it any more (fresh memory costs page faults on its first writes: see
    `benchmarks/hessian.py`). A float32 basis (for an operator that computes in float32
    anyway, such as a float32 model's `Hessian`) halves the memory and the time of the
    vector arithmetic; the coefficients and the tridiagonal matrix stay float64.

    Reorthogonalisation is partial (Simon, 1984), and measured: each new vector is
    orthogonalised against the last two by the three-term recurrence, and Simon's
    omega recurrence bounds its overlap with every earlier one. `eps` there is the
    vectors' rounding, or the error measured as the iteration goes where that is
    larger (a float32 Hessian-vector product, say, is far less exact than its
    rounding).
    Once a bound passes `sqrt(eps)` (for an early stop, the level below where its
    tolerance needs less), every later step measures the true overlaps (one read of
    the basis) and orthogonalises the vector against the whole basis (a second read)
    only when one is above `eps**(3/4)`, or above what an early stop's tolerance
    needs (a basis off by omega moves a residual by about omega ||A||; in float32
    `sqrt(eps)` would be too loose for a 1e-4 tolerance). Neither threshold rises
    with the measured error: that error includes the basis's own loss of
    orthogonality. The bounds are far above the truth for a dense operator (such as a
    float32 model's Hessian), so most measured steps need no update.
    `reorthogonalize="full"` orthogonalises every step, for comparison. An update runs
    twice only when the first cancelled most of the vector ("twice is enough").

    Given an operator with a `run(steps)` method instead of a function (a `Hessian`
    itself, not its `matvec`), the iteration is handed to it as a generator that yields
    each vector and receives its product: a `Hessian` runs the products in one graph
    loop that computes the model's forward and backward pass once (`Hessian.run`), and
    each step calls back into NumPy for the next vector. The vectors stay in NumPy,
    which on a CPU does this arithmetic faster than TensorFlow's eager or graph ops on
    a flat vector (see `benchmarks/hessian.py` and its notes in `benchmarks/README.md`).
    The arithmetic is written in place, in `dtype`, on one BLAS thread (see
    `one_blas_thread`), and its inner products add in blocks summed in float64 (see
    `_dot`).

    With `tolerance`, the iteration stops as soon as the `k` wanted Ritz pairs have
    converged: each residual `|beta_j s_ji|` (for a reorthogonalised basis, the true
    `||A y - theta y||`) at most `tolerance * |theta|`.

    Args:
        matvec: a function mapping a flat vector of `dtype` to `A @ v`, or an
            operator with a `run(steps)` method that feeds the products to the
            generator `steps` and returns what it returns, and optionally a
            `lend_basis(rows, dtype)` method that hands out a `(rows, size)` array for the
            basis (a `Hessian`: the same products, sharing one forward and backward
            pass).
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
    if callable(getattr(matvec, "run", None)):  # e.g. a `Hessian`: it runs the steps
        if hasattr(matvec, "lend_basis"):  # memory it kept from an earlier call
            basis = matvec.lend_basis(num_steps, dtype)
        else:
            basis = np.zeros((num_steps, size), dtype)
        return matvec.run(_lanczos_steps(basis, seed, k, which, tolerance, reorthogonalize))
    basis = np.zeros((num_steps, size), dtype)
    steps = _lanczos_steps(basis, seed, k, which, tolerance, reorthogonalize)
    try:
        with one_blas_thread():  # the arithmetic, not the caller's own `matvec`
            v = next(steps)
        while True:
            product = matvec(v)
            with one_blas_thread():
                v = steps.send(product)
    except StopIteration as stop:
        return stop.value


@functools.cache
def _blas_controller():
    return threadpoolctl.ThreadpoolController()


def one_blas_thread():
    """A context in which NumPy's and SciPy's BLAS run on one thread.

    The vector arithmetic between Hessian-vector products is bound by memory
    bandwidth, so more threads do not speed it up; but OpenBLAS's idle threads spin for
    a while after each call, on the cores the operator (TensorFlow, for a `Hessian`)
    needs for the next product (see `benchmarks/hessian.py`, which compares one BLAS
    thread with the default).
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def _lanczos_steps(basis, seed, k, which, tolerance, reorthogonalize):
    """`lanczos` as a generator, in `basis` (`(num_steps, size)`; what it holds is
    overwritten): yields each vector to multiply, receives its product, and returns
    the `Lanczos`."""
    (num_steps, size), dtype = basis.shape, basis.dtype
    rng = np.random.default_rng(seed)
    alphas, betas = np.zeros(num_steps), np.zeros(num_steps)
    # A random sign vector, drawn as bytes (cheaper than a float64 draw of `size`
    # values).
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
            # every later step is measured (the true overlaps can grow fast from one
            # step to the next).
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

    Simon's analysis takes the operator exact to rounding (`eps`); an operator such as a
    Hessian-vector product in float32, or by double backpropagation at all, is exact
    to far less. The
    estimates therefore grow at the larger of `eps` and the error measured as the
    iteration goes (`observe`). The estimates only decide when measuring starts
    (`lost`, at `trigger`); from then on the true overlaps decide (`level`). Neither
    threshold takes the measured error as a floor: it measures the basis's own loss
    of orthogonality too. In float32 the rounding of a localised vector (a few large
    entries) leaves even neighbouring vectors measurably apart from orthogonal, and a
    level floored by it let the pairs of an early stop miss their tolerance (the test
    `test_the_update_level_does_not_rise_with_the_basis_own_loss_of_orthogonality`).
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
    them on one BLAS thread (see `one_blas_thread`).
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

    One BLAS dot product of many float32 terms adds them in float32, and once its
    running sums have grown, small terms are lost against them: on a vector with a few
    large entries and very many small ones, which is what a Lanczos vector near a
    localised eigenvector looks like, alpha and beta lose enough for the basis to lose
    orthogonality and an early stop to miss its tolerance (the test
    `test_a_float32_early_stop_meets_its_tolerance_on_localised_eigenvectors`). In
    blocks each running sum stays small, for about the same time (one read of both
    vectors).
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


def default_num_steps(k, size):
    """Lanczos steps used for `k` eigenvalues at each end: `min(size, 4 * k + 20)`.

    The large eigenvalues of a network's Hessian are outliers and converge in a few
    steps; the negative end is crowded near 0 and needs the extra ones.
    """
    return min(size, 4 * k + 20)
