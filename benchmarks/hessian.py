"""Cost of the top Hessian eigenvalues of a ~1M-parameter model, in gradients.

    python benchmarks/hessian.py [--k 5] [--batch-size 256] [--tolerance 1e-4] [--repeats 7] [--out FILE]

Times, on one batch of MNIST-shaped inputs: one gradient (the reference), one
Hessian-vector product by `Hessian.matvec` (its own forward and backward pass) and 20
products in one graph loop (`Hessian.run`: the forward and backward pass once, shared),
Lanczos for the `k` largest eigenvalues with the default number of steps (`4k + 20`,
what `critical_point` runs for both ends) and with the early stop (until the top `k`
Ritz pairs reach a relative residual of `--tolerance`): with partial
reorthogonalisation in one graph loop (what `critical_point` runs), the same with a
`matvec` call per product, with NumPy's BLAS on its default threads instead of one
between the products, with full reorthogonalisation, and as a first call (the basis in
fresh memory: the others reuse the memory that the `Hessian` keeps from its last
calls, as TensorFlow reuses its own); and Hutchinson's trace with 20 probes. After a
warm-up (graph tracing excluded), `--repeats` rounds each time
one gradient (median of 5) and then every computation once, side by side; each time is
divided by its own round's gradient, so the machine's drift cancels, and the table gives
the median (min-max) of these gradient-equivalents (each timing after a pause of 0.2 s,
so that no computation inherits the spinning threads of the one before), split into the
Hessian-vector products (at the per-product cost of the 20-product loop, or of `matvec`
for the `matvec` row) and the overhead around them. The true relative residual of each
reported pair is measured with one more product each. Ends with `summary: ...`;
`--out FILE` writes it as JSON.
"""

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import print_summary, spread  # noqa: E402
from recipes.diagnostics import hessian  # noqa: E402

LOOP = 20  # products timed in one graph loop
SETTLE = 0.2  # seconds of pause before each timed computation


def build_model():
    """An MLP on 28x28 inputs: 784 -> 1024 -> 256 -> 10, about 1.07M parameters."""
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def median_seconds(fn, repeats):
    fn()  # warm-up: traces the graphs
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--out", help="also write the summary as JSON here")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = build_model()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch_size, 784)).astype("float32")
    y = rng.integers(0, 10, size=(args.batch_size,))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    op = hessian.Hessian(model, x, y, loss)
    steps = hessian.default_num_steps(args.k, op.size)
    v = rng.normal(size=op.size).astype(op.dtype)
    found = {}

    early_stop = dict(k=args.k, which="top", tolerance=args.tolerance, dtype=op.dtype)

    # Each computation keeps only what the tables need, not its `Lanczos`: a result's
    # basis holds memory that the `Hessian` would otherwise hand out again.
    def keep(name, run):
        found[name] = dict(values=run.values, reorthogonalizations=run.reorthogonalizations,
                           overlap_checks=run.overlap_checks)

    def fixed():
        keep("fixed", hessian.lanczos(op, op.size, steps, dtype=op.dtype))

    def early():  # what `critical_point` runs: the products in one graph loop
        keep("early", hessian.lanczos(op, op.size, steps, **early_stop))

    def early_first():  # the same as a first call: the basis in fresh memory
        op._bases.clear()
        keep("first", hessian.lanczos(op, op.size, steps, **early_stop))

    def early_calls():  # the same, one `matvec` call (and forward pass) per product
        keep("calls", hessian.lanczos(op.matvec, op.size, steps, **early_stop))

    def early_threads():  # the same, BLAS left on its default threads between products
        one_thread = hessian.one_blas_thread
        hessian.one_blas_thread = contextlib.nullcontext
        try:
            keep("threads", hessian.lanczos(op, op.size, steps, **early_stop))
        finally:
            hessian.one_blas_thread = one_thread

    def early_full():  # the reference: every vector against the whole basis
        keep("full", hessian.lanczos(op, op.size, steps, reorthogonalize="full",
                                     **early_stop))

    def loop():  # LOOP products in one graph loop, no arithmetic between them
        def same():
            for _ in range(LOOP):
                yield v
        op.run(same())

    # Rounds: each times a gradient and a product (medians of 5 calls) and then every
    # computation once, so that each ratio to a gradient is taken within a round and the
    # machine's drift between rounds cancels out.
    computations = {"loop": loop, "fixed": fixed, "full": early_full, "calls": early_calls,
                    "first": early_first, "early": early, "threads": early_threads,
                    "trace": lambda: op.trace(num_probes=20)}
    for fn in computations.values():
        fn()  # warm-up: traces the graphs
    ratios = {name: [] for name in ("product", *computations)}
    gradients = []
    for _ in range(args.repeats):
        time.sleep(SETTLE)
        gradient = median_seconds(op.loss_and_gradient, 5)
        gradients.append(gradient)
        ratios["product"].append(median_seconds(lambda: op.matvec(v), 5) / gradient)
        for name, fn in computations.items():
            # A pause first, so that no computation starts while idle threads of the
            # previous one (OpenBLAS's, TensorFlow's) still spin.
            time.sleep(SETTLE)
            start = time.perf_counter()
            fn()
            ratios[name].append((time.perf_counter() - start) / gradient)
    median = {name: float(np.median(r)) for name, r in ratios.items()}
    in_loop = median["loop"] / LOOP  # one product's share of a graph loop
    hvps = {name: len(found[name]["values"])
            for name in ("fixed", "early", "first", "calls", "threads", "full")}
    hvps.update(product=1, loop=LOOP, trace=20)
    per_product = {name: in_loop for name in hvps}
    per_product.update(product=median["product"], calls=median["product"])
    rows = [
        ("one Hessian-vector product (matvec)", "product"),
        (f"{LOOP} products in one graph loop", "loop"),
        (f"top {args.k}, {steps} steps (fixed)", "fixed"),
        (f"top {args.k}, early stop, full reorth.", "full"),
        (f"top {args.k}, early stop, matvec calls", "calls"),
        (f"top {args.k}, early stop, BLAS threads", "threads"),
        (f"top {args.k}, early stop, first call", "first"),
        (f"top {args.k}, early stop at {args.tolerance:g}", "early"),
        ("trace (Hutchinson, 20 probes)", "trace"),
    ]
    run = hessian.lanczos(op, op.size, steps, **early_stop)  # as timed, for its vectors
    top = run.values[::-1][: args.k]
    residuals = []
    for i in range(1, args.k + 1):  # true residuals, one more product each
        vector = run.vector(-i)
        residuals.append(np.linalg.norm(op.matvec(vector) - run.values[-i] * vector)
                         / abs(run.values[-i]))
    fixed_top = found["fixed"]["values"][::-1][: args.k]

    device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    print(f"Hessian of a {op.size:,}-parameter MLP, batch {args.batch_size}, float32, {device}")
    print(f"one gradient: {np.median(gradients) * 1e3:.1f} ms (median of {args.repeats} rounds)")
    print(f"{'computation':<36}{'HVPs':>6}{'x gradient (min-max)':>24}{'of it HVPs':>12}"
          f"{'overhead':>10}")
    for title, name in rows:
        in_hvps = hvps[name] * per_product[name]
        print(f"{title:<36}{hvps[name]:>6}{spread(ratios[name], '{:.1f}'):>24}{in_hvps:>12.1f}"
              f"{median[name] - in_hvps:>10.1f}")
    print(f"top {args.k} eigenvalues: {', '.join(f'{t:.6g}' for t in top)}")
    print(f"  same, {steps} fixed steps: {', '.join(f'{t:.6g}' for t in fixed_top)}")
    print(f"reads of the basis: {run.overlap_checks} steps measured their "
          f"overlaps and {run.reorthogonalizations} of them were "
          f"reorthogonalised, of {hvps['early']} steps (partial); "
          f"{found['full']['reorthogonalizations']} reorthogonalised (full)")
    print(f"relative residuals ||Hv - lv|| / |l|: {', '.join(f'{r:.1e}' for r in residuals)}")
    summary = dict(
        hvp_per_gradient=median["product"], hvp_in_loop_per_gradient=in_loop,
        early_gradient_equivalents=median["early"], early_min=min(ratios["early"]),
        early_max=max(ratios["early"]), early_hvps=hvps["early"],
        early_overhead=median["early"] - hvps["early"] * in_loop,
        early_first_call_gradient_equivalents=median["first"],
        early_calls_gradient_equivalents=median["calls"],
        early_blas_threads_gradient_equivalents=median["threads"],
        full_reorth_gradient_equivalents=median["full"],
        reorthogonalizations=run.reorthogonalizations,
        overlap_checks=run.overlap_checks,
        fixed_gradient_equivalents=median["fixed"], fixed_hvps=hvps["fixed"],
        trace_gradient_equivalents=median["trace"],
        max_relative_residual=max(residuals),
    )
    print_summary(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
