import math

import keras
import numpy as np
import pytest

from callbacks import EarlyStopping


def tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), loss="mse")
    return model


def drive(callback, monitored, losses=None, monitor="val_loss"):
    """Runs `callback` over synthetic epochs as `fit()` would; returns epochs run."""
    callback.set_model(tiny_model())
    callback.model.stop_training = False
    callback.on_train_begin()
    losses = losses or [1.0] * len(monitored)
    for epoch, (value, loss) in enumerate(zip(monitored, losses)):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"loss": loss, monitor: value})
        if callback.model.stop_training:
            return epoch + 1
    return len(monitored)


SEQUENCE = [1.0, 0.8, 0.9, 0.7, 0.71, 0.72, 0.69, 0.75, 0.8, 0.85, 0.9, 0.95]


@pytest.mark.parametrize(
    "kwargs, monitored",
    [
        ({"patience": 0}, SEQUENCE),
        ({"patience": 2}, SEQUENCE),
        ({"patience": 3}, SEQUENCE),
        ({"patience": 2, "min_delta": 0.05}, SEQUENCE),
        ({"patience": 2, "baseline": 0.75}, SEQUENCE),
        ({"patience": 2, "start_from_epoch": 4}, SEQUENCE),
        ({"patience": 2, "mode": "max"}, [0.1, 0.5, 0.4, 0.6, 0.55, 0.5, 0.45]),
        ({"patience": 20}, SEQUENCE),  # Never stops.
    ],
)
def test_matches_keras(kwargs, monitored):
    ours, theirs = EarlyStopping(**kwargs), keras.callbacks.EarlyStopping(**kwargs)
    epochs = drive(ours, monitored)
    assert epochs == drive(theirs, monitored)
    assert ours.stopped_epoch == theirs.stopped_epoch
    assert ours.best_epoch == theirs.best_epoch
    assert ours.best == theirs.best
    assert ours.stop_reason == ("patience" if theirs.stopped_epoch else None)


def test_stop_reason_and_epochs_after_patience():
    stopper = EarlyStopping(patience=2)
    assert drive(stopper, [3.0, 2.0, 1.0, 1.5, 1.2, 0.5]) == 5
    assert stopper.stop_reason == "patience"
    assert stopper.stopped_epoch == 4
    assert stopper.best_epoch == 2
    assert stopper.best == 1.0


def test_warmup_defers_patience_but_tracks_the_best():
    worsening = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    # Keras alone stops at epoch 2; the warm-up holds it until patience has
    # run out after epoch 3, the last warm-up epoch.
    assert drive(keras.callbacks.EarlyStopping(patience=2), worsening) == 3
    stopper = EarlyStopping(patience=2, warmup_epochs=4)
    assert drive(stopper, worsening) == 6
    assert (stopper.stopped_epoch, stopper.best_epoch) == (5, 0)
    assert stopper.stop_reason == "patience"
    # `start_from_epoch` ignores the warm-up epochs, best included.
    ignoring = EarlyStopping(patience=2, start_from_epoch=4)
    assert drive(ignoring, worsening) == 7
    assert (ignoring.stopped_epoch, ignoring.best_epoch) == (6, 4)


def test_fractional_warmup_is_rounded_up():
    worsening = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    fractional = EarlyStopping(patience=1, warmup_epochs=1.5)
    assert drive(fractional, worsening) == drive(
        EarlyStopping(patience=1, warmup_epochs=2), worsening
    ) == 3


def test_warmup_restarts_the_count_of_epochs_without_improvement():
    # Improvements after the warm-up restart patience as usual.
    stopper = EarlyStopping(patience=2, warmup_epochs=3)
    assert drive(stopper, [5.0, 6.0, 7.0, 4.0, 4.5, 4.6, 4.7]) == 6
    assert (stopper.stopped_epoch, stopper.best_epoch) == (5, 3)


@pytest.mark.parametrize(
    "monitored, losses, name, value",
    [
        ([3.0, 2.0, 1.0, 0.5], [3.0, 2.0, math.nan, 0.5], "loss", "nan"),
        ([3.0, 2.0, math.inf, 0.5], [3.0, 2.0, 1.0, 0.5], "val_loss", "inf"),
        ([3.0, 2.0, 1.0, 0.5], [3.0, 2.0, -math.inf, 0.5], "loss", "-inf"),
    ],
)
def test_stops_at_once_on_a_non_finite_loss(monitored, losses, name, value, capsys):
    # Patience and warm-up would both let training go on.
    stopper = EarlyStopping(patience=10, warmup_epochs=5)
    assert drive(stopper, monitored, losses) == 3
    assert stopper.stop_reason == "non_finite_loss"
    assert stopper.stopped_epoch == 2
    assert stopper.best_epoch == 1
    assert f"Epoch 3: {name} became {value}" in capsys.readouterr().out


def test_reusing_the_callback_resets_the_reason():
    stopper = EarlyStopping(patience=0)
    drive(stopper, [1.0, 2.0])
    assert stopper.stop_reason == "patience"
    drive(stopper, [1.0, 0.5, 0.25])
    assert stopper.stop_reason is None
    assert stopper.stopped_epoch == 0


def test_stops_a_diverging_fit_and_restores_the_best_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 2)).astype("float32")
    y = x @ np.array([[1.0], [-1.0]], dtype="float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    # A learning rate this large makes SGD diverge until the loss overflows.
    model.compile(keras.optimizers.SGD(50.0), loss="mse")
    stopper = EarlyStopping(monitor="loss", patience=100, restore_best_weights=True)
    history = model.fit(x, y, batch_size=4, epochs=100, verbose=0, callbacks=[stopper])
    assert stopper.stop_reason == "non_finite_loss"
    assert len(history.history["loss"]) == stopper.stopped_epoch + 1 < 100
    assert not np.isfinite(history.history["loss"][-1])
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize("warmup_epochs", [-1, "2", None])
def test_bad_warmup_epochs_names_the_value(warmup_epochs):
    with pytest.raises(ValueError, match=f"Received: warmup_epochs={warmup_epochs!r}"):
        EarlyStopping(warmup_epochs=warmup_epochs)


def drive_marked(callback, monitored, monitor="val_loss"):
    """`drive`, with every epoch's weights set to the epoch's number, so the weights
    restored at the end say which epoch they came from."""
    model = tiny_model()
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    for epoch, value in enumerate(monitored):
        callback.on_epoch_begin(epoch)
        model.set_weights([np.full(w.shape, float(epoch)) for w in model.get_weights()])
        callback.on_epoch_end(epoch, {"loss": 1.0, monitor: value})
        if model.stop_training:
            break
    callback.on_train_end()
    return int(model.get_weights()[0].flat[0])


@pytest.mark.parametrize(
    "monitored, mode, tolerance, restored",
    [
        # best 0.69 (epoch 4); within 5%: up to 0.7245, the latest such is epoch 5.
        ([1.0, 0.8, 0.7, 0.72, 0.69, 0.71, 0.74, 0.9], "auto", 0.05, 5),
        ([1.0, 0.8, 0.7, 0.72, 0.69, 0.71, 0.74, 0.9], "auto", 0.0, 4),  # Keras's
        # A near-best epoch is dropped when a later best moves the bar below it.
        ([1.0, 0.5, 0.52, 0.3, 0.33, 0.32], "auto", 0.1, 5),
        ([1.0, 0.5, 0.52, 0.3, 0.34, 0.9], "auto", 0.1, 3),
        ([0.5, 0.9, 0.88, 0.7], "max", 0.05, 2),  # an accuracy: within 5% below
    ],
)
def test_restore_tolerance_restores_the_latest_epoch_within_it(monitored, mode, tolerance, restored):
    stopper = EarlyStopping(patience=2, mode=mode, restore_best_weights=True,
                            restore_tolerance=tolerance)
    keras_stopper = keras.callbacks.EarlyStopping(patience=2, mode=mode, restore_best_weights=True)
    assert drive_marked(stopper, monitored) == stopper.restored_epoch == restored
    # Stopping and the best epoch are Keras's, whatever the tolerance.
    assert drive_marked(keras_stopper, monitored) == keras_stopper.best_epoch == stopper.best_epoch
    assert stopper.stopped_epoch == keras_stopper.stopped_epoch


@pytest.mark.parametrize("restore_tolerance", [-0.1, "5%"])
def test_bad_restore_tolerance_names_the_value(restore_tolerance):
    with pytest.raises(ValueError, match=f"Received: restore_tolerance={restore_tolerance!r}"):
        EarlyStopping(restore_tolerance=restore_tolerance)
