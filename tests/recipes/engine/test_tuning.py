"""recipes.engine.tuning: per-trial batching and schedules, resuming, results, export, fixed
values, the CLI, and distributed search with a chief, two workers and a killed worker.

Most tests search `helpers.TinyRecipe` (three Gaussian blobs, a one- or two-layer MLP)
so that a trial trains in a fraction of a second. Child processes of the distributed
search import the callbacks from this module.
"""

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from helpers import TinyRecipe, fingerprint, tiny_data
from recipes.engine import budget as budget_module
from recipes.engine import processes, tuning


class Record(keras.callbacks.Callback):
    """Records each training's steps per epoch and schedule (class-level: KerasTuner
    deep-copies callbacks)."""

    trainings = []

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        schedule = optimizer.get_config()["learning_rate"]["config"]
        iterations = int(optimizer.iterations.numpy())
        Record.trainings.append(dict(steps=self.params["steps"], iterations=iterations, **schedule))


class TrainLog(keras.callbacks.Callback):
    """Appends one JSON line per training start and end to a file (any process)."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def _write(self, event):
        line = dict(
            event=event,
            tuner=os.environ.get("KERASTUNER_TUNER_ID"),
            pid=os.getpid(),
            model=self.model.name,
        )
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")

    def on_train_begin(self, logs=None):
        self._write("begin")

    def on_train_end(self, logs=None):
        self._write("end")


class KillOnce(keras.callbacks.Callback):
    """SIGKILLs its process after the first batch of the search's first training."""

    def __init__(self, marker):
        super().__init__()
        self.marker = marker

    def on_train_batch_end(self, batch, logs=None):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, os.environ["KERASTUNER_TUNER_ID"].encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)


class KillChiefOnce(keras.callbacks.Callback):
    """SIGKILLs the search's chief process when a worker's first training ends, once."""

    def __init__(self, marker):
        super().__init__()
        self.marker = marker

    def on_train_end(self, logs=None):
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if b"chief.call.pkl" in cmdline and str(self.marker.rsplit("/", 1)[0]).encode() in cmdline:
                os.kill(int(entry), signal.SIGKILL)


class KillAtTraining(keras.callbacks.Callback):
    """SIGKILLs its process after the first batch of the `at`-th training (0-based) of
    the process, once (a marker file remembers)."""

    started = 0

    def __init__(self, marker, at):
        super().__init__()
        self.marker, self.at = marker, at

    def on_train_begin(self, logs=None):
        KillAtTraining.started += 1

    def on_train_batch_end(self, batch, logs=None):
        if KillAtTraining.started - 1 != self.at or os.path.exists(self.marker):
            return
        open(self.marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)


class InterruptTraining(keras.callbacks.Callback):
    """Raises KeyboardInterrupt (as Ctrl-C does) in the `at`-th training (0-based)."""

    started = 0

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_begin(self, logs=None):
        InterruptTraining.started += 1
        if InterruptTraining.started == self.at + 1:
            raise KeyboardInterrupt("interrupted")


@pytest.fixture
def record():
    Record.trainings = []
    return Record.trainings


def tiny_search(tmp_path, **kwargs):
    kwargs = dict(
        dict(tuner="random", max_trials=2, epochs=1, directory=tmp_path, verbose=0),
        **kwargs,
    )
    return tuning.search(TinyRecipe(), **kwargs)


@pytest.mark.slow
def test_each_trial_is_batched_and_scheduled_for_its_batch_size(tmp_path, record):
    result = tiny_search(
        tmp_path, max_trials=4, epochs=2, batch_sizes=(8, 32), callbacks=[Record()]
    )
    assert len(record) == 4
    hps = [row["hyperparameters"] for row in result.trials]
    assert {hp["batch_size"] for hp in hps} <= {8, 16, 32}  # the recipe's 16 added
    assert len({hp["batch_size"] for hp in hps}) > 1
    for hp, seen in zip(hps, record):
        steps = math.ceil(96 / hp["batch_size"])
        assert seen["steps"] == steps  # re-batched: fit(batch_size=) would not be
        assert seen["total_steps"] == 2 * steps  # the schedule follows the batch
        assert seen["peak"] == pytest.approx(hp["learning_rate"])


@pytest.mark.slow
def test_a_search_writes_like_train_a_header_per_trial_a_line_per_epoch(tmp_path, capsys):
    # Captured output is not a terminal: one line per epoch, as `train` writes in a log.
    result = tiny_search(tmp_path, max_trials=3, epochs=2, verbose="auto")
    lines = capsys.readouterr().out.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("trial ")]
    assert len(headers) == 3 and len(lines) == 3 * (1 + 2)
    for row, i in zip(result.trials, headers):
        hp = row["hyperparameters"]
        assert lines[i].startswith(f"trial {row['trial_id']}")
        assert f"  units {hp['units']}  depth {hp['depth']}  " in lines[i]
        assert [line.split()[:2] for line in lines[i + 1:i + 3]] == [
            ["epoch", "1/2"], ["epoch", "2/2"]]
    assert lines[headers[0]].startswith("trial 0 (defaults)  ")
    # The leaderboard, printed at the end as the command line does.
    print(result)
    board = capsys.readouterr().out.splitlines()
    assert board[0] == "Search over tiny (3 trials; * best, by val_loss):"
    assert sum(line.split()[0] in {"0", "1", "2"} for line in board[1:] if line.split()) == 3

    # verbose=1 keeps KerasTuner's own output.
    tiny_search(tmp_path / "loud", max_trials=1, epochs=1, verbose=1)
    loud = capsys.readouterr().out
    assert "Search: Running Trial #1" in loud and "Best val_loss So Far" in loud


@pytest.mark.slow
def test_result_table_json_and_exported_savedmodel(tmp_path):
    export = tmp_path / "best"
    result = tiny_search(tmp_path, max_trials=3, export=export)
    assert [row["trial_id"] for row in result.trials] == ["0", "1", "2"]
    for row in result.trials:
        assert row["status"] == "COMPLETED"
        assert row["seconds"] > 0 and row["epochs"] == 1
        assert {"units", "depth", "batch_size", "learning_rate", "optimizer"} <= set(
            row["hyperparameters"]
        )
    best = min(result.trials, key=lambda row: row["score"])
    assert result.best_trial_id == best["trial_id"]
    assert result.best_hyperparameters == best["hyperparameters"]
    assert result.best_model.name == f"tiny_{fingerprint(best['hyperparameters'])}"
    assert set(result.test_metrics) == {"loss", "accuracy"}

    table = str(result)
    assert "val_loss" in table and "seconds" in table and "batch_size" in table
    assert f"{best['trial_id']} *" in table
    for folder in (Path(result.project_dir), export):
        best_file = folder / "best_hyperparameters.json"
        assert json.loads(best_file.read_text()) == result.best_hyperparameters
    board = pd.read_csv(Path(result.project_dir) / "trials.csv")
    assert list(board["trial"]) == [0, 1, 2]
    np.testing.assert_allclose(board["val_loss"], [row["score"] for row in result.trials])
    assert list(board["units"]) == [row["hyperparameters"]["units"] for row in result.trials]
    assert list(board["note"].fillna("")) == ["defaults", "", ""]
    with Image.open(Path(result.project_dir) / "trials.png") as png:
        assert png.size[0] >= 800

    x = tiny_data().arrays("test")[0]
    served = tf.saved_model.load(str(export))
    np.testing.assert_allclose(
        served.serve(tf.constant(x)).numpy(),
        result.best_model.predict(x, verbose=0),
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.slow
def test_a_search_killed_with_sigkill_resumes_and_completes_every_trial_once(tmp_path):
    log, marker = tmp_path / "trainings.jsonl", tmp_path / "killed"
    code = textwrap.dedent(
        f"""
        import json
        from test_tuning import KillAtTraining, TinyRecipe, TrainLog
        from recipes.engine import tuning
        result = tuning.search(
            TinyRecipe(), tuner="random", max_trials=3, epochs=1, verbose=0,
            directory={str(tmp_path)!r}, budget=900,
            callbacks=[KillAtTraining({str(marker)!r}, at=1), TrainLog({str(log)!r})],
        )
        print(json.dumps([row["status"] for row in result.trials]))
        print(json.dumps(result.budget))
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))

    def run():
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, timeout=300)

    killed = run()
    assert killed.returncode == -signal.SIGKILL and marker.exists(), killed.stderr[-2000:]
    # The killed run's time counts against the budget of the resumed one.
    before = json.loads((tmp_path / "tiny" / "budget.json").read_text())
    assert before["spent"] > 0 and list(before["trials"]) == ["0"]
    resumed = run()
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout.splitlines()[-2]) == ["COMPLETED"] * 3
    budget = json.loads(resumed.stdout.splitlines()[-1])
    assert budget["seconds"] == 900 and budget["spent"] > before["spent"]
    ends = [json.loads(line)["model"] for line in log.read_text().splitlines()
            if json.loads(line)["event"] == "end"]
    # Trial 0 finished before the kill and was kept; the killed trial 1 ran again;
    # every trial finished exactly once.
    assert len(ends) == 3 and len(set(ends)) == 3


@pytest.mark.slow
def test_an_interrupted_search_resumes(tmp_path, record):
    InterruptTraining.started = 0
    with pytest.raises(KeyboardInterrupt):
        tiny_search(tmp_path, max_trials=3, callbacks=[Record(), InterruptTraining(at=1)])
    assert len(record) == 2  # trial 0 finished, trial 1 was interrupted
    first = json.loads((tmp_path / "tiny" / "trial_0" / "trial.json").read_text())

    result = tiny_search(tmp_path, max_trials=3, callbacks=[Record()])
    assert len(record) == 4  # trial 1 again and trial 2; trial 0 was kept
    assert [row["status"] for row in result.trials] == ["COMPLETED"] * 3
    assert result.trials[0]["score"] == first["score"]

    # A finished search, run again, trains nothing; overwrite=True starts afresh.
    assert len(tiny_search(tmp_path, max_trials=3, callbacks=[Record()]).trials) == 3
    assert len(record) == 4
    assert len(tiny_search(tmp_path, max_trials=1, overwrite=True).trials) == 1


@pytest.mark.slow
def test_hyperband_continues_trials_from_their_checkpoints(tmp_path, record):
    # Trial 0 is the defaults, for the full 3 epochs, outside the brackets. Then
    # max_epochs=3, factor=3: three 1-epoch trials, and the best goes on to epoch 3.
    result = tiny_search(
        tmp_path, tuner="hyperband", max_trials=5, epochs=3, callbacks=[Record()]
    )
    assert [row["status"] for row in result.trials] == ["COMPLETED"] * 5
    assert [row["epochs"] for row in result.trials] == [3, 1, 1, 1, 2]
    # Trial 4 starts from its parent's checkpoint: weights and optimizer state, so
    # its schedule goes on from the parent's last step.
    assert [seen["iterations"] for seen in record] == [0, 0, 0, 0, record[4]["steps"]]
    trial = json.loads((tmp_path / "tiny" / "trial_4" / "trial.json").read_text())
    values = trial["hyperparameters"]["values"]
    assert values["tuner/initial_epoch"] == 1 and values["tuner/trial_id"] in "123"


class Tick(keras.callbacks.Callback):
    """Every epoch lasts 10 s on the fake clock of `fake_clock`."""

    now = 0.0

    def on_epoch_end(self, epoch, logs=None):
        Tick.now += 10.0


@pytest.fixture
def fake_clock(monkeypatch):
    Tick.now = 0.0
    monkeypatch.setattr(budget_module, "clock", lambda: Tick.now)
    return Tick


@pytest.mark.slow
@pytest.mark.parametrize("tuner", tuning.TUNERS)
def test_the_first_trial_is_the_recipes_defaults_for_the_full_epochs(tmp_path, tuner):
    result = tiny_search(tmp_path, tuner=tuner, max_trials=3, epochs=3)
    trained = TinyRecipe().train(epochs=3, run_dir=tmp_path / "run", verbose=0,
                                 diagnose=False)
    first = result.trials[0]
    assert first["note"] == "defaults" and first["epochs"] == 3
    assert first["hyperparameters"] == {
        "batch_size": trained.settings["batch_size"],
        **{k: trained.hyperparameters[k] for k in ("units", "depth", "learning_rate", "optimizer")},
    }
    assert all(row["note"] == "" for row in result.trials[1:])
    assert len({fingerprint(row["hyperparameters"]) for row in result.trials}) == 3


@pytest.mark.slow
def test_a_budget_stops_a_trial_at_an_epoch_end_and_starts_none_that_would_not_fit(
    tmp_path, fake_clock
):
    # Epochs of 10 s, a budget of 25 s: trial 0 stops after epoch 2 (a third would
    # end at 30 s); the 5 s left cannot hold another trial of 20 s.
    result = tiny_search(tmp_path, max_trials=5, epochs=3, budget=25, callbacks=[Tick()])
    assert [row["epochs"] for row in result.trials] == [2]
    assert result.trials[0]["note"] == "defaults, stopped by the budget"
    assert result.stop_reason == "budget: a trial takes about 20 s (the median so far) and 5 s are left"
    assert result.budget == {"seconds": 25.0, "spent": 20.0}
    table = str(result)
    assert "% budget" in table and "Stopped: budget: a trial takes about 20 s" in table
    assert "Budget: 20 s of 25 s used (80%)" in table


@pytest.mark.slow
def test_an_interrupted_search_resumes_under_what_is_left_of_its_budget(tmp_path, fake_clock):
    InterruptTraining.started = 0
    with pytest.raises(KeyboardInterrupt):
        tiny_search(tmp_path, max_trials=10, epochs=2, budget=100,
                    callbacks=[Tick(), InterruptTraining(at=1)])
    assert fake_clock.now == 20  # trial 0 took 20 s; trial 1 was interrupted at its start
    # Resumed with the same budget: 80 s left, trials of 20 s. Trials 1 to 3 end at
    # 40, 60 and 80 s; trial 4 fits the 20 s left exactly, and ends at 100 s.
    result = tiny_search(tmp_path, max_trials=10, epochs=2, budget=100, callbacks=[Tick()])
    assert [row["epochs"] for row in result.trials] == [2] * 5
    assert result.budget == {"seconds": 100.0, "spent": 100.0}
    assert result.stop_reason == "the budget of 100 s is spent"
    # A larger budget, run again, goes on from there.
    more = tiny_search(tmp_path, max_trials=10, epochs=2, budget=140, callbacks=[Tick()])
    assert len(more.trials) == 7 and more.budget["spent"] == 140.0


@pytest.mark.slow
def test_fixed_values_and_bad_arguments(tmp_path):
    result = tiny_search(tmp_path, max_trials=2, batch_size=8, learning_rate=3e-3, hp={"depth": 2})
    for row in result.trials:
        hp = row["hyperparameters"]
        assert (hp["batch_size"], hp["learning_rate"], hp["depth"]) == (8, 3e-3, 2)
    with pytest.raises(ValueError, match=r"no hyperparameter\(s\) \['widht'\]. Known: .*'units'"):
        tiny_search(tmp_path, project_name="bad", hp={"widht": 3})
    with pytest.raises(ValueError, match="Unknown tuner"):
        tiny_search(tmp_path, tuner="grid")
    with pytest.raises(ValueError, match="max_trials must be a positive integer"):
        tiny_search(tmp_path, max_trials=0)
    with pytest.raises(ValueError, match="not data="):
        tiny_search(tmp_path, workers=2, data=tiny_data())


def test_bad_data_fails_before_any_trial(tmp_path):
    data = tiny_data()
    x, y = data.arrays("train")
    y[5] = 7  # three classes
    bad = dataclasses.replace(data, train=tf.data.Dataset.from_tensor_slices((x, y)))
    with pytest.raises(ValueError, match=r"tiny train split: Label 7 \(example 5\)"):
        tiny_search(tmp_path, data=bad)
    assert not (tmp_path / "tiny").exists()


def test_gpus_are_shared_out_among_workers():
    share = processes.share_gpus
    assert share(0, 2, []) == {}
    assert share(None, 2, ["0", "1"]) == {"CUDA_VISIBLE_DEVICES": "-1"}  # the chief
    assert share(1, 2, ["0", "1", "2", "3"]) == {"CUDA_VISIBLE_DEVICES": "1,3"}
    shared = share(1, 2, ["5"])
    assert shared == {"CUDA_VISIBLE_DEVICES": "5", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}


@pytest.mark.slow
def test_tune_from_the_command_line(tmp_path):
    out = subprocess.run(
        [
            sys.executable, "-m", "recipes", "tune", "cnn_mnist", "--tuner", "random",
            "--max-trials", "2", "--epochs", "1", "--limit", "512", "--hp", "filters=16",
            "--directory", str(tmp_path), "--export", str(tmp_path / "best"), "--budget", "20m",
        ],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Best model on the test split:" in out.stdout and "accuracy" in out.stdout
    assert "Budget: " in out.stdout and " of 1200 s used" in out.stdout
    assert "Skipping variable loading" not in out.stderr
    # Served as `train` exports it: the data's uint8 pixels in, named outputs out.
    sig = tf.saved_model.load(str(tmp_path / "best")).signatures["serve"]
    assert sig.structured_input_signature[1]["image"].dtype == tf.uint8
    assert set(sig.structured_outputs) == {"probabilities", "class_id", "class_name"}
    best = json.loads((tmp_path / "cnn_mnist" / "best_hyperparameters.json").read_text())
    assert best["filters"] == 16


# -- distributed search: a chief and two workers, one of them killed mid-trial -------


def search_in_a_driver(directory, killer, log, timeout):
    """Runs a 4-trial random search with `workers=2` in a driver process (its own
    session, so that a hang kills every process it started), with the callback
    `killer` (source text, a class of this module) and a `TrainLog` to `log`. Returns
    the search's processes and trials."""
    code = textwrap.dedent(
        f"""
        import json
        from test_tuning import KillChiefOnce, KillOnce, TinyRecipe, TrainLog
        from recipes.engine import tuning
        result = tuning.search(
            TinyRecipe(), tuner="random", max_trials=4, epochs=1, workers=2,
            directory={str(directory)!r}, verbose=0, budget=900,
            callbacks=[{killer}, TrainLog({str(log)!r})],
        )
        print(json.dumps(dict(processes=result.processes, trials=result.trials,
                              budget=result.budget, stop_reason=result.stop_reason)))
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    driver = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, start_new_session=True,
    )
    try:
        stdout, stderr = driver.communicate(timeout=timeout)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    assert driver.returncode == 0, stderr[-3000:]
    return json.loads(stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def distributed(tmp_path_factory):
    """Runs a 4-trial random search with `workers=2` in a driver process (its own
    session, so that a hang kills every process it started)."""
    folder = tmp_path_factory.mktemp("distributed")
    log, marker = folder / "trainings.jsonl", folder / "killed"
    out = search_in_a_driver(folder, f"KillOnce({str(marker)!r})", log, timeout=170)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return dict(
        out,
        folder=folder,
        events=events,
        killed=marker.read_text(),
        oracle=json.loads((folder / "tiny" / "oracle.json").read_text()),
    )


@pytest.mark.slow
def test_a_distributed_search_survives_its_chief_killed(tmp_path):
    """The chief (KerasTuner's oracle) is SIGKILLed after the first trial: it is started
    again, reloads the oracle, the workers reconnect, and every trial completes once."""
    log, marker = tmp_path / "trainings.jsonl", tmp_path / "chief-killed"
    out = search_in_a_driver(tmp_path, f"KillChiefOnce({str(marker)!r})", log, timeout=240)
    assert marker.exists() and out["processes"]["chief"][0] == -signal.SIGKILL
    assert out["processes"]["chief"][-1] == 0
    assert [row["status"] for row in out["trials"]] == ["COMPLETED"] * 4
    assert [row["trial_id"] for row in out["trials"]] == ["0", "1", "2", "3"]
    # Trials the workers were training when the chief died are trained again (the
    # reloaded oracle had them running); none is lost and none is counted twice.
    oracle = json.loads((tmp_path / "tiny" / "oracle.json").read_text())
    assert set(oracle["end_order"]) == {"0", "1", "2", "3"}


@pytest.mark.slow
def test_distributed_search_runs_every_trial_once(distributed):
    trials = distributed["trials"]
    assert [row["trial_id"] for row in trials] == ["0", "1", "2", "3"]
    assert all(row["status"] == "COMPLETED" for row in trials)
    assert [row["note"] for row in trials] == ["defaults", "", "", ""]
    assert sorted(distributed["oracle"]["end_order"]) == ["0", "1", "2", "3"]
    # The chief kept the budget for all: every trial's time, the whole search's spent.
    budget = json.loads((distributed["folder"] / "tiny" / "budget.json").read_text())
    assert sorted(budget["trials"]) == ["0", "1", "2", "3"]
    assert 0 < distributed["budget"]["spent"] < 900 and distributed["budget"]["seconds"] == 900
    assert distributed["stop_reason"] == "max_trials=4 trials have run"
    ends = [e for e in distributed["events"] if e["event"] == "end"]
    assert sorted(e["model"] for e in ends) == sorted(
        f"tiny_{fingerprint(row['hyperparameters'])}" for row in trials
    )
    # The chief and both workers exited (cleanly, at last) before search returned.
    processes = distributed["processes"]
    assert set(processes) == {"chief", "tuner0", "tuner1"}
    assert all(codes[-1] == 0 for codes in processes.values())
    for pid in {e["pid"] for e in distributed["events"]}:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_killed_worker_is_restarted_and_finishes_its_trial(distributed):
    killed = distributed["killed"]
    other = ({"tuner0", "tuner1"} - {killed}).pop()
    assert distributed["processes"][killed] == [-signal.SIGKILL, 0]
    assert distributed["processes"][other] == [0]
    assert distributed["processes"]["chief"] == [0]
    mine = [e for e in distributed["events"] if e["tuner"] == killed]
    # Killed during its first trial (a begin with no end), the restarted process
    # (a new pid, same tuner id) got the same trial back first, and finished it.
    died, again, done = mine[:3]
    assert [died["event"], again["event"], done["event"]] == ["begin", "begin", "end"]
    assert died["pid"] != again["pid"] == done["pid"]
    assert died["model"] == again["model"] == done["model"]


class Unavailable(Exception):
    """Stands in for a `grpc.RpcError` of a given status code."""

    def __init__(self, code):
        super().__init__(code)
        self._code = code

    def code(self):
        return self._code


def test_a_workers_calls_wait_for_a_restarted_chief(monkeypatch):
    import grpc

    monkeypatch.setattr(grpc, "RpcError", Unavailable)
    calls = []

    class Stub:
        def EndTrial(self, request, **kwargs):
            calls.append(request)
            if len(calls) < 3:  # the chief is down for two tries
                raise Unavailable(grpc.StatusCode.UNAVAILABLE)
            return "ended"

        def GetTrial(self, request, **kwargs):
            raise Unavailable(grpc.StatusCode.NOT_FOUND)

    stub = tuning.PatientStub(Stub(), patience=30)
    assert stub.EndTrial("trial 3", wait_for_ready=True) == "ended"
    assert calls == ["trial 3"] * 3
    with pytest.raises(Unavailable):  # other errors are not retried
        stub.GetTrial("trial 9")
    calls.clear()
    with pytest.raises(Unavailable):  # nor past the patience
        tuning.PatientStub(Stub(), patience=0).EndTrial("trial 4")
    assert len(calls) == 1


@pytest.mark.slow
def test_trials_do_not_keep_their_training_graphs_alive(tmp_path):
    import gc

    def graphs():
        gc.collect()
        return sum(type(o).__name__ == "FuncGraph" and o.name.startswith("one_step_on_data")
                   for o in gc.get_objects())

    before = graphs()
    tiny_search(tmp_path, max_trials=6)
    # The last trial's train and test functions may stay with its model; without the
    # release, TensorFlow's gradient registry holds two graphs per trial.
    assert graphs() - before <= 4
