"""`python -m recipes`: listing, training end to end, and one-line errors for bad input."""

import os
import subprocess
import sys

import pytest

import recipes


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "recipes", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=600,
    )


def test_list_prints_every_recipe():
    out = run_cli("list")
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == recipes.list_recipes()


def test_help_everywhere():
    for args in ([], ["train"], ["tune"], ["diagnose"], ["list"]):
        out = run_cli(*args, "--help")
        assert out.returncode == 0, args
        assert "usage: python -m recipes" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "cnn"], "Unknown recipe 'cnn'. Known recipes: cnn_cifar10"),
        (["train", "cnn_mnist", "--epochs", "-1"], "--epochs: expected a positive integer, got -1"),
        (["train", "cnn_mnist", "--lr", "abc"], "--lr: expected a positive number, got 'abc'"),
        (["train", "cnn_mnist", "--csv", "x.csv", "--target", "y"], "unrecognized arguments: --csv x.csv --target y; the data options of cnn_mnist: none"),
        (["train", "regression", "--csv", "x.csv"], "csv needs target"),
        (["train", "mlp_mnist", "--hp", "epochs=3"], "'epochs' is a run option, not a hyperparameter: pass epochs=3 as an argument (CLI: --epochs)"),
        (["train", "mlp_mnist", "--hp", "limit=5"], "'limit' is a run option"),
        (["train", "mlp_mnist", "--hp", "verbose=0"], "'verbose' is a run option"),
    ],
)
def test_bad_input_is_one_line_and_no_traceback(args, message):
    out = run_cli(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], out.stderr


def test_csv_without_the_target_column(tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n3,4\n5,6\n")
    out = run_cli("train", "regression", "--csv", csv, "--target", "price")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "price" in out.stderr and "a, b" in out.stderr.replace("'", "")


def test_train_exports_a_savedmodel(tmp_path):
    out = run_cli(
        "train", "mlp_mnist", "--epochs", "1", "--limit", "256", "--hp", "units=16",
        "--run-dir", tmp_path / "run", "--export", tmp_path / "saved", cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    test_line = [line for line in out.stdout.splitlines() if line.startswith("test:")]
    assert "loss" in test_line[0] and "accuracy" in test_line[0], out.stdout
    assert f"SavedModel exported to {tmp_path / 'saved'}" in out.stdout
    assert (tmp_path / "saved" / "saved_model.pb").exists()
    assert (tmp_path / "run" / "result.json").exists()

    # `diagnose RUN_DIR` reads the saved run, prints the verdict and writes the plots.
    out = run_cli("diagnose", tmp_path / "run", "--human-error", "0.002")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Diagnosis: ") and "avoidable_bias" in out.stdout
    assert (tmp_path / "run" / "learning_curves.png").stat().st_size > 0
    out = run_cli("diagnose", tmp_path / "nothing-here")
    assert out.returncode == 2 and "Traceback" not in out.stderr
