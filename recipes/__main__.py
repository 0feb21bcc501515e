"""The command line: `python -m recipes list | train | tune | diagnose`.

Bad input ends with a one-line error on stderr and exit status 2, never a traceback.
The flags of a recipe's data (`--csv`, `--target` for `regression`) come from the
recipe's own `data_options`: a new recipe never edits this file.
"""

import argparse
import sys

import recipes


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


def _add_common(p, recipe):
    from recipes.engine import STRATEGIES

    p.add_argument("recipe", help="recipe name (see `python -m recipes list`)")
    p.add_argument("--epochs", type=_positive_int, help="epochs (per trial when tuning)")
    p.add_argument("--batch-size", type=_positive_int, help="batch size per replica")
    p.add_argument("--lr", type=_positive_float, help="peak learning rate")
    p.add_argument("--data-dir", help="dataset directory (default: $RECIPES_DATA_DIR)")
    p.add_argument("--limit", type=_positive_int, help="use only N training examples")
    p.add_argument(
        "--strategy",
        default="auto",
        choices=STRATEGIES,
        help="tf.distribute strategy (default: auto)",
    )
    p.add_argument(
        "--mixed-precision",
        action="store_true",
        help="compute in float16 with float32 weights (GPUs)",
    )
    p.add_argument(
        "--hp",
        type=_hp_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a hyperparameter, e.g. --hp depth=2 (repeatable)",
    )
    if recipe is None:
        return
    group = p.add_argument_group(f"data options of {recipe.name}")
    for name, option in recipe.data_options.items():
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


def build_parser(recipe=None):
    """The parser; `train` and `tune` also take `recipe`'s data options."""
    from recipes.engine import TUNERS

    parser = _Parser(
        prog="python -m recipes",
        description="Train, tune and diagnose Keras recipes.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the recipes")

    p = sub.add_parser("train", help="train a recipe and evaluate it on the test split")
    _add_common(p, recipe)
    p.add_argument("--run-dir", help="backups, history and result (default: runs/NAME)")
    p.add_argument("--export", metavar="DIR", help="export a SavedModel to DIR")
    p.add_argument("--save", metavar="PATH.keras", help="save a .keras file")
    p.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs")
    p.add_argument(
        "--compare-depth",
        action="store_true",
        help="also train a shallower and a deeper variant (bias vs optimization)",
    )

    p = sub.add_parser("tune", help="search hyperparameters with KerasTuner")
    _add_common(p, recipe)
    p.add_argument("--tuner", default="hyperband", choices=TUNERS)
    p.add_argument("--max-trials", type=_positive_int, default=10)
    p.add_argument("--directory", default="tuning", help="where the search is kept")
    p.add_argument("--export", metavar="DIR", help="export the best model to DIR")
    p.add_argument(
        "--workers",
        type=_positive_int,
        help="run a chief and N worker processes on this machine",
    )
    p.add_argument("--overwrite", action="store_true", help="start the search afresh")

    p = sub.add_parser("diagnose", help="diagnose a saved run and write its plots")
    p.add_argument("run_dir", help="a run directory written by `train`")
    p.add_argument("--human-error", type=float, help="human-level error, e.g. 0.002")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        recipe = _named_recipe(argv)
    except ValueError as e:  # an unknown recipe: before TensorFlow starts any work
        print(f"error: {e}", file=sys.stderr)
        return 2
    parser = build_parser(recipe)
    args, extra = parser.parse_known_args(argv)
    if extra:
        where = ""
        if recipe is not None:
            options = ", ".join("--" + n.replace("_", "-") for n in recipe.data_options)
            where = f"; the data options of {recipe.name}: {options or 'none'}"
        parser.error(f"unrecognized arguments: {' '.join(extra)}{where}")
    try:
        return _run(args, recipe)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130


def _named_recipe(argv):
    """The recipe that `train NAME` / `tune NAME` names, or `None`."""
    if len(argv) < 2 or argv[0] not in ("train", "tune") or argv[1].startswith("-"):
        return None
    return recipes.get(argv[1])


def _run(args, recipe):
    if args.command == "list":
        for name in recipes.list_recipes():
            print(f"{name:<14} {recipes.describe(name)}")
        return 0
    if args.command == "diagnose":
        from recipes.engine import diagnose_run

        print(diagnose_run(args.run_dir, human_error=args.human_error))
        return 0

    if args.mixed_precision:
        import keras

        keras.mixed_precision.set_global_policy("mixed_float16")
    data_options = {
        name: getattr(args, f"data_{name}")
        for name in recipe.data_options
        if getattr(args, f"data_{name}") is not None
    }
    common = dict(
        data_dir=args.data_dir,
        limit=args.limit,
        strategy=args.strategy,
        hp=dict(args.hp),
        **data_options,
    )
    settings = dict(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr)
    if args.command == "train":
        result = recipe.train(
            **settings,
            run_dir=args.run_dir,
            tensorboard=args.tensorboard,
            compare_depth=args.compare_depth,
            **common,
        )
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.test_metrics.items())
        print(f"test: {metrics}")
        print(f"run written to {result.run_dir}")
        if args.export:
            print(f"SavedModel exported to {result.export(args.export)}")
        if args.save:
            print(f"Keras model saved to {result.save_model(args.save)}")
        return 0

    search = recipe.search(
        tuner=args.tuner,
        max_trials=args.max_trials,
        directory=args.directory,
        workers=args.workers,
        overwrite=args.overwrite,
        export=args.export,
        **settings,
        **common,
    )
    print(search)
    return 0


if __name__ == "__main__":
    sys.exit(main())
