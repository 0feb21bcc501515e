"""recipes.diagnostics.lanczos: Lanczos on plain matrices and diagonal operators,
against their known spectra: restarts, partial against full reorthogonalisation, float32
bases and early stops, the blocked inner products, the BLAS threads of the arithmetic."""

import importlib

import numpy as np
import pytest
import threadpoolctl

from recipes.diagnostics.lanczos import _dot, default_num_steps, lanczos

# The package exports the function `lanczos` under the module's own name, so
# `recipes.diagnostics.lanczos` as an attribute is the function: the module (to patch its
# globals) comes from the import system.
lanczos_module = importlib.import_module("recipes.diagnostics.lanczos")


def test_lanczos_restarts_on_repeated_eigenvalues():
    # Three distinct eigenvalues: the Krylov space is exhausted after 3 steps.
    a = np.diag([2.0, 2.0, 2.0, -1.0, -1.0, 5.0])
    run = lanczos(lambda v: a @ v, 6, 6)
    np.testing.assert_allclose(run.values, np.sort(np.diag(a)), atol=1e-10)
    np.testing.assert_allclose(run.weights.sum(), 1.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lanczos_on_a_multiple_of_the_identity(dtype):
    # Every step ends in an exactly zero residual (a restart each step), and the identity
    # returns the very vector it is given, which must not alias the basis.
    for scale, matvec in ((2.0, lambda v: 2 * v), (1.0, lambda v: v)):
        run = lanczos(matvec, 4, 4, dtype=dtype)
        np.testing.assert_allclose(run.values, [scale] * 4, rtol=1e-6)
        np.testing.assert_allclose(run.basis @ run.basis.T, np.eye(4), atol=1e-6)


def test_partial_reorthogonalisation_matches_full_with_fewer_passes():
    # A Hessian-like spectrum: a few outliers above a bulk of both signs near 0.
    rng = np.random.default_rng(0)
    spectrum = np.r_[[50.0, 30.0, 20.0, 12.0, 8.0], rng.normal(0, 0.3, 20_000 - 5)]
    runs = {
        mode: lanczos(lambda v: spectrum * v, spectrum.size, 60, reorthogonalize=mode)
        for mode in ("partial", "full")
    }
    np.testing.assert_allclose(runs["partial"].values[-5:], [8, 12, 20, 30, 50], rtol=1e-10)
    np.testing.assert_allclose(runs["partial"].values[-5:], runs["full"].values[-5:],
                               rtol=1e-10)
    assert runs["full"].reorthogonalizations == 59  # all but the last, never used
    assert runs["partial"].reorthogonalizations <= 30
    basis = runs["partial"].basis  # semi-orthogonal: far below sqrt(eps) ~ 1.5e-8
    assert np.abs(basis @ basis.T - np.eye(60)).max() < 1.5e-8


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
    run = lanczos(lambda v: spectrum * v, n, 60, k=5, which="top", tolerance=1e-4,
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
    run = lanczos(lambda v: spectrum * v, n, 40, seed=102, k=5, which="top",
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
    runs = {mode: lanczos(lambda v: a @ v, 2000, 40, dtype="float32",
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
    assert abs(_dot(a, a) - exact) <= 1e-6 * exact
    b = np.random.default_rng(0).normal(size=a.size)  # float64, and a tail of 3 terms
    assert _dot(b, b[::-1].copy()) == pytest.approx(float(b @ b[::-1]), rel=1e-12)


def test_a_float32_basis_finds_the_same_eigenvalues():
    rng = np.random.default_rng(1)
    spectrum = np.r_[[40.0, 25.0, 16.0, 9.0, 7.0], rng.normal(0, 0.5, 50_000 - 5)]
    runs = {
        dtype: lanczos(lambda v: (spectrum * v).astype(v.dtype), spectrum.size, 60,
                       k=5, which="top", tolerance=1e-6, dtype=dtype)
        for dtype in ("float64", "float32")
    }
    assert runs["float32"].basis.dtype == np.float32
    np.testing.assert_allclose(runs["float32"].values[-5:], [7, 9, 16, 25, 40], rtol=1e-5)
    np.testing.assert_allclose(runs["float32"].values[-5:], runs["float64"].values[-5:],
                               rtol=1e-5)


def blas_threads():
    return {lib["filepath"]: lib["num_threads"]
            for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}


def test_with_a_plain_function_only_the_steps_run_on_one_blas_thread(monkeypatch):
    # OpenBLAS's idle threads spin on the cores the next product needs: the steps run on
    # one thread, the function on the caller's, whose setting comes back afterwards.
    outside = blas_threads()
    assert outside
    seen = {"matvec": [], "steps": []}
    real_steps = lanczos_module._lanczos_steps

    def watched_steps(*args):
        steps = real_steps(*args)
        v = next(steps)
        while True:
            seen["steps"].append(blas_threads())
            try:
                v = steps.send((yield v))
            except StopIteration as stop:
                return stop.value

    monkeypatch.setattr(lanczos_module, "_lanczos_steps", watched_steps)
    lanczos(lambda v: (seen["matvec"].append(blas_threads()), v)[1], 50, 3)
    assert len(seen["steps"]) == len(seen["matvec"]) == 3
    assert all(set(s.values()) == {1} for s in seen["steps"])
    assert all(s == outside for s in seen["matvec"])
    assert blas_threads() == outside


def test_default_num_steps():
    assert default_num_steps(5, 1000) == 40 and default_num_steps(5, 30) == 30


def test_an_operator_with_a_run_method_runs_the_steps_itself():
    # Duck-typed like a `Hessian`: the steps go to `run`, which returns what they return.
    a = np.diag([4.0, 3.0, 1.0, -1.0, -2.0])

    class Operator:
        runs = 0

        def run(self, steps):
            self.runs += 1
            try:
                v = next(steps)
                while True:
                    v = steps.send(a @ v)
            except StopIteration as stop:
                return stop.value

    operator = Operator()
    run = lanczos(operator, 5, 5)
    assert operator.runs == 1
    np.testing.assert_array_equal(run.values, lanczos(lambda v: a @ v, 5, 5).values)
    np.testing.assert_allclose(run.values, [-2, -1, 1, 3, 4], atol=1e-10)
