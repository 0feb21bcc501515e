"""Pretrained image backbones for `cnn`: a Keras application under a new head.

    result = cnn.train(images="photos/", hp={"backbone": "mobilenet_v3_small"})
    result = cnn.train(images="photos/", hp={"backbone": "resnet50"}, weights="resnet50.h5")
    python -m recipes train cnn --images photos/ --hp backbone=efficientnet_v2_b0

The backbone is a `keras.applications` model without its classifier, its features
averaged over the image (`pooling="avg"`). Its weights come from Keras's own cache
(`~/.keras/models/`, or `$KERAS_HOME/models/`), downloaded there by Keras where the
machine has a network, or from a file given as `weights` (a `.weights.h5` / `.h5` file
of the same application, or a whole `.keras` model); without either, building it is a
one-line error that names the file and where to put it.

Its preprocessing sits inside the model (`features`), so that exports still take raw
pixels of the data's size: pixels scaled to 0-255, gray repeated to three channels,
resized to the backbone's input (224x224), then the backbone's own scaling
(MobileNetV3 and EfficientNetV2 include theirs; ResNet50's, channels in BGR order less
the ImageNet mean, is a fixed linear layer here).

Training follows fastai's `fine_tune` (`two_phases`): the head alone first, the
backbone frozen (`trainable=False`, which in Keras 3 also keeps its batch normalization
in inference mode), then the whole network at a tenth of the rate, its batch
normalization still frozen, as Keras's transfer-learning guide advises. Both phases run
in one `fit` (`callbacks.FineTune` switches at the step where the
`callbacks.FineTuneCosine` schedule starts its second phase). The first phase takes
about `HEAD_STEPS` steps (at least one epoch, at most half of them), the second the
rest: on a small folder the head trains for half the epochs, on a large dataset for
one.

`--auto` moves a from-scratch run on photos to a backbone whose weights are at hand
(`at_hand`): the file given as `weights` (which backbone it holds is told from its
weights' shapes, `identify`), else the first of `PREFERENCE` whose ImageNet weights are
in Keras's cache. Nothing is downloaded for it.
"""

import contextlib
import dataclasses
import os
import zipfile
from pathlib import Path

import h5py
import keras
import tensorflow as tf

import callbacks as recipe_callbacks
from callbacks.fine_tune import backbones, set_phase
from recipes.data.splits import Splits

# Steps of the first phase (the head alone), within [1 epoch, half the epochs].
HEAD_STEPS = 500
# The second phase's peak learning rate, as a fraction of the first's.
FACTOR = 0.1
# ResNet50's ("caffe") preprocessing: channels in BGR order less their ImageNet means.
BGR_MEANS = (103.939, 116.779, 123.68)


@dataclasses.dataclass(frozen=True)
class Backbone:
    """A backbone the recipes know.

    Attributes:
        application: the `keras.applications` function that builds it.
        file: the file of its ImageNet weights without the classifier, as Keras
            caches it.
        caffe: whether it takes ResNet50's preprocessing (BGR, ImageNet means
            subtracted) rather than including its own.
        size: the side of its square input.
    """

    application: str
    file: str
    caffe: bool = False
    size: int = 224


BACKBONES = {
    "mobilenet_v3_small": Backbone(
        "MobileNetV3Small", "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"),
    "mobilenet_v3_large": Backbone(
        "MobileNetV3Large", "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5"),
    "efficientnet_v2_b0": Backbone("EfficientNetV2B0", "efficientnetv2-b0_notop.h5"),
    "resnet50": Backbone(
        "ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", caffe=True),
}
# What the `backbone` hyperparameter can name: "none" trains the recipe's own convnet.
CHOICES = ("none", *BACKBONES)
# The order in which `--auto` prefers a cached backbone (`at_hand`): the lightest first
# on a CPU (README: MobileNetV3 for a CPU), EfficientNetV2B0 and ResNet50 on a GPU.
PREFERENCE = {
    "cpu": ("mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_v2_b0", "resnet50"),
    "gpu": ("efficientnet_v2_b0", "resnet50", "mobilenet_v3_large", "mobilenet_v3_small"),
}


@dataclasses.dataclass(frozen=True)
class BackboneSplits(Splits):
    """`Splits` with the weights file of the backbone (the data option `weights`).

    Attributes:
        weights: the path of the file, or `None` (Keras's cache).
        weights_backbone: the backbone the file holds, where `--auto` told it
            (`identify`): the file is then for the loop's backbone move, and its
            from-scratch steps train without it.
    """

    weights: str | None = None
    weights_backbone: str | None = None


def with_weights(splits, weights=None):
    """`splits` as `BackboneSplits` carrying `weights` (checked by `check_file`)."""
    if weights is not None:
        check_file(weights)
    fields = {f.name: getattr(splits, f.name) for f in dataclasses.fields(Splits)}
    return BackboneSplits(**fields, weights=None if weights is None else str(weights))


def check_name(name):
    """Raises a `ValueError` for a name that is not in `CHOICES`."""
    if name not in CHOICES:
        raise ValueError(f"Unknown backbone. Expected one of {CHOICES}. Received: backbone={name!r}")


def check_file(weights):
    """Raises a `ValueError` unless `weights` is an existing `.h5` or `.keras` file."""
    path = Path(weights)
    if not str(path).endswith((".h5", ".keras")):
        raise ValueError(
            "weights must be a .weights.h5, .h5 or .keras file of the backbone. "
            f"Received: weights={str(weights)!r}"
        )
    if not path.is_file():
        raise ValueError(f"The weights file {path} does not exist. Received: weights={str(weights)!r}")


def choices(named=None):
    """The values of the `backbone` hyperparameter: `"none"`, the backbones whose
    ImageNet weights are in Keras's cache, and `named` (a backbone asked for by name,
    whose weights Keras downloads or a file gives). A search then tries only backbones
    it can build: a machine without a network fails no trial for want of weights."""
    if named is not None:
        check_name(named)
    return ["none", *(name for name in BACKBONES
                      if name == named or cache_path(name).is_file())]


def cache_path(name):
    """Where Keras keeps (and looks for) the ImageNet weights of backbone `name`."""
    home = os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser()
    return Path(home) / "models" / BACKBONES[name].file


def load_backbone(name, weights="imagenet"):
    """Builds backbone `name` without its classifier, average-pooled, frozen.

    Args:
        name: one of `BACKBONES`.
        weights: `"imagenet"` (Keras's cache, downloaded there where there is a
            network), the path of a `.weights.h5`/`.h5` file of the same application
            or of a whole `.keras` model, or `None` (random weights, for tests).
            Defaults to `"imagenet"`.

    Returns:
        A frozen `keras.Model` from images (0-255, preprocessed as `features` does) to
        one feature vector each.

    Raises:
        ValueError: an unknown name, a missing file, or ImageNet weights neither in
            the cache nor downloadable (naming the file and the folder to put it in).

    Example:

    >>> load_backbone("mobilenet_v3_small", weights=None).output_shape
    (None, 576)
    """
    if name not in BACKBONES:
        check_name(name)
        raise ValueError(f"backbone={name!r} is the recipe's own convnet, not a backbone.")
    spec = BACKBONES[name]
    if weights not in (None, "imagenet"):
        check_file(weights)
        if str(weights).endswith(".keras"):
            model = keras.saving.load_model(weights, compile=False)
            model.trainable = False
            return model
    build = getattr(keras.applications, spec.application)
    arguments = dict(include_top=False, input_shape=(spec.size, spec.size, 3), pooling="avg")
    cached = cache_path(name)
    try:
        model = build(weights=weights, **arguments)
    except Exception as e:  # Keras's download raises a bare Exception
        if weights != "imagenet" or cached.is_file():
            raise
        raise ValueError(
            f"The ImageNet weights of {name} are not in Keras's cache and could not be "
            f"downloaded ({type(e).__name__}): put {spec.file} in {cached.parent}/, or "
            "pass the file with --weights PATH (weights=)."
        ) from None
    model.trainable = False
    return model


def features(x, name, weights="imagenet"):
    """The pooled features of backbone `name` for images `x` scaled to [0, 1].

    The backbone's input preprocessing comes first, as layers (see the module
    docstring), so that the model takes images of any size with one or three channels;
    the backbone runs with `training=False` and frozen (`load_backbone`).

    Args:
        x: a Keras tensor of images `(batch, height, width, 1 or 3)` in [0, 1].
        name: one of `BACKBONES`.
        weights: as in `load_backbone`. Defaults to `"imagenet"`.

    Returns:
        A Keras tensor `(batch, features)`.
    """
    channels = x.shape[-1]
    if channels not in (1, 3):
        raise ValueError(
            f"A pretrained backbone takes gray or RGB images (1 or 3 channels). "
            f"Received: images with {channels} channels."
        )
    base = load_backbone(name, weights)
    size = tuple(base.input_shape[1:3])
    x = keras.layers.Rescaling(255.0, dtype="float32")(x)
    if channels == 1:
        x = keras.layers.Concatenate(dtype="float32")([x, x, x])
    if tuple(x.shape[1:3]) != size:
        x = keras.layers.Resizing(*size, dtype="float32")(x)
    if BACKBONES[name].caffe:
        # RGB -> BGR and the means subtracted, as one fixed linear map of the channels.
        bgr = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
        x = keras.layers.Dense(
            3, kernel_initializer=keras.initializers.Constant(bgr),
            bias_initializer=keras.initializers.Constant([-m for m in BGR_MEANS]),
            trainable=False, dtype="float32", name="caffe_preprocessing",
        )(x)
    return base(x, training=False)


def head_epochs(steps_per_epoch, epochs):
    """Epochs of the first phase (the head alone): about `HEAD_STEPS` steps, at least
    one epoch and at most half the `epochs` (all of them when `epochs` is 1).

    Example:

    >>> head_epochs(10, 12), head_epochs(100, 12), head_epochs(1000, 12)
    (6, 5, 1)
    """
    return int(min(max(1, round(HEAD_STEPS / steps_per_epoch)), max(1, epochs // 2)))


def has_backbone(model):
    """Whether `model` holds a nested model (a pretrained backbone)."""
    return bool(backbones(model))


def two_phases(model, steps_per_epoch, epochs):
    """Makes a model compiled with a `callbacks.WarmUpCosine` schedule fine-tune in
    two phases over the same steps: its schedule becomes `callbacks.FineTuneCosine`
    (the same peak and warm-up for the head's `head_epochs`, then `FACTOR` times the
    peak for the rest), and its optimizer is built over the variables of both phases,
    so that `callbacks.FineTune` (which `recipes.engine.fit.fit` adds) can unfreeze
    the backbone without a new optimizer. Returns the schedule."""
    # The inner optimizer where mixed float16 wrapped it in a loss-scale optimizer.
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    config = optimizer.get_config()["learning_rate"]["config"]
    head = head_epochs(steps_per_epoch, epochs)
    schedule = recipe_callbacks.FineTuneCosine(
        peak=config["peak"], head_steps=head * steps_per_epoch,
        total_steps=max(1, epochs * steps_per_epoch),
        warmup_steps=config["warmup_steps"], factor=FACTOR,
    )
    model.optimizer.learning_rate = schedule
    set_phase(model, whole=True)
    model.optimizer.build(model.trainable_variables)
    set_phase(model, whole=False)
    return schedule


def is_photos(data):
    """Whether `data` holds photos, for `--auto`'s backbone move: its augmentation kind
    is `photos` (colour images by default, and Fashion-MNIST; `recipes.data.augment_for`),
    or it has none (`augment="none"`) and three channels. Digits, characters and other
    gray images (kind `digits`) are not photos, and neither are images whose kind was
    set to `digits`."""
    kind = getattr(data, "augment", None)
    if kind == "photos":
        return True
    return kind in (None, "none") and tuple(data.input_shape)[-1:] == (3,)


def at_hand(data):
    """The backbone `--auto` may move `data`'s from-scratch model to, or `None`.

    `None` unless the images are photos (`is_photos`). Then the backbone of the file
    given as `weights` (`BackboneSplits.weights_backbone`), else the first backbone of
    `PREFERENCE` (a GPU's order where TensorFlow sees one, else a CPU's) whose ImageNet
    weights are in Keras's cache (`cache_path`), else `None`: nothing is downloaded.
    """
    if data is None or not is_photos(data):
        return None
    if getattr(data, "weights", None) is not None:
        return getattr(data, "weights_backbone", None)
    device = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return next((name for name in PREFERENCE[device] if cache_path(name).is_file()), None)


def auto_data(data, hp):
    """The data of an `--auto` loop starting from `hp` (`Recipe.auto_data`): with a
    weights file and no backbone named, the file is for the loop's move to a backbone,
    so the backbone it holds is told now (`identify`) and kept as `weights_backbone`;
    the loop's from-scratch steps train without the file. On images that are not
    photos, which get no such move, the file is an error rather than left unused."""
    weights = getattr(data, "weights", None)
    if weights is None or hp.values.get("backbone", "none") != "none":
        return data
    if not is_photos(data):
        raise ValueError(
            "--weights under --auto is for its move to a backbone, which only photos get, "
            f"and these images are not photos (augmentation kind {data.augment!r}): pass "
            f"--augment photos, or --hp backbone=NAME to train from the backbone. "
            f"Received: weights={weights!r}"
        )
    return dataclasses.replace(data, weights_backbone=identify(weights))


def identify(weights):
    """The name of the backbone whose weights file `weights` is (see `check_file`).

    A file named as Keras caches a backbone's ImageNet weights is that backbone;
    otherwise the shapes of the file's weights (of its `model.weights.h5` for a
    `.keras` file) are compared with those of each backbone, built without weights,
    in `BACKBONES`' order.

    Raises:
        ValueError: in one line, when the file holds none of the backbones.

    Example:

    >>> path = "small.weights.h5"
    >>> load_backbone("mobilenet_v3_small", weights=None).save_weights(path)
    >>> identify(path)
    'mobilenet_v3_small'
    """
    check_file(weights)
    path = Path(weights)
    for name, spec in BACKBONES.items():
        if path.name == spec.file:
            return name
    shapes = sorted(_file_shapes(path))
    for name in BACKBONES:
        model = load_backbone(name, weights=None)
        same = sorted(tuple(w.shape) for w in model.weights) == shapes
        del model
        if same:
            return name
    raise ValueError(
        f"The weights in {path} are those of none of the backbones {tuple(BACKBONES)}: "
        "name its backbone with --hp backbone=NAME (hp={'backbone': NAME}), which trains "
        f"from it from the start. Received: weights={str(weights)!r}"
    )


def _file_shapes(path):
    """The shapes of every array in an `.h5` file, or in a `.keras` file's weights."""
    shapes = []

    def visit(_, item):
        if isinstance(item, h5py.Dataset):
            shapes.append(tuple(item.shape))

    with contextlib.ExitStack() as stack:
        source = path
        if str(path).endswith(".keras"):
            archive = stack.enter_context(zipfile.ZipFile(path))
            source = stack.enter_context(archive.open("model.weights.h5"))
        stack.enter_context(h5py.File(source, "r")).visititems(visit)
    return shapes
