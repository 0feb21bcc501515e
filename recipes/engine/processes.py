"""Local processes for distributed training and search: ports, TF_CONFIG, GPUs, supervision.

`tf.distribute.MultiWorkerMirroredStrategy` and KerasTuner's distributed mode do the
distributing; what they need from us is processes: one per worker, each with its own
environment (`TF_CONFIG`, or `KERASTUNER_TUNER_ID`/`KERASTUNER_ORACLE_IP`/
`KERASTUNER_ORACLE_PORT`). This module starts such processes on one machine, writes their
output to log files, restarts the ones that die when asked to, and never leaves one
behind. No well-kept library does this for KerasTuner, hence the few lines here.

A function runs in a child process as `python -m recipes.engine.processes CALL.pkl`, where
the file holds the pickled `(function, args, kwargs)`: the function and its arguments
must be picklable (module-level functions, plain objects).
"""

import json
import os
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

from recipes.data.checks import check_positive_int


def free_port(host="127.0.0.1"):
    """Returns a TCP port that is free on `host` now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def local_tf_configs(num_workers, host="127.0.0.1"):
    """`TF_CONFIG` values (JSON strings) for `num_workers` workers on this machine.

    Give the i-th string to the i-th process as its `TF_CONFIG` environment variable;
    each process then builds `tf.distribute.MultiWorkerMirroredStrategy()` (in this
    project: `strategy="multiworker"`). Worker 0 is the chief.

    Args:
        num_workers: number of worker processes.
        host: the address the workers listen on. Defaults to `"127.0.0.1"`.

    Example:

    ```python
    for i, config in enumerate(local_tf_configs(2)):
        subprocess.Popen(["python", "-m", "recipes", "train", "cnn_mnist",
                          "--strategy", "multiworker", "--run-dir", f"runs/w{i}"],
                         env=dict(os.environ, TF_CONFIG=config))
    ```
    """
    check_positive_int("num_workers", num_workers)
    workers = [f"{host}:{free_port(host)}" for _ in range(num_workers)]
    return [
        json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})
        for i in range(num_workers)
    ]

def visible_gpus():
    """The ids to give `CUDA_VISIBLE_DEVICES` for this machine's GPUs (no TF runtime)."""
    import tensorflow as tf

    count = len(tf.config.list_physical_devices("GPU"))
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = given.split(",") if given else [str(i) for i in range(count)]
    return ids[:count]


def share_gpus(index, workers, gpus):
    """Environment that gives worker `index` of `workers` its share of `gpus`.

    With at least as many GPUs as workers each worker gets its own; otherwise workers
    share GPUs and allocate their memory as they need it. `index=None` (a process that
    only coordinates, such as KerasTuner's chief) gets none.
    """
    if not gpus:
        return {}
    if index is None:
        return {"CUDA_VISIBLE_DEVICES": "-1"}
    if len(gpus) >= workers:
        own = [g for i, g in enumerate(gpus) if i % workers == index]
        return {"CUDA_VISIBLE_DEVICES": ",".join(own)}
    return {
        "CUDA_VISIBLE_DEVICES": gpus[index % len(gpus)],
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    }


class LocalProcesses:
    """Named child processes, each logging to `log_dir/NAME.log`, always reaped.

    Use it as a context manager: leaving the block, normally or by an exception,
    terminates every process still running (and kills those that ignore it).

    Args:
        log_dir: where each process's stdout and stderr go.

    Example:

    ```python
    with LocalProcesses("logs") as procs:
        procs.call("a", print, "hello")
        exit_codes = procs.wait()  # {"a": [0]}
    ```
    """

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.exit_codes = {}
        self._specs = {}
        self._running = {}

    def call(self, name, function, *args, env=None, **kwargs):
        """Starts `function(*args, **kwargs)` in a new Python process named `name`.

        `env` adds to (or overrides) this process's environment.
        """
        path = self.log_dir / f"{name}.call.pkl"
        path.write_bytes(pickle.dumps((function, args, kwargs)))
        # The child imports what this process can import (e.g. test modules).
        pythonpath = os.pathsep.join(p for p in sys.path if p)
        env = {**os.environ, "PYTHONPATH": pythonpath, **(env or {})}
        self._specs[name] = ([sys.executable, "-m", "recipes.engine.processes", str(path)], env)
        self.exit_codes.setdefault(name, [])
        self._start(name)

    def _start(self, name):
        argv, env = self._specs[name]
        with open(self.log_dir / f"{name}.log", "a") as log:
            self._running[name] = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait(self, on_exit=None, timeout=None, poll_seconds=0.2):
        """Waits until no process runs; returns `{name: [exit codes, one per start]}`.

        Args:
            on_exit: called as `on_exit(name, exit_code)` when a process ends; when it
                returns `True` the process is started again with the same command
                and environment. Defaults to `None` (nothing is restarted).
            timeout: seconds after which to raise `TimeoutError`. Defaults to `None`
                (no limit).
            poll_seconds: how often to look. Defaults to `0.2`.

        An exception raised here (by `on_exit`, or the timeout) leaves the processes
        running until the `with` block ends, which stops them.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._running:
            if deadline is not None and time.monotonic() > deadline:
                running = ", ".join(self._running)
                raise TimeoutError(f"Still running after {timeout} s: {running}.")
            for name, proc in list(self._running.items()):
                code = proc.poll()
                if code is None:
                    continue
                del self._running[name]
                self.exit_codes[name].append(code)
                if on_exit is not None and on_exit(name, code):
                    self._start(name)
            time.sleep(poll_seconds)
        return self.exit_codes

    def log_tail(self, name, lines=20):
        """The last `lines` lines of a process's log."""
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_seconds=5):
        """Terminates every running process, then kills what is left after the grace."""
        for proc in self._running.values():
            proc.terminate()
        deadline = time.monotonic() + grace_seconds
        for name, proc in self._running.items():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.exit_codes[name].append(proc.returncode)
        self._running.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def _main(path):
    function, args, kwargs = pickle.loads(Path(path).read_bytes())
    function(*args, **kwargs)


if __name__ == "__main__":
    _main(sys.argv[1])
