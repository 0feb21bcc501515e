"""recipes.diagnostics.hessian: eigenvalues against the full Hessian (numpy), verdicts on
constructed critical points, Hessian-vector product counts and the trace."""

import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf
import threadpoolctl

from recipes.diagnostics import hessian


def tanh_mlp(dtype, sizes=(4, 10, 8, 3), l2=1e-3):
    """A 165-parameter MLP with an L2 penalty (to check `model.losses` is included)."""
    layers = [
        keras.layers.Dense(
            s, activation="tanh", dtype=dtype,
            kernel_regularizer=keras.regularizers.L2(l2),
        )
        for s in sizes[1:-1]
    ]
    return keras.Sequential(
        [keras.Input((sizes[0],), dtype=dtype), *layers,
         keras.layers.Dropout(0.5), keras.layers.Dense(sizes[-1], dtype=dtype)]
    )


def exact_hessian(model, x, y, loss_fn):
    """The full Hessian, from the Jacobian of the gradient (small models only)."""
    loss_fn = keras.losses.get(loss_fn)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = tf.reduce_mean(loss_fn(y, model(x, training=False)))
            loss += tf.add_n(model.losses) if model.losses else 0.0
        grads = inner.gradient(loss, model.trainable_weights)
        gradient = tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0)
    jacobians = outer.jacobian(gradient, model.trainable_weights)
    n = int(gradient.shape[0])
    h = np.concatenate([tf.reshape(j, [n, -1]).numpy() for j in jacobians], axis=1)
    return h.astype("float64")


def random_batch(model, n=64, seed=0):
    rng = np.random.default_rng(seed)
    dtype = model.inputs[0].dtype
    x = rng.normal(size=(n, model.inputs[0].shape[-1])).astype(dtype)
    y = rng.normal(size=(n, model.outputs[0].shape[-1])).astype(dtype)
    return x, y


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_eigenvalues_match_numpy(dtype):
    model = tanh_mlp(dtype)
    x, y = random_batch(model)
    exact = np.linalg.eigvalsh(exact_hessian(model, x, y, "mse"))
    result = hessian.critical_point(model, x, y, "mse", k=5)
    assert result.num_parameters == len(exact) == 165
    scale = np.abs(exact).max()
    np.testing.assert_allclose(result.top_eigenvalues, exact[::-1][:5], rtol=1e-4)
    np.testing.assert_allclose(result.bottom_eigenvalues, exact[:5], rtol=1e-4)
    assert result.max_residual < 1e-2 * scale
    assert result.verdict == hessian.NOT_CRITICAL  # a random point


def test_lanczos_with_size_steps_gives_the_whole_spectrum():
    model = tanh_mlp("float64", sizes=(3, 6, 2))
    x, y = random_batch(model)
    exact = np.linalg.eigvalsh(exact_hessian(model, x, y, "mse"))
    op = hessian.Hessian(model, x, y, "mse")
    run = hessian.lanczos(op.matvec, op.size, op.size)
    np.testing.assert_allclose(run.values, exact, rtol=1e-4, atol=1e-8)
    assert op.hvp_count == op.size
    # Ritz vectors are eigenvectors.
    v = run.vector(-1)
    np.testing.assert_allclose(op.matvec(v), run.values[-1] * v, atol=1e-8)


def test_lanczos_restarts_on_repeated_eigenvalues():
    # Three distinct eigenvalues: the Krylov space is exhausted after 3 steps.
    a = np.diag([2.0, 2.0, 2.0, -1.0, -1.0, 5.0])
    run = hessian.lanczos(lambda v: a @ v, 6, 6)
    np.testing.assert_allclose(run.values, np.sort(np.diag(a)), atol=1e-10)
    np.testing.assert_allclose(run.weights.sum(), 1.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lanczos_on_a_multiple_of_the_identity(dtype):
    # Every step ends in an exactly zero residual (a restart each step), and the identity
    # returns the very vector it is given, which must not alias the basis.
    for scale, matvec in ((2.0, lambda v: 2 * v), (1.0, lambda v: v)):
        run = hessian.lanczos(matvec, 4, 4, dtype=dtype)
        np.testing.assert_allclose(run.values, [scale] * 4, rtol=1e-6)
        np.testing.assert_allclose(run.basis @ run.basis.T, np.eye(4), atol=1e-6)


def two_weight_model(w1, w2):
    """y_pred = w2 * w1 * x: with x = y = 1 and MSE, loss = (w1 * w2 - 1)**2."""
    model = keras.Sequential(
        [
            keras.Input((1,), dtype="float64"),
            keras.layers.Dense(1, use_bias=False, dtype="float64"),
            keras.layers.Dense(1, use_bias=False, dtype="float64"),
        ]
    )
    model.set_weights([np.array([[w1]]), np.array([[w2]])])
    return model


def test_saddle_point_and_escape_direction():
    # At w = 0 the gradient is 0 and H = [[0, -2], [-2, 0]]: eigenvalues -2 and 2.
    model = two_weight_model(0.0, 0.0)
    x, y = np.ones((1, 1)), np.ones((1, 1))
    result = hessian.critical_point(model, x, y, "mse", k=1)
    assert result.verdict == hessian.SADDLE
    assert result.gradient_norm == 0.0
    np.testing.assert_allclose(result.bottom_eigenvalues, [-2.0])
    np.testing.assert_allclose(result.top_eigenvalues, [2.0])
    shapes = [tuple(w.shape) for w in model.trainable_weights]
    assert [d.shape for d in result.escape_direction] == shapes

    def loss():
        return float(np.mean((model.predict(x, verbose=0) - y) ** 2))

    before = loss()
    for w, direction in zip(model.trainable_weights, result.escape_direction):
        w.assign(w + 0.5 * direction)
    # 0.5 * step**2 * eigenvalue predicts 1 - 0.25; exactly (0.125 - 1)**2.
    assert loss() == pytest.approx(0.765625)
    assert loss() < before


def test_local_minimum_with_a_flat_direction():
    # At w1 = w2 = 1 the loss is 0; H = [[2, 2], [2, 2]]: eigenvalues 4 and 0 (flat).
    model = two_weight_model(1.0, 1.0)
    result = hessian.critical_point(model, np.ones((1, 1)), np.ones((1, 1)), "mse", k=1)
    assert result.verdict == hessian.MINIMUM
    np.testing.assert_allclose(result.top_eigenvalues, [4.0])
    assert abs(result.bottom_eigenvalues[0]) < 1e-12
    assert result.escape_direction is None


def test_local_maximum():
    # loss = -mean((w . x)**2) over the rows of the identity: H = -2/3 I.
    dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
    model = keras.Sequential([keras.Input((3,)), dense])
    x = np.eye(3, dtype="float32")
    loss = lambda y, y_pred: -keras.ops.square(y_pred)  # noqa: E731
    result = hessian.critical_point(model, x, np.zeros((3, 1)), loss, k=2)
    assert result.verdict == hessian.MAXIMUM
    np.testing.assert_allclose(result.top_eigenvalues, [-2 / 3] * 2, rtol=1e-6)
    assert result.escape_direction is not None


@pytest.mark.slow
def test_cost_is_linear_in_k():
    model = tanh_mlp("float32", sizes=(10, 12, 5))  # 197 parameters
    x, y = random_batch(model)
    results = [
        hessian.critical_point(model, x, y, "mse", k=k, num_probes=0)
        for k in (1, 2, 3, 4, 5)
    ]
    counts = [r.hvp_count for r in results]
    assert counts == [24, 28, 32, 36, 40]  # 4 * k + 20 Lanczos steps, one product each
    assert all(np.isnan(r.trace) for r in results)
    with_trace = hessian.critical_point(model, x, y, "mse", k=5, num_probes=10)
    assert with_trace.hvp_count == 40 + 10


def test_hessian_counts_products():
    model = tanh_mlp("float32")
    op = hessian.Hessian(model, *random_batch(model), "mse")
    for _ in range(3):
        op.matvec(np.ones(op.size))
    assert op.hvp_count == 3
    op.trace(num_probes=7)
    assert op.hvp_count == 10


def test_trace_estimate():
    model = tanh_mlp("float64")
    x, y = random_batch(model)
    exact = np.trace(exact_hessian(model, x, y, "mse"))
    estimate, error = hessian.Hessian(model, x, y, "mse").trace(num_probes=400)
    assert abs(estimate - exact) < 4 * error
    assert abs(estimate - exact) < 0.15 * abs(exact)


def test_density_and_string():
    model = tanh_mlp("float32")
    result = hessian.critical_point(model, *random_batch(model), "mse", k=3)
    grid, density = result.density()
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)
    assert np.all(density >= 0)
    text = str(result)
    assert "not a critical point" in text and "top eigenvalues" in text


def test_compiled_loss_and_errors():
    model = tanh_mlp("float32")
    x, y = random_batch(model)
    with pytest.raises(ValueError, match="loss_fn"):
        hessian.Hessian(model, x, y)
    model.compile(loss="mse")
    assert hessian.Hessian(model, x, y).size == 165
    with pytest.raises(ValueError, match="k must"):
        hessian.critical_point(model, x, y, k=0)
    with pytest.raises(ValueError, match="num_steps"):
        hessian.lanczos(lambda v: v, 3, 4)
    with pytest.raises(ValueError, match="flat vector"):
        hessian.Hessian(model, x, y).matvec(np.ones(3))


def test_lanczos_stops_when_the_top_pairs_have_converged():
    model = tanh_mlp("float64", sizes=(4, 8, 3))
    x, y = random_batch(model)
    exact = np.linalg.eigvalsh(exact_hessian(model, x, y, "mse"))
    op = hessian.Hessian(model, x, y, "mse")
    run = hessian.lanczos(op.matvec, op.size, op.size, k=3, which="top", tolerance=1e-6)
    assert op.hvp_count == len(run.values) < op.size  # stopped early, one product a step
    np.testing.assert_allclose(run.values[::-1][:3], exact[::-1][:3], rtol=1e-5)
    for i in (1, 2, 3):  # the true residual of each reported pair meets the tolerance
        v = run.vector(-i)
        assert np.linalg.norm(op.matvec(v) - run.values[-i] * v) <= 1e-5 * abs(run.values[-i])
    with pytest.raises(ValueError, match="which must be"):
        hessian.lanczos(op.matvec, op.size, 5, which="middle")


def test_partial_reorthogonalisation_matches_full_with_fewer_passes():
    # A Hessian-like spectrum: a few outliers above a bulk of both signs near 0.
    rng = np.random.default_rng(0)
    spectrum = np.r_[[50.0, 30.0, 20.0, 12.0, 8.0], rng.normal(0, 0.3, 20_000 - 5)]
    runs = {
        mode: hessian.lanczos(lambda v: spectrum * v, spectrum.size, 60,
                              reorthogonalize=mode)
        for mode in ("partial", "full")
    }
    np.testing.assert_allclose(runs["partial"].values[-5:], [8, 12, 20, 30, 50], rtol=1e-10)
    np.testing.assert_allclose(runs["partial"].values[-5:], runs["full"].values[-5:],
                               rtol=1e-10)
    assert runs["full"].reorthogonalizations == 59  # all but the last, never used
    assert runs["partial"].reorthogonalizations <= 30
    basis = runs["partial"].basis  # semi-orthogonal: far below sqrt(eps) ~ 1.5e-8
    assert np.abs(basis @ basis.T - np.eye(60)).max() < 1.5e-8


def test_partial_reorthogonalisation_adapts_to_an_inexact_operator():
    # A float32 Hessian-vector product is exact to ~1e-7, not to float64's 2e-16: held
    # to 2e-16, the basis would lose orthogonality unnoticed and repeat eigenvalues.
    model = tanh_mlp("float32")
    x, y = random_batch(model)
    exact = np.linalg.eigvalsh(exact_hessian(model, x, y, "mse"))
    op = hessian.Hessian(model, x, y, "mse")
    run = hessian.lanczos(op.matvec, op.size, 40)
    np.testing.assert_allclose(run.values[-5:], exact[-5:], rtol=1e-4)
    assert 0 < run.reorthogonalizations < 40
    with pytest.raises(ValueError, match="'partial' or 'full'"):
        hessian.lanczos(op.matvec, op.size, 5, reorthogonalize="some")


def assert_top_pairs_converged(run, spectrum, k=5, tolerance=1e-4):
    """The top `k` Ritz pairs of `run` on the diagonal operator `spectrum` have true
    relative residuals within `tolerance`, and the basis is orthogonal to 1e-5 (about
    float32's eps**(3/4), where the measured vectors are kept)."""
    exact = spectrum.astype("float64")
    for i in range(1, k + 1):
        v = run.vector(-i)
        residual = np.linalg.norm(exact * v - run.values[-i] * v)
        assert residual <= tolerance * abs(run.values[-i])
    basis = run.basis.astype("float64")
    assert np.abs(basis @ basis.T - np.eye(len(basis))).max() < 1e-5


def test_a_float32_early_stop_meets_its_tolerance_on_localised_eigenvectors():
    # Outliers on single coordinates: the Lanczos vectors become a few large entries
    # and a million small ones. Added up by one float32 BLAS dot product, the small
    # ones were lost against the large (2e-5 relative error in alpha and beta), the
    # basis lost orthogonality to 4e-4 in four steps, and the pairs reported as
    # converged at 1e-4 had true residuals of 3.3e-4.
    n = 1_000_000
    rng = np.random.default_rng(0)
    spectrum = np.r_[[50.0, 30.0, 20.0, 12.0, 8.0], rng.normal(0, 0.3, n - 5)]
    spectrum = spectrum.astype("float32")
    run = hessian.lanczos(lambda v: spectrum * v, n, 60, k=5, which="top", tolerance=1e-4,
                          dtype="float32")
    assert len(run.values) < 20  # stopped early
    np.testing.assert_allclose(run.values[-5:], [8, 12, 20, 30, 50], rtol=1e-5)
    assert_top_pairs_converged(run, spectrum)


def test_the_update_level_does_not_rise_with_the_basis_own_loss_of_orthogonality():
    # Outliers inside a uniform bulk. Float32 rounding of the localised vectors leaves
    # even neighbouring Lanczos vectors 1e-6 to 1e-5 apart from orthogonal, and the
    # check of q_{j-1} . A q_j against beta_{j-1} took that for operator error: the
    # update level rose with it to 1.3e-4, measuring started late, and the pairs
    # reported as converged at 1e-4 had true residuals of 2.6e-4.
    n = 1_000_000
    rng = np.random.default_rng(102)
    spectrum = rng.uniform(-1, 1, n)
    spectrum[rng.choice(n, 6, replace=False)] = np.sort(rng.uniform(1.5, 30, 6))[::-1]
    spectrum = spectrum.astype("float32")
    run = hessian.lanczos(lambda v: spectrum * v, n, 40, seed=102, k=5, which="top",
                          tolerance=1e-4, dtype="float32")
    np.testing.assert_allclose(run.values[-5:], np.sort(spectrum)[-5:], rtol=1e-5)
    assert_top_pairs_converged(run, spectrum)


@pytest.mark.slow
def test_partial_reorthogonalisation_measures_before_it_updates():
    # A dense float32 operator: its rounding is spread over every entry, and the true
    # overlaps stay far below Simon's bounds, so many measured steps need no update.
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(2000, 2000)))
    spectrum = np.r_[[50.0, 30.0, 20.0, 12.0, 8.0], rng.normal(0, 0.3, 2000 - 5)]
    a = ((q * spectrum) @ q.T).astype("float32")
    runs = {mode: hessian.lanczos(lambda v: a @ v, 2000, 40, dtype="float32",
                                  reorthogonalize=mode) for mode in ("partial", "full")}
    partial = runs["partial"]
    assert 0 < partial.reorthogonalizations < partial.overlap_checks <= 39
    assert runs["full"].reorthogonalizations == runs["full"].overlap_checks == 39
    np.testing.assert_allclose(partial.values[-5:], [8, 12, 20, 30, 50], rtol=1e-6)
    np.testing.assert_allclose(partial.values, runs["full"].values, rtol=1e-4, atol=1e-4)


def test_inner_products_add_in_blocks_in_float64():
    # A few large terms and a million small ones, in float32.
    a = np.full(1_000_003, 1e-3, "float32")
    a[:5] = 30.0
    exact = float(a.astype("float64") @ a.astype("float64"))
    assert abs(hessian._dot(a, a) - exact) <= 1e-6 * exact
    b = np.random.default_rng(0).normal(size=a.size)  # float64, and a tail of 3 terms
    assert hessian._dot(b, b[::-1].copy()) == pytest.approx(float(b @ b[::-1]), rel=1e-12)


def test_a_float32_basis_finds_the_same_eigenvalues():
    rng = np.random.default_rng(1)
    spectrum = np.r_[[40.0, 25.0, 16.0, 9.0, 7.0], rng.normal(0, 0.5, 50_000 - 5)]
    runs = {
        dtype: hessian.lanczos(lambda v: (spectrum * v).astype(v.dtype), spectrum.size, 60,
                               k=5, which="top", tolerance=1e-6, dtype=dtype)
        for dtype in ("float64", "float32")
    }
    assert runs["float32"].basis.dtype == np.float32
    np.testing.assert_allclose(runs["float32"].values[-5:], [7, 9, 16, 25, 40], rtol=1e-5)
    np.testing.assert_allclose(runs["float32"].values[-5:], runs["float64"].values[-5:],
                               rtol=1e-5)
    # A float32 model's Hessian takes and returns float32 vectors.
    model = tanh_mlp("float32")
    op = hessian.Hessian(model, *random_batch(model), "mse")
    assert op.dtype == np.float32
    assert op.matvec(np.ones(op.size, "float32")).dtype == np.float32
    assert op.matvec(np.ones(op.size)).dtype == np.float64


class CountsForwardPasses(keras.layers.Layer):
    """The identity, counting how many times its forward pass runs (also in a graph)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def _count(self):
        self.calls += 1
        return np.int64(self.calls)

    def call(self, x):
        tf.numpy_function(self._count, [], tf.int64, stateful=True)
        return x


def test_products_in_one_graph_loop_share_one_forward_pass():
    counter = CountsForwardPasses()
    model = keras.Sequential([keras.Input((4,), dtype="float64"),
                              keras.layers.Dense(10, activation="tanh", dtype="float64"),
                              counter, keras.layers.Dense(3, dtype="float64")])
    x, y = random_batch(model)
    exact = np.linalg.eigvalsh(exact_hessian(model, x, y, "mse"))
    op = hessian.Hessian(model, x, y, "mse")
    runs = {}
    for name, operator in (("loop", op), ("calls", op.matvec)):
        before, counted = counter.calls, op.hvp_count
        runs[name] = hessian.lanczos(operator, op.size, op.size)
        runs[name + " passes"] = counter.calls - before
        assert op.hvp_count - counted == op.size  # one product a step, either way
    assert runs["loop passes"] == 1 and runs["calls passes"] == op.size
    np.testing.assert_allclose(runs["loop"].values, exact, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(runs["calls"].values, exact, rtol=1e-6, atol=1e-10)
    v = np.random.default_rng(1).normal(size=op.size)

    def once():
        return (yield v).copy()

    np.testing.assert_allclose(op.run(once()), op.matvec(v), rtol=1e-12, atol=1e-14)


def test_a_hessian_reuses_the_memory_of_a_basis_that_nothing_holds():
    model = tanh_mlp("float32")
    x, y = random_batch(model)
    op = hessian.Hessian(model, x, y, "mse")

    first = hessian.lanczos(op, op.size, 20, dtype="float32")
    first_memory, first_basis = weakref.ref(first.basis.base), first.basis.copy()
    second = hessian.lanczos(op, op.size, 20, dtype="float32")  # `first` still holds its own
    assert not np.shares_memory(first.basis, second.basis)
    np.testing.assert_array_equal(first.basis, first_basis)
    np.testing.assert_array_equal(first.values, second.values)
    row, second_basis = second.basis[3], second.basis.copy()  # a view holds it too
    del first, second
    third = hessian.lanczos(op, op.size, 20, seed=1, dtype="float32")
    assert third.basis.base is first_memory()  # kept, and handed out again
    np.testing.assert_array_equal(row, second_basis[3])
    third_values = third.values
    del third
    again = hessian.lanczos(op, op.size, 20, seed=1, dtype="float32")
    assert again.basis.base is first_memory()
    np.testing.assert_array_equal(again.values, third_values)  # what it held is unused
    np.testing.assert_array_equal(row, second_basis[3])
    wider = hessian.lanczos(op, op.size, 20, dtype="float64")  # another dtype: new memory
    assert not np.shares_memory(wider.basis, again.basis)


def test_run_returns_what_the_steps_return_and_raises_what_they_raise():
    model = tanh_mlp("float32")
    op = hessian.Hessian(model, *random_batch(model), "mse")
    v = np.random.default_rng(0).normal(size=op.size).astype("float32")

    def steps(n, error=None, shape=None):
        products = []
        for i in range(n):
            product = yield (v[:shape] if shape and i else v)
            products.append(product.copy())
        if error:
            raise error
        return products

    products = op.run(steps(3))
    assert op.hvp_count == 3 and len(products) == 3
    for product in products:  # the same vector three times: the same product
        np.testing.assert_allclose(product, op.matvec(v), rtol=1e-5, atol=1e-6)
    assert op.run(steps(0)) == [] and op.hvp_count == 6  # no product for no vector
    with pytest.raises(KeyError, match="from the steps"):
        op.run(steps(2, KeyError("from the steps")))
    with pytest.raises(ValueError, match="flat vector"):
        op.run(steps(3, shape=5))
    assert op.run(steps(1)) and op.hvp_count == 6 + 2 + 1 + 1  # usable after an error


def blas_threads():
    return {lib["filepath"]: lib["num_threads"]
            for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}


def test_the_arithmetic_between_products_runs_on_one_blas_thread(monkeypatch):
    # OpenBLAS's idle threads spin on the cores the next product needs: the generator
    # runs with one BLAS thread, and the caller's setting comes back afterwards.
    model = tanh_mlp("float32")
    op = hessian.Hessian(model, *random_batch(model), "mse")
    outside = blas_threads()
    assert outside

    def steps():
        seen = [blas_threads()]
        yield np.ones(op.size, "float32")
        seen.append(blas_threads())
        return seen

    seen = op.run(steps())
    assert len(seen) == 2 and all(set(s.values()) == {1} for s in seen)
    assert blas_threads() == outside
    # With a plain function, the steps run on one thread, the function on the caller's.
    seen = {"matvec": [], "steps": []}
    real_steps = hessian._lanczos_steps

    def watched_steps(*args):
        steps = real_steps(*args)
        v = next(steps)
        while True:
            seen["steps"].append(blas_threads())
            try:
                v = steps.send((yield v))
            except StopIteration as stop:
                return stop.value

    monkeypatch.setattr(hessian, "_lanczos_steps", watched_steps)
    hessian.lanczos(lambda v: (seen["matvec"].append(blas_threads()), v)[1], 50, 3)
    assert len(seen["steps"]) == len(seen["matvec"]) == 3
    assert all(set(s.values()) == {1} for s in seen["steps"])
    assert all(s == outside for s in seen["matvec"])
    assert blas_threads() == outside

