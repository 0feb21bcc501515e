"""`python -m recipes`: listing, training end to end, and one-line errors for bad input."""

import contextlib
import io
import os
import subprocess
import sys
import json

import pytest

import recipes


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "recipes", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=600,
    )


def run_main(*args):
    """`python -m recipes ARGS` in this process: its exit code and stderr. The checks
    of bad input run here (a fresh process spends 5 s importing TensorFlow each);
    `test_bad_input_from_a_fresh_process_is_one_line` runs two of them for real."""
    from recipes.__main__ import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit:  # argparse's errors
            code = exit.code
    return code, err.getvalue()


def test_list_prints_every_recipe_as_a_task_or_a_preset():
    out = run_cli("list")
    assert out.returncode == 0
    assert out.stderr == ""  # no TensorFlow is loaded to list the recipes
    lines = out.stdout.splitlines()
    presets = lines.index(next(line for line in lines if line.startswith("Presets")))
    tasks = [line.split()[0] for line in lines[1:presets]]
    shown = [line.split()[0] for line in lines[presets + 1:]]
    assert sorted(tasks + shown) == recipes.list_recipes()
    assert {"cnn", "mlp", "tabular", "regression"} <= set(tasks)
    assert {"cnn_mnist", "mlp_mnist", "cnn_cifar10"} <= set(shown)
    assert recipes.preset_of("cnn_mnist") == "cnn" and recipes.preset_of("cnn") is None


@pytest.mark.slow
def test_help_everywhere():
    from recipes.__main__ import main

    for args in ([], ["train"], ["tune"], ["diagnose"], ["list"]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit:
            main([*args, "--help"])
        assert exit.value.code == 0, args
        assert "usage: python -m recipes" in out.getvalue()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "cnn2"], "Unknown recipe 'cnn2'. Known recipes: cnn, cnn_cifar10"),
        (["train", "cnn_mnist", "--epochs", "-1"], "--epochs: expected a positive integer, got -1"),
        (["train", "cnn_mnist", "--lr", "abc"], "--lr: expected a positive number, got 'abc'"),
        (["train", "cnn_mnist", "--csv", "x.csv", "--target", "y"], "unrecognized arguments: --csv x.csv --target y; the data options of cnn_mnist: --dataset, --images"),
        (["train", "regression", "--csv", "x.csv"], "csv needs target"),
        (["train", "mlp_mnist", "--hp", "epochs=3"], "'epochs' is a run option, not a hyperparameter: pass epochs=3 as an argument (CLI: --epochs)"),
        (["train", "mlp_mnist", "--hp", "limit=5"], "'limit' is a run option"),
        (["train", "mlp_mnist", "--hp", "verbose=0"], "'verbose' is a run option"),
        (["tune", "mlp_mnist", "--budget", "0"], "argument --budget: A budget is a positive number"),
        (["tune", "mlp_mnist", "--budget", "1d"], "Received: '1d'"),
    ],
)
def test_bad_input_is_one_line_and_no_traceback(args, message):
    code, stderr = run_main(*args)
    assert code == 2
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], stderr


def run_cli_without_tensorflow(*args, cwd):
    """`run_cli` where importing TensorFlow fails: a stand-in `tensorflow` package that
    raises comes first on the path."""
    fake = cwd / "no-tensorflow" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('TensorFlow was imported')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(fake.parent), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "recipes", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@pytest.mark.parametrize(
    "args, message, needs_tensorflow",
    [
        (["train", "cnn2"], "Unknown recipe 'cnn2'", False),
        (["train", "mlp_mnist", "--hp", "depth=9"], "Hyperparameter 'depth' is an integer", True),
    ],
)
@pytest.mark.slow
def test_bad_input_from_a_fresh_process_is_one_line(args, message, needs_tensorflow, tmp_path):
    # A name that is no recipe is refused before TensorFlow is imported.
    out = run_cli(*args, cwd=tmp_path) if needs_tensorflow else run_cli_without_tensorflow(
        *args, cwd=tmp_path)
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    # One line: no traceback, and none of TensorFlow's start-up messages.
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], out.stderr
    assert not (tmp_path / "runs").exists()


def test_the_shared_flags_are_checked_before_tensorflow_loads(monkeypatch):
    import recipes.__main__ as cli

    def load(verbose):
        raise AssertionError("TensorFlow loaded")

    monkeypatch.setattr(cli, "_load_tensorflow", load)
    for args, message in [
        (["train", "cnn_mnist", "--epochs", "0"], "--epochs: expected a positive integer, got 0"),
        (["tune", "mlp", "--max-trials", "x"], "--max-trials: expected a positive integer"),
        (["train", "mlp_mnist", "--hp", "depth"], "--hp: expected NAME=VALUE, got 'depth'"),
        (["train", "mlp_mnist", "--verbose", "--quiet"], "--quiet: not allowed with argument"),
    ]:
        code, stderr = run_main(*args)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and message in lines[0], (args, stderr)
    # A recipe's data options and abbreviated flags are the full parser's, after the load.
    for args in (["train", "regression", "--csv", "x.csv", "--target", "y", "--epochs", "2"],
                 ["train", "mlp_mnist", "--epoch", "0"], ["train", "cnn", "--help"]):
        with pytest.raises(AssertionError, match="TensorFlow loaded"):
            cli.main(args)
    monkeypatch.undo()
    assert run_main("train", "mlp_mnist", "--epoch", "0")[1].count("--epochs: expected") == 1
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit):
        cli.main(["train", "regression", "--help"])
    assert "--csv" in help_text.getvalue() and "--target" in help_text.getvalue()


@pytest.fixture(scope="module")
def a_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("paths") / "a_file"
    path.write_text("not a directory")
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["--export", "{file}"], "Cannot export to {file}: it is a file"),
        (["--export", "{file}/model"], "{file} is a file, not a directory"),
        (["--save", "model.h5"], "The path must end in '.keras'"),
        (["--run-dir", "{file}"], "--run-dir {file} is a file"),
        (["--hp", "depth=abc"], "Hyperparameter 'depth' is an integer in [1, 4]. Received: depth='abc'"),
        (["--hp", "depth=9"], "Hyperparameter 'depth' is an integer in [1, 4]. Received: depth=9"),
        (["--hp", "dropout=2"], "Hyperparameter 'dropout' is a number in [0.0, 0.5]"),
        (["--hp", "activation=tanh"], "Hyperparameter 'activation' is one of ['relu', 'sigmoid'"),
        (["--hp", "units=32", "--hp", "filtres=8"], "no hyperparameter(s) ['filtres']"),
        (["--data-dir", "/no/such/dir"], "The data directory /no/such/dir does not exist"),
        (["--batch-size", "0"], "--batch-size: expected a positive integer, got 0"),
        (["--auto", "0"], "argument --auto: A budget is a positive number of seconds"),
        (["--auto", "soon"], "argument --auto: A budget is a positive number of seconds or a duration such as '90s', '15m' or '1h'. Received: 'soon'"),
        (["--auto", "60", "--compare-depth"], "auto and compare_depth cannot be combined"),
    ],
)
def test_bad_arguments_fail_before_any_data_is_read(args, message, a_file, tmp_path,
                                                    monkeypatch):
    from recipes.engine.recipe import Recipe

    def no_data(*args, **kwargs):
        raise AssertionError("data was read before the arguments were checked")

    monkeypatch.setattr(Recipe, "load_data", no_data)
    args = [a.format(file=a_file) for a in args]
    monkeypatch.chdir(tmp_path)
    code, stderr = run_main("train", "mlp_mnist", *args)
    assert code == 2
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message.format(file=a_file) in lines[0], stderr
    assert not (tmp_path / "runs").exists()  # nothing trained, nothing written


@pytest.mark.slow
def test_a_logged_run_is_one_line_per_epoch_without_tensorflow_noise(tmp_path):
    out = run_cli(
        "train", "mlp_mnist", "--epochs", "3", "--limit", "512", "--hp", "units=32",
        "--run-dir", tmp_path / "run", cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    epochs = [line for line in out.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert all(" val_loss " in line and " lr " in line and line.endswith(" s") for line in epochs)
    assert "\x1b" not in out.stdout and "\b" not in out.stdout and "\r" not in out.stdout
    assert len(out.stdout) < 3000  # the Keras bar wrote ~30 KB per epoch to a log
    for noise in ("oneDNN", "cudart_stub", "cuInit", "absl::InitializeLog", "rebuild TensorFlow"):
        assert noise not in out.stderr, out.stderr
    # What TensorFlow writes on stderr for real still shows: here nothing at all.
    assert out.stderr.strip() == "", out.stderr


@pytest.mark.slow
def test_csv_without_the_target_column(tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n3,4\n5,6\n")
    out = run_cli("train", "regression", "--csv", csv, "--target", "price")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "price" in out.stderr and "a, b" in out.stderr.replace("'", "")


@pytest.mark.slow
def test_train_exports_a_savedmodel(tmp_path):
    out = run_cli(
        "train", "mlp_mnist", "--epochs", "1", "--limit", "256", "--hp", "units=32",
        "--run-dir", tmp_path / "run", "--export", tmp_path / "saved", cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    test_line = [line for line in out.stdout.splitlines() if line.startswith("test:")]
    assert "loss" in test_line[0] and "accuracy" in test_line[0], out.stdout
    assert test_line[0].endswith(" of 1)") and "(the weights of epoch 1" in test_line[0]
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


@pytest.mark.slow
def test_auto_prints_a_row_per_step_and_exports_the_chosen_model(tmp_path):
    out = run_cli(
        "train", "mlp_mnist", "--epochs", "2", "--limit", "512", "--hp", "units=32",
        "--auto", "12", "--run-dir", tmp_path / "run", "--export", tmp_path / "model",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("step  diagnosis"))
    rows = [line for line in lines[header:] if line[:4].strip().isdigit()]
    saved = json.loads((tmp_path / "run" / "auto.json").read_text())
    assert len(rows) == len(saved["steps"]) >= 1
    assert rows[0].split()[:2] == ["0", "-"] and "defaults" in rows[0]
    assert any(line.startswith("auto: chose step ") for line in lines)
    assert saved["budget_seconds"] == 12
    assert (tmp_path / "model" / "saved_model.pb").is_file()


def cli_help(*args):
    """`python -m recipes ARGS --help`, run in this process: its output."""
    from recipes.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit:
        main([*map(str, args), "--help"])
    assert exit.value.code == 0
    return " ".join(out.getvalue().split())  # argparse's line breaks as spaces


def test_help_shows_every_default_and_where_things_are_written():
    for name in ("mlp", "tabular", "cnn_mnist"):
        d = recipes.get(name).defaults
        text = cli_help("train", name)
        assert f"--epochs EPOCHS epochs (default: {d['epochs']}" in text
        assert f"batch size per replica (default: {d['batch_size']}" in text
        assert f"peak learning rate (default: {d['learning_rate']:g})" in text
        tuned = cli_help("tune", name)
        assert f"most epochs per trial (default: {d['epochs']}" in tuned
        assert ("fix the batch size per replica instead of tuning it (default: tuned; "
                f"trial 0 takes {d['batch_size']}") in tuned
        assert ("fix the peak learning rate instead of tuning it (default: tuned on a log "
                f"scale; trial 0 takes {d['learning_rate']:g})") in tuned
        assert f"report.html in DIRECTORY/{name} (default: tuning)" in tuned
    epochs = recipes.get("tabular").defaults["epochs"]
    assert f"(default: {epochs}, fewer for a large table)" in cli_help("train", "tabular")
    text = cli_help("train", "cnn")
    assert "--tensorboard write TensorBoard logs to RUN_DIR/logs" in text
    assert "--export DIR also export the SavedModel to DIR (beside RUN_DIR/model)" in text
    assert "the SavedModel RUN_DIR/model (default: runs/NAME)" in text
    assert "--hp NAME=VALUE set a hyperparameter" in text
    tuned = cli_help("tune", "cnn")
    assert "--hp NAME=VALUE fix a hyperparameter instead of tuning it" in tuned
    assert "(default: hyperband)" in tuned and "trials to run (default: 10)" in tuned


def test_help_without_a_recipe_says_how_to_see_its_data_flags():
    for command in ("train", "tune"):
        text = cli_help(command)
        assert (f"Name a recipe to see its defaults and its data flags: python -m recipes "
                f"{command} NAME --help") in text
        assert "--epochs EPOCHS" in text and "(default: the recipe's)" in text
        assert "--images" not in text
    assert "--images DIR" in cli_help("train", "cnn")


def test_mlp_refuses_augment_in_one_line():
    code, err = run_main("train", "mlp", "--images", "photos", "--augment", "digits")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert ("unrecognized arguments: --augment digits; the data options of mlp: --dataset, "
            "--images, --test-images, --image-size") in err
    assert "--augment" not in cli_help("train", "mlp") and "--augment" in cli_help("train", "cnn")
    from recipes import mlp, mlp_mnist

    for recipe in (mlp, mlp_mnist):
        with pytest.raises(ValueError, match=r"trains without augmentation \(an MLP sees "
                                             r"pixels, not shapes\).*Received: augment='photos'"):
            recipe.train(augment="photos", epochs=1)
        with pytest.raises(ValueError, match="trains without augmentation"):
            recipe.recipe.load_data(augment="photos")


def test_a_resume_on_other_data_is_one_line_naming_the_fix(tmp_path):
    from recipes.engine import fingerprint

    for name in ("old", "new"):
        (tmp_path / name / "cat").mkdir(parents=True)
        (tmp_path / name / "cat" / "a.png").write_bytes(b"x" * len(name))
    old = fingerprint.fingerprint(recipes.get("cnn"), data_options={"images": tmp_path / "old"})
    (tmp_path / "run" / "backup").mkdir(parents=True)  # an interrupted run on old/
    fingerprint.write(tmp_path / "run" / fingerprint.FILE, old)
    fingerprint.write(tmp_path / "tuning" / "cnn" / fingerprint.FILE, old)  # a search on old/

    code, err = run_main("train", "cnn", "--images", tmp_path / "new",
                         "--run-dir", tmp_path / "run")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {tmp_path / 'run'} holds an interrupted run on other data "
                          f"(images: {tmp_path / 'old'} (1 files, 3 bytes, modified ")
    assert err.rstrip().endswith(
        "train with --overwrite (overwrite=True) to start afresh, or choose another "
        "--run-dir (run_dir=).")
    code, err = run_main("tune", "cnn", "--images", tmp_path / "new",
                         "--directory", tmp_path / "tuning")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"error: {tmp_path / 'tuning' / 'cnn'} holds a search on other data" in err
    assert err.rstrip().endswith(
        "tune with --overwrite (overwrite=True) to start afresh, or choose another "
        "--directory (directory=).")
    assert (tmp_path / "run" / "backup").is_dir()  # nothing was removed


@pytest.mark.parametrize("settings, said", [
    ({}, " (the weights of epoch 2 of 3)"),
    ({"kept_linear": False}, " (the weights of epoch 2 of 3)"),
    ({"kept_linear": True, "held_model": "the linear model of the encoded columns"},
     " (the linear model of the encoded columns, in place of the trained one)")])
def test_the_test_line_names_the_model_that_gave_the_figures(settings, said):
    from recipes.__main__ import summary_of_test
    from recipes.engine import Result

    result = Result(recipe="tabular", model=None, kept_epoch=2,
                    history={"loss": [3.0, 2.0, 1.0]}, test_metrics={"loss": 0.25, "mae": 1.5},
                    settings=settings, hyperparameters={})
    assert summary_of_test(result) == f"test: loss 0.2500, mae 1.5000{said}"
