"""recipes.diagnostics.hessian: eigenvalues against the full Hessian (numpy), verdicts on
constructed critical points, Hessian-vector product counts and the trace."""

import importlib
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


def test_a_float32_model_hessian_takes_and_returns_float32_vectors():
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


def test_the_arithmetic_between_products_runs_on_one_blas_thread():
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


def test_the_eigensolver_stays_importable_from_hessian():
    # It lives in `recipes.diagnostics.lanczos` (the attribute of that name on the
    # package is the function, so the module comes from the import system).
    lanczos_module = importlib.import_module("recipes.diagnostics.lanczos")
    for name in ("Lanczos", "lanczos", "spectral_density", "default_num_steps"):
        assert getattr(hessian, name) is getattr(lanczos_module, name)
