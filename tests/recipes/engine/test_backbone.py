"""recipes.engine.backbone and `cnn` from a pretrained backbone, offline: the two-phase
schedule against its closed form, the weights frozen then trained, batch norm's
statistics fixed, the one-line error without weights, and raw files served.

No weights can be downloaded here: backbones are built with random weights
(`weights=None`) and saved to a local file that the recipe loads by path.
"""

import math

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import callbacks
import recipes
from recipes import cnn
from recipes.__main__ import main
from recipes.engine import backbone

NAME = "mobilenet_v3_small"


def warmup_cosine(step, peak, total, warmup):
    """`callbacks.WarmUpCosine` in numpy (alpha 0)."""
    if step < warmup:
        return peak * step / warmup
    t = min(step - warmup, total - warmup) / (total - warmup)
    return peak * (1 + math.cos(math.pi * t)) / 2


def fine_tune_cosine(step, peak, head, total, warmup, factor):
    if step < head:
        return warmup_cosine(step, peak, head, min(warmup, head - 1))
    rest = total - head
    return warmup_cosine(step - head, peak * factor, rest, rest // 10)


def test_the_schedule_is_a_head_phase_then_a_lower_whole_phase():
    schedule = callbacks.FineTuneCosine(peak=1e-3, head_steps=20, total_steps=70,
                                        warmup_steps=4, factor=0.1)
    got = [float(schedule(step)) for step in range(80)]
    want = [fine_tune_cosine(s, 1e-3, 20, 70, 4, 0.1) for s in range(80)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-10)
    assert max(got[:20]) == pytest.approx(1e-3) and max(got[20:]) == pytest.approx(1e-4)
    again = callbacks.FineTuneCosine.from_config(schedule.get_config())
    assert again.get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="Received: total_steps=10, head_steps=20"):
        callbacks.FineTuneCosine(1e-3, head_steps=20, total_steps=10, warmup_steps=0)


def test_the_head_phase_follows_the_data_size():
    # About 500 steps, at least one epoch, at most half of them.
    assert [backbone.head_epochs(s, 12) for s in (3, 50, 100, 400, 5000)] == [6, 6, 5, 1, 1]
    assert backbone.head_epochs(3, 1) == 1


def test_a_search_chooses_among_none_and_the_backbones_it_can_build(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    space = {p.name: p for p in cnn.recipe._space()}
    assert list(space["backbone"].values) == ["none"] and space["backbone"].default == "none"
    (tmp_path / "models").mkdir()
    for name in ("mobilenet_v3_large", "resnet50"):  # their weights in Keras's cache
        (tmp_path / "models" / backbone.BACKBONES[name].file).write_bytes(b"")
    space = {p.name: p for p in cnn.recipe._space()}
    assert list(space["backbone"].values) == ["none", "mobilenet_v3_large", "resnet50"]
    # A backbone named is a value, cached or not (Keras downloads it, or --weights).
    hp = cnn.recipe.hyperparameters({"backbone": NAME})
    assert hp.values["backbone"] == NAME
    with pytest.raises(ValueError, match=r"Unknown backbone\. Expected one of \('none', "
                                         r"'mobilenet_v3_small', .*Received: backbone='vgg16'"):
        cnn.recipe.hyperparameters({"backbone": "vgg16"})


def test_missing_weights_are_one_line_naming_the_file_and_the_folder(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)
    data = cnn.recipe.load_data(x=np.zeros((20, 8, 8), "uint8"), y=np.arange(20) % 2)
    with pytest.raises(ValueError) as error:
        cnn.build_model({"backbone": NAME}, data=data)
    message = str(error.value)
    assert message == (
        f"The ImageNet weights of {NAME} are not in Keras's cache and could not be "
        f"downloaded (Exception): put weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5 "
        f"in {tmp_path}/models/, or pass the file with --weights PATH (weights=)."
    )
    assert "\n" not in message


def test_bad_backbone_options_are_errors_before_any_work(tmp_path):
    x, y = np.zeros((20, 8, 8), "uint8"), np.arange(20) % 2
    with pytest.raises(ValueError, match="does not exist"):
        cnn.recipe.load_data(x=x, y=y, weights=str(tmp_path / "a.weights.h5"))
    (tmp_path / "w.txt").write_text("")
    with pytest.raises(ValueError, match="must be a .weights.h5, .h5 or .keras file"):
        cnn.recipe.load_data(x=x, y=y, weights=str(tmp_path / "w.txt"))
    (tmp_path / "a.weights.h5").write_text("")
    data = cnn.recipe.load_data(x=x, y=y, weights=str(tmp_path / "a.weights.h5"))
    with pytest.raises(ValueError, match="choose the backbone with"):
        cnn.build_model(None, data=data)
    with pytest.raises(ValueError, match=r"Unknown backbone\. .*Received: backbone='vgg'"):
        backbone.load_backbone("vgg", weights=None)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        backbone.features(keras.Input((8, 8, 4)), NAME, weights=None)


def test_resnet_preprocessing_is_bgr_less_the_imagenet_means():
    x = keras.Input((5, 5, 3))
    model = keras.Model(x, backbone.features(x, "resnet50", weights=None))
    layer = model.get_layer("caffe_preprocessing")
    pixels = np.random.default_rng(0).random((2, 5, 5, 3)).astype("float32")
    got = keras.Model(model.input, layer.output).predict(pixels, verbose=0)
    resized = keras.layers.Resizing(224, 224)(pixels * 255.0).numpy()
    want = resized[..., ::-1] - np.array(backbone.BGR_MEANS, "float32")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


class Watch(keras.callbacks.Callback):
    """Each epoch's weights at its end, and each step's learning rate."""

    def on_train_begin(self, logs=None):
        self.epochs, self.rates = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append({w.path: w.numpy().copy() for w in self.model.weights})


@pytest.mark.slow
def test_fine_tuning_freezes_the_backbone_then_trains_it_at_the_lower_rate(tmp_path):
    saved = tmp_path / "backbone.weights.h5"
    backbone.load_backbone(NAME, weights=None).save_weights(saved)
    start = {w.path: w.numpy() for w in backbone.load_backbone(NAME, weights=str(saved)).weights}
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (120, 16, 16, 3)).astype("uint8"), np.arange(120) % 3
    watch = Watch()
    result = cnn.train(x=x, y=y, epochs=4, batch_size=16, hp={"backbone": NAME}, weights=str(saved),
                       run_dir=tmp_path / "run", callbacks=[watch], verbose=0, diagnose=False)
    steps = result.settings["steps_per_epoch"]
    assert steps == math.ceil(result.settings["train_size"] / 16) and len(watch.epochs) == 4
    head = backbone.head_epochs(steps, 4)
    assert head == 2
    inner = [p for p in watch.epochs[0] if p.startswith(tuple(start))]
    kernels = [p for p in inner if "moving" not in p and "_bn/" not in p]
    statistics = [p for p in inner if "moving_" in p]
    assert kernels and statistics
    for epoch, weights in enumerate(watch.epochs):
        # Batch norm's moving statistics stay those of the file, in both phases.
        for p in statistics:
            np.testing.assert_array_equal(weights[p], start[p])
        moved = [p for p in kernels if not np.array_equal(weights[p], start[p])]
        # Frozen in the first phase; trained in the second (a few weights of a random
        # network on random pixels get no gradient).
        if epoch < head:
            assert moved == [], epoch
        else:
            assert "conv/kernel" in moved and len(moved) > len(kernels) // 2, (epoch, moved)
    head_kernel = [p for p in watch.epochs[0] if p.startswith("dense/")][0]
    assert not np.array_equal(watch.epochs[0][head_kernel], watch.epochs[1][head_kernel])
    # The rate of every step is the schedule's: warm-up and cosine at the recipe's rate
    # for the head, then a tenth of it for the whole network.
    lr, warmup = cnn.recipe.defaults["learning_rate"], round(steps * 0.2)
    want = [fine_tune_cosine(s, lr, head * steps, 4 * steps, warmup, 0.1)
            for s in range(4 * steps)]
    np.testing.assert_allclose(watch.rates, want, rtol=1e-5, atol=1e-10)
    assert max(watch.rates[head * steps:]) == pytest.approx(lr / 10)


@pytest.mark.slow
def test_a_backbone_model_serves_raw_files_of_any_size(tmp_path, capsys):
    whole = tmp_path / "backbone.keras"
    backbone.load_backbone(NAME, weights=None).save(whole)
    rng = np.random.default_rng(1)
    root = tmp_path / "photos"
    for c, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 256, (12, 12, 3)).astype("uint8") // (c + 1)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    result = cnn.train(images=root, epochs=2, batch_size=8, hp={"backbone": NAME}, weights=str(whole),
                       run_dir=tmp_path / "run", verbose=0, diagnose=False)
    export = result.export(tmp_path / "saved")
    new = tmp_path / "new"
    new.mkdir()
    pictures = [rng.integers(0, 256, (12, 12, 3)).astype("uint8") for _ in range(3)]
    for i, pixels in enumerate(pictures):  # one of another size: resized to the model's
        picture = Image.fromarray(pixels)
        (picture.resize((30, 20)) if i == 0 else picture).save(new / f"{i}.png")
    capsys.readouterr()
    assert main(["predict", str(export), "--images", str(new), "--out",
                 str(tmp_path / "out.csv")]) == 0
    written = pd.read_csv(tmp_path / "out.csv")
    assert [p.rsplit("/", 1)[-1] for p in written.path] == ["0.png", "1.png", "2.png"]
    expected = result.model.predict(np.array(pictures[1:], "float32"), verbose=0)
    np.testing.assert_allclose(written.probability[1:], expected.max(1), rtol=1e-4)
    assert list(written.class_name[1:]) == [("cats", "dogs")[i] for i in expected.argmax(1)]
    served = recipes.load(export).predict_images(new)
    np.testing.assert_allclose(served.probability, written.probability, rtol=1e-5)


def test_mixed_float16_compiles_the_two_phases_inside_the_loss_scale_wrapper(tmp_path):
    # Keras wraps the optimizer in a LossScaleOptimizer under mixed float16; the
    # two-phase schedule goes to the optimizer inside it.
    saved = tmp_path / "backbone.weights.h5"
    backbone.load_backbone(NAME, weights=None).save_weights(saved)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (40, 16, 16, 3)).astype("uint8"), np.arange(40) % 2
    data = cnn.recipe.load_data(x=x, y=y, weights=str(saved))
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        hp = cnn.recipe.hyperparameters({"backbone": NAME})
        model = cnn.recipe.build_model(hp, data=data)
        cnn.recipe.compile(model, hp, steps_per_epoch=3, epochs=4)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.optimizer.inner_optimizer._learning_rate, callbacks.FineTuneCosine)
