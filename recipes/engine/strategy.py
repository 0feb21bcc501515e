"""What the devices decide, in one place: the `tf.distribute` strategy, the mixed-precision
policy and whether to compile with XLA.

`get_strategy("auto")` mirrors over every GPU when there are several and uses the default
strategy otherwise. `MultiWorkerMirroredStrategy` is TensorFlow's, with the two-line fix
that Keras 3's `fit` needs to run on it (keras-team/keras#20585).
`mixed_precision_policy()` is `mixed_float16` on GPUs (their tensor cores) and
`mixed_bfloat16` on CPUs (float16 has no fast path there, bfloat16 does on recent CPUs
and keeps float32's range). `jit_compile()` is on with a GPU and off without: on a CPU,
XLA is slower than plain TensorFlow for small convnets.
"""

import contextlib
import os

import tensorflow as tf

STRATEGIES = ("auto", "none", "mirrored", "multiworker")


def get_strategy(strategy="auto"):
    """Returns the `tf.distribute.Strategy` for a name, or the strategy given.

    Args:
        strategy: `"auto"` (a `MirroredStrategy` over all GPUs when there are several,
            the default strategy otherwise), `"none"` (the default strategy),
            `"mirrored"` (a `MirroredStrategy` over all GPUs, or over all logical CPUs
            when there is no GPU), `"multiworker"` (a `MultiWorkerMirroredStrategy`
            configured from `TF_CONFIG`), or a `tf.distribute.Strategy`.
            Defaults to `"auto"`.
    """
    check_strategy(strategy)
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy == "multiworker":
        # Before anything initializes TensorFlow's runtime (listing logical devices
        # does): collective ops must be configured at program startup.
        return MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if strategy == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        # Over CPUs, reduce on one device: CPU collectives of several strategies in
        # one process can mix up their instance keys ("Shape mismatch in the
        # collective instance").
        return tf.distribute.MirroredStrategy(
            [d.name for d in tf.config.list_logical_devices("CPU")],
            cross_device_ops=tf.distribute.ReductionToOneDevice(),
        )
    if strategy == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def has_gpu():
    """Whether TensorFlow sees a GPU (listing physical devices starts no runtime)."""
    return bool(tf.config.list_physical_devices("GPU"))


def mixed_precision_policy():
    """`"mixed_float16"` with a GPU, `"mixed_bfloat16"` without."""
    return "mixed_float16" if has_gpu() else "mixed_bfloat16"


def jit_compile():
    """Whether `Model.compile` should use XLA: with a GPU, yes; on a CPU, no."""
    return has_gpu()


def clear_session():
    """`keras.backend.clear_session()`, keeping the global dtype policy (Keras resets a
    mixed-precision policy with the rest of its global state)."""
    import keras

    policy = keras.mixed_precision.global_policy()
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(policy)


@contextlib.contextmanager
def released_gradients():
    """Drops, when the block ends, the gradient functions that graph tracing registered
    globally inside it.

    `tf.custom_gradient` in graph mode (the all-reduce of every optimizer step under a
    `tf.distribute` strategy, the default one included) registers a gradient function
    under a new name in TensorFlow's global registry, and never removes it; the
    function holds the traced graph, so each model trained in a process (a search's
    trials) keeps its training graph alive. The functions a block registered are used
    while its graphs are traced and differentiated, inside the block; a later trace
    registers its own.
    """
    from tensorflow.python.framework import ops

    registry = ops._gradient_registry._registry
    before = set(registry)
    try:
        yield
    finally:
        for name in [n for n in registry if n not in before]:
            if name.startswith("CustomGradient-"):
                del registry[name]


def check_strategy(strategy):
    """Raises a `ValueError` for a strategy `get_strategy` cannot build; touches no device."""
    if isinstance(strategy, tf.distribute.Strategy):
        return
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy. Expected one of {STRATEGIES} or a "
            f"tf.distribute.Strategy. Received: strategy={strategy!r}"
        )
    if strategy == "multiworker" and "TF_CONFIG" not in os.environ:
        raise ValueError(
            "strategy='multiworker' reads the cluster from the TF_CONFIG "
            "environment variable, which is not set. Set TF_CONFIG (see README, "
            "'Training across machines')."
        )


class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`tf.distribute.MultiWorkerMirroredStrategy`, usable by Keras 3's `fit`.

    Keras 3 (3.15 included, keras-team/keras#20585) calls `strategy.reduce` on a
    whole batch, a nested structure, and with `axis=0` on scalar metrics; the
    multi-worker strategy's `reduce` accepts neither and `fit` fails. Here `reduce`
    goes leaf by leaf and reduces scalars across replicas; the rest is TensorFlow's.
    It reads the cluster from `TF_CONFIG` and, like its parent, must be created
    before TensorFlow's runtime starts.
    """

    def reduce(self, reduce_op, value, axis=None):
        def reduce_one(v):
            scalar = self.experimental_local_results(v)[0].shape.rank == 0
            return super(MultiWorkerMirroredStrategy, self).reduce(
                reduce_op, v, None if scalar else axis
            )

        return tf.nest.map_structure(reduce_one, value)
