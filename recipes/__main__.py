"""The command line: `python -m recipes list | train | tune | predict | describe | report |
diagnose`.

Bad input ends with a one-line error on stderr and exit status 2, never a traceback,
and before any data is read or model built: every argument and output path is checked
first, an unknown recipe and the shared flags of `train` and `tune` even before
TensorFlow loads. The flags of a recipe's data (`--csv`, `--target` for `regression`)
come from the recipe's own `data_options`: a new recipe never edits this file.

Output: Keras's progress bar on a terminal, one line per epoch in a log file; TensorFlow's
start-up lines (the oneDNN notice, `cudart_stub`, `cuInit`, the absl and CPU-instruction
notes, which TF 2.21's C++ code writes to stderr while it loads, before its own log
level applies) are dropped while TensorFlow loads, and every other line on stderr passes
through (`--verbose` keeps them all, `--quiet` prints only the results).
"""

import argparse
import contextlib
import os
import re
import sys
import threading
from pathlib import Path

import recipes

# What TensorFlow 2.21 prints on stderr while it loads on a machine without a GPU.
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called|"
    r"oneDNN custom operations are on|"
    r"cudart_stub\.cc.*Could not find cuda drivers|"
    r"cuda_platform\.cc.*failed call to cuInit|"
    r"cpu_feature_guard\.cc.*This TensorFlow binary is optimized|"
    r"To enable the following instructions: .*rebuild TensorFlow|"
    r"Unable to register cu(DNN|FFT|BLAS) factory"
)


@contextlib.contextmanager
def quiet_tensorflow_startup():
    """Drops TensorFlow's start-up lines (`STARTUP_NOISE`) from stderr while the block
    runs and passes every other line through.

    The lines come from C++ (absl logging before `absl::InitializeLog`), so no Python
    logger and no `TF_CPP_MIN_LOG_LEVEL` reaches them: file descriptor 2 goes through a
    pipe, filtered line by line, until the block ends.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)

    def forward():
        rest = b""
        with os.fdopen(read, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                *lines, rest = (rest + chunk).split(b"\n")
                for line in lines:
                    if not STARTUP_NOISE.search(line.decode(errors="replace")):
                        os.write(saved, line + b"\n")
        if rest and not STARTUP_NOISE.search(rest.decode(errors="replace")):
            os.write(saved, rest)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread sees its end
        thread.join(timeout=10)
        os.close(saved)


def _load_tensorflow(verbose):
    context = contextlib.nullcontext() if verbose else quiet_tensorflow_startup()
    with context:
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # where cuInit reports a missing GPU


def _hp_value(text):
    """Parses `name=value` for --hp, with value as int, float, bool or string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    for cast in (int, float):
        try:
            return name, cast(value)
        except ValueError:
            pass
    lowered = value.lower()
    if lowered in ("true", "false"):
        return name, lowered == "true"
    return name, value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _budget(text):
    from recipes.engine.budget import parse_budget

    try:
        parse_budget(text, None)  # argparse names the flag
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _defaults(recipe):
    """`{setting: its default}` as `--help` shows them: the recipe's own, or "the
    recipe's" without one; "fewer/more for a large table" where the recipe sizes them
    to the data (`Recipe.data_settings`)."""
    if recipe is None:
        return dict.fromkeys(("epochs", "batch_size", "learning_rate"), "the recipe's")
    from recipes.engine import Recipe

    sized = type(recipe).data_settings is not Recipe.data_settings
    d = recipe.defaults
    return dict(
        epochs=f"{d['epochs']}" + (", fewer for a large table" if sized else ""),
        batch_size=f"{d['batch_size']}" + (", more for a large table" if sized else ""),
        learning_rate=f"{d['learning_rate']:g}",
    )


def _add_common(p, recipe, strategies, tune=False):
    d = _defaults(recipe)
    p.add_argument("recipe", help="recipe name (see `python -m recipes list`)")
    if tune:
        p.add_argument("--epochs", type=_positive_int,
                       help=f"most epochs per trial (default: {d['epochs']})")
        p.add_argument("--batch-size", type=_positive_int,
                       help="fix the batch size per replica instead of tuning it (default: "
                            f"tuned; trial 0 takes {d['batch_size']})")
        p.add_argument("--lr", type=_positive_float,
                       help="fix the peak learning rate instead of tuning it (default: tuned "
                            f"on a log scale; trial 0 takes {d['learning_rate']})")
    else:
        p.add_argument("--epochs", type=_positive_int, help=f"epochs (default: {d['epochs']})")
        p.add_argument("--batch-size", type=_positive_int,
                       help=f"batch size per replica (default: {d['batch_size']})")
        p.add_argument("--lr", type=_positive_float,
                       help=f"peak learning rate (default: {d['learning_rate']})")
    p.add_argument("--data-dir", help="dataset directory (default: $RECIPES_DATA_DIR)")
    p.add_argument("--limit", type=_positive_int,
                   help="use only N training examples (default: all)")
    p.add_argument(
        "--strategy",
        default="auto",
        choices=strategies,
        help="tf.distribute strategy (default: auto)",
    )
    p.add_argument(
        "--mixed-precision",
        action="store_true",
        help="compute in float16 (GPUs) or bfloat16 (CPUs) with float32 weights",
    )
    p.add_argument(
        "--hp",
        type=_hp_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=("fix a hyperparameter instead of tuning it, e.g. --hp depth=2 (repeatable)"
              if tune else "set a hyperparameter, e.g. --hp depth=2 (repeatable)"),
    )
    loud = p.add_mutually_exclusive_group()
    loud.add_argument(
        "--verbose", action="store_true",
        help="Keras progress bars even in a log, and TensorFlow's start-up lines",
    )
    loud.add_argument("--quiet", action="store_true", help="print only the results")
    if recipe is None:
        return
    group = p.add_argument_group(f"data options of {recipe.name}")
    for name, option in recipe.data_options.items():
        if not option.cli:
            continue
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=f"data_{name}",
            type=option.type,
            nargs=option.nargs,
            metavar=option.metavar,
            choices=option.choices,
            help=option.help,
        )


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (and `--help` stays full)."""

    def error(self, message):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser(recipe=None, engine=True, allow_abbrev=True):
    """The parser; `train` and `tune` also take `recipe`'s data options. With
    `engine=False` (`list`, top-level `--help`, and the first look at `train` and
    `tune`) it imports no TensorFlow and leaves the strategy and tuner names and the
    `--auto` budget unchecked."""
    strategies, tuners = None, None
    if engine:
        from recipes.engine import STRATEGIES as strategies
        from recipes.engine import TUNERS as tuners

    parser = _Parser(
        prog="python -m recipes",
        description="Train, tune and diagnose Keras recipes.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the recipes")
    budget = _budget if engine else str
    _add_train(sub, recipe, strategies, budget, allow_abbrev)
    _add_tune(sub, recipe, strategies, tuners, budget, allow_abbrev)
    _add_runs(sub)
    _add_experiments(sub)
    return parser


def _add_train(sub, recipe, strategies, budget, allow_abbrev):
    p = sub.add_parser("train", help="train a recipe and evaluate it on the test split",
                       allow_abbrev=allow_abbrev, epilog=_epilog(recipe, "train"))
    _add_common(p, recipe, strategies)
    p.add_argument(
        "--run-dir",
        help="backups, history, result, report and the SavedModel RUN_DIR/model "
             "(default: runs/NAME)",
    )
    p.add_argument(
        "--overwrite", action="store_true",
        help="start afresh: drop RUN_DIR's backup and --auto state instead of resuming "
             "them (a resume on other data is an error)",
    )
    p.add_argument("--export", metavar="DIR",
                   help="also export the SavedModel to DIR (beside RUN_DIR/model)")
    p.add_argument("--save", metavar="PATH.keras", help="save a .keras file")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard logs to RUN_DIR/logs")
    p.add_argument(
        "--compare-depth",
        action="store_true",
        help="also train a shallower and a deeper variant (bias vs optimization)",
    )
    p.add_argument(
        "--auto",
        metavar="BUDGET",
        type=budget,
        help="act on the diagnosis until BUDGET (e.g. 900, 15m, 1h) is spent "
             "(default: one run)",
    )


def _add_tune(sub, recipe, strategies, tuners, budget, allow_abbrev):
    p = sub.add_parser("tune", help="search hyperparameters with KerasTuner",
                       allow_abbrev=allow_abbrev, epilog=_epilog(recipe, "tune"))
    _add_common(p, recipe, strategies, tune=True)
    p.add_argument("--tuner", default="hyperband", choices=tuners,
                   help="KerasTuner's search: hyperband, bayesian or random (default: hyperband)")
    p.add_argument("--max-trials", type=_positive_int, default=10,
                   help="trials to run (default: 10)")
    p.add_argument(
        "--directory", default="tuning",
        help="where searches are kept; this one, its trials.csv and report.html in "
             f"DIRECTORY/{recipe.name if recipe else 'NAME'} (default: tuning)",
    )
    p.add_argument("--export", metavar="DIR",
                   help="export the best model's SavedModel to DIR (default: none)")
    p.add_argument(
        "--budget",
        metavar="BUDGET",
        type=budget,
        help="wall-clock time for the whole search (e.g. 900, 30m, 2h), resumed runs "
             "included (default: none)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        help="run a chief and N worker processes on this machine (default: none, one "
             "process)",
    )
    p.add_argument(
        "--overwrite", action="store_true",
        help="start the search afresh instead of resuming it (a resume on other data is "
             "an error)",
    )


def _epilog(recipe, command):
    """The end of `train --help` / `tune --help`: without a recipe, how to see one's
    defaults and data flags."""
    if recipe is not None:
        return None
    return (f"Name a recipe to see its defaults and its data flags: "
            f"python -m recipes {command} NAME --help (NAME from `python -m recipes list`).")


def _add_runs(sub):
    """The commands on what `train` and `tune` wrote: predict, describe, report, diagnose."""
    p = sub.add_parser("predict", help="predict new rows or images with an export or a run")
    p.add_argument("model", help="an export (--export DIR) or a run directory")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", metavar="FILE",
                        help="rows to predict: a table file with a header (.csv, .tsv, .txt, "
                             ".xlsx, .parquet), its fields written back as they were")
    source.add_argument("--images", metavar="DIR", help="a folder of images to predict")
    p.add_argument("--out", metavar="FILE", help="where to write the CSV (default: stdout)")
    p.add_argument("--encoding", metavar="NAME",
                   help="the text encoding of --csv (default: detected, the training file's "
                        "where it fits)")
    p.add_argument("--sep", metavar="CHAR",
                   help="the field separator of --csv, one character or tab (default: "
                        "sniffed, the training file's where it fits)")

    p = sub.add_parser("describe", help="what an export takes and returns")
    p.add_argument("model", help="an export (--export DIR) or a run directory")

    p = sub.add_parser("report", help="write report.html for a run or a search")
    p.add_argument("folder", help="a run directory (train) or a search's folder (tune)")

    p = sub.add_parser("diagnose", help="diagnose a saved run and write its plots")
    p.add_argument("run_dir", help="a run directory written by `train`")
    p.add_argument("--human-error", type=float, help="human-level error, e.g. 0.002")


def _add_experiments(sub):
    p = sub.add_parser("experiment", help="run one of the lectures' experiments on a recipe")
    study = p.add_subparsers(dest="experiment", required=True, parser_class=_Parser)
    for name, text in (("optimizers", "SGD, momentum, Adagrad, RMSProp and Adam, same budget"),
                       ("batch-size", "small vs large batches, same epochs")):
        q = study.add_parser(name, help=text)
        q.add_argument("experiment_recipe", metavar="recipe", help="recipe name")
        q.add_argument("--epochs", type=_positive_int, help="epochs of every training")
        q.add_argument("--limit", type=_positive_int, help="use only N training examples")
        q.add_argument("--data-dir", help="dataset directory (default: $RECIPES_DATA_DIR)")
        q.add_argument("--run-dir", default="runs", help="parent of the runs (default: runs)")
        q.add_argument("--plot", help="where to write the PNG")
        q.add_argument("--seed", type=int, default=42, help="seed (default: 42)")
        if name == "optimizers":
            q.add_argument("--optimizers", nargs="+", metavar="NAME",
                           help="optimizers to compare (default: all five)")
            q.add_argument("--learning-rate", type=_hp_value, action="append", default=[],
                           metavar="NAME=VALUE", help="an optimizer's learning rate (repeatable)")
        else:
            q.add_argument("--sizes", nargs="+", type=_positive_int, metavar="N",
                           help="batch sizes (default: 32 128 512)")
            q.add_argument("--lr", type=_positive_float, help="learning rate of every size")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    needs_tensorflow = bool(argv) and argv[0] in (
        "train", "tune", "diagnose", "experiment", "predict", "describe", "report")
    try:
        if needs_tensorflow:
            _check_recipe_name(argv)  # an unknown recipe: before TensorFlow loads
            _check_flags(argv)  # so is a bad --epochs, --lr, --hp ...
            _load_tensorflow("--verbose" in argv)
        recipe = _named_recipe(argv)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    parser = build_parser(recipe, engine=needs_tensorflow)
    args, extra = parser.parse_known_args(argv)
    if extra:
        where = ""
        if recipe is not None:
            options = ", ".join(
                "--" + n.replace("_", "-") for n, o in recipe.data_options.items() if o.cli
            )
            where = f"; the data options of {recipe.name}: {options or 'none'}"
        parser.error(f"unrecognized arguments: {' '.join(extra)}{where}")
    try:
        return _run(args, recipe)
    except BrokenPipeError:  # `python -m recipes list | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130


def _check_recipe_name(argv):
    if len(argv) >= 2 and argv[0] in ("train", "tune") and not argv[1].startswith("-"):
        recipes.describe(argv[1])  # raises for an unknown name, reading no module


def _check_flags(argv):
    """The flags `train` and `tune` share, checked by a parser that needs no TensorFlow
    (seconds to load): a bad value ends here with argparse's own one-line error.
    The recipe's data options, unknown here, are left to the full parser, and so is
    every abbreviation (none is expanded here, so none can be expanded differently)."""
    if argv[0] in ("train", "tune") and not {"-h", "--help"} & set(argv):
        build_parser(engine=False, allow_abbrev=False).parse_known_args(argv)


def _named_recipe(argv):
    """The recipe that `train NAME` / `tune NAME` names, or `None`."""
    if len(argv) < 2 or argv[0] not in ("train", "tune") or argv[1].startswith("-"):
        return None
    return recipes.get(argv[1])


def _run(args, recipe):
    if args.command == "list":
        return _list()
    if args.command == "diagnose":
        from recipes.engine import diagnose_run

        print(diagnose_run(args.run_dir, human_error=args.human_error))
        return 0
    if args.command == "report":
        return _report(args)
    if args.command == "experiment":
        return _experiment(args)
    if args.command in ("predict", "describe"):
        return _serve(args)
    return _train_or_tune(args, recipe)


def _list():
    names = recipes.list_recipes()
    tasks = [n for n in names if recipes.preset_of(n) is None]
    print("Tasks (train on your own data: see `python -m recipes train TASK --help`):")
    for name in tasks:
        print(f"  {name:<14} {recipes.describe(name)}")
    print("Presets (a task with its dataset and measured defaults):")
    for name in (n for n in names if n not in tasks):
        print(f"  {name:<14} {recipes.describe(name)}")
    return 0


def _report(args):
    from recipes.engine.report import write_report
    from recipes.engine.result import Result

    folder = Path(args.folder)
    run = (folder / "result.json").is_file() and not (folder / "search.json").is_file()
    print(f"report written to {Result.load(folder).report() if run else write_report(folder)}")
    return 0


def _train_or_tune(args, recipe):
    _check_outputs(args)
    if args.mixed_precision:
        import keras

        from recipes.engine.strategy import mixed_precision_policy

        keras.mixed_precision.set_global_policy(mixed_precision_policy())
    data_options = {
        name: getattr(args, f"data_{name}")
        for name, option in recipe.data_options.items()
        if option.cli and getattr(args, f"data_{name}") is not None
    }
    common = dict(
        data_dir=args.data_dir,
        limit=args.limit,
        strategy=args.strategy,
        hp=dict(args.hp),
        verbose=0 if args.quiet else (1 if args.verbose else "auto"),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        **data_options,
    )
    if args.command == "tune":
        print(recipe.search(
            tuner=args.tuner,
            max_trials=args.max_trials,
            directory=args.directory,
            workers=args.workers,
            overwrite=args.overwrite,
            export=args.export,
            budget=args.budget,
            **common,
        ))
        return 0
    result = recipe.train(
        run_dir=args.run_dir,
        tensorboard=args.tensorboard,
        compare_depth=args.compare_depth,
        auto=args.auto,
        overwrite=args.overwrite,
        **common,
    )
    print(summary_of_test(result))
    model = os.path.join(result.run_dir, "model")  # written by `train`
    print(f"run written to {result.run_dir} (its SavedModel: {model})")
    if args.export:
        print(f"SavedModel exported to {result.export(args.export)}")
    if args.save:
        print(f"Keras model saved to {result.save_model(args.save)}")
    return 0


def _serve(args):
    from recipes.engine.serving import Served

    _check_outputs(args)
    served = Served(args.model)
    if args.command == "describe":
        print(served.describe())
        return 0
    if args.csv:
        scored = served.predict_csv(args.csv, args.out, encoding=args.encoding, sep=args.sep)
    else:
        scored = served.predict_images(args.images, args.out)
    said = sys.stdout if args.out else sys.stderr  # the predictions may be on stdout
    if args.out:
        print(f"{len(scored)} predictions written to {args.out}")
    score = served.score(scored, sep=args.sep, folder=args.images)
    if score:
        print(summary_of_score(score), file=said)
    return 0


def summary_of_score(score):
    """What `predict` prints where the rows say what they are (see `Served.score`)."""
    figures = ", ".join(f"{k} {_figure(score[k])}" for k in ("accuracy", "mae", "rmse")
                        if k in score)
    against = ("the class subfolders" if score["target"] is None
               else f"the column {score['target']!r}")
    return f"scored against {against} on {score['rows']} rows: {figures}"


def _figure(value):
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.6g}"


def _experiment(args):
    from recipes.data import check_data_dir
    from recipes.diagnostics import experiments

    recipe = recipes.get(args.experiment_recipe)
    check_data_dir(args.data_dir)
    common = dict(epochs=args.epochs, limit=args.limit, data_dir=args.data_dir,
                  run_dir=args.run_dir, seed=args.seed)
    if args.experiment == "optimizers":
        names = args.optimizers or tuple(experiments.LEARNING_RATES)
        rates = {name: float(value) for name, value in args.learning_rate} or None
        experiments.optimizers(recipe, names, learning_rates=rates,
                               plot=args.plot or "optimizers.png", **common)
    else:
        experiments.batch_size(recipe, args.sizes or (32, 128, 512), learning_rate=args.lr,
                               plot=args.plot or "batch_size.png", **common)
    return 0


def _check_outputs(args):
    """Every output path, checked before any data is read."""
    from recipes.engine.result import check_export_path, check_keras_path

    if getattr(args, "export", None):
        check_export_path(args.export)
    if getattr(args, "save", None):
        check_keras_path(args.save)
    out = getattr(args, "out", None)
    if out and os.path.isdir(out):
        raise ValueError(f"--out {out} is a directory: name the CSV file to write.")
    for flag in ("run_dir", "directory"):
        path = getattr(args, flag, None)
        if path and os.path.exists(path) and not os.path.isdir(path):
            raise ValueError(f"--{flag.replace('_', '-')} {path} is a file, not a directory.")


def summary_of_test(result):
    """What `train` prints of the test split: its figures, and which model gave them (the
    kept epoch's weights, or `tabular`'s linear model where `keep_linear` kept it)."""
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.test_metrics.items())
    kept = ""
    if result.settings.get("held_model"):
        kept = f" ({result.settings['held_model']}, in place of the trained one)"
    elif result.kept_epoch:
        kept = f" (the weights of epoch {result.kept_epoch} of {len(result.history['loss'])})"
    return f"test: {metrics}{kept}"


if __name__ == "__main__":
    sys.exit(main())
