"""tf.distribute: a trial on two replicas (the two logical CPUs of conftest.py) matches
one replica; MultiWorkerMirroredStrategy across two local processes; local processes
are restarted on request and never left behind."""

import json
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes.data import make_pipeline
from recipes.engine import processes as distribute
from recipes.engine import tuning
from recipes.engine import hyperparameters
from helpers import TinyRecipe


class FixedOrder(TinyRecipe):
    """TinyRecipe without shuffling: a distributed dataset shuffles in another order
    than a plain one, even with the same seed."""

    def pipelines(self, data, global_batch, seed=42, augment_scale=1.0, cache=True):
        splits = (data.train, data.validation, data.test)
        return tuple(make_pipeline(ds, global_batch, shuffle=False) for ds in splits)


class Replicas(keras.callbacks.Callback):
    """Records the replicas and variable types of each training (class-level: KerasTuner
    deep-copies callbacks)."""

    seen = []

    def on_train_end(self, logs=None):
        Replicas.seen.append(
            dict(
                replicas=self.model.distribute_strategy.num_replicas_in_sync,
                mirrored=all(
                    isinstance(w.value, tf.distribute.DistributedValues)
                    for w in self.model.weights
                ),
            )
        )


@pytest.mark.slow
def test_a_trial_on_two_replicas_matches_one_replica(tmp_path):
    # Same global batch (2 x 16 = 32) and, by the linear scaling rule, the same peak
    # learning rate (2 x 5e-3 = 1e-2); same batches in the same order; no dropout,
    # batch norm or augmentation.
    Replicas.seen = []
    common = dict(
        tuner="random", max_trials=1, epochs=3, verbose=0, callbacks=[Replicas()]
    )
    two = tuning.search(
        FixedOrder(), strategy="mirrored", batch_size=16, learning_rate=5e-3,
        directory=tmp_path / "two", **common,
    )
    one = tuning.search(
        FixedOrder(), strategy="none", batch_size=32, learning_rate=1e-2,
        directory=tmp_path / "one", **common,
    )
    assert Replicas.seen == [
        dict(replicas=2, mirrored=True),
        dict(replicas=1, mirrored=False),
    ]
    assert two.best_model.distribute_strategy.num_replicas_in_sync == 2
    per_replica = {"batch_size", "learning_rate"}  # fixed above, per replica
    same = {k: v for k, v in two.best_hyperparameters.items() if k not in per_replica}
    assert same == {k: v for k, v in one.best_hyperparameters.items() if k not in per_replica}
    assert two.trials[0]["score"] == pytest.approx(one.trials[0]["score"], rel=1e-5)
    for a, b in zip(two.best_model.get_weights(), one.best_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # Training moved the weights away from their (seeded) initial values.
    initial = FixedOrder().build_model(hyperparameters(one.best_hyperparameters))
    moved = [np.abs(a - b).max() for a, b in zip(one.best_model.get_weights(), initial.get_weights())]
    assert min(moved) > 1e-3


def train_worker(run_dir, out):
    """One worker of a MultiWorkerMirroredStrategy cluster (TF_CONFIG in the env)."""
    result = TinyRecipe().train(
        epochs=2, batch_size=8, strategy="multiworker", run_dir=run_dir,
        verbose=0, diagnose=False,
    )
    np.savez(out, *result.model.get_weights())
    with open(f"{out}.json", "w") as f:
        json.dump(dict(settings=result.settings, history=result.history), f)


@pytest.mark.slow
def test_multiworker_training_across_two_local_processes(tmp_path):
    configs = distribute.local_tf_configs(2)
    assert [json.loads(c)["task"]["index"] for c in configs] == [0, 1]
    with distribute.LocalProcesses(tmp_path / "logs") as procs:
        for i, config in enumerate(configs):
            procs.call(
                f"worker{i}", train_worker, str(tmp_path / f"run{i}"),
                str(tmp_path / f"weights{i}.npz"), env={"TF_CONFIG": config},
            )
        codes = procs.wait(timeout=50)
    assert codes == {"worker0": [0], "worker1": [0]}, procs.log_tail("worker0")
    records = [json.loads((tmp_path / f"weights{i}.npz.json").read_text()) for i in (0, 1)]
    for record in records:
        assert record["settings"]["strategy"] == "MultiWorkerMirroredStrategy"
        assert record["settings"]["replicas"] == 2
        assert record["settings"]["global_batch_size"] == 16
    assert records[0]["history"] == records[1]["history"]
    first, second = (np.load(tmp_path / f"weights{i}.npz") for i in (0, 1))
    assert len(first.files) == len(second.files) > 0
    for name in first.files:
        np.testing.assert_array_equal(first[name], second[name])


def test_multiworker_without_tf_config_names_the_fix(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        TinyRecipe().train(strategy="multiworker", verbose=0)


@pytest.mark.slow
def test_local_processes_restart_on_request_and_are_always_stopped(tmp_path):
    with distribute.LocalProcesses(tmp_path) as procs:
        procs.call("hello", print, "hello from a child")
        procs.call("fails", os._exit, 3)
        codes = procs.wait(on_exit=lambda name, code: len(procs.exit_codes[name]) < 2)
    assert codes == {"hello": [0, 0], "fails": [3, 3]}
    assert procs.log_tail("hello").splitlines().count("hello from a child") == 2

    with pytest.raises(TimeoutError, match="Still running after 1 s: sleeper"):
        with distribute.LocalProcesses(tmp_path) as procs:
            procs.call("sleeper", time.sleep, 600)
            procs.wait(timeout=1)
    assert procs.exit_codes["sleeper"] == [-15]  # terminated on leaving the block
