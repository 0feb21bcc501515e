"""A recipe's run: settings -> data -> build -> fit -> evaluate -> `Result`.

`Recipe.train` checks its arguments, then hands them to `train` here, which loads the
data, sizes the settings to it, trains once (`Recipe.run_once`, by default `run_once`
here, through the one fit loop of `recipes.engine.fit`; a recipe may train more and keep
one, as `tabular` does for a target's scale) or lets `--auto` choose
(`recipes.engine.auto`), trains the depth comparison when asked (`compare_depth`), saves
the run with the notes its training added to the data's (`Result.notes`), diagnoses it
and writes its report. The run's SavedModel goes to `RUN_DIR/model` (what
`recipes.load(RUN_DIR)` and `python -m recipes predict RUN_DIR` read), and the
fingerprint of its data to `RUN_DIR/data.json` (`recipes.engine.fingerprint`): an
interrupted run resumes only on the same data.

Example:

    result = run.train(recipe, recipe.hyperparameters(None), recipe.settings())
    one = run.run_once(recipe, hp, data, settings, strategy, "runs/x", [], 0, 42)
"""

import shutil
import time
from pathlib import Path

import keras
import keras_tuner

from recipes.engine import report
from recipes.engine.auto import AutoLoop
from recipes.engine import fingerprint as data_fingerprint
from recipes.engine.fit import fit, load_model_weights, steps_per_epoch
from recipes.engine.hparams import check_known
from recipes.engine.result import Result
from recipes.engine.strategy import get_strategy


def train(recipe, hp, settings, *, given=None, chosen=(), data=None, data_dir=None,
          limit=None, run_dir=None, strategy="auto", callbacks=(), tensorboard=False,
          verbose="auto", diagnose=True, compare_depth=False, auto=None, seed=42,
          data_options=None, start=None, overwrite=False):
    """The run of `Recipe.train`, whose arguments are checked already (see there).

    Args:
        recipe: the `Recipe`.
        hp: its `keras_tuner.HyperParameters`, with the values given.
        settings: `recipe.settings(...)` before they are sized to the data.
        given: the hyperparameter values the user named. Defaults to none.
        chosen: the names of the settings the user named (kept as they are when the
            settings are sized to the data). Defaults to none.
        data_options: the recipe's data options. Defaults to none.
        start: `time.perf_counter()` when `Recipe.train` began. Defaults to now.
        The rest as in `Recipe.train`.

    Returns:
        A `Result`, saved to `run_dir` with its report and its SavedModel
        (`run_dir/model`).
    """
    start = time.perf_counter() if start is None else start
    run_dir = Path(run_dir or Path("runs") / recipe.name)
    source = data_fingerprint.fingerprint(recipe, data, data_options, limit, seed)
    if overwrite:
        clear_resumable(run_dir)
    elif auto is None and any(path.is_dir() for path in (run_dir / "backup",
                                                          *run_dir.glob("*/backup"))):
        data_fingerprint.check_same(
            run_dir / data_fingerprint.FILE, source, f"{run_dir} holds an interrupted run",
            data_fingerprint.TRAIN_FIX)
    elif auto is not None and (run_dir / "auto.json").is_file():
        # Before any data is read; the loop checks its own state's copy again.
        data_fingerprint.check_same(
            run_dir / data_fingerprint.FILE, source, f"{run_dir} holds an --auto loop",
            data_fingerprint.TRAIN_FIX)
    strategy = get_strategy(strategy)
    keras.utils.set_random_seed(seed)
    if data is None:
        data = recipe.load_data(data_dir, limit, seed, **(data_options or {}))
    recipe.check_data(data)
    settings = recipe.data_settings(settings, data, set(chosen), hp)
    if verbose != 0:
        for note in data.notes:
            print(f"data: {note}", flush=True)

    extra = list(callbacks)
    if tensorboard:
        extra.append(keras.callbacks.TensorBoard(str(run_dir / "logs")))
    if auto is not None:
        loop = AutoLoop(recipe, auto, hp, data, settings, strategy, run_dir, extra, verbose,
                        seed, given=given, source=source)
        data_fingerprint.write(run_dir / data_fingerprint.FILE, source)
        result = loop.run()
    else:
        data_fingerprint.write(run_dir / data_fingerprint.FILE, source)
        result = recipe.run_once(hp, data, settings, strategy, run_dir, extra, verbose, seed,
                                 given=given)
    if verbose != 0:
        for note in result.notes:
            print(f"data: {note}", flush=True)
    if compare_depth:
        result.comparisons = recipe.compare_depth(result, hp, data, strategy, run_dir)
    notes = [*data.notes, *result.notes]
    result.settings["data_notes"] = notes
    result.timings["total_seconds"] = time.perf_counter() - start
    result.save(run_dir)
    result.export(run_dir / "model")
    if diagnose:
        result.diagnosis = result.diagnose()
        if verbose != 0:
            print(result.diagnosis)
    report.record_evaluation(result.model, data, run_dir, seed=seed, notes=notes)
    page = result.report()
    if verbose != 0:
        print(f"report: {page}", flush=True)
    return result


def clear_resumable(run_dir):
    """Removes what a run in `run_dir` would resume from: its backup, the `--auto`
    loop's state (`auto.json`) and the backups of its steps, screens and depth
    variants; their results stay until the new run writes its own."""
    run_dir = Path(run_dir)
    for backup in (run_dir / "backup", *run_dir.glob("*/backup")):
        if backup.is_dir():
            shutil.rmtree(backup)
    for name in ("auto.json", "auto.json.partial"):
        (run_dir / name).unlink(missing_ok=True)


def run_once(recipe, hp, data, settings, strategy, run_dir, callbacks, verbose, seed,
             given=None, augment_scale=1.0, evaluate=True, initial_weights=None):
    """One training of the model of `hp` on `data` through the fit loop, evaluated
    once on the test split; the `Result` before comparisons and diagnosis.

    Args:
        recipe: the `Recipe`.
        hp: a `keras_tuner.HyperParameters` with the values to build with.
        data: a `recipes.data.Splits`.
        settings: `recipe.settings(...)`, sized to the data.
        strategy: a `tf.distribute.Strategy`.
        run_dir: where the backup of an interrupted training goes.
        callbacks: extra Keras callbacks.
        verbose: Keras `fit` verbosity.
        seed: the seed of the pipelines' shuffling.
        given: hyperparameter names the user gave, checked against what the model
            registers. Defaults to none.
        augment_scale: scales the augmentation's strengths. Defaults to 1.
        evaluate: evaluate on the test split (`--auto` evaluates only its chosen
            model). Defaults to `True`.
        initial_weights: a `.weights.h5` file of the same model to start from (the
            weights only: a fresh optimizer and schedule), or a function that sets
            the built model's weights (`--auto`'s widened models). Defaults to
            `None`.
    """
    replicas = strategy.num_replicas_in_sync
    global_batch = settings["batch_size"] * replicas
    hp.values["learning_rate"] = settings["learning_rate"]
    model = recipe.build(hp, data, strategy, settings["epochs"], global_batch,
                       warmup_epochs=settings["warmup_epochs"],
                       clipnorm=settings.get("clipnorm"))
    check_known(hp.space, [k for k in given or () if k != "batch_size"], recipe.name)
    recipe.check_model(model, data)
    if callable(initial_weights):
        initial_weights(model)
    elif initial_weights is not None:  # the weights only: a fresh optimizer and schedule
        load_model_weights(model, initial_weights)
    train_ds, val_ds, test_ds = recipe.pipelines(
        data, global_batch, seed=seed, augment_scale=augment_scale
    )
    fitted = fit(
        model,
        train_ds,
        val_ds,
        epochs=settings["epochs"],
        **recipe.stopping(settings),
        backup_dir=Path(run_dir) / "backup",
        callbacks=callbacks,
        verbose=verbose,
    )
    test_metrics = model.evaluate(test_ds, return_dict=True, verbose=0) if evaluate else {}
    return Result(
        recipe=recipe.name,
        model=model,
        history=fitted.history,
        test_metrics={k: float(v) for k, v in test_metrics.items()},
        timings=dict(fit_seconds=fitted.seconds, epoch_seconds=fitted.epoch_seconds),
        settings=dict(
            settings,
            replicas=replicas,
            global_batch_size=global_batch,
            steps_per_epoch=steps_per_epoch(data.train_size, global_batch),
            strategy=type(strategy).__name__,
            train_size=data.train_size,
            seed=seed,
            baseline=recipe.baseline(data, hp),
            augment_scale=augment_scale,
        ),
        hyperparameters=dict(hp.values),
        stop_reason=fitted.stop_reason,
        kept_epoch=fitted.best_epoch + 1,
        exporter=recipe.exporter(model, data),
    )


def compare_depth(recipe, result, hp, data, strategy, run_dir):
    """Trains a shallower and a deeper variant with the same settings, each saved
    to `run_dir/depth-N`.

    Returns `{"shallower": ..., "deeper": ...}`, each with `depth`, `history` and
    `test` metrics; at the smallest depth the shallower one is `result` itself.
    """
    out = {}
    s = result.settings
    for label, depth in zip(("shallower", "deeper"), recipe.depth_variants(hp)):
        if depth == hp.get("depth"):
            out[label] = dict(depth=depth, history=result.history, test=result.test_metrics)
            continue
        print(f"Training the {label} variant (depth={depth}) ...")
        variant_hp = keras_tuner.HyperParameters()
        variant_hp.values.update(dict(hp.values, depth=depth))
        keras.utils.set_random_seed(s["seed"])
        variant_dir = Path(run_dir) / f"depth-{depth}"
        variant = run_once(
            recipe, variant_hp, data, recipe.settings(**{k: s[k] for k in recipe.defaults}),
            strategy, variant_dir, [], 0, s["seed"],
        )
        variant.save(variant_dir)
        out[label] = dict(depth=depth, history=variant.history, test=variant.test_metrics)
    return out
